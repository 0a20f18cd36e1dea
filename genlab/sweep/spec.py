"""Sweeps: many runs from one command, searched and pruned by Optuna.

A sweep is a directory under the runs root, beside its trials' run directories:

    <root>/<sweep-id>/sweep.json        what to run (:class:`SweepSpec`), written once
                      study.journal     Optuna's storage (a file journal: no server; its lock works on NFS)
                      trials.json       the trials as the workers last saw them, for readers without Optuna
                      wanted.json       what the sweep should do: run, pause or stop (the latest intent wins)
                      workers/<name>/   one a worker process: its lock (held while it lives) and status.json
                      log.txt           the workers' plain log

Each trial is an ordinary run, ``<sweep-id>-NNN`` (NNN: Optuna's trial number), whose config.json
names its sweep: detached, controllable, resumable, visible to every command and the cockpit.
The worker that runs trials is genlab/sweep_worker.py. This module imports neither torch nor
Optuna (the cockpit lists sweeps); what needs them imports them where it is used.
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from genlab.errors import GenlabError, UsageError
from genlab.run.state import STALE_AFTER_S
from genlab.run.store import (NAME_RE, atomic_write_json, build_dir, check_not_reserved, read_json,
                          unique_name)
from genlab.validate import check_seed

SPEC, STUDY, TRIALS, WANTED, WORKERS, LOG = "sweep.json", "study.journal", "trials.json", "wanted.json", "workers", "log.txt"
SEARCHES = ("grid", "random", "tpe")
WANTS = ("run", "pause", "stop")
TRAINING_KEYS = ("model", "seed", "lr", "batch_size")  # trial parameters that are not model hyperparameters
MAX_TRIALS = 50  # a sweep of more trials than this asks for --yes (GENLAB_SWEEP_MAX_TRIALS)
FINISHED = ("complete", "pruned", "fail")


class SweepState(StrEnum):
    """A sweep's state (:func:`state`), and its workers' (each beats its own into its status.json).
    Its trials' states are their runs' (genlab.run.state.RunState) or Optuna's verdict."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop; its workers are stopping its trials
    STOPPED = "stopped"
    FINISHED = "finished"  # every trial has run
    INTERRUPTED = "interrupted"  # its workers died: `genlab sweep resume` continues it

    @property
    def live(self) -> bool:
        """A worker works the sweep."""
        return self in (SweepState.RUNNING, SweepState.PAUSED, SweepState.STOPPING)


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SweepSpec:
    sweep_id: str
    model: str | None  # None: the models are a grid key ("model")
    grid: dict = field(default_factory=dict)  # key -> the values to try
    ranges: dict = field(default_factory=dict)  # key -> Range (random and TPE searches)
    seeds: tuple = (0,)
    search: str = "grid"
    trials: int = 1  # how many trials in all (a grid: the size of the grid)
    objective: str = ""
    direction: str = "minimize"
    prune: bool = False
    prune_every: int = 0  # steps between the quality checks the pruner compares (0: none)
    prune_startup: int = 2  # trials that finish before the pruner judges another
    parallel: int = 1  # trials at once, for the first worker
    run: dict = field(default_factory=dict)  # train options every trial shares (epochs, preset, ...)
    recipe: str | None = None
    created: float = 0.0

    def to_json(self) -> dict:
        raw = asdict(self)
        raw["ranges"] = {k: r.to_json() if isinstance(r, Range) else r for k, r in self.ranges.items()}
        raw["seeds"] = list(self.seeds)
        return raw

    @classmethod
    def from_json(cls, raw: dict) -> SweepSpec:
        raw = dict(raw)
        raw["ranges"] = {k: Range(**r) for k, r in (raw.get("ranges") or {}).items()}
        raw["seeds"] = tuple(raw.get("seeds") or (0,))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})

    def search_space(self) -> dict:
        """The grid as Optuna's GridSampler takes it: every grid key, and the seeds."""
        space = {k: list(v) for k, v in self.grid.items()}
        if self.search == "grid":
            space["seed"] = list(self.seeds)
        return space

    def grid_points(self) -> list[dict]:
        space = self.search_space()
        return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def run_options(spec: SweepSpec, params: dict) -> dict:
    """genlab.train.execute.prepare's keyword arguments for a trial with ``params``."""
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
        from genlab import models
        if options["preset"] not in models.get(model).presets:
            options["preset"] = None
    if spec.seeds and "seed" not in params:
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


def trial_run_id(sweep_id: str, number: int) -> str:
    return f"{sweep_id}-{number:03d}"


def is_sweep(path: Path) -> bool:
    return (path / SPEC).is_file()


def sweep_dirs(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if not p.name.startswith(".") and is_sweep(p))
    except OSError:
        return []


def read_spec(sweep_dir: Path) -> SweepSpec:
    raw = read_json(sweep_dir / SPEC)
    if not isinstance(raw, dict):
        raise GenlabError(f"sweep {sweep_dir.name}: {SPEC} is unreadable")
    try:
        return SweepSpec.from_json(raw)
    except (TypeError, ValueError) as e:
        raise GenlabError(f"sweep {sweep_dir.name}: {SPEC} is not a sweep: {e}") from None


def create_sweep(root: Path, spec: SweepSpec) -> Path:
    """The sweep directory with its spec and a new Optuna study, built under a temporary name
    and renamed into place whole."""
    from genlab.sweep import study as studies
    def fill(tmp: Path) -> None:
        (tmp / WORKERS).mkdir()
        (tmp / LOG).touch()
        atomic_write_json(tmp / SPEC, spec.to_json(), durable=False)
        atomic_write_json(tmp / WANTED, {"want": "run", "t": time.time()}, durable=False)
        atomic_write_json(tmp / TRIALS, {"trials": [], "t": time.time()}, durable=False)
        studies.create(tmp, spec)

    return build_dir(root, spec.sweep_id, fill, "sweep")


def wanted(sweep_dir: Path) -> str:
    raw = read_json(sweep_dir / WANTED)
    want = raw.get("want") if isinstance(raw, dict) else None
    return want if want in WANTS else "run"


def set_wanted(sweep_dir: Path, want: str) -> None:
    atomic_write_json(sweep_dir / WANTED, {"want": want, "t": time.time()})


# --------------------------------------------------------------------------- workers


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def workers(sweep_dir: Path) -> list[dict]:
    """Every worker that ever ran the sweep: its status, and ``live`` (its lock is held, or, on
    another host, its heartbeat is fresh)."""
    out = []
    try:
        dirs = sorted((sweep_dir / WORKERS).iterdir())
    except OSError:
        return out
    for d in dirs:
        status = read_json(d / "status.json")
        if not isinstance(status, dict) or not isinstance(status.get("state"), str):
            continue
        out.append({**status, "name": d.name, "live": worker_alive(status, d)})
    return out


def worker_alive(status: dict, home: Path) -> bool:
    """On its own host a worker lives while it holds its lock; elsewhere while its heartbeat is fresh."""
    from genlab.run.lock import is_locked

    if status.get("state") in (SweepState.FINISHED, SweepState.STOPPED):
        return False
    if status.get("host") == socket.gethostname():
        return bool(is_locked(home))
    return time.time() - float(status.get("heartbeat") or 0) < STALE_AFTER_S


def live_workers(sweep_dir: Path) -> list[dict]:
    return [w for w in workers(sweep_dir) if w["live"]]


# --------------------------------------------------------------------------- reading a sweep


def read_trials(sweep_dir: Path) -> list[dict]:
    """The trials as the workers last wrote them (trials.json): number, run id, params, state
    (``complete``, ``pruned``, ``fail``, ``waiting``, or for a trial not ended its run's: see
    :func:`trial_state`), value."""
    raw = read_json(sweep_dir / TRIALS)
    trials = raw.get("trials") if isinstance(raw, dict) else None
    return [trial_state(sweep_dir.parent, t) for t in trials if isinstance(t, dict)] if isinstance(trials, list) else []


def trial_state(root: Path, trial: dict) -> dict:
    """``trial`` with the state it is shown with everywhere. Optuna's verdict on a trial it has
    ended (complete, pruned, fail) is the sweep's; a trial it has not ended (``running`` in the
    study) is as its run is, read from the run directory (one truth: a trial stopped with its
    sweep is ``stopped``, as ``genlab runs`` says, not ``running``). A trial whose run is not
    made yet, or unreadable, keeps the study's word."""
    from genlab.run.store import load_run

    run_id = trial.get("run_id")
    if trial.get("state") != "running" or not isinstance(run_id, str) or not NAME_RE.fullmatch(run_id):
        return trial
    path = root / run_id
    if not (path / "config.json").exists():
        return trial
    info = load_run(path)
    return trial if info.problem else {**trial, "state": info.shown_state}


def ranked(trials: list[dict], direction: str) -> list[dict]:
    """Best first: trials with a value by it, then the rest by number."""
    sign = 1 if direction == "minimize" else -1
    return sorted(trials, key=lambda t: (t.get("value") is None, sign * (t.get("value") or 0), t.get("number", 0)))


def state(sweep_dir: Path, spec: SweepSpec | None = None, trials: list[dict] | None = None) -> SweepState:
    """``running`` or ``paused`` while a worker lives; else ``finished`` when every trial is,
    ``stopped`` when it was asked to stop, and ``interrupted`` (its workers died: ``genlab sweep
    resume``)."""
    spec = spec or read_spec(sweep_dir)
    trials = read_trials(sweep_dir) if trials is None else trials
    want = wanted(sweep_dir)
    if live_workers(sweep_dir):
        return SweepState.PAUSED if want == "pause" else SweepState.STOPPING if want == "stop" else SweepState.RUNNING
    done = sum(t.get("state") in FINISHED for t in trials)
    if done >= spec.trials:
        return SweepState.FINISHED
    return SweepState.STOPPED if want == "stop" else SweepState.INTERRUPTED


def trial_runs(root: Path, sweep_dir: Path) -> list[Path]:
    """The run directories of the sweep's trials that exist, in trial order."""
    trials = sorted(read_trials(sweep_dir), key=lambda t: t.get("number", 0))
    paths = [root / t["run_id"] for t in trials if isinstance(t.get("run_id"), str)]
    return [p for p in paths if (p / "config.json").exists()]


def summary(sweep_dir: Path) -> dict:
    """One line's worth of a sweep: id, model, search, state, trials done of all, best."""
    spec = read_spec(sweep_dir)
    trials = read_trials(sweep_dir)
    best = next((t for t in ranked(trials, spec.direction) if t.get("state") == "complete"), None)
    counts = {s: sum(t.get("state") == s for t in trials) for s in ("running", "complete", "pruned", "fail")}
    return {"id": spec.sweep_id, "model": spec.model or ",".join(map(str, spec.grid.get("model", []))),
            "search": spec.search, "state": state(sweep_dir, spec, trials), "trials": spec.trials,
            "counts": counts, "objective": spec.objective, "direction": spec.direction,
            "best": best, "path": str(sweep_dir), "created": spec.created, "recipe": spec.recipe}
