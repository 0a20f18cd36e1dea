"""A metric's history as a viewer draws it: :class:`MinMaxSeries`, a fixed number of buckets
that keep each bucket's minimum and maximum (spikes never vanish) and merge pairwise as the run
grows, so memory stays flat however long a run gets; and :func:`ema`, the smoothing a viewer
draws over it. Torch-free (genlab.run.follow fills them)."""

from __future__ import annotations

import numpy as np


class MinMaxSeries:
    """At most ``capacity`` buckets of ``width`` steps each (a power of two); per bucket the
    minimum, maximum, sum and count of the values that fell in it."""

    def __init__(self, capacity: int = 1024):
        self.capacity, self.width = capacity, 1
        self.idx = np.empty(0, np.int64)
        self.lo = np.empty(0)
        self.hi = np.empty(0)
        self.sum = np.empty(0)
        self.cnt = np.empty(0, np.int64)
        self.last: float | None = None
        self.last_step = 0

    def __len__(self) -> int:
        return len(self.idx)

    def extend(self, steps, values) -> None:
        steps = np.asarray(steps, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(values)
        steps, values = steps[ok], values[ok]
        if not len(steps):
            return
        self.last, self.last_step = float(values[-1]), int(steps[-1])
        self._widen_for(steps)
        self._append(steps // self.width, values, values, values, np.ones(len(values), np.int64))
        while len(self.idx) > self.capacity:
            self.width *= 2
            self._regroup(self.idx // 2)

    def load(self, idx, width: int, lo, hi, total, count, last: float, last_step: int) -> None:
        """Buckets made elsewhere (RunFollower's bulk load), into an empty series."""
        self.idx, self.width = np.asarray(idx, np.int64), width
        self.lo, self.hi, self.sum, self.cnt = lo.copy(), hi.copy(), total.copy(), np.asarray(count, np.int64)
        self.last, self.last_step = last, last_step
        while len(self.idx) > self.capacity:
            self.width *= 2
            self._regroup(self.idx // 2)

    def _widen_for(self, steps: np.ndarray) -> None:
        """Before a large append: widen the buckets at once to what the new steps will need, so
        a million rows are grouped in one pass rather than halved a dozen times."""
        first = int(self.idx[0]) * self.width if len(self.idx) else int(steps.min())
        width = self.width
        while (int(steps.max()) - first) // width + 1 > self.capacity:
            width *= 2
        if width != self.width:
            factor, self.width = width // self.width, width
            if len(self.idx):
                self._regroup(self.idx // factor)

    def extend_buckets(self, steps, lo, hi, total, count) -> None:
        """Rows that each stand for several steps (an aggregated record: genlab/record.py):
        their minimum, maximum, sum and count go into the buckets as they are."""
        steps = np.asarray(steps, dtype=np.int64)
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        total, count = np.asarray(total, dtype=np.float64), np.asarray(count, dtype=np.float64)
        ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(total) & (count >= 1)
        steps, lo, hi, total, count = steps[ok], lo[ok], hi[ok], total[ok], count[ok].astype(np.int64)
        if not len(steps):
            return
        self.last, self.last_step = float(total[-1] / count[-1]), int(steps[-1])
        self._widen_for(steps)
        self._append(steps // self.width, lo, hi, total, count)
        while len(self.idx) > self.capacity:
            self.width *= 2
            self._regroup(self.idx // 2)

    def _append(self, idx, lo, hi, s, cnt) -> None:
        self.idx = np.concatenate([self.idx, idx])
        self.lo = np.concatenate([self.lo, lo])
        self.hi = np.concatenate([self.hi, hi])
        self.sum = np.concatenate([self.sum, s])
        self.cnt = np.concatenate([self.cnt, cnt])
        self._regroup(self.idx)

    def _regroup(self, idx) -> None:
        """Merge consecutive entries that share a bucket index (idx is non-decreasing)."""
        if len(idx) == 0:
            return
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        self.idx = idx[starts]
        self.lo = np.minimum.reduceat(self.lo, starts)
        self.hi = np.maximum.reduceat(self.hi, starts)
        self.sum = np.add.reduceat(self.sum, starts)
        self.cnt = np.add.reduceat(self.cnt, starts)

    def centres(self) -> np.ndarray:
        """Each bucket's middle step; the last (still filling) bucket sits at the newest step."""
        c = self.idx * self.width + (self.width - 1) / 2
        c[-1] = self.last_step
        return c

    def coarse(self, max_buckets: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(centres, lo, hi, sum, count), merged down to at most ``max_buckets`` buckets (a plot
        never needs more buckets than it has columns), still keeping every minimum and maximum."""
        x, lo, hi, s, n = self.centres(), self.lo, self.hi, self.sum, self.cnt
        if max_buckets and len(x) > max_buckets:
            f = -(-len(x) // max_buckets)
            starts = np.arange(0, len(x), f)
            ends = np.minimum(starts + f, len(x)) - 1
            x = (x[starts] + x[ends]) / 2
            x[-1] = self.last_step
            lo, hi = np.minimum.reduceat(lo, starts), np.maximum.reduceat(hi, starts)
            s, n = np.add.reduceat(s, starts), np.add.reduceat(n, starts)
        return x, lo, hi, s, n

    def envelope(self, max_buckets: int | None = None) -> tuple[list[float], list[float]]:
        """x, y points tracing each bucket's minimum then maximum: a line that keeps spikes."""
        if not len(self.idx):
            return [], []
        x, lo, hi, _, _ = self.coarse(max_buckets)
        ys = np.empty(2 * len(x))
        ys[0::2], ys[1::2] = lo, hi
        return np.repeat(x, 2).tolist(), ys.tolist()

    def means(self, max_buckets: int | None = None) -> tuple[list[float], list[float]]:
        if not len(self.idx):
            return [], []
        x, _, _, s, n = self.coarse(max_buckets)
        return x.tolist(), (s / n).tolist()


def ema(values: list[float], alpha: float = 0.1) -> list[float]:
    """Exponential moving average (bias-corrected at the start)."""
    out, avg, weight = [], 0.0, 0.0
    for v in values:
        avg = (1 - alpha) * avg + alpha * v
        weight = (1 - alpha) * weight + alpha
        out.append(avg / weight)
    return out
