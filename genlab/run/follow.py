"""Follow a run directory as it grows: what the cockpit (and any other viewer) reads.

An :class:`EventTail` reads the lines appended to a run's events.jsonl since its last read, and
starts over when the file is rewritten (a resume cuts it): the one incremental reader of events,
used by :class:`RunFollower` and by the sweep worker. A :class:`RunFollower` keeps it and an
offset into metrics.bin and, at each ``poll()``, reads only what was appended since (when a
viewer sends on what it read: genlab.run.pace). Metric histories live in
genlab.run.series.MinMaxSeries. A long run's first read takes its curves from the bucket
summaries its writer kept (genlab.run.pyramid) and reads only its newest rows; a run without
them is read whole. Nothing here imports torch or Textual.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from genlab.health import Verdict
from genlab.health.judge import LONG_READ, health_judge
from genlab.run import events_index, figure_sources, metrics_log, pyramid, schema
from genlab.run.lineage import Ancestry
from genlab.run.rundir import RunDir
from genlab.run.series import MinMaxSeries
from genlab.run.state import RunState, effective_state
from genlab.run.store import parse_events, read_grid

METRICS_MARK = b'"kind":"metrics"'
OTHER_KIND = re.compile(rb'"kind"\s*:\s*"(?!metrics")')  # an event that is not a metrics row
CHUNK = 8 << 20  # events.jsonl is read in blocks of this many bytes
MAX_HISTORY = 10_000  # sample grids (and class histograms) a follower lists
BULK_ROWS = 50_000  # a first read of more metric rows than this buckets them in one pass


def line_at(block: bytes, at: int) -> bytes:
    """The whole line of ``block`` that holds byte ``at``."""
    start = block.rfind(b"\n", 0, at) + 1
    end = block.find(b"\n", at)
    return block[start:] if end < 0 else block[start:end]


class EventTail:
    """The lines appended to an events.jsonl since the last read, in blocks of whole lines.

    :meth:`look` says whether anything is new, and starts over from the first byte when the file
    was rewritten (a new file, or one shorter than what was read: a resume cut it); :meth:`blocks`
    then reads the new whole lines (a torn last line waits for its end; a line longer than CHUNK,
    which no event is, is skipped once its end is written), :meth:`events` parses them. Nothing
    here raises for what is on disk: an unreadable file is named in :attr:`problem`."""

    GROWN, REWRITTEN = "grown", "rewritten"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset, self.inode = 0, None
        self.skipped_lines = 0  # lines over CHUNK bytes, skipped
        self.problem: str | None = None

    def look(self) -> str | None:
        """``GROWN`` (new lines may be there), ``REWRITTEN`` (read again from the start: whatever
        the caller made of the old file is stale) or None (nothing new, or unreadable)."""
        try:
            st = self.path.stat()
        except OSError as e:
            self.problem = f"{self.path.name}: {e.strerror or e}"
            return None
        self.problem = None
        rewritten = self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset)
        if rewritten:
            self.offset, self.skipped_lines = 0, 0
        self.inode = st.st_ino
        if rewritten:
            return self.REWRITTEN
        return self.GROWN if st.st_size != self.offset else None

    def blocks(self) -> Iterator[bytes]:
        """The whole lines from :attr:`offset` on, a block (at most CHUNK bytes) at a time; the
        offset moves past each block as it is handed out."""
        try:
            f = open(self.path, "rb")
        except OSError as e:
            self.problem = f"{self.path.name}: {e.strerror or e}"
            return
        with f:
            try:
                f.seek(self.offset)
                while True:  # in blocks, so a long history never sits in memory whole
                    data = f.read(CHUNK)
                    end = data.rfind(b"\n") + 1  # a torn last line waits for its end
                    if not end:
                        if len(data) == CHUNK and self._skip_line(f):  # one line longer than a block
                            self.skipped_lines += 1
                            continue
                        break
                    self.offset += end
                    yield data[:end]
                    if end < len(data):
                        f.seek(self.offset)
                    if len(data) < CHUNK:
                        break
            except OSError as e:
                self.problem = f"{self.path.name}: {e.strerror or e}"

    def events(self) -> list[dict]:
        """The valid events of the new whole lines (a line that is not one is skipped)."""
        return [e for block in self.blocks() for e in parse_events(block)]

    def _skip_line(self, f) -> bool:
        """Move past the line at ``self.offset`` (over CHUNK bytes long) if its end has been
        written; False while it has not (it is skipped once it has)."""
        pos = self.offset + CHUNK
        f.seek(pos)
        while True:
            data = f.read(1 << 20)
            if not data:
                f.seek(self.offset)
                return False
            nl = data.find(b"\n")
            if nl >= 0:
                self.offset = pos + nl + 1
                f.seek(self.offset)
                return True
            pos += len(data)


@dataclass
class RunView:
    """What a viewer needs of one run at one moment (plain data, safe to hand to another thread)."""

    run_id: str
    path: Path
    config: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)
    state: str = "unknown"
    series: dict[str, MinMaxSeries] = field(default_factory=dict)
    times: MinMaxSeries | None = None  # unix time by step: curves against wall time
    evals: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)  # the newest notable events, oldest first
    sample: np.ndarray | None = None
    sample_step: int | None = None
    latest: dict = field(default_factory=dict)
    class_hist: list[float] | None = None  # the newest class histogram of generated digits
    latent: dict | None = None  # a VAE's newest latent map: points N×2, labels, step, how
    cas: dict | None = None  # a conditional model's newest CAS (cas.json): cas, real, step, n
    vitals: dict = field(default_factory=dict)  # vital sign -> [(step, value)] from system events
    grids: list = field(default_factory=list)  # (step, .npy path) of every sample grid, oldest first
    class_hists: list = field(default_factory=list)  # (step, histogram) of every quality check
    problem: str | None = None  # what is wrong with the directory, if anything
    health: Verdict | None = None  # the run's training health (genlab/health), None before judged
    version: int = 0  # bumped whenever anything above changed


class RunFollower:
    """Incremental reader of one run directory. ``poll()`` never raises for a broken run: it
    reports the problem in ``view.problem`` and carries on with what it has."""

    def __init__(self, run_dir: Path, capacity: int = 1024, keep_events: int = 200, clock=time.time, known=None,
                 quick_open: bool = False):
        """``quick_open``: a long run's first poll leaves its health to be judged by the next one
        (:attr:`owed`), so that a viewer draws its curves first (judging a long history's newest
        rows takes longer than all the rest of opening it)."""
        self.path, self.capacity, self.clock = Path(run_dir), capacity, clock
        self.quick_open = quick_open
        self.known = known  # as genlab.view.read's: the CLI's rules for a run whose view.json has none
        self.run = RunDir(self.path)
        self.keep_events = keep_events
        self.reset()

    def reset(self) -> None:
        self.view = RunView(self.path.name, self.path)
        self.sources = figure_sources.Sources()  # which checks each held-out figure is read from
        self._events = deque(maxlen=self.keep_events)
        self.tail = EventTail(self.run.events)
        self.rows = 0  # metrics.bin's rows read
        self.mtimes = {}  # a new view reads the side files again
        self.cols: list[str] | None = None  # metrics.bin's columns as last read
        self.use_bin = self.run.metrics_header.exists()
        self.judge = None  # judges its health (genlab/health) once its view is read; False: no rules
        self.owed = None  # rows read but not yet judged (quick_open): (steps, times, columns)
        self.rows_read = 0  # metrics.bin rows read since created (what a first read cost)
        self.ancestry: Ancestry | None = None  # a fork's: its parent's history before the fork, read first

    # ------------------------------------------------------------------ reading

    def poll(self) -> RunView:
        """The view with what was written since the last poll. Never raises: whatever a broken
        directory holds (or a bug in reading it) becomes ``view.problem``, the rest carries on."""
        try:
            return self._poll()
        except Exception as e:  # the contract: a viewer of many runs never stops for one
            self.view.problem = f"cannot read the run: {e.__class__.__name__}: {e}"
            return self._done(True)

    def _poll(self) -> RunView:
        v = self.view
        changed = False
        if not self.path.is_dir():
            if v.problem != "the run directory was deleted":
                v.problem, changed = "the run directory was deleted", True
            v.state = "deleted"
            return self._done(changed)
        problems = []
        if not v.config:
            v.config, problem = self.run.read_config()
            if problem:
                problems.append(problem)
            changed = True
        status, problem = self.run.read_status()
        if problem:
            problems.append(problem)
        elif status != v.status:
            v.status, changed = status, True
        # (with no good status read yet, as `genlab runs` says it: unreadable if it cannot be read)
        state = effective_state(v.status, self.path, now=self.clock()) if v.status else \
            RunState.UNREADABLE if problem else RunState.UNKNOWN
        if state != v.state:
            v.state, changed = state, True
        if self.judge is None and v.config:
            self.judge = health_judge(self.path, v.config, self.known)
        if self.ancestry is None and v.config:
            changed |= self._read_ancestry()
        if self.ancestry is not None and self.ancestry.problem:
            problems.append(self.ancestry.problem)
        if self.owed is not None:  # the rows the first poll read and left unjudged, before anything new
            owed, self.owed = self.owed, None
            if self.judge:
                self.judge.feed_rows(*owed)
        changed |= self._read_events(problems)
        changed |= self._read_latent()
        changed |= self._read_cas()
        if self.use_bin or self.run.metrics_header.exists():
            self.use_bin = True
            changed |= self._read_bin()
        if self.owed is None:
            changed |= self._judged(not RunState.of(v.state).live)
        problem = "; ".join(problems) or None
        if problem != v.problem:
            v.problem, changed = problem, True
        return self._done(changed)

    def _read_ancestry(self) -> bool:
        """A fork's parent's history up to the fork (genlab/run/lineage.py), before its own."""
        self.ancestry = Ancestry(self.path, self.view.config)
        if not self.ancestry:
            return False
        for e in self.ancestry.events():
            self._event(e)
        cols, rows = self.ancestry.rows(None)
        if cols and len(rows):
            self._extend(cols, rows)
        self.view.events = list(self._events)
        return True

    def _judged(self, over: bool) -> bool:
        """The verdict and the health events since the last poll into the view (once it ended,
        its last evaluations judged too)."""
        if not self.judge:
            return False
        if over:
            self.judge.settle()
        v, news = self.view, self.judge.take_events()
        if news:  # among the other events in step order (a first read judges the whole run at once)
            self._events = deque(sorted([*self._events, *news], key=lambda e: e.get("step", 0)), self.keep_events)
            v.events = list(self._events)
        if self.judge.verdict == v.health and not news:
            return False
        v.health = self.judge.verdict
        return True

    def _done(self, changed: bool) -> RunView:
        if changed:
            self.view.version += 1
        return self.view

    def _read_events(self, problems: list[str]) -> bool:
        change = self.tail.look()
        if change == EventTail.REWRITTEN:  # a resume cut it: start over
            self.reset()
            self.view.config, _ = self.run.read_config()
            self.judge = health_judge(self.path, self.view.config, self.known) if self.view.config else None
            if self.view.config:
                self._read_ancestry()
            change = self.tail.look()
        if change is None:  # (nothing new: the problems stand as the last read left them)
            if self.tail.problem:
                problems.append(self.tail.problem)
            problems.extend(self._skipped())
            return False
        metric_rows, newest_grid, before = [], None, self.tail.offset
        if self.tail.offset == 0 and self.use_bin:  # a first read: the index lists the non-metric lines
            listed = events_index.read(self.path, self.tail.path.stat().st_size)
            if listed is not None:
                for e in listed[0]:
                    if e["kind"] == "samples":
                        newest_grid = self._grid(e)
                    else:
                        self._event(e)
                self.tail.offset = listed[1]
        for block in self.tail.blocks():
            newest_grid = self._parse(block, metric_rows) or newest_grid
        if self.tail.problem:
            problems.append(self.tail.problem)
        v = self.view
        if newest_grid is not None:
            self._load_sample(newest_grid)
        if metric_rows:
            keys = metrics_log.metric_names(metrics_log.layout(
                [k for k in metric_rows[-1] if k not in metrics_log.NOT_METRICS], False))
            steps = [r["step"] for r in metric_rows]
            if any(metrics_log.COUNT in r for r in metric_rows):  # an aggregated record
                cols = metrics_log.layout(keys, True)
                rows = np.array([metrics_log.row_of(r, cols) for r in metric_rows], dtype=np.float64)
                self._extend(cols, rows)
            else:
                times = [schema.number(r.get("t")) for r in metric_rows]
                self._times().extend(steps, times)
                columns = {k: [schema.number(r.get(k)) for r in metric_rows] for k in keys}
                for k in keys:
                    self._series(k).extend(steps, columns[k])
                if self.judge:
                    self.judge.feed_rows(steps, times, columns)
            v.latest.update({k: schema.number(metric_rows[-1].get(k)) for k in keys})
        v.events = list(self._events)
        problems.extend(self._skipped())
        return self.tail.offset != before

    def _skipped(self) -> list[str]:
        """The lines too long to read, said on every look (a quiet look must not clear it)."""
        if not self.tail.skipped_lines:
            return []
        return [f"{RunDir.EVENTS}: skipped {self.tail.skipped_lines} line(s) over {CHUNK >> 20} MiB"]

    def _parse(self, block: bytes, metric_rows: list) -> dict | None:
        """Handle the whole lines in ``block``; returns the newest samples event, if any.

        With metrics.bin in use, the metric lines (nearly all of them) are not even split out:
        every other event is found by its ``"kind":"`` (spaces allowed; a metric line holds no
        other kind) and parsed alone, each line once however often it matches."""
        if self.use_bin:
            starts = dict.fromkeys(block.rfind(b"\n", 0, m.start()) + 1 for m in OTHER_KIND.finditer(block))
            return self._parse_lines((line_at(block, at) for at in starts), metric_rows)
        return self._parse_lines(block.split(b"\n"), metric_rows)

    def _parse_lines(self, lines, metric_rows: list) -> dict | None:
        newest_grid = None
        for line in lines:
            if not line:
                continue
            if METRICS_MARK in line and self.use_bin:
                continue  # metrics.bin has them, far cheaper to read
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if not schema.event_ok(e):
                continue
            kind = e["kind"]
            if kind == "metrics":
                metric_rows.append(e)
            elif kind == "samples":
                newest_grid = self._grid(e)  # only the newest grid is loaded: the others are listed
            else:
                self._event(e)
        return newest_grid

    mtimes: dict  # side files (latent.npz, cas.json): the mtime each was last read at

    def _changed(self, name: str) -> Path | None:
        """The run's side file ``name`` if it changed since it was last read (else None)."""
        path = self.path / name
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        if self.mtimes.get(name) == mtime:
            return None
        self.mtimes[name] = mtime
        return path

    def _read_latent(self) -> bool:
        """A VAE's newest latent map (latent.npz, replaced at each held-out evaluation)."""
        path = self._changed(RunDir.LATENT)
        if path is None:
            return False
        try:
            with np.load(path, allow_pickle=False) as z:
                points, labels = z["points"], z["labels"]
                if points.ndim != 2 or points.shape[1] != 2 or len(labels) != len(points):
                    return False
                self.view.latent = {"points": points.astype(float), "labels": labels.astype(int),
                                    "step": int(z["step"]), "how": str(z["how"])}
        except (OSError, ValueError, KeyError, EOFError):
            return False
        return True

    def _read_cas(self) -> bool:
        """The newest CAS of a conditional model (cas.json, replaced by each `genlab eval --cas`)."""
        path = self._changed(RunDir.CAS)
        if path is None:
            return False
        try:
            raw = json.loads(path.read_text())
            self.view.cas = {"cas": float(raw["cas"]), "real": float(raw["real"]),
                             "step": int(raw["step"]), "n": int(raw["n"])}
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return True

    def _grid(self, e: dict) -> dict:
        """A samples event: listed (its step and .npy) for the history, and returned."""
        if isinstance(e.get("npy"), str):
            grids, step = self.view.grids, int(e["step"])
            if grids and grids[-1][0] == step:  # the same step's grid again (an older run's end)
                grids.pop()
            grids.append((step, e["npy"]))
            del self.view.grids[:-MAX_HISTORY]
        return e

    def _event(self, e: dict) -> None:
        v = self.view
        kind = e.get("kind")
        if self.judge:
            self.judge.feed_event(e)
        if kind == "eval":
            hist = e.get("class_hist")
            if isinstance(hist, list) and all(isinstance(h, (int, float)) for h in hist):
                v.class_hist = hist
                v.class_hists.append((int(e.get("step", 0)), hist))
                del v.class_hists[:-MAX_HISTORY]
            self.sources.take(e, v.evals, lambda k: k.startswith("test_"))  # (genlab/run/figure_sources.py)
        elif kind == "system":  # vital signs: series to plot, never lines in the event log
            for k, val in e.items():
                if k not in ("t", "step", "kind") and isinstance(val, (int, float)):
                    points = v.vitals.setdefault(k, [])
                    points.append((int(e.get("step", 0)), float(val)))
                    del points[:-MAX_HISTORY]
            return
        self._events.append(e)

    def _load_sample(self, e: dict) -> None:
        npy = e.get("npy")
        sample = read_grid(self.path / npy) if isinstance(npy, str) else None
        if sample is not None:  # else a grid cut by a resume, not yet readable or not a grid: keep the previous one
            self.view.sample = sample
            self.view.sample_step = int(e.get("step", 0))

    def _bulk_load(self, steps: np.ndarray, values: np.ndarray, names: list[str]) -> None:
        """A long history read for the first time: every column bucketed in one pass (the same
        buckets MinMaxSeries.extend would make), each series given its buckets. ``names[i]`` is
        column i's series ("" for the times)."""
        steps = steps.astype(np.int64)
        width = 1
        while (int(steps[-1]) - int(steps[0])) // width + 1 > self.capacity:
            width *= 2
        idx = steps // width
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        finite = np.isfinite(values)
        lo = np.fmin.reduceat(values, starts, axis=0)
        hi = np.fmax.reduceat(values, starts, axis=0)
        total = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=0)
        count = np.add.reduceat(finite.astype(np.int64), starts, axis=0)
        for j, name in enumerate(names):
            series = self._times() if not name else self._series(name)
            keep = count[:, j] > 0
            if not keep.any():
                continue
            last = np.flatnonzero(finite[:, j])[-1]
            series.load(idx[starts][keep], width, lo[keep, j], hi[keep, j], total[keep, j], count[keep, j],
                        float(values[last, j]), int(steps[last]))

    def _times(self) -> MinMaxSeries:
        if self.view.times is None:
            self.view.times = MinMaxSeries(self.capacity)
        return self.view.times

    def _series(self, key: str) -> MinMaxSeries:
        if key not in self.view.series:
            self.view.series[key] = MinMaxSeries(self.capacity)
        return self.view.series[key]

    def _read_bin(self) -> bool:
        try:
            size = os.path.getsize(self.run.metrics_bin)
        except OSError:
            return False
        cols = metrics_log.columns(self.path)
        if not cols:
            return False
        if self.cols is not None and cols != self.cols:
            self.reset()  # rewritten in the aggregated layout: read it all again
            return True
        if size < self.rows * 8 * len(cols):
            return False  # cut by a resume; events.jsonl's rewrite resets us
        if self.rows == 0 and not self.view.series and self.view.times is None and \
                size // (8 * len(cols)) > BULK_ROWS and self._open_summarised(cols):
            return True
        cols, rows, new_offset = metrics_log.read(self.path, self.rows)
        if not len(rows) or metrics_log.columns(self.path) != cols:
            return False  # nothing new, or rewritten while we read: next time
        self.cols, self.rows = cols, new_offset
        self.rows_read += len(rows)
        self._extend(cols, rows)
        return True

    def _open_summarised(self, cols: list[str]) -> bool:
        """A long history's first read from its bucket summaries (genlab.run.pyramid) and its
        newest rows: the same buckets as reading it whole. False (nothing read) where there are
        none to trust: the caller reads it whole."""
        size = os.path.getsize(self.run.metrics_bin) // (8 * len(cols))
        start = max(0, size - LONG_READ)  # the newest rows: what the judge reads of a long history
        got, rows, end = metrics_log.read(self.path, start)
        first = metrics_log.read_row(self.path, cols, 0)
        if got != cols or not len(rows) or first is None:
            return False
        if metrics_log.aggregated(cols) and not (pyramid.entries(cols, first[None])[1][0, :, 3] > 0).all():
            return False  # (read whole, a series first counted after the first row has buckets of its own width)
        steps = rows[:, 0].astype(np.int64)
        width = 1
        while (int(steps[-1]) - int(first[0])) // width + 1 > self.capacity:
            width *= 2
        level = pyramid.level_for(width)
        summary = pyramid.read(self.path, cols, level, end) if level is not None else None
        if summary is None:
            return False
        idx, stats, covered = summary
        if covered < start:  # (summaries far behind: not worth it)
            return False
        if covered:  # the summaries end where the rows say they do (not those of a file since cut)
            at = metrics_log.read_row(self.path, cols, covered - 1)
            if at is None or int(at[0]) >> level != idx[-1]:
                return False
        names = pyramid.series_names(cols)
        tail_steps, tail = pyramid.entries(cols, rows[covered - start:])
        last = {}
        for j in range(len(names)):  # each series' newest value, as MinMaxSeries keeps it
            counted = np.flatnonzero(tail[:, j, 3] > 0) if len(tail) else []
            if not len(counted):
                _, whole = pyramid.entries(cols, rows)
                counted = np.flatnonzero(whole[:, j, 3] > 0)
                if not len(counted):
                    return False  # not in the newest rows: read it all
                k, stat, at_step = counted[-1], whole, steps
            else:
                k, stat, at_step = counted[-1], tail, tail_steps
            last[j] = (float(stat[k, j, 2] / stat[k, j, 3]), int(at_step[k]))
        shift = width.bit_length() - 1 - level
        buckets, merged, _ = pyramid.merge(np.r_[idx >> shift, tail_steps >> (level + shift)],
                                           np.concatenate([stats, tail]))
        for j, name in enumerate(names):
            series = self._times() if name == "t" else self._series(name)
            keep = merged[:, j, 3] > 0
            series.load(buckets[keep], width, merged[keep, j, 0], merged[keep, j, 1], merged[keep, j, 2],
                        merged[keep, j, 3].astype(np.int64), *last[j])
        at = {c: i for i, c in enumerate(cols)}
        metrics = metrics_log.metric_names(cols)
        self.view.latest.update({k: float(rows[-1, at[k]]) for k in metrics})
        if self.judge:  # (an aggregated row's mean)
            judged = (rows[:, 0], rows[:, 1], {k: rows[:, at[k]] for k in metrics})
            if self.quick_open:
                self.owed = judged
            else:
                self.judge.feed_rows(*judged)
        self.cols, self.rows = cols, end
        self.rows_read += len(rows)
        return True

    def _extend(self, cols: list[str], rows: np.ndarray) -> None:
        """Rows of metrics.bin's layout (or events in it) into the series and ``latest``."""
        steps, names = rows[:, 0], metrics_log.metric_names(cols)
        at = {c: i for i, c in enumerate(cols)}
        if self.judge:  # (an aggregated row's mean)
            self.judge.feed_rows(steps, rows[:, 1], {k: rows[:, at[k]] for k in names})
        if (len(rows) > BULK_ROWS and not metrics_log.aggregated(cols) and not self.view.series
                and self.view.times is None):
            self._bulk_load(steps, rows[:, [1, *(at[k] for k in names)]], ["", *names])
            self.view.latest.update({k: float(rows[-1, at[k]]) for k in names})
            return
        self._times().extend(steps, rows[:, 1])
        for k in names:
            if metrics_log.aggregated(cols):
                n = rows[:, at[metrics_log.COUNT]]
                self._series(k).extend_buckets(steps, rows[:, at[f"min:{k}"]], rows[:, at[f"max:{k}"]],
                                               rows[:, at[k]] * n, n)
            else:
                self._series(k).extend(steps, rows[:, at[k]])
        self.view.latest.update({k: float(rows[-1, at[k]]) for k in names})
