"""The cockpit gives way to training.

Training takes every core (torch runs one thread per core, and its threads meet at a barrier
after every matrix product), so a cockpit that wakes up on one core stalls the whole step, not
just its own share. `genlab tui` and `genlab watch` therefore lower their own scheduling
priority (nice +10) before the app starts: on a busy machine the kernel runs the trainer first
and the cockpit in the gaps, and on an idle one nothing changes.

A process started by a thread inherits that thread's priority, and an unprivileged process may
not raise it again, so every `genlab` subprocess the cockpit starts (new runs, resumes) is
spawned from one thread created before the priority was lowered: runs keep the priority the
user started the cockpit with. On Linux the nice value belongs to a thread, which makes this
work; elsewhere the cockpit keeps its priority.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

NICE = 10
_spawner: ThreadPoolExecutor | None = None


def spawner() -> ThreadPoolExecutor:
    """The one thread that starts the cockpit's subprocesses, at the cockpit's first priority."""
    global _spawner
    if _spawner is None:
        _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genlab-spawner")
        _spawner.submit(int).result()  # the thread exists from now on
    return _spawner


def yield_to_training(nice: int = NICE) -> bool:
    """Lower the calling thread's priority by ``nice``, and with it every thread it starts
    later; True if it did."""
    if not sys.platform.startswith("linux"):
        return False
    spawner()
    try:
        os.nice(nice)
    except OSError:
        return False
    return True
