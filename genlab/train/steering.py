"""The control channel as a training process obeys it: pause, resume and stop, at step boundaries.

Commands (genlab/control.py writes and reads the files) apply one at a time, in the order they
were sent, each once: so the latest intent wins (pause then resume runs on; pause then stop
stops), whatever the batch they arrive in. A pause checkpoints, then waits, beating the
heartbeat, until a resume (with a new learning rate or length, if it brings one) or a stop.
Long side jobs ask :meth:`Steering.waiting` now and then and give way to a waiting command.
"""

from __future__ import annotations

import os
import time
from collections import deque

from genlab.train.cadence import POLL_EVERY_S
from genlab.run.control import Inbox, control_dir
from genlab.run.state import RunState

HEARTBEAT_S = 1.0  # status.json's heartbeat while paused or inside a long side job


class Steering:
    def __init__(self, trainer):
        self.trainer = trainer
        self.inbox = Inbox(trainer.run_dir)
        self.queue: deque[dict] = deque()  # commands read but not yet applied, oldest first
        self._next_peek = 0.0
        self.stop_reason: str | None = None  # a stop command's own reason (a sweep's pruner gives one)

    def next_command(self) -> dict | None:
        """The oldest command not yet applied (reading the control channel when none is queued)."""
        if not self.queue:
            commands, warnings = self.inbox.poll()
            for w in warnings:
                self.trainer.warn(w)
            self.queue.extend(commands)
        return self.queue.popleft() if self.queue else None

    def waiting(self) -> bool:
        """For long side jobs (PixelCNN sampling, evaluation): is a command or a stop waiting?
        Also keeps the heartbeat going while they run."""
        t = self.trainer
        if t.stop_request or self.queue:
            return True
        now = time.monotonic()
        if now < self._next_peek:
            return False
        self._next_peek = now + POLL_EVERY_S
        if now - t.last_beat >= HEARTBEAT_S:
            t.beat()
        try:
            return any(not n.startswith(".") for n in os.listdir(control_dir(t.run_dir)))
        except OSError:
            return False

    def poll(self) -> str | None:
        """Apply the waiting commands while running; "stop" when the run must stop."""
        while (cmd := self.next_command()) is not None:
            kind = cmd["command"]
            if kind == "stop":
                self.stop_reason = cmd.get("reason")
                return "stop"
            if kind == "pause" and self.pause("paused by request") == "stop":
                return "stop"
            if kind == "resume":
                self.trainer.apply(cmd)  # already running: a new learning rate or length still applies
        return None

    def pause(self, reason: str) -> str:
        """Checkpoint, then wait for a resume or a stop; returns "resume" or "stop". A diverged
        run rolls back to its last good checkpoint when it resumes."""
        t = self.trainer
        t.settle()
        t.set_state(RunState.PAUSED, f"diverged: {t.diverged}" if t.diverged else reason)
        while not t.stop_request:
            while (cmd := self.next_command()) is not None:
                kind = cmd["command"]
                if kind == "stop":
                    self.stop_reason = cmd.get("reason")
                    return "stop"
                if kind == "resume":
                    if t.diverged:
                        t.checkpoints.rollback()
                    t.apply(cmd)
                    t.reset_rate()
                    t.set_state(RunState.RUNNING)
                    return "resume"
                # a pause while paused changes nothing
            if time.monotonic() - t.last_beat >= HEARTBEAT_S:
                t.beat()
            time.sleep(POLL_EVERY_S)
        return "stop"
