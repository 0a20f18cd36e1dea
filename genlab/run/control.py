"""The control channel: how the CLI and the cockpit ask a training process to pause, resume
or stop.

A command is a small JSON file dropped atomically into ``<run>/control/``, a directory only the
run's owner can write (mode 0700); the trainer reads and deletes the files at step boundaries,
oldest first, and ignores, with a warning event, anything malformed, owned by another user,
larger than MAX_BYTES or not a plain file (a FIFO, a link: never opened through, never followed).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
import uuid
from pathlib import Path

from genlab.run.files import O_NOFOLLOW, atomic_write_bytes
from genlab.run.rundir import RunDir
from genlab.run.store import check_own_dir

COMMANDS = ("pause", "resume", "stop")
MAX_BYTES = 4096  # a command is a few dozen bytes


def control_dir(run_dir: Path) -> Path:
    return RunDir(run_dir).control


def ensure(run_dir: Path) -> Path:
    """The control directory, made if missing, mode 0700. A link, or a directory of another
    user, is refused (UsageError): its mode is never changed through a link."""
    d = control_dir(run_dir)
    try:
        d.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = check_own_dir(run_dir, RunDir.CONTROL)
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(d, 0o700, follow_symlinks=False)  # whatever the umask: the owner only
    return d


def send(run_dir: Path, command: str, **args) -> Path:
    """Drop one command file (written under a dot-name, then renamed, so it is read whole)."""
    d = ensure(run_dir)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    atomic_write_bytes(d / name, json.dumps({"command": command, **args}).encode(), durable=False, mode=0o600)
    return d / name


class Inbox:
    """Reads the commands sent to one run, oldest first."""

    def __init__(self, run_dir: Path):
        self.dir = ensure(run_dir)
        self.uid = os.getuid()

    def poll(self) -> tuple[list[dict], list[str]]:
        """(valid commands, warnings about ignored files); every file read is removed."""
        commands, warnings = [], []
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".json") and not n.startswith("."))
        except OSError:
            return commands, warnings
        for name in names:
            raw, why = self._read(self.dir / name)
            if raw is None and why is None:
                continue  # gone already
            if why:
                warnings.append(f"ignored control file {name}: {why}")
                continue
            try:
                cmd = json.loads(raw)
                if not isinstance(cmd, dict) or cmd.get("command") not in COMMANDS:
                    raise ValueError(f"unknown command {cmd.get('command') if isinstance(cmd, dict) else cmd!r}")
                for key in ("lr", "max_minutes"):
                    if key in cmd and not (isinstance(cmd[key], (int, float)) and cmd[key] > 0):
                        raise ValueError(f"bad {key} {cmd[key]!r}")
                if "reason" in cmd and not (isinstance(cmd["reason"], str) and len(cmd["reason"]) <= 300):
                    raise ValueError("bad reason: a string of at most 300 characters")
                if "total_steps" in cmd and not (isinstance(cmd["total_steps"], int) and cmd["total_steps"] > 0):
                    raise ValueError(f"bad total_steps {cmd['total_steps']!r}")
            except ValueError as e:
                warnings.append(f"ignored malformed control command {name}: {e}")
                continue
            commands.append(cmd)
        return commands, warnings

    def _read(self, path: Path) -> tuple[bytes | None, str | None]:
        """The bytes of one command file, then removed; (None, why) if it is not to be read,
        (None, None) if it is gone.

        Opened without following a link and without blocking (a FIFO opens at once), then
        checked on the open descriptor: a plain file, the run owner's, at most MAX_BYTES."""
        try:
            fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            why = "a symbolic link (not followed)" if e.errno == errno.ELOOP else (e.strerror or str(e))
            _remove(path)
            return None, None if e.errno == errno.ENOENT else why
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None, "not a plain file"
            if st.st_uid != self.uid:
                return None, f"owned by uid {st.st_uid}, not the run's owner"
            if st.st_size > MAX_BYTES:
                return None, f"{st.st_size:,} bytes, more than a command's {MAX_BYTES:,}"
            raw = os.read(fd, MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:  # it grew since fstat: a file still being written, however big it ends
                return None, f"more than a command's {MAX_BYTES:,} bytes (it grew as it was read)"
            return raw, None
        except OSError as e:
            return None, e.strerror or str(e)
        finally:
            os.close(fd)
            _remove(path)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
