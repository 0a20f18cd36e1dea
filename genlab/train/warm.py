"""A sweep's trials started warm: its worker imports torch and the training engine once
(:func:`warm_up`), then forks each trial's training process from itself (:func:`fork_trial`), so
a trial trains at once instead of paying again for an interpreter, torch and genlab's imports.

The child is what `genlab _worker RUN_DIR` would be (genlab.train.detached): its own session, its
output appended to the run's log.txt, none of its parent's other files open (its locks die with
it), pinned to its slot's cores, default signals. It leaves with ``os._exit``, so nothing of its
parent's (the Optuna storage, open files) is closed or flushed by it. The parent only imports before it forks and runs no torch operation, so the
child starts with no half-copied thread pool; each trial seeds itself, so its weights are those
of a run started any other way (tests/test_start.py compares them bit for bit). Where there is
no fork (not Linux), trials are spawned as before (genlab.run.launch.spawn).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from pathlib import Path

from genlab.run.files import open_append
from genlab.run.launch import claim
from genlab.run.rundir import RunDir

# what a training process imports as it trains (the engine, side jobs' evaluation and drawing)
ENGINE = ("torch", "genlab.train.execute", "genlab.train.trainer", "genlab.eval.quality", "genlab.render.digits")


def available() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def warm_up(implementations=()) -> None:
    """Import the engine, and each model class of ``implementations`` ("module:Class"), now:
    once for every trial this process forks."""
    for name in (*ENGINE, *(i.partition(":")[0] for i in implementations)):
        importlib.import_module(name)


class Forked:
    """A forked training process, as much of ``subprocess.Popen`` as a sweep's worker uses."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def fork_trial(run_dir: Path, options: dict, cpus: set[int] | None = None) -> Forked:
    """The training process of ``run_dir``, forked from this one (see the module docstring)."""
    with open_append(RunDir(run_dir).log, binary=True) as log:  # never through a link
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(run_dir, options, cpus, log.fileno())
    claim(run_dir, pid)
    return Forked(pid)


def _child(run_dir: Path, options: dict, cpus: set[int] | None, log_fd: int) -> None:
    code = 1
    try:
        os.setsid()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        # nothing else of the worker's, as a spawned process has nothing (close_fds): a worker's
        # lock is a flock, which a child holding its descriptor would keep after the worker died
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)
        from genlab.train.detached import run

        code = run(run_dir, options)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
