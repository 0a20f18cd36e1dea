"""``metrics.bin``: a binary mirror of the per-step metrics rows in events.jsonl.

events.jsonl is the record; this file exists so that a reader can open a run with a million
metric rows in milliseconds (parsing a million JSON lines in Python takes seconds). It is
little-endian float64 rows, one per step, with the columns named in ``metrics.json``:
``step``, ``t``, ``epoch``, then the model's metrics. A torn last row is ignored by readers.

Once a run's record aggregates steps (genlab/record.py: a row of ``n`` steps with their mean,
minimum and maximum), the file is rewritten once in the aggregated layout: ``step``, ``t``,
``epoch``, ``n``, the metrics' means, then ``min:<metric>`` and ``max:<metric>`` for each; the
rows written before it get ``n`` = 1 and their value as minimum and maximum. Readers tell the
layouts apart by the ``n`` column.

Beside it, the sink keeps bucket summaries of the rows (``metrics.LNN``, genlab/run/pyramid.py)
so that a reader opens a long run without reading every row.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np

from genlab.run import pyramid, schema
from genlab.run.files import atomic_write_bytes, atomic_write_json, open_append, read_json
from genlab.run.record import AGGREGATE_KEYS
from genlab.run.rundir import RunDir
from genlab.run.schema import metrics_header_problem
from genlab.run.sinks import Sink

FIXED = ("step", "t", "epoch")
COUNT = "n"  # the aggregated layout's column: how many steps a row holds
NOT_METRICS = {*FIXED, "kind", *AGGREGATE_KEYS}


def layout(names: list[str], aggregated: bool) -> list[str]:
    if not aggregated:
        return [*FIXED, *names]
    return [*FIXED, COUNT, *names, *(f"min:{n}" for n in names), *(f"max:{n}" for n in names)]


def metric_names(cols: list[str]) -> list[str]:
    return [c for c in cols[len(FIXED):] if c != COUNT and not c.startswith(("min:", "max:"))]


def aggregated(cols: list[str]) -> bool:
    return COUNT in cols


def row_of(e: dict, cols: list[str]) -> list[float]:
    """A metrics event as a row of ``cols`` (a plain event: one step, its value its extremes)."""
    if COUNT not in cols:  # the plain layout: the values alone (the common case, kept quick)
        return [schema.number(e.get(c)) for c in cols]
    lo, hi = e.get("min") or {}, e.get("max") or {}
    out = []
    for c in cols:
        if c == COUNT:
            out.append(schema.number(e.get(COUNT, 1)))
        elif c.startswith("min:"):
            out.append(schema.number(lo.get(c[4:], e.get(c[4:]))) if isinstance(lo, dict) else float("nan"))
        elif c.startswith("max:"):
            out.append(schema.number(hi.get(c[4:], e.get(c[4:]))) if isinstance(hi, dict) else float("nan"))
        else:
            out.append(schema.number(e.get(c)))
    return out


def upgrade(rows: np.ndarray, cols: list[str]) -> tuple[np.ndarray, list[str]]:
    """Plain rows in the aggregated layout: n = 1, each value its own minimum and maximum."""
    names = metric_names(cols)
    new = layout(names, True)
    values = rows[:, len(FIXED):]
    up = np.concatenate([rows[:, :len(FIXED)], np.ones((len(rows), 1)), values, values, values], axis=1)
    return up, new


def widen(rows: np.ndarray, cols: list[str], names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Rows with metrics ``names`` added (NaN before they first appeared), in the same layout."""
    new = layout([*metric_names(cols), *names], aggregated(cols))
    at = {c: i for i, c in enumerate(cols)}
    out = np.full((len(rows), len(new)), np.nan)
    for j, c in enumerate(new):
        if c in at:
            out[:, j] = rows[:, at[c]]
    return out, new


def columns(run_dir: Path) -> list[str] | None:
    """The column names from metrics.json, or None if it is missing or not a valid header."""
    header = read_json(RunDir(run_dir).metrics_header)
    return None if header is None or metrics_header_problem(header) else header["columns"]


def read(run_dir: Path, row_offset: int = 0) -> tuple[list[str] | None, np.ndarray, int]:
    """(columns, rows from ``row_offset`` as an N×C array, the new row offset)."""
    cols = columns(run_dir)
    if not cols:
        return None, np.empty((0, 0)), row_offset
    width = 8 * len(cols)
    try:
        with open(RunDir(run_dir).metrics_bin, "rb") as f:
            f.seek(row_offset * width)
            data = f.read()
    except OSError:
        return cols, np.empty((0, len(cols))), row_offset
    n = len(data) // width
    rows = np.frombuffer(data[: n * width], dtype="<f8").reshape(n, len(cols))
    return cols, rows, row_offset + n


def read_row(run_dir: Path, cols: list[str], row: int) -> np.ndarray | None:
    """Row ``row`` of metrics.bin (in the layout ``cols``), or None if it is not there."""
    width = 8 * len(cols)
    try:
        with open(RunDir(run_dir).metrics_bin, "rb") as f:
            f.seek(row * width)
            data = f.read(width)
    except OSError:
        return None
    return np.frombuffer(data, dtype="<f8") if len(data) == width else None


def cut(run_dir: Path, step: int, event_steps: array | None = None) -> None:
    """Keep the rows of steps up to ``step`` (rewrite to a temporary file, then rename).

    ``event_steps``: the steps of events.jsonl's metric events up to ``step`` (the record). The
    kept rows must be exactly those steps; if they are not (a garbage or stale metrics.bin), the
    file is rebuilt from events.jsonl."""
    cols, rows, _ = read(run_dir)
    if cols is not None:
        keep = rows[rows[:, 0] <= step] if len(rows) else rows
        if event_steps is None or np.array_equal(keep[:, 0], np.frombuffer(event_steps, dtype=np.float64)):
            pyramid.remove(run_dir)  # made again from the rows kept by the next sink (a resume's)
            atomic_write_bytes(RunDir(run_dir).metrics_bin, keep.astype("<f8").tobytes())
            return
    if event_steps is not None:
        rebuild(run_dir)


def rebuild(run_dir: Path) -> int:
    """metrics.json and metrics.bin anew from events.jsonl's metric events; returns the rows."""
    from genlab.run.store import read_events

    cols, rows, n = None, array("d"), 0

    d = RunDir(run_dir)
    pyramid.remove(run_dir)
    offset, size = 0, d.events.stat().st_size
    while offset < size:  # in slices, so a long history never sits in memory as dicts
        events, new = read_events(d.events, offset, limit=64 << 20)
        if new == offset:
            break
        offset = new
        for e in events:
            if e["kind"] != "metrics":
                continue
            if cols is None:
                cols = layout([k for k in e if k not in NOT_METRICS], False)
            if COUNT in e and not aggregated(cols):
                up, cols = upgrade(np.frombuffer(rows, dtype=np.float64).reshape(n, len(cols)), cols)
                rows = array("d", up.ravel().tolist())
            rows.extend(row_of(e, cols))
            n += 1
    if cols is None:
        for path in (d.metrics_bin, d.metrics_header):
            path.unlink(missing_ok=True)
        return 0
    atomic_write_json(d.metrics_header, {"columns": cols, "dtype": "<f8"}, durable=False)
    atomic_write_bytes(d.metrics_bin, rows.tobytes())
    return n


class MetricsBinSink(Sink):
    """Appends each ``metrics`` event as one row; written when the JSONL sink writes (buffered)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.bin, self.header = RunDir(run_dir).metrics_bin, RunDir(run_dir).metrics_header
        self.cols: list[str] | None = columns(run_dir)
        self.known = {*(self.cols or ()), *NOT_METRICS}  # an event's keys that need no new column
        self.buffer = array("d")
        self.f = open_append(self.bin, binary=True)
        self.pyramid = pyramid.PyramidWriter(run_dir)  # the rows' bucket summaries, beside them
        self.summarise()

    def summarise(self) -> None:
        """The bucket summaries made anew from the rows on disk (a resume's, a rewrite's)."""
        cols, rows, self.rows = read(self.run_dir)
        self.pyramid.start(cols, rows if cols == self.cols else None)

    def event(self, e: dict) -> None:
        if e["kind"] != "metrics":
            if self.buffer:
                self.flush()
            return
        if self.cols is None:
            self.cols = layout([k for k in e if k not in NOT_METRICS], COUNT in e)
            self.known = {*self.cols, *NOT_METRICS}
            atomic_write_json(self.header, {"columns": self.cols, "dtype": "<f8"}, durable=False)
            self.pyramid.cols = self.cols
        elif COUNT in e and not aggregated(self.cols):
            self.upgrade()
        if not self.known.issuperset(e):  # a metric first logged now
            self.widen([k for k in e if k not in self.known])
        self.buffer.extend(row_of(e, self.cols))

    def widen(self, names: list[str]) -> None:
        """Metrics that were not in the first row (genlab.init's scripts may add some later):
        rewrite the file with their columns, NaN in the rows before (rare: once a new metric)."""
        self.flush()
        cols, rows, _ = read(self.run_dir)
        wide, self.cols = widen(rows, cols or self.cols, names)
        self.known = {*self.cols, *NOT_METRICS}
        self.f.close()
        atomic_write_bytes(self.bin, wide.astype("<f8").tobytes(), durable=False)
        atomic_write_json(self.header, {"columns": self.cols, "dtype": "<f8"}, durable=False)
        self.f = open_append(self.bin, binary=True)
        self.summarise()

    def upgrade(self) -> None:
        """The first aggregated row: rewrite the file in the aggregated layout (once a run)."""
        self.flush()
        cols, rows, _ = read(self.run_dir)
        up, self.cols = upgrade(rows, cols)
        self.known = {*self.cols, *NOT_METRICS}
        self.f.close()
        atomic_write_bytes(self.bin, up.astype("<f8").tobytes(), durable=False)
        atomic_write_json(self.header, {"columns": self.cols, "dtype": "<f8"}, durable=False)
        self.f = open_append(self.bin, binary=True)
        self.summarise()

    def flush(self) -> None:
        if self.buffer:
            self.f.write(self.buffer.tobytes())
            self.f.flush()
            rows = np.frombuffer(self.buffer, dtype=np.float64).reshape(-1, len(self.cols))
            self.pyramid.add(rows, self.rows)  # after metrics.bin has them: a reader never sees a summary first
            self.rows += len(rows)
            self.buffer = array("d")

    def progress(self, p) -> None:
        self.flush()

    def reopen(self) -> None:
        self.f.close()
        self.f = open_append(self.bin, binary=True)
        self.summarise()  # (cut by a rollback)

    def close(self) -> None:
        self.flush()
        self.f.close()
        self.pyramid.close()
