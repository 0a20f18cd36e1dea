"""What each file of a run directory must hold, checked by every reader.

A run directory is written by genlab, but anyone who can write to it can break it: a file of
the wrong JSON type must make that one run ``unreadable: <reason>``, never a traceback in the
CLI or the cockpit. Each ``*_problem`` function returns None for a good value, else a short
reason; :func:`event_ok` says whether one events.jsonl line may be used.
"""

from __future__ import annotations

from genlab.run.rundir import RunDir

NUMBER = (int, float)
INT = (int,)
STR = (str,)
DICT = (dict,)
NONE = (type(None),)


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _problem(what: str, value, fields: dict[str, tuple[tuple, bool]]) -> str | None:
    """``fields``: key to (allowed types, required). bool never passes as a number."""
    if not isinstance(value, dict):
        return f"{what} is {_kind(value)}, not an object"
    for key, (types, required) in fields.items():
        if key not in value:
            if required:
                return f"{what} has no {key!r}"
            continue
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, types):
            return f"{what}: {key!r} is {_kind(v)} ({str(v)[:40]!r})"
    return None


CONFIG = {
    "model": (STR, True), "family": (STR, False), "run_id": (STR, False), "hp": (DICT, False),
    "created": (NUMBER, False), "total_steps": (INT, False), "steps_per_epoch": (INT, False),
    "batch_size": (INT, False), "lr": (NUMBER, False), "seed": (INT, False), "data": (DICT, False),
    "device": (STR, False),
}
# what a trainer needs of config.json to start a run from step 0 (a resume without a checkpoint)
CONFIG_TO_TRAIN = {key: (types, True) for key, (types, _) in CONFIG.items() if key not in ("family", "created")}

STATUS = {
    "state": (STR, True), "step": (INT, False), "total_steps": (INT + NONE, False), "pid": (INT, False),
    "host": (STR, False), "heartbeat": (NUMBER, False), "updated": (NUMBER, False), "epoch": (INT, False),
    "epochs": (INT + NONE, False), "metrics": (DICT, False), "images_per_s": (NUMBER, False),
    "eta_s": (NUMBER + NONE, False), "budget_s": (NUMBER + NONE, False), "elapsed_s": (NUMBER, False), "reason": (STR + NONE, False),
    "device": (STR, False), "model": (STR, False),
}


def config_problem(config, to_train: bool = False) -> str | None:
    return _problem(RunDir.CONFIG, config, CONFIG_TO_TRAIN if to_train else CONFIG)


def status_problem(status) -> str | None:
    return _problem(RunDir.STATUS, status, STATUS)


def event_ok(event) -> bool:
    """A usable event: an object with a string ``kind`` and an integer ``step`` (``t`` a number)."""
    return (isinstance(event, dict) and isinstance(event.get("kind"), str)
            and isinstance(event.get("step"), int) and not isinstance(event.get("step"), bool)
            and isinstance(event.get("t", 0), NUMBER))


def number(value) -> float:
    """A metric value as a float; NaN for anything that is not a number (a string, a boolean)."""
    return float(value) if isinstance(value, NUMBER) and not isinstance(value, bool) else float("nan")


def metrics_header_problem(header) -> str | None:
    if not isinstance(header, dict):
        return f"{RunDir.METRICS_HEADER} is {_kind(header)}, not an object"
    cols = header.get("columns")
    if not isinstance(cols, list) or len(cols) < 3 or not all(isinstance(c, str) for c in cols):
        return f"{RunDir.METRICS_HEADER}: 'columns' is not a list of names"
    return None
