"""Seed groups: runs that differ only in their seed, read as one configuration with a spread.

A seed says how lucky a run was, not what it was: runs of the same configuration under several
seeds are one **group**, shown as their mean and its spread (``genlab compare``, the compare
screen, a sweep run with ``--seeds``). W&B and Aim group runs the same way.

Two runs are in one group when everything that may tell runs apart (genlab.run.compare.described:
the model, preset, batch size, learning rate, every hyperparameter, the data, the length, the
cadences of measurement, mixed precision and the number of processes) is the same, except what
is **incidental**, :data:`INCIDENTAL`: the seed, the device, ``--compile`` and the genlab and
torch versions (they change the digits a run draws, not what it is). A run's name, tags, note,
sweep and timestamps are not in its description at all: incidental too.

The spread of a figure over a group (:class:`Spread`) is its mean, its sample standard deviation
(0 for one run) and its minimum and maximum. A group's curve (:func:`band`) is the mean of its
runs' curves with a **min–max band** around it: the band is the lowest and highest run at each
step, read the same in ``genlab compare --plot`` and the cockpit. No torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np

from genlab.run.labels import Label

INCIDENTAL = ("seed", "device", "compile", "genlab", "torch")


def identity(config: dict) -> dict:
    """What makes a run's configuration what it is: its description less :data:`INCIDENTAL`,
    and where it was forked from (a fork with no changes is a branch of its parent, not a seed)."""
    from genlab.run.compare import described

    return {**{k: v for k, v in described(config).items() if k not in INCIDENTAL},
            "forked_from": config.get("forked_from")}


def grouped(configs: list[dict]) -> list[list[int]]:
    """The indices of ``configs`` in groups of those that differ only in what is incidental, and
    in their seed: each group in the order its first run comes, its runs in theirs. Runs alike in
    everything, their seed too, are no seed group (nothing tells their luck apart): each is a
    group of its own."""
    groups: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(repr(sorted(identity(config).items(), key=lambda kv: kv[0])), []).append(i)
    out = []
    for group in groups.values():
        seeds = [repr(configs[i].get("seed")) for i in group]
        out += [group] if len(set(seeds)) == len(seeds) else [[i] for i in group]
    return sorted(out, key=lambda g: g[0])


@dataclass(frozen=True)
class Spread:
    """One figure over a group's runs: how many had it, their mean, sample standard deviation
    (0 for one), minimum and maximum."""

    n: int
    mean: float
    std: float
    low: float
    high: float

    @classmethod
    def of(cls, values) -> Spread | None:
        """The spread of the finite ``values`` (None when there are none)."""
        kept = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if not kept:
            return None
        a = np.asarray(kept)
        return cls(len(kept), float(a.mean()), float(a.std(ddof=1)) if len(kept) > 1 else 0.0,
                   float(a.min()), float(a.max()))

    def text(self, fmt=lambda v: format(v, ".4g")) -> str:
        """``23.1 ± 0.42 (22.8–23.6)``: the mean ± std (min–max); the value alone for one run
        (or runs that all had it)."""
        if self.n < 2 or self.low == self.high:
            return fmt(self.mean)
        return f"{fmt(self.mean)} ± {fmt(self.std)} ({fmt(self.low)}–{fmt(self.high)})"

    def to_json(self) -> dict:
        return {"n": self.n, "mean": self.mean, "std": self.std, "min": self.low, "max": self.high}


@dataclass
class SeedGroup:
    """Runs of one configuration (their summaries, genlab.run.summary, in the comparison's order)
    and their spreads: the quality figure, the training key metric, each quality check's figure
    and the speed, at their newest."""

    runs: list
    label: Label | None = None  # the group's own (genlab/run/labels.py): its name, what differs, its colour
    figure: Spread | None = None
    key: Spread | None = None
    quality: dict = field(default_factory=dict)  # name -> Spread
    images_per_s: Spread | None = None

    @classmethod
    def of(cls, runs: list, label: Label | None = None) -> SeedGroup:
        names = list(dict.fromkeys(k for r in runs for k in r.quality))
        return cls(runs, label, Spread.of(r.figure_latest for r in runs), Spread.of(r.key_latest for r in runs),
                   {k: s for k in names if (s := Spread.of(r.quality.get(k) for r in runs)) is not None},
                   Spread.of(r.images_per_s for r in runs))

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> list:
        return [r.config.get("seed") for r in self.runs]

    def to_json(self) -> dict:
        def spread(s: Spread | None):
            return s.to_json() if s is not None else None

        first = self.runs[0]
        return {"name": self.label.text if self.label else first.run_id, "n": self.n, "seeds": self.seeds,
                "runs": [r.run_id for r in self.runs],
                "ranked_by": {"name": first.figure, "lower_is_better": first.lower_is_better,
                              **(spread(self.figure) or {"mean": None})},
                "key_metric": {"name": first.key, **(spread(self.key) or {"mean": None})},
                "quality": {k: spread(s) for k, s in self.quality.items()},
                "images_per_s": spread(self.images_per_s)}


class Grouped:
    """A group ranked and shown as one run is (a mix-in over genlab.run.summary.Summary, or the
    cockpit's Compared): its figures are the group's means, its texts say the spread and how many
    seeds (``test_fld 23.1 ± 0.42 (22.8–23.6) · 3 seeds``), a group of one as a run's do; ``group``
    is its :class:`SeedGroup`."""

    group: SeedGroup

    def figure_text(self) -> str:
        if self.group.figure is None or self.group.n < 2:
            return super().figure_text()
        return f"{self.figure} {self.group.figure.text(lambda v: self.formatted(self.figure, v))} · {self.group.n} seeds"

    def key_text(self) -> str:
        if self.group.key is None or self.group.n < 2:
            return super().key_text()
        return f"{self.key} {self.group.key.text(lambda v: self.formatted(self.key, v))}"


def as_row(group: SeedGroup, cls):
    """The group as one row of class ``cls`` (a subclass of :class:`Grouped` and of a Summary):
    its first run's summary with the group's means in place of that run's figures, and its label."""
    first = group.runs[0]
    values = {f.name: getattr(first, f.name) for f in fields(cls) if hasattr(first, f.name)}
    row = cls(**values)
    row.group = group
    if group.figure is not None:
        row.figure_latest = group.figure.mean
    if group.key is not None:
        row.key_latest = group.key.mean
    for name in ("figure_best", "key_best"):  # (the mean of the runs' bests)
        best = Spread.of(getattr(r, name) for r in group.runs)
        setattr(row, name, best.mean if best is not None else None)
    row.quality = {k: s.mean for k, s in group.quality.items()}
    row.images_per_s = group.images_per_s.mean if group.images_per_s is not None else None
    row.label = group.label.text if group.label else first.label
    return row


def group_labels(configs: list[dict], run_ids: list[str], groups: list[list[int]]) -> list[Label]:
    """Each group's label: its first run's name (a sweep's trial number, or its short id) with
    ``×3`` for three seeds, then what differs between the groups (never the seed): ``gan-a ×3
    lr=0.001``; colours in group order."""
    from genlab.run.compare import labels

    firsts = [g[0] for g in groups]
    plain = [{k: v for k, v in configs[i].items() if k not in INCIDENTAL} for i in firsts]
    named = labels(plain, [run_ids[i] for i in firsts])
    return [replace(n, name=f"{n.name} ×{len(g)}") if len(g) > 1 else n for n, g in zip(named, groups)]


# --------------------------------------------------------------------------- curves


@dataclass
class Band:
    """A group's curve: the mean of its runs' at each x, and the lowest and highest of them."""

    x: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]


def band(curves: list[tuple[list, list]]) -> Band:
    """The mean and min–max band of several runs' curves ((xs, ys) each, xs rising): on the x of
    the curve that reaches furthest, each run's value at that x read off its own line (linear
    between its points), counted only where the run has reached it; non-finite values left out.
    One curve: itself, its band of no width."""
    kept = []
    for xs, ys in curves:
        a, b = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.any():
            kept.append((a[ok], b[ok]))
    if not kept:
        return Band([], [], [], [])
    grid = max(kept, key=lambda c: (c[0][-1], len(c[0])))[0]
    rows = np.full((len(kept), len(grid)), np.nan)
    for i, (a, b) in enumerate(kept):
        inside = (grid >= a[0]) & (grid <= a[-1])
        rows[i, inside] = np.interp(grid[inside], a, b)
    have = ~np.isnan(rows).all(axis=0)
    grid, rows = grid[have], rows[:, have]
    return Band(grid.tolist(), np.nanmean(rows, axis=0).tolist(), np.nanmin(rows, axis=0).tolist(),
                np.nanmax(rows, axis=0).tolist())
