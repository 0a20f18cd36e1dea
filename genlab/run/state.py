"""A run's state, and what each state allows: the one rule the CLI, the cockpit and the sweep
worker ask before they pause, stop or resume a run.

A trainer writes one of the *written* states into status.json (starting, running, paused,
stopped, finished, failed). A reader believes :func:`effective_state`, which adds the *readers'*
states: ``crashed`` (a live state whose process is gone) and ``stalled`` (a live process that
has not beaten its heartbeat for STALE_AFTER_S).

What each state allows (``can_pause``, ``can_stop``, ``can_resume``) is a property of the state
and nothing else, so ``genlab pause`` and the cockpit's ``p`` accept the same runs:

- pause and stop are requests through the run's control channel, which the process that holds
  the run reads at its next step boundary. So they are allowed in every state where such a
  process exists (``live``): starting (read once its loop starts: refusing it would make
  ``train --detach`` then ``pause`` a race), running, stalled (read if it comes back; a stop is
  how a stalled run is ended), and for stop also paused.
- resume: a paused run resumes in place (``resumes_in_place``); a stopped, crashed, failed or
  finished one from its newest good checkpoint in a new process (a finished one only to a
  longer length: genlab.train.resume_plan checks that).

Torch-free: the cockpit imports it.
"""

from __future__ import annotations

import os
import socket
import time
from enum import StrEnum
from pathlib import Path

from genlab.run import schema

STALE_AFTER_S = 60.0  # a running process writes status.json at least every few seconds


class RunState(StrEnum):
    """A run's state; its value is the word status.json and every screen use (a StrEnum: it
    equals, prints and serialises as that word)."""

    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"  # a reader's: the status says live, its process is gone
    STALLED = "stalled"  # a reader's: its process holds the run but has not beaten its heartbeat
    UNKNOWN = "unknown"  # a reader's: no valid status to go by
    UNREADABLE = "unreadable"  # a reader's: the run directory cannot be read (RunInfo.problem says why)

    @classmethod
    def of(cls, value) -> RunState:
        """The state a word names; UNKNOWN for anything else (a status.json from a newer genlab)."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN

    @property
    def live(self) -> bool:
        """A process holds the run (or should: a crashed one is not live)."""
        return self in (RunState.STARTING, RunState.RUNNING, RunState.PAUSED, RunState.STALLED)

    @property
    def written_live(self) -> bool:
        """A state a trainer writes while it lives: a reader checks that its process does."""
        return self in (RunState.STARTING, RunState.RUNNING, RunState.PAUSED)

    @property
    def can_pause(self) -> bool:
        return self.live and self is not RunState.PAUSED

    @property
    def can_stop(self) -> bool:
        return self.live

    @property
    def can_resume(self) -> bool:
        return self.resumes_in_place or self.resumes_from_checkpoint

    @property
    def resumes_in_place(self) -> bool:
        """Resumed by a command to the process that holds it (it kept its state in memory)."""
        return self is RunState.PAUSED

    @property
    def resumes_from_checkpoint(self) -> bool:
        """Resumed by a new process from its newest good checkpoint (nobody holds it)."""
        return self in (RunState.STOPPED, RunState.CRASHED, RunState.FAILED, RunState.FINISHED)

    @property
    def ended(self) -> bool:
        """The trainer ended it and wrote so (a crash is not an end it wrote)."""
        return self in (RunState.STOPPED, RunState.FINISHED, RunState.FAILED)


# --------------------------------------------------------------------------- is its process there


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` lives: a zombie (dead, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): signal 0 said it is there


def rank_trouble(status: dict, now: float, stale_s: float = STALE_AFTER_S, run_dir: Path | None = None) -> str | None:
    """Which rank of a live run of several processes is gone, in words (None: every rank beats):
    one whose beat (status.json's ``world``, from genlab.train.distributed.RankBeat) is older than
    ``stale_s``, or on this host one whose process is gone; the one that went first (its beat
    the oldest) is named. A rank done with its part (while rank 0 ends the run) is not gone:
    its last beat says so, in status.json or, fresher, in ``run_dir``'s ranks/rank-N.json."""
    world = status.get("world")
    if not isinstance(world, dict) or not isinstance(world.get("ranks"), list):
        return None
    gone = []
    for r in world["ranks"]:
        try:
            beat, pid, host = float(r["beat"]), int(r["pid"]), str(r["host"])
        except (KeyError, TypeError, ValueError):
            continue
        silent = now - beat > stale_s or (host == socket.gethostname() and not pid_alive(pid))
        if silent and not rank_done(r, run_dir):
            gone.append((beat, r))
    if not gone:
        return None
    beat, r = min(gone, key=lambda g: g[0])
    return f"rank {r.get('rank')} (pid {r.get('pid')} on {r.get('host')}) stopped beating {now - beat:.0f}s ago"


def rank_done(r: dict, run_dir: Path | None) -> bool:
    """Whether rank ``r`` (an entry of status.json's world) has beaten its last beat, ``done``:
    there, or in its own file, written by the same process just before it exited (rank 0
    gathers the files only every second)."""
    from genlab.run.files import read_json
    from genlab.run.rundir import RunDir

    if r.get("done") is True:
        return True
    if run_dir is None or not isinstance(r.get("rank"), int):
        return False
    own = read_json(RunDir(run_dir).rank_file(r["rank"]))
    return isinstance(own, dict) and own.get("done") is True and own.get("pid") == r.get("pid")


def slowest_rank(status: dict) -> str | None:
    """The rank the others wait for, in words: the most own work a step (``busy_ms`` of each
    rank's beat), e.g. "slowest rank 1 (12.3 ms/step)"; None with fewer than two figures."""
    world = status.get("world")
    ranks = [r for r in world.get("ranks", []) if isinstance(r, dict) and isinstance(r.get("busy_ms"), (int, float))] \
        if isinstance(world, dict) and isinstance(world.get("ranks"), list) else []
    if len(ranks) < 2:
        return None
    r = max(ranks, key=lambda r: r["busy_ms"])
    return f"slowest rank {r.get('rank')} ({r['busy_ms']:.1f} ms/step)"


def effective_state(status: dict | None, run_dir: Path | None = None, now: float | None = None) -> RunState:
    """The state a reader should believe: ``crashed`` for a live state whose process is gone,
    ``stalled`` for a live process that has not beaten its heartbeat for STALE_AFTER_S.

    On the run's own host the trainer's lock decides (the kernel drops it when the process dies,
    and a recycled pid cannot fool it); a reader who may not open the lock, and a reader on
    another host, go by the pid and the heartbeat.
    """
    from genlab.run.lock import is_locked

    if not isinstance(status, dict) or schema.status_problem(status):
        return RunState.UNKNOWN
    state = RunState.of(status["state"])
    if not state.written_live:
        return state
    now = now or time.time()
    stale = now - float(status.get("heartbeat", 0)) > STALE_AFTER_S
    if state is not RunState.STARTING and isinstance(status.get("world"), dict):  # several processes: any rank gone
        if rank_trouble(status, now, run_dir=run_dir):
            return RunState.CRASHED
    if status.get("host") == socket.gethostname():
        locked = None
        if run_dir is not None and state is not RunState.STARTING:
            locked = is_locked(run_dir)  # None: no lock file, or not ours to open
        if locked is False:
            return RunState.CRASHED
        if locked is None and status.get("pid") and not pid_alive(int(status["pid"])):
            return RunState.CRASHED
        if locked:
            return RunState.STALLED if stale else state
    return RunState.CRASHED if stale else state
