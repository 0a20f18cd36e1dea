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

import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from genlab.errors import GenlabError, UsageError

STALE_AFTER_S = 60.0  # a running process writes status.json at least every few seconds
LIVE_STATES = ("starting", "running", "paused")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def atomic_write_json(path: Path, obj, durable: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode(), durable)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- events


def read_events(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Events from byte ``offset``; returns them and the offset after the last whole line.

    A last line without its newline (a writer mid-append, or a crash) is left for the next read;
    a line that is not valid JSON is skipped.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = []
    for line in data[:end].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events, offset + end


# --------------------------------------------------------------------------- creating a run


def new_run_id(model: str, name: str | None, root: Path) -> str:
    if name:
        if not NAME_RE.match(name):
            raise UsageError(f"run name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        if (root / name).exists():
            raise UsageError(f"a run named {name!r} already exists in {root}")
        return name
    base = time.strftime("%Y%m%d-%H%M%S") + "-" + model
    run_id, n = base, 1
    while (root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def create_run(root: Path, run_id: str, config: dict) -> Path:
    """Build the run directory under a temporary name and rename it into place, whole."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create runs directory {root}: {e.strerror}") from None
    tmp = root / f".{run_id}.tmp-{os.getpid()}"
    try:
        tmp.mkdir()
        (tmp / "samples").mkdir()
        (tmp / "checkpoints").mkdir()
        (tmp / "events.jsonl").touch()
        (tmp / "log.txt").touch()
        atomic_write_json(tmp / "config.json", config, durable=False)
        atomic_write_json(tmp / "status.json", initial_status(config), durable=False)
        os.rename(tmp, root / run_id)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GenlabError(f"cannot create run directory {root / run_id}: {e.strerror or e}") from None
    fsync_dir(root)
    return root / run_id


def initial_status(config: dict) -> dict:
    now = time.time()
    return {"state": "starting", "pid": os.getpid(), "host": socket.gethostname(), "step": 0,
            "total_steps": config.get("total_steps"), "epoch": 0, "heartbeat": now, "updated": now}


# --------------------------------------------------------------------------- reading runs


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def effective_state(status: dict | None, run_dir: Path | None = None, now: float | None = None) -> str:
    """The state a reader should believe: ``crashed`` for a live state whose process is gone.

    On the run's own host the trainer's lock decides (the kernel drops it when the process dies,
    and a recycled pid cannot fool it); elsewhere a stale heartbeat does.
    """
    from genlab.lock import is_locked

    if not status:
        return "unknown"
    state = status.get("state", "unknown")
    if state not in LIVE_STATES:
        return state
    now = now or time.time()
    if status.get("host") == socket.gethostname():
        if run_dir is not None and (run_dir / "lock").exists() and state != "starting":
            return state if is_locked(run_dir) else "crashed"
        if status.get("pid") and not pid_alive(int(status["pid"])):
            return "crashed"
    if now - float(status.get("heartbeat", 0)) > STALE_AFTER_S:
        return "crashed"
    return state


@dataclass
class RunInfo:
    run_id: str
    path: Path
    config: dict
    status: dict
    state: str
    created: float = 0.0
    latest: dict = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.config.get("model", "?")


def load_run(path: Path) -> RunInfo:
    config = read_json(path / "config.json") or {}
    status = read_json(path / "status.json") or {}
    return RunInfo(path.name, path, config, status, effective_state(status, path),
                   created=float(config.get("created", path.stat().st_mtime)))


def run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "config.json").exists()]


def list_runs(root: Path) -> list[RunInfo]:
    runs = [load_run(p) for p in run_dirs(root)]
    return sorted(runs, key=lambda r: (r.created, r.run_id))


def resolve_run(root: Path, ref: str) -> Path:
    """A run id, a unique prefix of one, or ``latest``."""
    dirs = run_dirs(root)
    if not dirs:
        raise UsageError(f"no runs in {root}")
    if ref == "latest":
        return list_runs(root)[-1].path
    exact = [p for p in dirs if p.name == ref]
    if exact:
        return exact[0]
    matches = sorted(p.name for p in dirs if p.name.startswith(ref))
    if not matches:
        raise UsageError(f"no run matches {ref!r} in {root}")
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise UsageError(f"{ref!r} matches {len(matches)} runs ({shown}); give more of the id")
    return root / matches[0]


def cut_events(path: Path, step: int) -> int:
    """Drop events after ``step`` (and a torn last line): rewrite to a temporary file, rename.

    Returns how many events were dropped. Used on resume, so curves never zig-zag back.
    """
    events_path = path / "events.jsonl"
    kept, dropped = [], 0
    try:
        with open(events_path, "rb") as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    dropped += 1
                    continue
                if e.get("step", 0) > step:
                    dropped += 1
                else:
                    kept.append(line if line.endswith(b"\n") else line + b"\n")
    except FileNotFoundError:
        pass
    atomic_write_bytes(events_path, b"".join(kept))
    from genlab import metrics_log

    metrics_log.cut(path, step)
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
        if e.get("kind") in ("metrics", "eval"):
            out.update({k: v for k, v in e.items() if k not in ("t", "kind")})
    return out


def samples(path: Path) -> list[Path]:
    return sorted((path / "samples").glob("step-*.npy"))
