"""What a person says of a run: its tags and a note, in ``<run>/tags.json``.

``{"tags": ["baseline", "lr-sweep"], "note": "the one with the penalty"}``. The trainer never
writes it, so it is safe to change while a run trains: each change is read, modified and
replaced atomically under a lock of its own (``.tags.lock``), so two changes at once both land.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from genlab.errors import UsageError
from genlab.run import schema
from genlab.run.files import O_NOFOLLOW, atomic_write_json, read_checked
from genlab.run.held import HeldDir
from genlab.run.rundir import RunDir

TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=:-]{0,39}")
NOTE_MAX = 2000


@dataclass
class Tags:
    tags: list[str] = field(default_factory=list)
    note: str = ""


def check_tag(tag: str) -> str:
    if not TAG.fullmatch(tag):
        raise UsageError(f"tag {tag!r} must be 1 to 40 letters, digits or . _ + = : - (no spaces or slashes), "
                         "starting with a letter or digit")
    return tag


def problem(raw) -> str | None:
    issue = schema._problem(RunDir.TAGS, raw, {"tags": ((list,), False), "note": ((str,), False)})
    if issue is None and not all(isinstance(t, str) for t in raw.get("tags", [])):
        return f"{RunDir.TAGS}: 'tags' is not a list of strings"
    return issue


def read(run_dir: Path) -> Tags:
    """The run's tags and note (none for a run without tags.json, or with a broken one)."""
    raw, issue = read_checked(RunDir(run_dir).tags, problem)
    if issue or not raw:
        return Tags()
    return Tags(list(raw.get("tags", [])), raw.get("note", ""))


@contextmanager
def _locked(run_dir: Path):
    fd = os.open(RunDir(run_dir).tags_lock, os.O_RDWR | os.O_CREAT | O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def change(run_dir: Path, add: list[str] = (), remove: list[str] = (), note: str | None = None) -> Tags:
    """Add and remove tags, or set the note (an empty note removes it); the result."""
    for tag in [*add, *remove]:
        check_tag(tag)
    if note is not None and len(note) > NOTE_MAX:
        raise UsageError(f"a note is at most {NOTE_MAX:,} characters, got {len(note):,}")
    try:
        held = HeldDir(run_dir)  # read and replaced in the directory held open (genlab/held.py)
    except OSError as e:
        raise UsageError(f"run {run_dir.name}: cannot open its directory ({e.strerror}); "
                         "genlab writes only into real run directories") from None
    with held, _locked(held.root):
        t = read(held.root)
        t.tags = [x for x in t.tags if x not in remove] + [x for x in dict.fromkeys(add) if x not in t.tags]
        if note is not None:
            t.note = note.strip()
        atomic_write_json(RunDir(held.root).tags, {"tags": t.tags, "note": t.note})
    return t
