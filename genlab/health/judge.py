"""Judging a run's health as its records are read: :class:`Judge`, fed by the follower.

The follower (genlab.run.follow.RunFollower) hands the judge each batch of metric rows and each
evaluation as it reads them; the judge keeps only what its model's rules need (the newest rows of
the metrics they name, every check's held-out figures, each figure from the checks it is read
from: genlab/run/figure_sources.py) and judges the rules at fixed points of the run: every
:data:`JUDGE_EVERY` steps and at each evaluation or quality check, once the training rows have
reached its step. So a run read live, poll after poll, and the same run read
whole afterwards (`genlab show`, ``judge_run``) are judged at the same steps, the same way.

The verdict is the worst rule that holds (``bad`` before ``warn``; then the first declared); else
``young`` while the run has fewer steps or checks than its view's ``judged_after_steps`` and
``judged_after_checks`` (rules marked ``any_age``, an explosion, are judged all along); else
``healthy``. When the verdict changes, a ``health`` event ends the old one and starts the new one
(only verdicts that say something is wrong start and end). Torch-free.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np

from genlab.health.rules import SEVERITIES, Cond, Rule
from genlab.health.verdict import Verdict
from genlab.run import figure_sources
from genlab.run.rundir import RunDir
from genlab.view import View

# how runs are judged, as a number: raised when a condition's reading changes (2: a swing is a move of
# a quarter of its range; 3: a spike stands out of the metric's spread too; 4: a held-out figure is read
# from the quality checks once they carry it, genlab/run/figure_sources.py), so verdicts kept from
# before (genlab/run/row_cache.py) are judged again
JUDGING = 4
JUDGE_EVERY = 100  # training steps between judgements (and after each check)
KEEP_ROWS = 4096  # the newest rows kept of each metric a rule names: windows are at most this long
AGAINST_STEPS = 200  # a training metric beside a check: its mean over this many steps before it
EVIDENCE_STEPS = 100  # a training metric in the evidence: its mean over this many newest steps
# a first read of more rows than this (a long run opened when it is far along) judges its newest
# this many rows, not every tick of its past: opening a million-step run stays quick (bench/cockpit.py),
# and its verdict now is the same; its health events start there (its evaluations are all counted)
LONG_READ = 20_000


def rule_metrics(cond: Cond) -> set[str]:
    """Every metric a condition names."""
    return {cond.metric, cond.against, *(m for c in cond.of for m in rule_metrics(c))} - {""}


class Rows:
    """The newest :data:`KEEP_ROWS` (step, value) rows of one training metric."""

    def __init__(self):
        self.steps = np.empty(0, np.int64)
        self.values = np.empty(0)

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        self.steps = np.concatenate([self.steps, steps])[-KEEP_ROWS:]
        self.values = np.concatenate([self.values, values])[-KEEP_ROWS:]

    def between(self, after: float, upto: float) -> np.ndarray:
        """The values of the rows with ``after < step <= upto``."""
        lo = np.searchsorted(self.steps, after, side="right")
        hi = np.searchsorted(self.steps, upto, side="right")
        return self.values[lo:hi]


class Judge:
    """The health of one run, judged incrementally (see the module's docstring)."""

    def __init__(self, view: View, config: dict | None = None, run_id: str = ""):
        self.view, self.rules = view, tuple(view.health)
        config = config or {}
        lr = config.get("lr")
        self.fill = {"run": run_id or config.get("run_id", "RUN"), "model": config.get("model", "MODEL"),
                     "lr": f"{lr:g}" if isinstance(lr, (int, float)) else "LR",
                     "lr_half": f"{lr / 2:g}" if isinstance(lr, (int, float)) else "LR",
                     "lr_tenth": f"{lr / 10:g}" if isinstance(lr, (int, float)) else "LR"}
        self.names = set().union(*(rule_metrics(r.when) for r in self.rules), *(r.evidence for r in self.rules))
        self.rows: dict[str, Rows] = {}
        self.checks: dict[str, list[tuple[int, float]]] = {}  # held-out figure -> (step, value) of each check
        self.sources = figure_sources.Sources()  # which checks each figure is read from (genlab/run/figure_sources.py)
        self.trained: dict[str, list[tuple[int, float]]] = {}  # training metric -> (step, mean before) at each check
        self.against = {c.against for r in self.rules for c in _walk(r.when) if c.against}
        self.n_checks = 0
        self.pending: deque[dict] = deque()  # evaluations waiting for the training rows to reach their step
        self.step: int | None = None  # the newest training row's step
        self.t: float | None = None
        self.next_tick: int | None = None
        self.judged_at: int | None = None  # the step of the newest judgement
        self.verdict: Verdict | None = None
        self.events: list[dict] = []  # health events not yet taken (:meth:`take_events`)

    # ------------------------------------------------------------------ feeding

    def feed_event(self, e: dict) -> None:
        """An event of the run: evaluations and quality checks are kept (the others say nothing here)."""
        if e.get("kind") != "eval" or not self.rules:
            return
        self.pending.append(e)
        if self.step is not None and int(e.get("step", 0)) <= self.step:
            # written after the rows past its step (a live run's slow quality check): it counts from
            # the next judgement on (a run read whole counts it at its own step)
            self._apply_pending(self.step)

    def feed_rows(self, steps, times, columns: dict) -> None:
        """Training rows in step order: ``columns`` maps a metric name to its values (one per step)."""
        if not self.rules or not len(steps):
            return
        start = -LONG_READ if self.step is None and len(steps) > LONG_READ else 0  # a long history: its newest rows
        steps = np.asarray(steps[start:], np.int64)
        times = np.asarray(times[start:], np.float64)
        wanted = {k: np.asarray(v[start:], np.float64) for k, v in columns.items() if k in self.names}
        if self.next_tick is None:
            self.next_tick = (int(steps[0]) // JUDGE_EVERY + 1) * JUDGE_EVERY
        i, n = 0, len(steps)
        while i < n:
            stop = self.next_tick
            if self.pending:
                stop = min(stop, int(self.pending[0].get("step", 0)))
            j = int(np.searchsorted(steps, stop, side="right"))
            j = max(j, i)
            if j > i:
                for k, v in wanted.items():
                    self.rows.setdefault(k, Rows()).extend(steps[i:j], v[i:j])
                self.step, self.t = int(steps[j - 1]), float(times[j - 1])
            if j == n and self.step < stop:
                break  # not there yet
            if self.next_tick <= stop:
                self.next_tick = (max(stop, self.step) // JUDGE_EVERY + 1) * JUDGE_EVERY
            if j == i and (self.step is None or not (self.pending and int(self.pending[0].get("step", 0)) <= stop)):
                # the rows jump past ticks with nothing between: no judgement at an empty tick (and
                # evaluations from before the rows read, a long history's, are counted, not judged)
                self._apply_pending(stop)
                self.next_tick = max(self.next_tick, (int(steps[i]) // JUDGE_EVERY) * JUDGE_EVERY)
                continue
            self._apply_pending(stop)
            self._judge(stop)
            i = j

    def settle(self) -> None:
        """The run is over: its evaluations after its last row count, and it is judged at its end."""
        if not self.rules or self.step is None and not self.pending:
            return
        end = max([self.step or 0, *(int(e.get("step", 0)) for e in self.pending)])
        self._apply_pending(end)
        if self.judged_at != end:
            self._judge(end)
        if self.verdict is not None and self.verdict.name == "young":  # it ended before it could be judged
            self.verdict = replace(self.verdict, title=f"too short to judge ({self.when_judged()})", label="too short")

    def take_events(self) -> list[dict]:
        """The health events since the last call."""
        out, self.events = self.events, []
        return out

    def _apply_pending(self, upto: int) -> None:
        while self.pending and int(self.pending[0].get("step", 0)) <= upto:
            e = self.pending.popleft()
            step = int(e.get("step", 0))
            self.n_checks += 1
            self.sources.take(e, self.checks, self.names.__contains__)
            for k in self.against:
                rows = self.rows.get(k)
                if rows is not None:
                    before = rows.between(step - AGAINST_STEPS, step)
                    before = before[np.isfinite(before)]  # (NaN: not in that row)
                    if len(before):
                        self.trained.setdefault(k, []).append((step, float(before.mean())))

    # ------------------------------------------------------------------ judging

    def young(self, step: int) -> bool:
        return step < self.view.judged_after_steps or self.n_checks < self.view.judged_after_checks

    def _judge(self, at: int) -> None:
        young = self.young(at)
        fired = [(i, r) for i, r in enumerate(self.rules) if (r.any_age or not young) and self.holds(r.when, at)]
        if fired:
            _, rule = min(fired, key=lambda p: (-SEVERITIES.index(p[1].severity), p[0]))
            same = self.verdict is not None and self.verdict.name == rule.name
            new = Verdict(rule.name, rule.title, rule.severity, rule.explains, self.evidence(rule, at),
                          self.verdict.since_step if same else at, tuple(self.cure(c) for c in rule.cures),
                          rule=rule.when.text(lambda metric: metric in self.checks))
        elif young:
            new = Verdict("young", f"too young: {self.when_judged()}", "young",
                          "too few steps or quality checks yet to tell how it trains", label="young")
        else:
            new = Verdict("healthy", "healthy", "ok", "none of its model's signs of trouble shows: "
                          + ", ".join(dict.fromkeys(r.title for r in self.rules)))
        old, self.verdict, self.judged_at = self.verdict, new, at
        if old is not None and old.name == new.name:
            return
        if old is not None and old.severity in ("warn", "bad"):
            self.events.append(self._event(old, at, "end"))
        if new.severity in ("warn", "bad"):
            self.events.append(self._event(new, at, "start"))

    def when_judged(self) -> str:
        """'judged from step 500 and 2 quality checks'."""
        parts = []
        if self.view.judged_after_steps:
            parts.append(f"step {self.view.judged_after_steps:,}")
        if self.view.judged_after_checks:
            n = self.view.judged_after_checks
            parts.append(f"{n} quality check{'s' if n != 1 else ''}")
        return "judged from " + " and ".join(parts) if parts else "judged from its first step"

    def _event(self, v: Verdict, at: int, edge: str) -> dict:
        return {"kind": "health", "step": at, "t": self.t if self.t is not None else 0.0, "verdict": v.name,
                "title": v.title, "severity": v.severity, "evidence": v.evidence, "event": edge}

    def cure(self, text: str) -> str:
        try:
            return text.format(**self.fill)
        except (KeyError, IndexError, ValueError):
            return text

    def evidence(self, rule: Rule, at: int) -> str:
        """The rule's evidence metrics as its view prints them: 'grad_norm_G 0.002, d_real 0.99'."""
        shown, peaks = [], {c.metric for c in _walk(rule.when) if c.kind == "spike"}
        for name in rule.evidence:
            value = self.peak(name, at) if name in peaks else self.latest(name, at)
            if value is None:
                continue
            metric = self.view.metric(name)
            label = (metric.label or name) if metric else name
            text = metric.format(value) if metric and math.isfinite(value) else format(value, ".4g")
            shown.append(f"{label} {text}")
        return ", ".join(shown)

    def peak(self, name: str, at: int) -> float | None:
        """A training metric's highest value since the judgement before (a spike's height)."""
        rows = self.rows.get(name)
        since = self.judged_at if self.judged_at is not None else at - JUDGE_EVERY
        recent = rows.between(since, at) if rows is not None else ()
        recent = recent[~np.isnan(recent)]
        if not len(recent):
            return self.latest(name, at)
        return float(recent.max())

    def latest(self, name: str, at: int) -> float | None:
        if name in self.checks:
            return self.checks[name][-1][1]
        rows = self.rows.get(name)
        if rows is None:
            return None
        recent = rows.between(at - EVIDENCE_STEPS, at)
        recent = recent[~np.isnan(recent)]
        return float(recent.mean()) if len(recent) else None

    def holds(self, c: Cond, at: int) -> bool:
        """Whether the condition holds at step ``at``; False for a metric the run has not recorded."""
        if c.kind == "all":
            return bool(c.of) and all(self.holds(x, at) for x in c.of)
        if c.kind == "any":
            return any(self.holds(x, at) for x in c.of)
        if c.metric in self.checks:
            return self._holds_held_out(c, [v for _, v in self.checks[c.metric][-(c.over + 1):]])
        rows = self.rows.get(c.metric)
        return rows is not None and self._holds_training(c, rows, at)

    def _holds_held_out(self, c: Cond, values: list[float]) -> bool:
        if c.kind in ("below", "above"):
            last = values[-c.over:]
            return len(last) >= c.over and all(v < c.value if c.kind == "below" else v > c.value for v in last)
        window = values[-(c.over + 1):]
        if len(window) < c.over + 1:
            return False
        if c.kind == "rising":
            low = int(np.argmin(window))
            if low == len(window) - 1 or not window[-1] > window[low] + c.value * abs(window[low]):
                return False
            if not c.against:
                return True
            steps = [s for s, _ in self.checks[c.metric][-(c.over + 1):]]
            then, now = self._trained_at(c.against, steps[low]), self._trained_at(c.against, steps[-1])
            return then is not None and now is not None and now < then
        if c.kind == "falling":
            high = int(np.argmax(window))
            return high != len(window) - 1 and window[-1] < window[high] - c.value * abs(window[high])
        if c.kind == "flat":
            mean = float(np.mean(window))
            return all(abs(v - mean) <= c.value * abs(mean) for v in window)
        return False

    def _trained_at(self, metric: str, step: int) -> float | None:
        points = self.trained.get(metric) or []
        i = bisect.bisect_right(points, (step, math.inf)) - 1
        return points[i][1] if i >= 0 and points[i][0] == step else None

    def _holds_training(self, c: Cond, rows: Rows, at: int) -> bool:
        if c.kind in ("below", "above"):
            window = rows.between(at - c.over, at)
            window = window[~np.isnan(window)]
            if not len(window) or np.isinf(window).any():
                return False
            mean = float(window.mean())
            return mean < c.value if c.kind == "below" else mean > c.value
        if c.kind == "spike":
            since = self.judged_at if self.judged_at is not None else at - JUDGE_EVERY
            recent, before = rows.between(since, at), rows.between(since - c.over, since)
            recent, before = recent[~np.isnan(recent)], before[np.isfinite(before)]  # (NaN: not in that row)
            if not len(recent) or len(before) < 10 or rows.steps[0] > since - 0.9 * c.over:
                return False  # (too little history to have a median: a young run's norms grow from init)
            if np.isinf(recent).any():
                return True  # a loss or a norm gone to infinity
            # above ``value`` times the median, and out of the metric's own spread by as many times
            # its interquartile range: a loss that hovers near 0 (a hinge G loss, -E D(G(z)), median
            # 0.13 with batches from -0.7 to 1.7) has ordinary batches far above 6x its median
            median, (q1, q3) = float(np.median(before)), np.percentile(before, [25, 75])
            top = float(recent.max())
            return median > 0 and top > c.value * median and top - median > c.value * float(q3 - q1)
        if c.kind == "swings":
            window = rows.between(at - c.over, at)
            window = window[~np.isnan(window)]
            if len(window) < 20 or np.isinf(window).any() or rows.steps[0] > at - 0.9 * c.over:
                return False
            starts = np.arange(10) * len(window) // 10
            means = np.add.reduceat(window, starts) / np.diff(np.r_[starts, len(window)])
            span = float(means.max() - means.min())
            if span <= c.value:
                return False
            # a swing is a move of at least a quarter of the range, and it swings when the moves turn
            # back twice: a loss settling downwards with noise (a clustered dcgan's d_loss from 2.95 to
            # 2.14 over steps 1,000-3,000) turns back only by small moves, each under a quarter of its range
            moves = np.diff(means)
            moves = moves[np.abs(moves) > span / 4]
            return int((np.sign(moves[1:]) != np.sign(moves[:-1])).sum()) >= 2
        return False


def health_judge(run_dir: Path, config: dict, known=None) -> Judge | bool:
    """A judge of the run by the rules its view.json declares, or (where it has none: a run made
    before verdicts existed) by ``known(run_dir)``'s, the CLI's view of its model; False for a run
    with no rules to judge it by."""
    try:
        shows = View.from_json(json.loads(RunDir(run_dir).view.read_text()))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        shows = None
    if (shows is None or not shows.health) and known is not None:
        shows = known(run_dir) or shows
    if shows is None or not shows.health:
        return False
    return Judge(shows, config, run_dir.name)


def _walk(cond: Cond):
    yield cond
    for c in cond.of:
        yield from _walk(c)
