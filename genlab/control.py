"""The control channel: how the CLI and the cockpit ask a training process to pause, resume,
stop or sample now.

A command is a small JSON file dropped atomically into ``<run>/control/``, a directory only the
run's owner can write (mode 0700); the trainer reads and deletes the files at step boundaries
and ignores, with a warning event, anything malformed or owned by another user.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

COMMANDS = ("pause", "resume", "stop", "sample")
DIRNAME = "control"


def control_dir(run_dir: Path) -> Path:
    return run_dir / DIRNAME


def ensure(run_dir: Path) -> Path:
    d = control_dir(run_dir)
    d.mkdir(mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)  # whatever the umask: the owner only
    return d


def send(run_dir: Path, command: str, **args) -> Path:
    """Drop one command file (written under a dot-name, then renamed, so it is read whole)."""
    d = ensure(run_dir)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    tmp = d / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"command": command, **args}, f)
    os.replace(tmp, d / name)
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
            path = self.dir / name
            try:
                st = path.stat()
                raw = path.read_bytes()[:65536]
                path.unlink()
            except OSError:
                continue
            if st.st_uid != self.uid:
                warnings.append(f"ignored control file {name} owned by uid {st.st_uid}, not the run's owner")
                continue
            try:
                cmd = json.loads(raw)
                if not isinstance(cmd, dict) or cmd.get("command") not in COMMANDS:
                    raise ValueError(f"unknown command {cmd.get('command') if isinstance(cmd, dict) else cmd!r}")
                for key in ("lr",):
                    if key in cmd and not (isinstance(cmd[key], (int, float)) and cmd[key] > 0):
                        raise ValueError(f"bad {key} {cmd[key]!r}")
                if "total_steps" in cmd and not (isinstance(cmd["total_steps"], int) and cmd["total_steps"] > 0):
                    raise ValueError(f"bad total_steps {cmd['total_steps']!r}")
            except ValueError as e:
                warnings.append(f"ignored malformed control command {name}: {e}")
                continue
            commands.append(cmd)
        return commands, warnings
