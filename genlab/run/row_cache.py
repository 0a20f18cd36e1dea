"""What ``genlab runs`` shows of each run (its :class:`Row`), computed once and kept.

Working a row out reads the run whole: its health is judged over every metric row
(genlab.health.judge_run), its evaluations are found in its events (genlab.run.summary). A
finished run does not change, so its row is kept in the user's cache directory
(``$XDG_CACHE_HOME/genlab/runs/``, else ``~/.cache/genlab/runs/``: one file for each runs root,
never a file inside a run directory, which its trainer owns) and read back while the files it
was worked out from keep their sizes and modification times (:data:`KEYED`); a run whose files
changed (a tag added, a resumed run grown, its status rewritten) is worked out again. A run a
trainer still writes (its status says starting, running or paused) changes all the time: its
row is kept too, and while its configuration, view and tags are unchanged and it still reads as
live, the kept row is reused for up to :data:`LIVE_FOR_S` with its status (state, step,
heartbeat) read afresh, so that only its verdict and figures can be that much older. An
unreadable run is worked out each time. The cache is a shortcut only: a missing, corrupt or stale file, or one written by
another version of genlab or judged by other rules (genlab.health.judge.JUDGING), is passed over and the rows worked out again; one that cannot be
written is passed over too. A kept row is the row worked out (tests/test_runs_cache.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import genlab
from genlab.health.judge import JUDGING
from genlab.health.verdict import Verdict
from genlab.run.files import atomic_write_bytes, user_cache
from genlab.run.rundir import RunDir
from genlab.run.state import RunState, effective_state
from genlab.run.store import RunInfo, load_run, run_dirs
from genlab.run.summary import Listing
from genlab.run.tags import Tags

FORMAT = 2  # the cache file's layout: bump it when a Row's changes
# what a row is worked out from (events.idx and metrics.json change only with the files they index)
KEYED = (RunDir.CONFIG, RunDir.STATUS, RunDir.VIEW, RunDir.TAGS, RunDir.EVENTS, RunDir.METRICS_BIN)
# of those, what a live run's trainer does not rewrite as it goes: its config, view and tags
STEADY = (1, 3, 4)  # (indices in a fingerprint; the directory, at 0, gains checkpoints and grids)
LIVE_FOR_S = 10.0  # how long a live run's kept verdict and figures stand for its newest ones


@dataclass
class Row:
    """A run as ``genlab runs`` lists it."""

    info: RunInfo
    marks: Tags  # its tags and note
    verdict: Verdict | None  # its health (genlab/health), None for a run with no rules
    key_metric: str  # its view's training key metric (View.key)
    listing: Listing  # its summary, as a list shows it (genlab.run.summary)

    def to_json(self) -> dict:
        i = self.info
        return {"info": {"config": i.config, "status": i.status, "state": str(i.state), "created": i.created},
                "tags": self.marks.tags, "note": self.marks.note,
                "verdict": {k: v for k, v in self.verdict.to_json().items() if k != "symbol"} if self.verdict else None,
                "key_metric": self.key_metric, "listing": self.listing.to_json()}

    @classmethod
    def from_json(cls, path: Path, raw: dict) -> Row:
        i, v = raw["info"], raw["verdict"]
        info = RunInfo(path.name, path, i["config"], i["status"], RunState.of(i["state"]), created=i["created"])
        verdict = Verdict(**{**v, "cures": tuple(v["cures"])}) if v is not None else None
        return cls(info, Tags(list(raw["tags"]), raw["note"]), verdict, raw["key_metric"],
                   Listing.from_json(raw["listing"]))


def worked_out(path: Path, known=None) -> Row:
    """The run's row read from its directory (the uncached way). ``known``: as genlab.view.read's."""
    from genlab.health import judge_run
    from genlab.run import tags
    from genlab.run.summary import summarise

    info = load_run(path)
    summary = summarise(path, curves=False, known=known)
    return Row(info, tags.read(path), judge_run(path, known), summary.key, summary.listing())


def rows(root: Path, known=None, cached: bool = True) -> list[Row]:
    """Every run in ``root``, oldest first (as genlab.run.store.list_runs orders them): kept rows
    where their runs have not changed, the others worked out (and kept, where they may be)."""
    kept = read(root) if cached else {}
    out, keep, changed, now = [], {}, False, time.time()
    for path in run_dirs(root):
        key = fingerprint(path)  # before reading: a run changed meanwhile is worked out again next time
        entry = kept.get(path.name)
        row = reused(path, entry, key, now) if entry is not None else None
        if row is not None:
            keep[path.name] = entry
        else:
            row = worked_out(path, known)
            if keepable(row):
                keep[path.name], changed = {"key": key, "row": row.to_json(), "at": now}, True
        out.append(row)
    if cached and (changed or keep.keys() != kept.keys()):
        write(root, keep)
    return sorted(out, key=lambda r: (r.info.created, r.info.run_id))


def reused(path: Path, entry: dict, key: list, now: float) -> Row | None:
    """The kept row, where it stands for the run as it is now (see the module's docstring); None
    where the run must be worked out again."""
    try:
        row = Row.from_json(path, entry["row"])
        if entry["key"] == key and not row.info.state.written_live:
            return row
        live = RunState.of(row.info.status.get("state")).written_live
        if not (live and [entry["key"][i] for i in STEADY] == [key[i] for i in STEADY]
                and 0 <= now - float(entry["at"]) <= LIVE_FOR_S):
            return None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None
    status, problem = RunDir(path).read_status()  # its state, step and heartbeat as they are now
    if problem is not None or not RunState.of(status.get("state")).written_live:
        return None  # it ended (or broke) since: its verdict and figures are worked out whole
    row.info = replace(row.info, status=status, state=effective_state(status, path))  # (its config: unchanged)
    return row


def keepable(row: Row) -> bool:
    """A row that stays true while its files do, or a live run's (reused as :func:`reused` says);
    not an unreadable run's."""
    return row.info.problem is None


def fingerprint(path: Path) -> list:
    """The size, modification time (ns) and inode of the directory (a run made without a creation time
    is dated by it) and of each file of :data:`KEYED` (None: missing)."""
    out, where = [], f"{path}{os.sep}"
    for name in (".", *KEYED):
        try:
            st = os.stat(where + name)
            out.append([st.st_size, st.st_mtime_ns, st.st_ino])  # (a file replaced whole: a new inode)
        except OSError:
            out.append(None)
    return out


def cache_file(root: Path) -> Path:
    """Where the rows of the runs in ``root`` are kept: a file named for the root's whole path."""
    try:
        where = str(Path(root).resolve())
    except OSError:
        where = str(Path(root).absolute())
    return user_cache() / "runs" / f"{hashlib.sha256(where.encode()).hexdigest()[:32]}.json"


def read(root: Path) -> dict:
    """The kept rows of ``root``'s runs (run id to its key and row); none from a file that is
    missing, not JSON, of another layout or version, or of another root."""
    try:
        raw = json.loads(cache_file(root).read_bytes())
    except (OSError, ValueError):
        return {}
    ok = isinstance(raw, dict) and raw.get("format") == FORMAT and raw.get("version") == genlab.__version__ \
        and raw.get("judging") == JUDGING and raw.get("root") == str(root) and isinstance(raw.get("rows"), dict)
    return {k: v for k, v in raw["rows"].items() if isinstance(v, dict)} if ok else {}


def write(root: Path, kept: dict) -> None:
    """Keep these rows (atomically: genlab.run.files); a cache that cannot be written is passed over."""
    path = cache_file(root)
    data = json.dumps({"format": FORMAT, "version": genlab.__version__, "judging": JUDGING, "root": str(root), "rows": kept},
                      separators=(",", ":")).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data, durable=False)
    except OSError:
        pass
