"""Sweeps: many runs from one command, searched and pruned by Optuna. This module parses the
command line into a :class:`SweepSpec`, turns a trial's parameters into a run's options, and
creates the sweep's directory (its layout: genlab.run.rundir.SweepDir; reading it:
genlab.run.sweeps, which the cockpit uses).

Each trial is an ordinary run, ``<sweep-id>-NNN`` (NNN: Optuna's trial number), whose config.json
names its sweep: detached, controllable, resumable, visible to every command and the cockpit.
With several ``--seeds`` a trial is one configuration run once per seed, ``<sweep-id>-NNN-s<seed>``
each (:func:`trial_seeds`), and Optuna is told the mean of their objectives (genlab/sweep/worker.py).
The worker that runs trials is genlab/sweep/worker.py. This module imports neither torch nor
Optuna (the cockpit lists sweeps); what needs them imports them where it is used.
"""

from __future__ import annotations

import math
import os
import socket
import time
from pathlib import Path

from genlab.errors import UsageError
from genlab.run.files import atomic_write_json
from genlab.run.rundir import SweepDir
from genlab.run.store import NAME_RE, build_dir, check_not_reserved, unique_name
from genlab.run.sweeps import Range, SweepSpec
from genlab.validate import check_seed

SEARCHES = ("grid", "random", "tpe")
TRAINING_KEYS = ("model", "seed", "lr", "batch_size")  # trial parameters that are not model hyperparameters
MAX_TRIALS = 50  # a sweep of more trials than this asks for --yes (GENLAB_SWEEP_MAX_TRIALS)


def run_options(spec: SweepSpec, params: dict, seed: int | None = None) -> dict:
    """genlab.train.execute.prepare's keyword arguments for a trial with ``params``: its run for
    ``seed`` (one of the sweep's seeds; None: the first, or the seed its params give)."""
    options = dict(spec.run)
    hp = dict(options.pop("hp", None) or {})
    model = params.get("model", spec.model)
    for key, value in params.items():
        if key in TRAINING_KEYS:
            options[key] = value
        else:
            hp[key] = value
    options.pop("model", None)
    if not spec.model and options.get("preset"):  # a grid of models: the preset where a model has it
        from genlab.models.catalogue import spec as model_spec
        if options["preset"] not in model_spec(model).presets:
            options["preset"] = None
    if seed is not None:
        options["seed"] = seed
    elif spec.seeds and "seed" not in params:
        options["seed"] = spec.seeds[0]
    return {"model": model, "hp": hp, "sweep": spec.sweep_id, **options}


# --------------------------------------------------------------------------- parsing the command line


def parse_value(raw: str):
    """A grid value: an int, a float, else the text as it is."""
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    return raw


def parse_grid(pairs: list[str] | None) -> dict:
    grid = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not sep or not key:
            raise UsageError(f"--grid expects KEY=V1,V2,..., got {pair!r}")
        if not values:
            raise UsageError(f"--grid {key}= is empty: give it at least one value")
        if key in grid:
            raise UsageError(f"--grid {key} is given twice")
        grid[key] = list(dict.fromkeys(parse_value(v) for v in values))
    return grid


def parse_range(pairs: list[str] | None) -> dict:
    ranges = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key, parts = key.strip(), raw.split(":")
        if not sep or not key or len(parts) not in (2, 3):
            raise UsageError(f"--range expects KEY=LOW:HIGH[:log|int|log-int], got {pair!r}")
        kind = parts[2].strip() if len(parts) == 3 else ""
        if kind not in ("", "log", "int", "log-int", "int-log"):
            raise UsageError(f"--range {key}: the third part must be log, int or log-int, got {kind!r}")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise UsageError(f"--range {key}: LOW and HIGH must be numbers, got {parts[0]!r} and {parts[1]!r}") from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise UsageError(f"--range {key}: LOW and HIGH must be finite")
        if low > high:
            raise UsageError(f"--range {key}: its low {parts[0]} is above its high {parts[1]}")
        log, integer = "log" in kind, "int" in kind
        if log and low <= 0:
            raise UsageError(f"--range {key}: a log range needs a positive low, got {parts[0]}")
        if integer and (low != int(low) or high != int(high)):
            raise UsageError(f"--range {key}: an int range needs whole numbers, got {parts[0]}:{parts[1]}")
        if key in ranges:
            raise UsageError(f"--range {key} is given twice")
        ranges[key] = Range(low, high, log, integer)
    return ranges


def parse_seeds(raw: str | None) -> tuple:
    if raw is None:
        return (0,)
    try:
        seeds = tuple(dict.fromkeys(int(s) for s in raw.split(",") if s.strip()))
    except ValueError:
        raise UsageError(f"--seeds expects whole numbers separated by commas, got {raw!r}") from None
    if not seeds:
        raise UsageError("--seeds is empty: give at least one seed")
    for value in seeds:
        check_seed("--seeds: a seed", value)  # the range train's --seed has
    return seeds


def max_trials() -> int:
    raw = os.environ.get("GENLAB_SWEEP_MAX_TRIALS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_TRIALS


# --------------------------------------------------------------------------- the sweep on disk


def new_sweep_id(label: str, name: str | None, root: Path) -> str:
    if name:
        if not NAME_RE.fullmatch(name) or len(name) > 56:
            raise UsageError(f"sweep name {name!r} must be 1-56 letters, digits, '.', '_' or '-', starting with a letter or digit")
        check_not_reserved(name, "sweep")
        if (root / name).exists():
            raise UsageError(f"a run or sweep named {name!r} already exists in {root}")
        return name
    return unique_name("sweep-" + time.strftime("%Y%m%d-%H%M%S") + "-" + label, root)


def trial_run_id(sweep_id: str, number: int, seed: int | None = None) -> str:
    """A trial's run: ``<sweep>-NNN``; of a trial run once per seed, ``<sweep>-NNN-s<seed>``."""
    return f"{sweep_id}-{number:03d}" + (f"-s{seed}" if seed is not None else "")


def trial_seeds(spec: SweepSpec, number: int) -> dict:
    """The runs of trial ``number``: seed to run id (None to its one run id where the sweep runs
    each trial once: one seed, or a sweep made before a trial ran once per seed)."""
    if not spec.seeds_per_trial or len(spec.seeds) < 2:
        return {None: trial_run_id(spec.sweep_id, number)}
    return {seed: trial_run_id(spec.sweep_id, number, seed) for seed in spec.seeds}




def create_sweep(root: Path, spec: SweepSpec) -> Path:
    """The sweep directory with its spec and a new Optuna study, built under a temporary name
    and renamed into place whole."""
    from genlab.sweep import study as studies
    def fill(tmp: Path) -> None:
        d = SweepDir(tmp)
        d.workers.mkdir()
        d.log.touch()
        atomic_write_json(d.spec, spec.to_json(), durable=False)
        atomic_write_json(d.wanted, {"want": "run", "t": time.time()}, durable=False)
        atomic_write_json(d.trials, {"trials": [], "t": time.time()}, durable=False)
        studies.create(tmp, spec)

    return build_dir(root, spec.sweep_id, fill, "sweep")


# --------------------------------------------------------------------------- workers


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
