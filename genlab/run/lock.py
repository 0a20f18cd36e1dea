"""One trainer per run: an exclusive ``flock`` on ``<run>/lock``, held for the process's life.

The kernel drops the lock when the process dies, however it dies (SIGKILL included), so a
reader that can take the lock knows nobody is training the run.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from genlab.run.files import O_NOFOLLOW
from genlab.run.rundir import RunDir


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = RunDir(run_dir).lock
        self.fd: int | None = None

    def acquire(self, wait_s: float = 2.0) -> bool:
        """Take the lock; retry briefly (a reader may be peeking); False if a trainer holds it.

        The file is readable by everyone (0644), so any user who can read the run can tell a live
        run from a crashed one; only its holder writes it (its pid). A link is never followed."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | O_NOFOLLOW, 0o644)
        if os.fstat(fd).st_mode & 0o044 != 0o044:
            os.fchmod(fd, 0o644)  # made 0600 by an older genlab, or under a strict umask
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def is_locked(run_dir: Path) -> bool | None:
    """True while a trainer holds the run's lock (a shared lock attempt fails), False when nobody
    does, None when this reader cannot tell (no lock file, or one it may not open)."""
    path = RunDir(run_dir).lock
    try:
        fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
