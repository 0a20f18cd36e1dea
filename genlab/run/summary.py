"""One summary of a run, and the one order runs are ranked in.

How a run did, as ``genlab runs``, ``genlab compare``, ``genlab sweep show`` and the cockpit all
give it: its state, steps, time and images a second; its quality figure, newest and best; its
training key metric, newest and best; its newest quality check's figures.

A run is ranked by its **quality figure**: the held-out figure its model declares (``View.quality``:
GANs' FLD, VAEs' importance-sampled NLL, PixelCNNs' test NLL; what its sweeps optimise), at its
newest value, in the direction its ``Metric`` declares. A run with no quality figure yet comes
after those with one and says so (:data:`NO_FIGURE`). Its training key metric (``View.key``, a
loss) is given beside it and stays on the curves, but ranks nothing: a discriminator's loss says
nothing of its samples.

A run trained on an oversubscribed machine is **overloaded**: the median of the load its vital
signs recorded (the machine's load average per core, genlab.run.vitals) is above
genlab.run.vitals.OVERLOADED (1.5), over at least :data:`LOAD_SAMPLES` samples; so for at least
half of its time more threads wanted a core than there were cores, and its speed, and whatever it
reached in a time budget, are the machine's as much as its own. It is marked wherever runs are
ranked or compared (:meth:`Summary.overload_mark`: ``⚠ overloaded (load 2.3×)``).

A summary is read from a run directory (:func:`summarise`) or from a follower's view, which the
cockpit already holds (:func:`of_follower`); both read the same fields the same way. No torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from genlab import view
from genlab.run import events_index, figure_sources, lineage, tags, vitals
from genlab.run.measured import measured_on
from genlab.run.rundir import RunDir
from genlab.run.state import effective_state
from genlab.run.store import read_events

NO_FIGURE = "no quality figure yet"
TAIL_BYTES = 2_000_000  # without an events index, the evaluations are looked for in this much of events.jsonl
LOAD_SAMPLES = 3  # vital signs a run needs before its load says anything (one every 5 s)


@dataclass
class Summary:
    run_id: str
    path: Path
    config: dict
    view: view.View
    state: str
    step: int
    total: int
    wall_s: float | None = None  # from its first metric row to its newest
    images_per_s: float | None = None  # over that time
    key: str = ""  # the training key metric (View.key): shown, never ranked by
    key_latest: float | None = None
    key_best: float | None = None
    key_best_step: int | None = None
    figure: str = ""  # the quality figure it is ranked by (View.quality); "" when its model declares none
    lower_is_better: bool = True  # the quality figure's direction
    figure_latest: float | None = None
    figure_best: float | None = None
    figure_best_step: int | None = None
    rank: int | None = None  # its place among the runs ranked with it: same figure, measured on the same digits (1: best)
    quality: dict = field(default_factory=dict)  # the newest live quality check's figures
    class_hist: list | None = None
    held_out: dict = field(default_factory=dict)  # the newest evaluation's figures
    tags: list = field(default_factory=list)
    note: str = ""
    label: str = ""  # what tells it apart from the runs it is compared with
    checks: int = 0  # the evaluations that measured its quality figure (all of them, for a model without one)
    load: float | None = None  # the median of the machine's load per core over its vital signs
    load_samples: int = 0  # how many vital signs recorded the load

    @property
    def measured_on(self) -> list:
        """What its held-out figures were measured on (genlab/run/measured.py): it is ranked
        among the runs measured as it was."""
        return measured_on(self.config)

    @property
    def overloaded(self) -> bool:
        """It trained on a machine more than 1.5× oversubscribed (median load, module docstring)."""
        return self.load is not None and self.load_samples >= LOAD_SAMPLES and self.load > vitals.OVERLOADED

    def overload_mark(self) -> str:
        """``⚠ overloaded (load 2.3×)``, or "" for a run that was not."""
        return f"⚠ overloaded (load {self.load:.1f}×)" if self.overloaded else ""

    def formatted(self, name: str, value: float | None) -> str:
        """``value`` of metric ``name`` as its view prints it; "-" for none."""
        if value is None:
            return "-"
        metric = self.view.metric(name)
        return metric.format(value) if metric else format(value, ".4g")

    def key_text(self) -> str:
        """``d_loss 1.33``: the training key metric at its newest, or "-"."""
        return f"{self.key} {self.formatted(self.key, self.key_latest)}" if self.key_latest is not None else "-"

    def figure_text(self) -> str:
        """``test_fld 23.1``, or :data:`NO_FIGURE`."""
        if self.figure_latest is None:
            return NO_FIGURE
        return f"{self.figure} {self.formatted(self.figure, self.figure_latest)}"

    def ranked_text(self) -> str:
        """The quality figure with its rank (``#1 test_fld 23.1``), or :data:`NO_FIGURE`; an
        overloaded run's mark after it."""
        return ranked_text(self.rank, self.figure_text(), self.overload_mark())

    def listing(self) -> Listing:
        """What a list of runs shows of it (``genlab runs``), as plain data."""
        return Listing(self.figure, self.lower_is_better, self.figure_latest, self.key_text(), self.figure_text(),
                       self.overload_mark(), self.to_json()["ranked_by"], self.measured_on)

    def load_text(self) -> str:
        """The median load per core (``0.9×``), the overloaded mark instead when it was; "-" for none."""
        return self.overload_mark() or (f"{self.load:.1f}×" if self.load is not None else "-")

    def to_json(self) -> dict:
        return {"id": self.run_id, "label": self.label, "model": self.config.get("model"), "state": self.state,
                "step": self.step, "total_steps": self.total, "wall_s": self.wall_s,
                "images_per_s": self.images_per_s,
                "ranked_by": {"name": self.figure, "lower_is_better": self.lower_is_better,
                              "latest": self.figure_latest, "best": self.figure_best,
                              "best_step": self.figure_best_step, "rank": self.rank,
                              **({"says": NO_FIGURE} if self.figure_latest is None else {})},
                "key_metric": {"name": self.key, "latest": self.key_latest,
                               "best": self.key_best, "best_step": self.key_best_step},
                "quality": self.quality, "class_hist": self.class_hist, "held_out": self.held_out,
                "checks": self.checks, "load": self.load, "overloaded": self.overloaded,
                "tags": self.tags, "note": self.note, "path": str(self.path)}


def ranked_text(rank: int | None, figure_text: str, overload_mark: str) -> str:
    """``#1 test_fld 23.1`` (no rank: the figure's text alone), an overloaded run's mark after it."""
    text = f"#{rank} {figure_text}" if rank else figure_text
    return f"{text} · {overload_mark}" if overload_mark else text


@dataclass
class Listing:
    """What ``genlab runs`` shows of a run's summary (:meth:`Summary.listing`): plain data that
    genlab/run/row_cache.py keeps, ranked like a summary (:func:`rank`)."""

    figure: str
    lower_is_better: bool
    figure_latest: float | None
    key_text: str  # Summary.key_text()
    figure_text: str  # Summary.figure_text()
    overload_mark: str  # Summary.overload_mark()
    ranked_by: dict  # Summary.to_json()'s (its rank: as it was when listed)
    measured_on: list  # Summary.measured_on
    rank: int | None = None

    def ranked_text(self) -> str:
        return ranked_text(self.rank, self.figure_text, self.overload_mark)

    def ranked_json(self) -> dict:
        """Summary.to_json()'s ``ranked_by``, with the rank given by :func:`rank`."""
        return {**self.ranked_by, "rank": self.rank}

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("figure", "lower_is_better", "figure_latest", "key_text",
                                               "figure_text", "overload_mark", "ranked_by", "measured_on")}

    @classmethod
    def from_json(cls, raw: dict) -> Listing:
        return cls(**raw)


# --------------------------------------------------------------------------- ranking


def ranked(items: list, figure) -> list:
    """``items`` best first by ``figure(item)``, a (group, newest value or None, lower is better):
    those with a value by it (grouped, in the order the groups first come), then those without, in
    their order. A group is any hashable: what the items are comparable by."""
    groups: dict = {}
    for item in items:
        groups.setdefault(figure(item)[0], len(groups))

    def order(item):
        group, value, lower = figure(item)
        if not _finite(value):
            return (1, 0, 0.0)
        return (0, groups[group], value if lower else -value)

    return sorted(items, key=order)


def rank(summaries: list) -> list:
    """The summaries (or listings) best first by their quality figure (:func:`ranked`), each given
    its ``rank`` among those ranked with it: the same figure, measured on the same digits
    (``measured_on``, genlab/run/measured.py; ``genlab compare`` calls other runs not comparable).
    A run with no figure yet has no rank."""
    group = {id(s): (s.figure, repr(s.measured_on)) for s in summaries}  # (worked out once a run)
    out = ranked(summaries, lambda s: (group[id(s)], s.figure_latest, s.lower_is_better))
    places: dict = {}
    for s in out:
        if s.figure_latest is None:
            s.rank = None
        else:
            s.rank = places[group[id(s)]] = places.get(group[id(s)], 0) + 1
    return out


# --------------------------------------------------------------------------- from a run directory


def summarise(run_dir: Path, curves: bool = True, known=None) -> Summary:
    """A run's summary from its directory. Without ``curves``, metrics.bin is not read (no time,
    speed or training key best): what ``genlab runs`` needs of many runs. ``known``: as
    genlab.view.read's."""
    config, _ = RunDir(run_dir).read_config()
    status, _ = RunDir(run_dir).read_status()
    shows = view.read(run_dir, known)
    s = _new(run_dir.name, run_dir, config, shows, effective_state(status, run_dir) if status else "unreadable",
             int(status.get("step", 0)))
    t = tags.read(run_dir)
    s.tags, s.note = t.tags, t.note
    latest = (status.get("metrics") or {}).get(s.key)
    s.key_latest = float(latest) if _finite(latest) else None
    if curves:
        _key_and_time(s)
    events = logged_events(run_dir)
    _evaluations(s, [e for e in events if e["kind"] == "eval"])
    _load(s, [e.get("load") for e in events if e["kind"] == "system"])
    return s


def _new(run_id: str, path: Path, config: dict, shows: view.View, state: str, step: int) -> Summary:
    figure, lower = shows.ranks_by()
    return Summary(run_id, path, config, shows, state, step, int(config.get("total_steps") or 0), key=shows.key,
                   figure=figure, lower_is_better=lower)


def logged_events(run_dir: Path) -> list[dict]:
    """The run's events other than metrics (evaluations, vital signs ...), oldest first: all of
    them through events.idx, else those in the last TAIL_BYTES of events.jsonl."""
    path = RunDir(run_dir).events
    try:
        size = path.stat().st_size
    except OSError:
        return []
    indexed = events_index.read(run_dir, size)
    if indexed is not None:
        events, end = indexed
        events = events + read_events(path, end)[0]
    else:
        events, _ = read_events(path, max(0, size - TAIL_BYTES))
    return [e for e in events if e["kind"] != "metrics"]


def eval_events(run_dir: Path) -> list[dict]:
    """The run's ``eval`` events, oldest first (:func:`logged_events`)."""
    return [e for e in logged_events(run_dir) if e["kind"] == "eval"]


def _key_and_time(s: Summary) -> None:
    import numpy as np  # (here, not above: a list of runs kept by genlab/run/row_cache.py needs none)

    from genlab.run import metrics_log

    cols, rows, _ = metrics_log.read(s.path)
    if not cols or not len(rows):
        return
    steps, t = rows[:, 0], rows[:, 1]
    if len(rows) > 1 and t[-1] > t[0]:
        s.wall_s = float(t[-1] - t[0])
        s.images_per_s = float((steps[-1] - steps[0]) * int(s.config.get("batch_size") or 0) / s.wall_s) or None
    if s.key not in cols:
        return
    metric = s.view.metric(s.key)
    higher = metric is not None and metric.lower_is_better is False
    column = f"{'max' if higher else 'min'}:{s.key}"
    values = rows[:, cols.index(column if column in cols else s.key)]
    ok = np.isfinite(values)
    if not ok.any():
        return
    best = int(np.nanargmax(np.where(ok, values, -np.inf)) if higher else np.nanargmin(np.where(ok, values, np.inf)))
    s.key_best, s.key_best_step = float(values[best]), int(steps[best])
    s.key_latest = float(rows[-1, cols.index(s.key)])


def _evaluations(s: Summary, events: list[dict]) -> None:
    declared = {m.name for m in s.view.metrics}
    s.checks = len(events)
    for e in events:
        figures = {k: v for k, v in e.items() if k in declared and isinstance(v, (int, float))}
        if e.get("quality"):
            s.quality = figures
            if isinstance(e.get("class_hist"), list):
                s.class_hist = e["class_hist"]
        else:
            s.held_out = figures
    # (read from its quality checks once they carry it: genlab/run/figure_sources.py)
    points = [(int(e.get("step", 0)), float(e[s.figure])) for e in figure_sources.series(events, s.figure)
              if _finite(e.get(s.figure))] if s.figure else []
    _figure(s, points)
    if s.figure:
        s.checks = len(points)


def _load(s: Summary, values: list) -> None:
    """The median of the load its vital signs recorded (a run recorded before they had it: None)."""
    import numpy as np

    loads = [float(v) for v in values if _finite(v)]
    s.load_samples = len(loads)
    s.load = float(np.median(loads)) if loads else None


def _figure(s: Summary, points: list[tuple[int, float]]) -> None:
    """The quality figure's newest and best from its (step, value) points."""
    if not points:
        return
    best = (min if s.lower_is_better else max)(points, key=lambda p: p[1])
    s.figure_latest = points[-1][1]
    s.figure_best, s.figure_best_step = best[1], best[0]


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- from a follower


def of_follower(v, shows: view.View, label: str = "") -> Summary:
    """A run's summary from a follower's view (genlab.run.follow.RunView), which the cockpit
    holds already: its evaluations, status and bucketed curves."""
    import numpy as np

    s = _new(v.run_id, v.path, dict(v.config), shows, v.state, int(v.status.get("step", 0)))
    s.label = label
    latest = v.latest.get(s.key)
    s.key_latest = float(latest) if _finite(latest) else None
    metric = shows.metric(s.key)
    higher = metric is not None and metric.lower_is_better is False
    series = v.series.get(s.key)
    fork = lineage.parent_of(v.config)  # (a fork's figures are its own, as `genlab compare` reads them: not its parent's stretch)
    since = fork[1] if fork else -1
    if series is not None and len(series):
        own = series.centres() > since
        if own.any():
            hi, lo = np.where(own, series.hi, -np.inf), np.where(own, series.lo, np.inf)
            i = int(np.argmax(hi) if higher else np.argmin(lo))
            s.key_best = float(series.hi[i] if higher else series.lo[i])
            s.key_best_step = int(series.centres()[i])
    s.images_per_s = v.status.get("images_per_s") or None
    if v.times is not None and len(v.times) > 1:
        tx, ty = v.times.means(None)
        tx, ty = np.asarray(tx), np.asarray(ty)
        tx, ty = tx[tx > since], ty[tx > since]
        if len(ty) > 1 and ty[-1] > ty[0]:
            s.wall_s = float(ty[-1] - ty[0])
            if not s.images_per_s:
                s.images_per_s = (tx[-1] - tx[0]) * int(v.config.get("batch_size") or 0) / s.wall_s or None
    s.held_out = {k: points[-1][1] for k, points in v.evals.items() if points and shows.metric(k) is not None}
    s.class_hist = list(v.class_hist) if v.class_hist else None
    if s.figure:
        _figure(s, [(step, value) for step, value in v.evals.get(s.figure) or [] if _finite(value)])
        s.checks = len([p for p in v.evals.get(s.figure) or [] if _finite(p[1])])
    else:
        s.checks = max((len(points) for points in v.evals.values()), default=0)
    _load(s, [value for _, value in v.vitals.get("load") or []])
    return s
