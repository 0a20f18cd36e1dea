"""The run directory (DESIGN.md): create it whole, find runs, read their files safely.

    runs/<run-id>/config.json     resolved configuration
                  events.jsonl    one event a line; readers skip a torn last line
                  status.json     state, pid, host, step, heartbeat (replaced atomically)
                  samples/        step-XXXXXXXX.png and .npy from the fixed latent
                  checkpoints/    step-XXXXXXXX.pt (+ .sha256)
                  log.txt         the human-readable log

Nothing here knows about training; the CLI and the cockpit use it to read runs.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import socket
import stat
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from genlab.run import schema
from genlab.run.state import RunState, effective_state
from genlab.errors import GenlabError, UsageError

RANKS_DIR = "ranks"  # ranks/rank-N.json: each rank's own heartbeat (genlab.train.distributed.RankBeat)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # used with fullmatch: no trailing newline
RESERVED_NAMES = ("latest",)  # what a RUN argument means by itself: a run so named could be reached only by prefix
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
IN_PLACE = ("log.txt", "events.jsonl", "metrics.bin", "lock")  # files a trainer appends to or opens in place
TEMP_GLOBS = (".*.tmp-*", "checkpoints/.*.tmp-*", "samples/.*.tmp-*")  # what atomic_write_bytes leaves if killed


def runs_root(runs_dir: str | os.PathLike | None = None) -> Path:
    return Path(runs_dir or os.environ.get("GENLAB_RUNS_DIR") or "runs").expanduser()


# --------------------------------------------------------------------------- atomic files


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True, mode: int = 0o644) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: readers see old or new, never half.

    The work is done relative to the directory, held open for it (``dir_fd``): the temporary
    name is unpredictable and created exclusively (``O_EXCL``, no link followed), so a link
    planted in the directory is never written through, and the rename lands in the directory
    that was opened even if its path is swapped meanwhile. The temporary file is removed on any
    failure (a full disk leaves nothing behind)."""
    path = Path(path)
    parent = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        tmp = f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, mode, dir_fd=parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path.name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=parent)
            except OSError:
                pass
            raise
        if durable:
            try:
                os.fsync(parent)
            except OSError:
                pass
    finally:
        os.close(parent)


def open_append(path: Path, binary: bool = False):
    """``path`` opened for appending, never through a symbolic link (a link is refused)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise GenlabError(f"{path} is a symbolic link: genlab does not write through links in a run") from None
        raise
    return os.fdopen(fd, "ab") if binary else os.fdopen(fd, "a", encoding="utf-8")


def atomic_write_json(path: Path, obj, durable: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode(), durable)


def read_json(path: Path):
    """The JSON value in ``path`` (of any type: check it with genlab.run.schema), or None."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def read_checked(path: Path, problem) -> tuple[dict, str | None]:
    """(the object in ``path``, None) if ``problem(value)`` finds nothing wrong, else ({}, reason)."""
    value = read_json(path)
    if value is None:
        return {}, f"{path.name} is unreadable (not JSON)" if path.exists() else f"{path.name} is missing"
    reason = problem(value)
    return ({}, reason) if reason else (value, None)


# --------------------------------------------------------------------------- events


def read_events(path: Path, offset: int = 0, limit: int | None = None) -> tuple[list[dict], int]:
    """Events from byte ``offset``; returns them and the offset after the last whole line.

    A last line without its newline (a writer mid-append, or a crash) is left for the next read;
    a line that is not a valid event (genlab.run.schema.event_ok) is skipped.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read() if limit is None else f.read(limit)
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = []
    for line in data[:end].splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if schema.event_ok(e):
            events.append(e)
    return events, offset + end


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
    tmp = root / f".{name}.tmp-{os.getpid()}"
    try:
        tmp.mkdir()
        fill(tmp)
        os.rename(tmp, root / name)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GenlabError(f"cannot create {what} directory {root / name}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(root)
    return root / name


def create_run(root: Path, run_id: str, config: dict, files: dict[str, dict] | None = None) -> Path:
    """Build the run directory under a temporary name and rename it into place, whole.
    ``files``: more JSON files of the run (name to content), e.g. its view."""
    def fill(tmp: Path) -> None:
        (tmp / "samples").mkdir()
        (tmp / "checkpoints").mkdir()
        (tmp / "events.jsonl").touch()
        (tmp / "log.txt").touch()
        atomic_write_json(tmp / "config.json", config, durable=False)
        for name, content in (files or {}).items():
            atomic_write_json(tmp / name, content, durable=False)
        atomic_write_json(tmp / "status.json", initial_status(config), durable=False)

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
    config, problem = read_checked(path / "config.json", schema.config_problem)
    status, status_issue = read_checked(path / "status.json", schema.status_problem)
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
            if not p.name.startswith(".") and p.is_dir() and (p / "config.json").exists():
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
    for sub in ("control", "checkpoints", "samples"):
        check_own_dir(run_dir, sub)
    for name in IN_PLACE:
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
    from genlab.run import metrics_log
    events_path = path / "events.jsonl"
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
    from genlab.run import events_index
    (path / events_index.FILE).unlink(missing_ok=True)  # never an index of the old file beside the new
    atomic_write_bytes(events_path, b"".join(kept))
    events_index.rebuild(path, kept)
    metrics_log.cut(path, step, metric_steps)
    for p in (path / "samples").glob("step-*"):
        try:
            if int(p.name[5:13]) > step:
                p.unlink()
        except (ValueError, OSError):
            continue
    return dropped


def latest_metrics(path: Path, tail_bytes: int = 256_000) -> dict:
    """The newest ``metrics`` and ``eval`` values, read from the end of events.jsonl."""
    events_path = path / "events.jsonl"
    try:
        size = events_path.stat().st_size
    except OSError:
        return {}
    start = max(0, size - tail_bytes)
    events, _ = read_events(events_path, start)
    out: dict = {}
    for e in events:
        if schema.event_ok(e) and e["kind"] in ("metrics", "eval"):
            out.update({k: v for k, v in e.items() if k not in ("t", "kind")})
    return out


def samples(path: Path) -> list[Path]:
    """The run's saved grids, oldest first (``step-XXXXXXXX.npy``; a stray name is not one)."""
    return sorted(p for p in (path / "samples").glob("step-*.npy") if re.fullmatch(r"step-\d{8}\.npy", p.name))


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
