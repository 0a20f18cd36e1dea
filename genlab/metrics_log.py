"""``metrics.bin``: a binary mirror of the per-step metrics rows in events.jsonl.

events.jsonl is the record; this file exists so that a reader can open a run with a million
metric rows in milliseconds (parsing a million JSON lines in Python takes seconds). It is
little-endian float64 rows, one per step, with the columns named in ``metrics.json``:
``step``, ``t``, ``epoch``, then the model's metrics. A torn last row is ignored by readers.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np

from genlab import schema
from genlab.schema import metrics_header_problem
from genlab.store import atomic_write_bytes, atomic_write_json, open_append, read_json

BIN, HEADER = "metrics.bin", "metrics.json"
FIXED = ("step", "t", "epoch")


def columns(run_dir: Path) -> list[str] | None:
    """The column names from metrics.json, or None if it is missing or not a valid header."""
    header = read_json(run_dir / HEADER)
    return None if header is None or metrics_header_problem(header) else header["columns"]


def read(run_dir: Path, row_offset: int = 0) -> tuple[list[str] | None, np.ndarray, int]:
    """(columns, rows from ``row_offset`` as an N×C array, the new row offset)."""
    cols = columns(run_dir)
    if not cols:
        return None, np.empty((0, 0)), row_offset
    width = 8 * len(cols)
    try:
        with open(run_dir / BIN, "rb") as f:
            f.seek(row_offset * width)
            data = f.read()
    except OSError:
        return cols, np.empty((0, len(cols))), row_offset
    n = len(data) // width
    rows = np.frombuffer(data[: n * width], dtype="<f8").reshape(n, len(cols))
    return cols, rows, row_offset + n


def cut(run_dir: Path, step: int, event_steps: array | None = None) -> None:
    """Keep the rows of steps up to ``step`` (rewrite to a temporary file, then rename).

    ``event_steps``: the steps of events.jsonl's metric events up to ``step`` (the record). The
    kept rows must be exactly those steps; if they are not (a garbage or stale metrics.bin), the
    file is rebuilt from events.jsonl."""
    cols, rows, _ = read(run_dir)
    if cols is not None:
        keep = rows[rows[:, 0] <= step] if len(rows) else rows
        if event_steps is None or np.array_equal(keep[:, 0], np.frombuffer(event_steps, dtype=np.float64)):
            atomic_write_bytes(run_dir / BIN, keep.astype("<f8").tobytes())
            return
    if event_steps is not None:
        rebuild(run_dir)


def rebuild(run_dir: Path) -> int:
    """metrics.json and metrics.bin anew from events.jsonl's metric events; returns the rows."""
    from genlab.store import read_events

    cols, rows, n = None, array("d"), 0

    offset, size = 0, (run_dir / "events.jsonl").stat().st_size
    while offset < size:  # in slices, so a long history never sits in memory as dicts
        events, new = read_events(run_dir / "events.jsonl", offset, limit=64 << 20)
        if new == offset:
            break
        offset = new
        for e in events:
            if e["kind"] != "metrics":
                continue
            if cols is None:
                cols = [*FIXED, *(k for k in e if k not in FIXED and k != "kind")]
            rows.extend(schema.number(e.get(c)) for c in cols)
            n += 1
    if cols is None:
        for name in (BIN, HEADER):
            (run_dir / name).unlink(missing_ok=True)
        return 0
    atomic_write_json(run_dir / HEADER, {"columns": cols, "dtype": "<f8"}, durable=False)
    atomic_write_bytes(run_dir / BIN, rows.tobytes())
    return n


class MetricsBinSink:
    """Appends each ``metrics`` event as one row; written when the JSONL sink writes (buffered)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.cols: list[str] | None = columns(run_dir)
        self.buffer = array("d")
        self.f = open_append(run_dir / BIN, binary=True)

    def event(self, e: dict) -> None:
        if e["kind"] != "metrics":
            if self.buffer:
                self.flush()
            return
        if self.cols is None:
            self.cols = [*FIXED, *(k for k in e if k not in FIXED and k != "kind")]
            atomic_write_json(self.run_dir / HEADER, {"columns": self.cols, "dtype": "<f8"}, durable=False)
        self.buffer.extend(float(e.get(c, float("nan"))) for c in self.cols)

    def flush(self) -> None:
        if self.buffer:
            self.f.write(self.buffer.tobytes())
            self.f.flush()
            self.buffer = array("d")

    def progress(self, p) -> None:
        self.flush()

    def reopen(self) -> None:
        self.f.close()
        self.f = open_append(self.run_dir / BIN, binary=True)

    def close(self) -> None:
        self.flush()
        self.f.close()
