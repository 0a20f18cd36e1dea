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
    lines = []
    try:  # (a read a line, at the byte before it: that one must end the line before)
        fd = os.open(RunDir(run_dir).events, os.O_RDONLY)
    except OSError:
        return None
    try:
        for offset in values[:last]:
            if offset < 0:
                continue
            if offset >= end:
                return None
            line = _line_at(fd, offset, end)
            if line is None:
                return None
            lines.append(line)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:  # every line at once (one parse, not one a line)
        events = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        return None
    if len(events) != len(lines) or not all(schema.event_ok(e) and e["kind"] != "metrics" for e in events):
        return None
    return events, end


def _line_at(fd: int, offset: int, end: int, block: int = 1024) -> bytes | None:
    """The line that starts at byte ``offset`` (before ``end``), without its newline; None if
    ``offset`` does not start a line."""
    start = max(0, offset - 1)
    data = os.pread(fd, block, start)
    if offset and data[:1] != b"\n":
        return None
    while True:
        nl = data.find(b"\n", offset - start)
        if nl >= 0:
            return data[offset - start:nl]
        if start + len(data) >= end:
            return None  # (the index lists whole lines only)
        more = os.pread(fd, block, start + len(data))
        if not more:
            return None
        data += more


def rebuild(run_dir: Path, lines: list[bytes]) -> None:
    """The index of a rewritten events.jsonl (its whole ``lines``, newline included)."""
    offsets, pos = [], 0
    for line in lines:
        if not is_metrics(line):
            offsets.append(pos)
        pos += len(line)
    atomic_write_bytes(RunDir(run_dir).events_index, encode(offsets, pos), durable=False)
