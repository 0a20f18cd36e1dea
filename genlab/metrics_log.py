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

from genlab.store import atomic_write_bytes, atomic_write_json, read_json

BIN, HEADER = "metrics.bin", "metrics.json"
FIXED = ("step", "t", "epoch")


def columns(run_dir: Path) -> list[str] | None:
    header = read_json(run_dir / HEADER)
    return header.get("columns") if header else None


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


def cut(run_dir: Path, step: int) -> None:
    """Keep the rows of steps up to ``step`` (rewrite to a temporary file, then rename)."""
    cols, rows, _ = read(run_dir)
    if cols is None:
        return
    keep = rows[rows[:, 0] <= step] if len(rows) else rows
    atomic_write_bytes(run_dir / BIN, keep.astype("<f8").tobytes())


class MetricsBinSink:
    """Appends each ``metrics`` event as one row; written when the JSONL sink writes (buffered)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.cols: list[str] | None = columns(run_dir)
        self.buffer = array("d")
        self.f = open(run_dir / BIN, "ab")

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
        self.f = open(self.run_dir / BIN, "ab")

    def close(self) -> None:
        self.flush()
        self.f.close()
