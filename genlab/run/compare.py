"""Runs side by side: what differs in their configurations, and how each one did.

Read from the run directories only: no torch, so the CLI and the cockpit both use it. What
differs is every configuration value that changes what the figures mean: the hyperparameters,
and the settings (data, length, cadences of measurement, device, versions); figures measured on
different test sets are said to be not comparable. A run is named by its label
(genlab/run/labels.py: ``#3 lr=0.001``, a short name and what differs). How each did is its
summary (genlab/run/summary.py), ranked by its quality figure.

Whether a ranking means anything is :func:`comparability`, the one place that says why a set of
runs is not a fair comparison, in plain sentences: figures measured on different data, runs too
short to judge (fewer steps or quality checks than their model declares: ``View.judged_after_steps``
and ``judged_after_checks``), runs trained on an overloaded machine. ``genlab compare``, the compare
screen, the end of a sweep and a recipe's lesson all say them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genlab import view
from genlab.errors import UsageError
from genlab.models.catalogue import SPECS
from genlab.run import figure_sources, metrics_log
from genlab.run.labels import Label, label_runs
from genlab.run.lineage import Ancestry, history
from genlab.run.measured import MEASURED_ON, settings
from genlab.run.rundir import RunDir
from genlab.run.seed_groups import Grouped, SeedGroup, as_row, group_labels, grouped
from genlab.run.store import read_events
from genlab.run.summary import Summary, rank, summarise

# what may tell runs apart, in the order a table shows it (hyperparameters after the model)
SHOWN = ("model", "preset", "batch_size", "lr", "seed", "device", "amp", "compile")


@dataclass
class SideBySide:
    """Runs compared: the configuration keys that differ, each run's summary (best first, with
    its label), why their figures were measured on different data ("" when they were not), each
    run's label by its id, and every reason the comparison is not fair (:func:`comparability`)."""

    differs: list[str]
    runs: list[Summary]
    not_comparable: str = ""
    labels: dict[str, Label] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    groups: list[SeedGroup] = field(default_factory=list)  # runs differing only in their seed, best first

    @property
    def seeded(self) -> bool:
        """Whether some runs differ only in their seed (a group of two runs or more)."""
        return any(g.n > 1 for g in self.groups)

    def to_json(self) -> dict:
        return {"differs": self.differs, "comparable": not self.warnings and not self.not_comparable,
                "not_comparable": self.not_comparable or None, "warnings": self.warnings,
                "runs": [s.to_json() for s in self.runs], "groups": [g.to_json() for g in self.groups]}


def flat(config: dict) -> dict:
    """The configuration keys that may tell runs apart, hyperparameters as ``hp.name``. A
    hyperparameter a run's configuration does not record (a run older than the option) is the
    model's default: an option's default is what the model did before it had the option."""
    out = {k: config.get(k) for k in SHOWN}
    hp = config.get("hp") if isinstance(config.get("hp"), dict) else {}
    declared = SPECS.get(config.get("model")) if isinstance(config.get("model"), str) else None
    for k, v in {**(declared.defaults if declared else {}), **hp}.items():
        if k not in ("batch_size", "lr"):  # format 1 repeated them in hp
            out[k] = v
    return out


def described(config: dict) -> dict:
    """Everything that may tell runs apart: :func:`flat`, then :func:`settings`."""
    return {**flat(config), **settings(config)}


def differing(configs: list[dict]) -> list[str]:
    """The keys whose values are not the same in every configuration (model first)."""
    described_ = [described(c) for c in configs]
    keys = list(dict.fromkeys(k for d in described_ for k in d))
    return [k for k in keys if len({repr(d.get(k)) for d in described_}) > 1]


def not_comparable(configs: list[dict]) -> str:
    """Why these runs' held-out figures cannot be set side by side, or "": they were measured on
    different digits (another data source, other counts, digits left out, other sample sizes)."""
    apart = [k for k in differing(configs) if k in MEASURED_ON]
    if not apart:
        return ""
    return f"not comparable: the figures were measured on different test sets ({', '.join(apart)} differ)"


def comparability(runs: list[Summary], names: dict[str, str] | None = None) -> list[str]:
    """Why these runs' figures are not a fair comparison, a plain sentence a reason ([] when they
    are), short enough for a line of a screen: measured on different data; too short to judge
    (fewer training steps or quality checks than its model's view declares it needs,
    ``judged_after_steps`` and ``judged_after_checks``: ``gan-b 800 of 1,000 steps``); trained on
    an overloaded machine (genlab.run.summary: its speed, and what it reached in its time, are the
    machine's as much as its own). ``names``: run id to the name a sentence gives it (its
    label's), else its id."""
    def name(s: Summary) -> str:
        return (names or {}).get(s.run_id) or s.run_id

    out = []
    apart = not_comparable([s.config for s in runs])
    if apart:
        out.append(apart)
    short = []
    for s in runs:
        lacks = []
        if s.step < s.view.judged_after_steps:
            lacks.append(f"{s.step:,} of {s.view.judged_after_steps:,} steps")
        if s.checks < s.view.judged_after_checks:
            lacks.append(f"{s.checks} of {s.view.judged_after_checks} quality checks")
        if lacks:
            short.append(f"{name(s)} {' and '.join(lacks)}")
    if short:
        out.append(f"too short to judge: {'; '.join(short)}")
    loaded = [s for s in runs if s.overloaded]
    if loaded:
        out.append("trained on an overloaded machine: " + ", ".join(f"{name(s)} (load {s.load:.1f}×)" for s in loaded))
    return out


def fmt(value) -> str:
    if value is None:
        return "-"  # a key this run's model does not have
    return f"{value:g}" if isinstance(value, float) else str(value)


def compare(run_dirs: list[Path]) -> SideBySide:
    """The runs side by side, best first by their quality figure (genlab.run.summary.rank)."""
    if len(run_dirs) < 2:
        raise UsageError("compare needs two runs or more")
    runs = [summarise(p) for p in run_dirs]
    configs = [r.config for r in runs]
    named = labels(configs, [r.run_id for r in runs])
    for r, label in zip(runs, named):
        r.label = label.text
    warnings = comparability(runs, {n.run_id: n.name for n in named})
    return SideBySide(differing(configs), rank(runs), not_comparable(configs), {n.run_id: n for n in named}, warnings,
                      seed_groups(runs))


class GroupSummary(Grouped, Summary):
    """A seed group ranked and shown as one run (genlab.run.seed_groups.Grouped)."""


def seed_groups(runs: list[Summary]) -> list[SeedGroup]:
    """The runs (in the order given) in groups that differ only in their seed
    (genlab/run/seed_groups.py), best first by the mean of their quality figure."""
    configs, ids = [r.config for r in runs], [r.run_id for r in runs]
    indices = grouped(configs)
    named = group_labels(configs, ids, indices)
    groups = [SeedGroup.of([runs[i] for i in g], label) for g, label in zip(indices, named)]
    rows = rank([as_row(g, GroupSummary) for g in groups])
    return [row.group for row in rows]


def curve(run_dir: Path, metric: str, x: str = "step", points: int = 2000,
          since: int | None = None) -> tuple[list[float], list[float]]:
    """One run's curve of ``metric``: a training metric from metrics.bin (at most ``points``
    points, each chunk's mean), or a held-out one from its evaluations. ``x``: "step" or "time"
    (minutes since its first metric row). A fork's curve begins with its parent's (genlab/run/lineage.py);
    ``since``: from that step on (:func:`drawn_from`: where it leaves its parent's line)."""
    cols, rows, _ = history(run_dir)
    if cols and metric in cols and len(rows):
        xs = rows[:, 0] if x == "step" else (rows[:, 1] - rows[0, 1]) / 60
        ys = rows[:, cols.index(metric)]
        if since is not None:
            xs, ys = xs[rows[:, 0] >= since], ys[rows[:, 0] >= since]
        if len(rows) > points:
            f = -(-len(rows) // points)
            n = len(rows) // f * f
            xs, ys = xs[:n].reshape(-1, f)[:, -1], np.nanmean(ys[:n].reshape(-1, f), axis=1)
        return xs.tolist(), ys.tolist()
    config, _ = RunDir(run_dir).read_config()
    events = [*Ancestry(run_dir, config).events(), *read_events(RunDir(run_dir).events)[0]]
    t0 = float(rows[0, 1]) if cols and len(rows) else \
        next((e["t"] for e in events if e["kind"] == "metrics"), events[0]["t"] if events else 0)
    pts = [(e["step"] if x == "step" else (e["t"] - t0) / 60, e[metric]) for e in figure_sources.series(events, metric)
           if isinstance(e.get(metric), (int, float)) and e["step"] >= (since or 0)]
    return [p[0] for p in pts], [p[1] for p in pts]


def drawn_from(run_dirs: list[Path], configs: list[dict]) -> list[int | None]:
    """Where each run's curves begin when drawn with the others: a fork whose parent (or an
    older ancestor) is among them, at the step it left the nearest such one (the stretch before
    is that ancestor's, drawn once, by it: the fork branches off its line); any other run, None
    (its whole history, a fork's inherited stretch included: genlab/run/lineage.py)."""
    names = {Path(p).name for p in run_dirs}
    out = []
    for run_dir, config in zip(run_dirs, configs):
        shared = [a.upto for a in Ancestry(Path(run_dir), config or {}).ancestors if a.path.name in names]
        out.append(shared[-1] if shared else None)
    return out


def from_step(xs, ys, start: int | None) -> tuple[list, list]:
    """The points of a curve (``xs`` in steps) from ``start`` on, led by one at ``start`` with
    the value just before it, so that the curve leaves its parent's line there (all of them
    where ``start`` is None)."""
    xs, ys = list(xs), list(ys)
    if start is None:
        return xs, ys
    first = next((i for i, x in enumerate(xs) if x >= start), len(xs))
    if first == 0:
        return xs, ys
    lead = [] if first < len(xs) and xs[first] == start else [start]
    return lead + xs[first:], ys[first - 1:first] * len(lead) + ys[first:]


def has_metric(run_dir: Path, metric: str) -> bool:
    cols = metrics_log.columns(run_dir) or []
    return metric in cols or view.read(run_dir).metric(metric) is not None


def shared_metrics(views: list[view.View]) -> list[tuple[str, bool]]:
    """The metrics every run's view draws in a pane, as (name, held_out): training metrics
    first, then held-out ones, in the first view's order."""
    def drawn(v: view.View, held_out: bool) -> list[str]:
        return [m for p in v.panes for m in (p.held_out if held_out else p.train)]

    out = []
    for held_out in (False, True):
        names = list(dict.fromkeys(drawn(views[0], held_out))) if views else []
        out += [(m, held_out) for m in names if all(m in drawn(v, held_out) for v in views[1:])]
    return out


def differences(configs: list[dict]) -> list[str]:
    """What differs in each configuration from the others: ``lr=0.001 width=16`` ("" when
    nothing does; a key a run's model does not have is left out)."""
    keys = differing(configs)
    flats = [described(c) for c in configs]
    return [" ".join(f"{k}={fmt(f[k])}" for k in keys if f.get(k) is not None) for f in flats]


def labels(configs: list[dict], run_ids: list[str]) -> list[Label]:
    """Each run's label (genlab/run/labels.py): the shortest name that tells it apart (a sweep's
    trial number, else its id), then what differs, and its colour."""
    return label_runs(run_ids, configs, differences(configs))
