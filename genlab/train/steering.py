"""The control channel as a training process reads it: pause, resume and stop, at step boundaries.

Commands (genlab/run/control.py writes and reads the files) come one at a time, in the order
they were sent, each once: so the latest intent wins (pause then resume runs on; pause then stop
stops), whatever the batch they arrive in. The trainer acts on them (Trainer.obey): a pause
checkpoints, then :meth:`Steering.wait` waits, beating the heartbeat, until a resume (with a new
learning rate or length, if it brings one) or a stop. Long side jobs ask :meth:`Steering.waiting`
now and then and give way to a waiting command.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from genlab.run.control import Inbox, control_dir
from genlab.train.cadence import POLL_EVERY_S
from genlab.train.emitter import Emitter

HEARTBEAT_S = 1.0  # status.json's heartbeat while paused or inside a long side job


class Steering:
    """``run_dir``'s control channel; ``events`` hears its warnings and keeps the heartbeat;
    ``stopping`` says whether a signal asked the process to stop."""

    def __init__(self, run_dir: Path, events: Emitter, stopping: Callable[[], bool]):
        self.run_dir, self.events, self.stopping = run_dir, events, stopping
        self.inbox = Inbox(run_dir)
        self.queue: deque[dict] = deque()  # commands read but not yet applied, oldest first
        self._next_peek = 0.0
        self.stop_reason: str | None = None  # a stop command's own reason (a sweep's pruner gives one)

    def next_command(self) -> dict | None:
        """The oldest command not yet applied (reading the control channel when none is queued)."""
        if not self.queue:
            commands, warnings = self.inbox.poll()
            for w in warnings:
                self.events.warn(w)
            self.queue.extend(commands)
        cmd = self.queue.popleft() if self.queue else None
        if cmd is not None and cmd["command"] == "stop":
            self.stop_reason = cmd.get("reason")
        return cmd

    def waiting(self) -> bool:
        """For long side jobs (PixelCNN sampling, evaluation): is a command or a stop waiting?
        Also keeps the heartbeat going while they run."""
        if self.stopping() or self.queue:
            return True
        now = time.monotonic()
        if now < self._next_peek:
            return False
        self._next_peek = now + POLL_EVERY_S
        self.events.beat_if_due(HEARTBEAT_S)
        try:
            return any(not n.startswith(".") for n in os.listdir(control_dir(self.run_dir)))
        except OSError:
            return False

    def wait(self) -> dict | None:
        """While paused: beat the heartbeat until a resume or a stop command comes (a pause while
        paused changes nothing) and return it; None when a signal asked the process to stop."""
        while not self.stopping():
            while (cmd := self.next_command()) is not None:
                if cmd["command"] in ("stop", "resume"):
                    return cmd
            self.events.beat_if_due(HEARTBEAT_S)
            time.sleep(POLL_EVERY_S)
        return None
