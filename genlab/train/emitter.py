"""Where a training process's events go: every sink (genlab/run/sinks.py), stamped with the time
and the step.

The trainer and its units (checkpoints, side jobs, steering) hold an :class:`Emitter`, not the
sinks: one place stamps events, keeps the heartbeat and records a failure as far as the disk
allows.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from genlab.run.sinks import Progress, Sink
from genlab.run.state import RunState


class Emitter:
    def __init__(self, sinks: list[Sink], step: Callable[[], int]):
        self.sinks = sinks
        self.step = step  # the step events are stamped with
        self.last_beat = 0.0  # when the heartbeat last went out (monotonic)
        self.posted: queue.SimpleQueue = queue.SimpleQueue()  # events from other threads, not yet sent

    def emit(self, kind: str, **fields) -> None:
        self.send({"t": round(time.time(), 3), "step": self.step(), "kind": kind, **fields})

    def warn(self, message: str) -> None:
        self.emit("warning", message=message)

    def post(self, kind: str, **fields) -> None:
        """An event from another thread (the notifier's warnings: genlab/run/notify.py), queued:
        the training thread sends it with its next progress report or heartbeat (:meth:`send_posted`,
        stamped then, so the record's steps stay in order), since the sinks are not thread-safe."""
        self.posted.put((kind, fields))

    def send_posted(self) -> None:
        """The events other threads posted (from the training thread only)."""
        while True:
            try:
                kind, fields = self.posted.get_nowait()
            except queue.Empty:
                return
            self.emit(kind, **fields)

    def send(self, event: dict) -> None:
        """An event made elsewhere (the metric rows, stamped with their own step and time)."""
        for sink in self.sinks:
            sink.event(event)

    def progress(self, p: Progress) -> None:
        self.send_posted()
        for sink in self.sinks:
            sink.progress(p)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def reopen(self) -> None:
        for sink in self.sinks:
            sink.reopen()

    def beat(self) -> None:
        """Tell readers this process is alive (status.json's heartbeat)."""
        self.send_posted()
        for sink in self.sinks:
            sink.heartbeat()
        self.last_beat = time.monotonic()

    def beat_if_due(self, every_s: float) -> None:
        if time.monotonic() - self.last_beat >= every_s:
            self.beat()

    def record_failure(self, reason: str) -> None:
        """An ``error`` event and state ``failed``, as far as the disk allows: a sink that cannot
        write is passed over (status.json is then overwritten in place)."""
        for kind, fields in (("error", {"message": reason}), ("state", {"state": RunState.FAILED, "reason": reason})):
            event = {"t": round(time.time(), 3), "step": self.step(), "kind": kind, **fields}
            for sink in self.sinks:
                try:
                    sink.event(event)
                except OSError:
                    try:
                        sink.write_in_place()
                    except OSError:
                        pass
