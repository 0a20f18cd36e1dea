"""Detached runs: a training process in its own session, so it outlives the terminal and the SSH
connection. It is ``python -m genlab.train.detached RUN_DIR JSON`` (genlab.train.execute.execute's
options as one JSON object; what ``genlab _worker`` does, without the CLI's imports) with its
output appended to the run's log.txt; a run of several processes is ``genlab _launch --nproc N
RUN_DIR --options JSON``, PyTorch's launcher of its ranks. Torch-free: it starts them and waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from genlab.errors import GenlabError
from genlab.run.files import atomic_write_json, open_append
from genlab.run.rundir import RunDir
from genlab.run.state import RunState, effective_state

SETTLED = (RunState.RUNNING, RunState.PAUSED, RunState.STOPPED, RunState.FINISHED, RunState.FAILED)


def read_status(run_dir: Path) -> dict:
    return RunDir(run_dir).read_status()[0]


def spawn(run_dir: Path, options: dict | None = None, cpus: set[int] | None = None, nproc: int = 1) -> subprocess.Popen:
    """The worker process; ``options``: execute()'s keyword arguments (JSON types); ``cpus``:
    the cores it may use (it then trains with a thread for each), else this process's. With
    ``nproc`` over 1 it is the launcher of that many ranks (``genlab _launch``)."""
    def before_exec() -> None:  # (in the child, before its interpreter starts)
        try:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a hang-up changes nothing from its first moment
        except ValueError:  # (spawned from a thread other than the main one: from its own start, then)
            pass
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)

    if nproc == 1:  # (the training process without the CLI's imports)
        command = ["genlab.train.detached", str(run_dir.resolve()), json.dumps(options or {})]
    else:
        command = ["genlab", "_launch", "--nproc", str(nproc), str(run_dir.resolve()), "--options", json.dumps(options or {})]
    with open_append(RunDir(run_dir).log, binary=True) as log:  # never through a link
        proc = subprocess.Popen(
            [sys.executable, "-m", *command],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, preexec_fn=before_exec,
        )
    claim(run_dir, proc.pid)
    return proc


def claim(run_dir: Path, pid: int) -> None:
    """``pid``, the run's new training process, is its owner in status.json while the run is
    ``starting`` (readers see a live start, and a crash if it dies before it writes)."""
    status = read_status(run_dir)
    if status.get("state") in (None, RunState.STARTING):  # the worker has not written yet: it is the owner now
        atomic_write_json(RunDir(run_dir).status, {**status, "state": RunState.STARTING, "pid": pid,
                                                    "heartbeat": time.time()}, durable=False)


def wait_until_settled(run_dir: Path, proc: subprocess.Popen, timeout: float = 120.0) -> dict:
    """Wait for the worker to report a state of its own (or die); its status, or GenlabError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(run_dir)
        if status.get("state") in SETTLED and status.get("pid") in (proc.pid, *children(proc.pid)):
            return status  # (a launcher's: its rank 0 writes status.json)
        if proc.poll() is not None:
            tail = RunDir(run_dir).log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise GenlabError(f"the training process exited with code {proc.returncode}: {tail[0]}")
        time.sleep(0.1)
    raise GenlabError(f"the training process (pid {proc.pid}) has not started after {timeout:.0f}s; see {RunDir(run_dir).log}")


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (a launcher's ranks)."""
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def wait_for_state(run_dir: Path, states: tuple[str, ...], timeout: float = 60.0) -> dict | None:
    """Poll status.json until the run reaches one of ``states`` (or dies); None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(run_dir)
        state = effective_state(status, run_dir)
        if state in states or state in (RunState.CRASHED, RunState.FAILED):
            return {**status, "state": state}
        time.sleep(0.05)
    return None
