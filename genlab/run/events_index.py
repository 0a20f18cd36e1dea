"""``events.idx``: where events.jsonl's few non-metric lines start, so a reader opening a long run
need not scan a million metric lines to find them (metrics.bin has the metrics).

Little-endian int64 values: a line's byte offset (>= 0), and after each batch the mark
``-(end + 1)``: every non-metric line before byte ``end`` is listed. A reader trusts the index up
to its last mark, checks every line it points at, and scans the file itself from the mark on; on
any doubt (a line that is not a non-metric event, a mark past the end) it scans it all. The writer
keeps it only while it alone appends: if the file is not the size it expects, the index is
removed. A resume's cut rewrites it with the file.
"""

from __future__ import annotations

import json
import os
from array import array
from pathlib import Path

from genlab.run import schema
from genlab.run.files import O_NOFOLLOW, atomic_write_bytes
from genlab.run.rundir import RunDir


def is_metrics(line: bytes) -> bool:
    return b'"kind":"metrics"' in line


def encode(offsets: list[int], end: int) -> bytes:
    return array("q", [*offsets, -(end + 1)]).tobytes()


class IndexWriter:
    """Kept beside a JsonlSink: ``written(lines)`` after each write of whole lines."""

    def __init__(self, run_dir: Path, size: int):
        self.path = RunDir(run_dir).events_index
        self.pos = size
        ok = size == 0 or covered(self.path) == size
        if size == 0 or not ok:
            self.path.unlink(missing_ok=True)
        self.f = None
        if ok:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW, 0o644)
            self.f = os.fdopen(fd, "ab")

    def written(self, lines: list[str], size_after: int) -> None:
        if self.f is None:
            return
        offsets, pos = [], self.pos
        for line in lines:
            if '"kind":"metrics"' not in line:
                offsets.append(pos)
            pos += len(line) + 1  # ASCII JSON and its newline
        if pos != size_after:  # another writer appended too: the index can no longer be trusted
            self.drop()
            return
        self.f.write(encode(offsets, pos))
        self.f.flush()
        self.pos = pos

    def drop(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


def covered(path: Path) -> int | None:
    """The byte of events.jsonl up to which ``path`` lists every non-metric line, or None."""
    try:
        values = array("q")
        values.frombytes(path.read_bytes()[: os.path.getsize(path) // 8 * 8])
    except OSError:
        return None
    marks = [v for v in values if v < 0]
    return -marks[-1] - 1 if marks else None


def read(run_dir: Path, events_size: int) -> tuple[list[dict], int] | None:
    """(the non-metric events the index lists, the byte to scan on from), or None when it cannot
    be trusted."""
    path = RunDir(run_dir).events_index
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    values = array("q")
    values.frombytes(raw[: len(raw) // 8 * 8])
    last = max((i for i, v in enumerate(values) if v < 0), default=None)
    if last is None:
        return None
    end = -values[last] - 1
    if end > events_size:
        return None
    events = []
    try:
        with open(RunDir(run_dir).events, "rb") as f:
            for offset in values[:last]:
                if offset < 0:
                    continue
                if offset >= end:
                    return None
                f.seek(offset)
                line = f.readline()
                if offset and not _starts_a_line(f, offset):
                    return None
                try:
                    e = json.loads(line)
                except ValueError:
                    return None
                if not schema.event_ok(e) or e["kind"] == "metrics":
                    return None
                events.append(e)
    except OSError:
        return None
    return events, end


def _starts_a_line(f, offset: int) -> bool:
    f.seek(offset - 1)
    return f.read(1) == b"\n"


def rebuild(run_dir: Path, lines: list[bytes]) -> None:
    """The index of a rewritten events.jsonl (its whole ``lines``, newline included)."""
    offsets, pos = [], 0
    for line in lines:
        if not is_metrics(line):
            offsets.append(pos)
        pos += len(line)
    atomic_write_bytes(RunDir(run_dir).events_index, encode(offsets, pos), durable=False)
