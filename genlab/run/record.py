"""How much of a run's metrics is written: every step, until that would pass a budget.

A metric row costs about 300 bytes (a JSON line in events.jsonl and a row of metrics.bin). At a
CPU's 40 to 100 steps a second that is tens of megabytes an hour; a GPU at 2,000 steps a second
would write gigabytes. So rows are drawn from a token bucket: ``BURST_ROWS`` to start with,
refilled at ``ROWS_PER_S``. While there are tokens every step is its own row; when a flush holds
more steps than there are tokens, consecutive steps are aggregated, ``k`` to a row, each row
keeping the steps' mean, minimum, maximum, count and step range, so no spike is lost and the
record grows by at most about 50 MB an hour at any step rate (bench/record.py measures it).

An aggregated ``metrics`` event: ``step`` is its last step, ``first_step`` its first, ``n`` how
many steps, each metric its mean, and ``min`` and ``max`` objects with the extremes. A row never
spans a checkpoint (a checkpoint flushes first), so resume still cuts the record exactly.
"""

from __future__ import annotations

import math
import time

ROWS_PER_S = 20.0  # an aggregated row of four metrics is ~520 bytes: ~38 MB an hour once the burst is spent
BURST_ROWS = 20_000  # a fresh process's first rows (about 6 MB): short runs keep every step


class RecordBudget:
    def __init__(self, rows_per_s: float = ROWS_PER_S, burst: int = BURST_ROWS, clock=time.monotonic):
        self.rows_per_s, self.burst, self.clock = rows_per_s, burst, clock
        self.tokens = float(burst)
        self.last = clock()

    def group_size(self, steps: int) -> int:
        """How many steps to a row for a flush of ``steps`` steps (1: every step its own row)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rows_per_s)
        self.last = now
        allowed = max(1, int(self.tokens))
        k = 1 if steps <= allowed else math.ceil(steps / allowed)
        self.tokens = max(0.0, self.tokens - math.ceil(steps / k))
        return k


def aggregate(rows: list[tuple[int, float, int, dict]], k: int) -> list[dict]:
    """``metrics`` events for rows of (step, t, epoch, metrics), ``k`` consecutive steps to an
    event (the last may hold fewer); with ``k`` = 1, one plain event a step."""
    if k == 1:
        return [{"t": round(t, 3), "step": step, "kind": "metrics", "epoch": epoch, **m} for step, t, epoch, m in rows]
    events = []
    for i in range(0, len(rows), k):
        group = rows[i:i + k]
        step, t, epoch, _ = group[-1]
        keys = group[0][3].keys()
        columns = {key: [m[key] for *_, m in group] for key in keys}
        events.append({"t": round(t, 3), "step": step, "kind": "metrics", "epoch": epoch,
                       "first_step": group[0][0], "n": len(group),
                       **{key: sum(v) / len(v) for key, v in columns.items()},
                       "min": {key: min(v) for key, v in columns.items()},
                       "max": {key: max(v) for key, v in columns.items()}})
    return events


AGGREGATE_KEYS = ("first_step", "n", "min", "max")  # fields of an aggregated row that are not metrics
