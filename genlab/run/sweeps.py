"""A sweep's directory, read: its spec, trials, workers, state and summary (no Optuna, no torch).

The layout (which file holds what) is genlab.run.rundir.SweepDir; what writes the files and runs
the trials is genlab/sweep/ (spec and planning, the Optuna study, the worker). The CLI and the
cockpit list and show sweeps through this module alone. Each trial is an ordinary run,
``<sweep-id>-NNN`` (NNN: Optuna's trial number), whose config.json names its sweep.
"""

from __future__ import annotations

import itertools
import socket
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from genlab.errors import GenlabError
from genlab.run.files import atomic_write_json, read_json
from genlab.run.rundir import RunDir, SweepDir
from genlab.run.state import STALE_AFTER_S

WANTS = ("run", "pause", "stop")
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
    storage: str | None = None  # the study's database or proxy URL, without a password (None: study.journal here)
    # a trial is one configuration run once per seed, Optuna told the mean (genlab/sweep/worker.py);
    # False in a sweep made before: its seeds are a grid key
    seeds_per_trial: bool = False

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
        """The grid as Optuna's GridSampler takes it: every grid key (and the seeds, in a sweep made
        before a trial ran once per seed)."""
        space = {k: list(v) for k, v in self.grid.items()}
        if self.search == "grid" and not self.seeds_per_trial:
            space["seed"] = list(self.seeds)
        return space

    def grid_points(self) -> list[dict]:
        space = self.search_space()
        return [dict(zip(space, values)) for values in itertools.product(*space.values())]


# --------------------------------------------------------------------------- finding sweeps


def is_sweep(path: Path) -> bool:
    return SweepDir(path).is_sweep()


def sweep_dirs(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if not p.name.startswith(".") and is_sweep(p))
    except OSError:
        return []


def read_spec(sweep_dir: Path) -> SweepSpec:
    raw = read_json(SweepDir(sweep_dir).spec)
    if not isinstance(raw, dict):
        raise GenlabError(f"sweep {sweep_dir.name}: {SweepDir.SPEC} is unreadable")
    try:
        return SweepSpec.from_json(raw)
    except (TypeError, ValueError) as e:
        raise GenlabError(f"sweep {sweep_dir.name}: {SweepDir.SPEC} is not a sweep: {e}") from None


def wanted(sweep_dir: Path) -> str:
    raw = read_json(SweepDir(sweep_dir).wanted)
    want = raw.get("want") if isinstance(raw, dict) else None
    return want if want in WANTS else "run"


def set_wanted(sweep_dir: Path, want: str) -> None:
    atomic_write_json(SweepDir(sweep_dir).wanted, {"want": want, "t": time.time()})


# --------------------------------------------------------------------------- workers


def workers(sweep_dir: Path) -> list[dict]:
    """Every worker that ever ran the sweep: its status, and ``live`` (its lock is held, or, on
    another host, its heartbeat is fresh)."""
    out = []
    try:
        dirs = sorted(SweepDir(sweep_dir).workers.iterdir())
    except OSError:
        return out
    for d in dirs:
        status = read_json(d / RunDir.STATUS)
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
    raw = read_json(SweepDir(sweep_dir).trials)
    trials = raw.get("trials") if isinstance(raw, dict) else None
    return [trial_state(sweep_dir.parent, t) for t in trials if isinstance(t, dict)] if isinstance(trials, list) else []


def trial_state(root: Path, trial: dict) -> dict:
    """``trial`` with the state it is shown with everywhere. Optuna's verdict on a trial it has
    ended (complete, pruned, fail) is the sweep's; a trial it has not ended (``running`` in the
    study) is as its run is, read from the run directory (one truth: a trial stopped with its
    sweep is ``stopped``, as ``genlab runs`` says, not ``running``; a trial run once per seed, as
    its first run not finished). A trial whose run is not made yet, or unreadable, keeps the
    study's word."""
    from genlab.run.store import NAME_RE, load_run

    run_id = trial.get("run_id")
    if trial.get("state") != "running" or not isinstance(run_id, str) or not NAME_RE.fullmatch(run_id):
        return trial
    shown = None
    for rid in trial.get("run_ids") or [run_id]:  # (a trial run once per seed: as its first run not finished)
        path = root / rid if isinstance(rid, str) and NAME_RE.fullmatch(rid) else None
        if path is None or not RunDir(path).config.exists():
            return trial
        info = load_run(path)
        if info.problem:
            return trial
        shown = info.shown_state
        if shown != "finished":
            break
    return {**trial, "state": shown}


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
    paths = [root / rid for t in trials for rid in (t.get("run_ids") or [t.get("run_id")]) if isinstance(rid, str)]
    return [p for p in paths if RunDir(p).config.exists()]


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


# --------------------------------------------------------------------------- the runs root, grouped


def sweep_groups(root: Path, infos: list) -> dict:
    """How ``genlab runs`` and the cockpit's runs screen list the runs root: each sweep in
    ``root`` (id to its summary and its trials' runs among ``infos``)."""
    groups = {}
    for d in sweep_dirs(root):
        try:
            groups[d.name] = (summary(d), [r for r in infos if r.config.get("sweep") == d.name])
        except GenlabError:
            continue  # an unreadable sweep: its trials are listed as plain runs
    return groups


def ungrouped(infos: list, groups: dict) -> list:
    """The runs of ``infos`` that no sweep of ``groups`` lists."""
    return [r for r in infos if r.config.get("sweep") not in groups]
