"""``metrics.LNN``: bucket summaries of metrics.bin, so that a long run's curves open without
reading its rows.

For each level ``L`` of :data:`LEVELS`, the file ``metrics.L{L:02d}`` holds one record per
bucket of ``2**L`` steps (bucket ``step >> L``) that has closed: little-endian float64
``[bucket, rows_end, then per series: min, max, sum, count]``, where ``rows_end`` is how many
metrics.bin rows the bucket's last row ends, and the series are the times (``t``) then the
model's metrics, in metrics.json's order (an aggregated row, genlab/record.py, counts its ``n``
steps with their extremes). Non-finite values are not counted. A reader wanting buckets of ``W``
steps (a power of two, genlab.run.series.MinMaxSeries) merges the records of the coarsest level
no wider than ``W`` and reads only metrics.bin's rows after the last record's ``rows_end``: a
run of a million rows opens with a thousand records read, however long it grew.

:class:`PyramidWriter` is kept by the trainer's MetricsBinSink (genlab/run/metrics_log.py): it
sees the rows as they are written, after metrics.bin has them, and holds only each level's
bucket still filling. It never reads or touches anything of the training's (the run is bit-exact
with or without it). When metrics.bin is rewritten (a new metric's column, the aggregated layout,
a resume's cut) the files are made again from it. Runs written before these files existed have
none: their readers read metrics.bin whole (genlab.run.follow), as they always did; so does a
run whose summaries could not be written (a full disk: they are removed, never the run failed).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genlab.run.files import atomic_write_bytes, open_append

LEVELS = (6, 9, 12, 15, 18, 21)  # buckets of 64 steps to 2M; a reader reads at most 8x its buckets
COUNT, FIXED = "n", 3  # as genlab.run.metrics_log's layouts: step, t, epoch, [n,] metrics...


def level_path(run_dir: Path, level: int) -> Path:
    return Path(run_dir) / f"metrics.L{level:02d}"


def remove(run_dir: Path) -> None:
    """No summaries (metrics.bin was rewritten by someone who does not keep them)."""
    for level in LEVELS:
        level_path(run_dir, level).unlink(missing_ok=True)


def series_names(cols: list[str]) -> list[str]:
    """The series summarised: "t" (unix time by step), then each metric of the layout ``cols``."""
    return ["t", *(c for c in cols[FIXED:] if c != COUNT and not c.startswith(("min:", "max:")))]


def entries(cols: list[str], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(steps, stats): one entry a row, stats N×S×4 (min, max, sum, count of each series), a
    value that is not finite counted in none; as genlab.run.series.MinMaxSeries counts them."""
    names = series_names(cols)
    at = {c: i for i, c in enumerate(cols)}
    stats = np.empty((len(rows), len(names), 4))
    for j, name in enumerate(names):
        if name != "t" and COUNT in at:  # an aggregated row: n steps, their mean and extremes
            lo, hi = rows[:, at[f"min:{name}"]], rows[:, at[f"max:{name}"]]
            n = rows[:, at[COUNT]]
            total = rows[:, at[name]] * n
            ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(total) & (n >= 1)
        else:
            lo = hi = total = rows[:, at[name]]
            n = np.ones(len(rows))
            ok = np.isfinite(lo)
        stats[:, j, 0] = np.where(ok, lo, np.nan)
        stats[:, j, 1] = np.where(ok, hi, np.nan)
        stats[:, j, 2] = np.where(ok, total, 0.0)
        stats[:, j, 3] = np.where(ok, np.floor(n), 0.0)
    return rows[:, 0].astype(np.int64), stats


def merge(idx: np.ndarray, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive entries of the same bucket merged: (buckets, stats, index of each one's last entry)."""
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], len(idx)] - 1
    out = np.empty((len(starts), *stats.shape[1:]))
    out[..., 0] = np.fmin.reduceat(stats[..., 0], starts, axis=0)
    out[..., 1] = np.fmax.reduceat(stats[..., 1], starts, axis=0)
    out[..., 2] = np.add.reduceat(stats[..., 2], starts, axis=0)
    out[..., 3] = np.add.reduceat(stats[..., 3], starts, axis=0)
    return idx[starts], out, ends


class PyramidWriter:
    """Appends each level's closed buckets as metrics.bin grows (see the module's docstring)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.files: list = []
        self.open: list = []  # per level: (bucket, stats S×4, rows_end) of the bucket still filling

    def start(self, cols: list[str] | None, rows: np.ndarray | None) -> None:
        """Begin again from metrics.bin's whole ``rows`` (in the layout ``cols``)."""
        self.close()
        self.open = [None] * len(LEVELS)
        self.cols = cols
        out = [[] for _ in LEVELS]
        if cols and rows is not None and len(rows):
            out = self._add(rows, 0)
        try:
            for level, records in zip(LEVELS, out):
                path = level_path(self.run_dir, level)
                atomic_write_bytes(path, b"".join(records), durable=False)
                self.files.append(open_append(path, binary=True))
        except OSError:
            self.drop()

    def add(self, rows: np.ndarray, rows_before: int) -> None:
        """Rows just appended to metrics.bin, which held ``rows_before`` rows before them."""
        if not self.files or not self.cols or not len(rows):
            return
        try:
            for f, records in zip(self.files, self._add(rows, rows_before)):
                if records:
                    f.write(b"".join(records))
                    f.flush()
        except OSError:
            self.drop()

    def drop(self) -> None:
        """No summaries from here on (they could not be written): readers read metrics.bin."""
        for f in self.files:
            try:
                f.close()
            except OSError:
                pass
        self.files = []
        try:
            remove(self.run_dir)
        except OSError:
            pass

    def _add(self, rows: np.ndarray, rows_before: int) -> list[list[bytes]]:
        steps, stats = entries(self.cols, rows)
        ends = rows_before + np.arange(1, len(rows) + 1)
        idx, shift, out = steps, 0, []
        for i, level in enumerate(LEVELS):  # each level from the closed buckets of the one below
            idx = idx >> (level - shift)
            shift = level
            if self.open[i] is not None:
                b, s, e = self.open[i]
                idx, stats, ends = np.r_[b, idx], np.concatenate([s[None], stats]), np.r_[e, ends]
            idx, stats, last = merge(idx, stats)
            ends = ends[last]
            self.open[i] = (int(idx[-1]), stats[-1], int(ends[-1]))
            closed = len(idx) - 1
            if not closed:
                out += [[] for _ in LEVELS[i:]]
                break
            records = np.empty((closed, 2 + stats.shape[1] * 4))
            records[:, 0], records[:, 1] = idx[:closed], ends[:closed]
            records[:, 2:] = stats[:closed].reshape(closed, -1)
            out.append([records.astype("<f8").tobytes()])
            idx, stats, ends = idx[:closed], stats[:closed], ends[:closed]
        return out

    def close(self) -> None:
        for f in self.files:
            f.close()
        self.files = []


def level_for(width: int) -> int | None:
    """The coarsest level whose buckets fit in buckets of ``width`` steps, or None."""
    fit = [level for level in LEVELS if (1 << level) <= width]
    return fit[-1] if fit else None


def read(run_dir: Path, cols: list[str], level: int, rows: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(buckets, stats B×S×4, rows_end) of the level's closed buckets within metrics.bin's first
    ``rows`` rows; None if the file is missing or not of this layout."""
    width = 2 + 4 * len(series_names(cols))
    try:
        with open(level_path(run_dir, level), "rb") as f:
            data = f.read()
    except OSError:
        return None
    n = len(data) // (8 * width)
    records = np.frombuffer(data[: n * 8 * width], dtype="<f8").reshape(n, width)
    records = records[records[:, 1] <= rows]
    if not len(records):
        return np.empty(0, np.int64), np.empty((0, width // 4, 4)), 0
    return records[:, 0].astype(np.int64), records[:, 2:].reshape(len(records), -1, 4), int(records[-1, 1])


def size_ok(run_dir: Path) -> bool:
    """Whether every level's file is there (a run written before them has none)."""
    return all(os.path.exists(level_path(run_dir, level)) for level in LEVELS)
