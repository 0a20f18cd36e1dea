"""Run directories (their layout: genlab.run.rundir): create one whole, find runs, read them.

Nothing here knows about training; the CLI and the cockpit use it to read runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from genlab.errors import GenlabError, UsageError
from genlab.run import schema
from genlab.run.files import TEMP_GLOB, atomic_write_bytes, atomic_write_json, fsync_dir, temp_dir
from genlab.run.rundir import RunDir, step_of
from genlab.run.state import RunState, effective_state

RANKS_DIR = RunDir.RANKS  # ranks/rank-N.json: each rank's own heartbeat (genlab.train.distributed.RankBeat)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # used with fullmatch: no trailing newline
RESERVED_NAMES = ("latest",)  # what a RUN argument means by itself: a run so named could be reached only by prefix
TEMP_GLOBS = (TEMP_GLOB, *(f"{d}/{TEMP_GLOB}" for d in (RunDir.CHECKPOINTS, RunDir.SAMPLES)))  # what a killed writer leaves


def runs_root(runs_dir: str | os.PathLike | None = None) -> Path:
    return Path(runs_dir or os.environ.get("GENLAB_RUNS_DIR") or "runs").expanduser()


# --------------------------------------------------------------------------- events


TAIL_BYTES = 2_000_000  # the newest events are looked for in this much of the end of events.jsonl


def parse_events(block: bytes) -> list[dict]:
    """The valid events (genlab.run.schema.event_ok) of ``block``'s lines; any other line is skipped."""
    events = []
    for line in block.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if schema.event_ok(e):
            events.append(e)
    return events


def read_events(path: Path, offset: int = 0, limit: int | None = None) -> tuple[list[dict], int]:
    """Events from byte ``offset``; returns them and the offset after the last whole line.

    A last line without its newline (a writer mid-append, or a crash) is left for the next read;
    a line that is not a valid event (genlab.run.schema.event_ok) is skipped. To follow a file
    as it grows: genlab.run.follow.EventTail.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read() if limit is None else f.read(limit)
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return parse_events(data[:end]), offset + end


def newest_events(run_dir: Path) -> list[dict]:
    """The events at the end of the run's events.jsonl (its last TAIL_BYTES), oldest first: where
    the newest evaluation, quality check or metrics are looked for. Never raises."""
    path = RunDir(run_dir).events
    try:
        size = path.stat().st_size
    except OSError:
        return []
    start = max(0, size - TAIL_BYTES)
    if start == 0:
        return read_events(path)[0]
    try:  # from the first whole line after the cut
        with open(path, "rb") as f:
            f.seek(start - 1)
            start += len(f.readline()) - 1
    except OSError:
        return []
    return read_events(path, start)[0]


# --------------------------------------------------------------------------- creating a run


def new_run_id(model: str, name: str | None, root: Path) -> str:
    if name:
        if not NAME_RE.fullmatch(name):
            raise UsageError(f"run name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        check_not_reserved(name, "run")
        if (root / name).exists():
            raise UsageError(f"a run named {name!r} already exists in {root}")
        return name
    return unique_name(time.strftime("%Y%m%d-%H%M%S") + "-" + model, root)


def check_not_reserved(name: str, what: str) -> None:
    """UsageError for a name that commands read as something else ('latest': the newest run)."""
    if name in RESERVED_NAMES:
        raise UsageError(f"{what} name {name!r} is reserved ('{name}' means the newest run); choose another")


def unique_name(base: str, root: Path) -> str:
    """``base``, or ``base-2``, ``base-3``, ... : the first not yet in ``root``."""
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def build_dir(root: Path, name: str, fill, what: str = "run") -> Path:
    """``root/name`` built under a temporary name by ``fill(tmp)`` and renamed into place whole,
    so no reader ever sees half of it; nothing is left behind if filling it fails."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create runs directory {root}: {e.strerror}") from None
    tmp = None
    try:
        tmp = temp_dir(root, name)
        fill(tmp)
        os.rename(tmp, root / name)
    except OSError as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise GenlabError(f"cannot create {what} directory {root / name}: {e.strerror or e}") from None
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(root)
    return root / name


def create_run(root: Path, run_id: str, config: dict, files: dict[str, dict] | None = None, then=None) -> Path:
    """Build the run directory under a temporary name and rename it into place, whole.
    ``files``: more JSON files of the run (name to content), e.g. its view; ``then(tmp)``
    writes anything more (a fork's first checkpoint)."""
    def fill(tmp: Path) -> None:
        d = RunDir(tmp)
        d.samples.mkdir()
        d.checkpoints.mkdir()
        d.events.touch()
        d.log.touch()
        atomic_write_json(d.config, config, durable=False)
        for name, content in (files or {}).items():
            atomic_write_json(tmp / name, content, durable=False)
        atomic_write_json(d.status, initial_status(config), durable=False)
        if then is not None:
            then(tmp)

    return build_dir(root, run_id, fill)


def initial_status(config: dict) -> dict:
    now = time.time()
    return {"state": RunState.STARTING, "pid": os.getpid(), "host": socket.gethostname(), "step": 0,
            "total_steps": config.get("total_steps"), "epoch": 0, "heartbeat": now, "updated": now}


# --------------------------------------------------------------------------- reading runs


@dataclass
class RunInfo:
    run_id: str
    path: Path
    config: dict
    status: dict
    state: str
    created: float = 0.0
    latest: dict = field(default_factory=dict)
    problem: str | None = None  # why the run cannot be read; then state is "unreadable"

    @property
    def model(self) -> str:
        return self.config.get("model", "?")

    @property
    def shown_state(self) -> str:
        if self.problem:
            return f"unreadable: {self.problem}"
        if self.state == RunState.STOPPED and str(self.status.get("reason") or "").startswith("pruned"):
            return "pruned"  # a sweep's pruner stopped it (it can be resumed by hand)
        return self.state


def load_run(path: Path) -> RunInfo:
    """Never raises for a broken directory: its reason goes to ``problem``."""
    config, problem = RunDir(path).read_config()
    status, status_issue = RunDir(path).read_status()
    problem = problem or status_issue
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime, problem = 0.0, problem or "the run directory is gone"
    state = RunState.UNREADABLE if problem else effective_state(status, path)
    return RunInfo(path.name, path, config, status, state,
                   created=float(config.get("created", mtime)), problem=problem)


def run_dirs(root: Path) -> list[Path]:
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    out = []
    for p in entries:
        try:
            if not p.name.startswith(".") and p.is_dir() and RunDir(p).config.exists():
                out.append(p)
        except OSError:
            continue
    return out


def list_runs(root: Path) -> list[RunInfo]:
    runs = [load_run(p) for p in run_dirs(root)]
    return sorted(runs, key=lambda r: (r.created, r.run_id))


# --------------------------------------------------------------------------- guarding a run


def owner_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return f"uid {uid}"


def check_controllable(run_dir: Path) -> None:
    """Refuse (UsageError) to train or control a run that is a link, lives behind one in its own
    directories, or belongs to another user: genlab writes only into its own run directories."""
    try:
        st = os.lstat(run_dir)
    except OSError as e:
        raise UsageError(f"run {run_dir.name}: {e.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"run {run_dir.name} is a symbolic link: genlab controls only real run directories")
    if st.st_uid != os.getuid():
        raise UsageError(f"run {run_dir.name} belongs to {owner_name(st.st_uid)}: only its owner can control it")
    for sub in RunDir.OWN_DIRS:
        check_own_dir(run_dir, sub)
    for name in RunDir.IN_PLACE:
        try:
            if stat.S_ISLNK(os.lstat(run_dir / name).st_mode):
                raise UsageError(f"run {run_dir.name}: {name} is a symbolic link; genlab does not write through links")
        except FileNotFoundError:
            continue


def check_own_dir(run_dir: Path, sub: str) -> os.stat_result | None:
    """The lstat of ``run_dir/sub`` (None if it does not exist); UsageError if it is not a plain
    directory of this user's (a link, say)."""
    try:
        st = os.lstat(run_dir / sub)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"run {run_dir.name}: {sub}/ is not a plain directory (a link?); refusing to use it")
    if st.st_uid != os.getuid():
        raise UsageError(f"run {run_dir.name}: {sub}/ belongs to {owner_name(st.st_uid)}: only the run's owner can use it")
    return st


def remove_stale_temps(run_dir: Path) -> int:
    """Delete temporary files a killed writer left (``.name.tmp-*``). Only while holding the
    run's lock: nobody else writes then. Returns how many bytes were freed."""
    freed = 0
    for pattern in TEMP_GLOBS:
        for p in run_dir.glob(pattern):
            try:
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                    os.unlink(p)
                    freed += st.st_size
            except OSError:
                continue
    return freed


def cut_events(path: Path, step: int) -> int:
    """Drop events after ``step``, a torn last line and lines that are not valid events: rewrite
    to a temporary file, rename. metrics.bin is cut to match, and rebuilt from the kept metric
    events if it disagrees with them. Returns how many events were dropped. Used on resume, so
    curves never zig-zag back."""
    from genlab.run import events_index, metrics_log
    d = RunDir(path)
    events_path = d.events
    kept, metric_steps, dropped = [], array("d"), 0
    try:
        with open(events_path, "rb") as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    dropped += 1
                    continue
                if not schema.event_ok(e) or e["step"] > step:
                    dropped += 1
                    continue
                kept.append(line if line.endswith(b"\n") else line + b"\n")
                if e["kind"] == "metrics":
                    metric_steps.append(e["step"])
    except FileNotFoundError:
        pass
    d.events_index.unlink(missing_ok=True)  # never an index of the old file beside the new
    atomic_write_bytes(events_path, b"".join(kept))
    events_index.rebuild(path, kept)
    metrics_log.cut(path, step, metric_steps)
    for p in d.samples.glob("*"):
        try:
            if (step_of(p) or 0) > step:
                p.unlink()
        except OSError:
            continue
    return dropped


def latest_metrics(path: Path) -> dict:
    """The newest ``metrics`` and ``eval`` values, read from the end of events.jsonl."""
    out: dict = {}
    for e in newest_events(path):
        if e["kind"] in ("metrics", "eval"):
            out.update({k: v for k, v in e.items() if k not in ("t", "kind")})
    return out


def samples(path: Path) -> list[Path]:
    """The run's saved grids, oldest first (``step-XXXXXXXX.npy``; a stray name is not one)."""
    return RunDir(path).grids()


def read_grid(path: Path):
    """A saved sample grid (``uint8`` N×28×28), or None for a file that is not one (garbage, a
    torn write, a pickle, another array): readers show an older grid or say so, never a traceback."""
    import numpy as np

    try:
        images = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    ok = isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 3 and len(images) > 0
    return images if ok else None
