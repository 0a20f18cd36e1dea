"""When the side jobs of training run: each on its own wall clock, some within a time budget.

A :class:`Clock` is due every ``every_s`` seconds. With a ``budget`` (a share of wall time) a
job that took ``s`` seconds is next due no sooner than ``s * (1 / budget - 1)`` seconds later,
so a slow sample grid or quality check never takes more than that share, however slow it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from genlab.config import Cadence

SIDE_JOB_BUDGET = 0.10  # at most this share of wall time goes to sample grids, and as much to quality checks
POLL_EVERY_S = 0.1  # how often the control directory is looked at
VITALS_EVERY_S = 5.0  # how often the trainer writes a system event (genlab/vitals.py)


class Clock:
    def __init__(self, every_s: float, start: float, budget: float | None = None):
        self.every_s, self.budget = every_s, budget
        self.next = start + every_s

    def due(self, now: float) -> bool:
        return now >= self.next

    def done(self, seconds: float | None = None, now: float | None = None) -> None:
        """The job ran (``seconds`` long, if it has a budget): schedule the next time."""
        now = time.monotonic() if now is None else now
        wait = self.every_s
        if self.budget and seconds:
            wait = max(wait, seconds * (1 / self.budget - 1))
        self.next = now + wait


@dataclass
class Clocks:
    """Every side job's clock for one stretch of training (made anew when it starts or resumes)."""

    poll: Clock  # the control channel
    flush: Clock  # buffered metrics read back, checked and written; progress redrawn
    sample: Clock  # the fixed-latent sample grid
    quality: Clock  # live quality
    checkpoint: Clock
    vitals: Clock  # the machine's vital signs (genlab/vitals.py)

    @classmethod
    def start(cls, cadence: Cadence, now: float) -> Clocks:
        clocks = cls(poll=Clock(POLL_EVERY_S, now), flush=Clock(cadence.metrics_every_s, now),
                     sample=Clock(cadence.sample_every_s, now, SIDE_JOB_BUDGET),
                     quality=Clock(cadence.quality_every_s, now, SIDE_JOB_BUDGET),
                     checkpoint=Clock(cadence.checkpoint_every_s, now), vitals=Clock(VITALS_EVERY_S, now))
        clocks.poll.next = now  # the control channel is read before the first step
        return clocks
