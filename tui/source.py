"""Where the cockpit's data comes from and where its commands go: the run directories.

The cockpit never imports a model or holds training state. It reads runs through genlab.run.store
and genlab.run.follow, sends pause/resume/stop through genlab.run.control, and launches or resumes runs
as detached `genlab` processes. A test injects a ``RunsSource`` with its own root and clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from genlab import view
from genlab.health import Verdict
from genlab.models.catalogue import SPECS
from genlab.run import compare, control, seed_groups, summary, sweep_report, tags, vitals
from genlab.run.files import read_json
from genlab.run.follow import RunFollower, RunView
from genlab.run.lineage import ForkPoint, fork_points
from genlab.run.rundir import RunDir
from genlab.run.series import ema
from genlab.run.state import RunState, effective_state
from genlab.run.store import list_runs, read_grid, runs_root
from genlab.run.sweeps import sweep_groups, ungrouped
from tui.messages import Compared, CompareSnapshot, Curve, Overlay, RunSnapshot
from tui.priority import spawner

GENLAB = [sys.executable, "-m", "genlab"]


class RunsSource:
    def __init__(self, runs_dir=None, clock=time.time, capacity: int = 512):
        self.root = runs_root(runs_dir)
        self.clock, self.capacity = clock, capacity
        self.summaries: dict = {}  # run directory -> (events.jsonl's size, its summary without curves)
        self.judged: dict = {}  # run directory -> [events.jsonl's size when read, its follower]: its health
        self.curves: dict = {}  # (run directory, metric) -> (events.jsonl's size, a sweep trial's objective curve)

    # ---- reading
    def rows(self) -> list[dict]:
        """A row a run; a sweep is a row of its own (id ``sweep:<id>``, ``kind`` "sweep", its
        best objective as its metric, its trials' run ids) followed by its trials' rows. Each
        run's row gives its quality figure with its rank (``quality``), as `genlab runs` does."""
        runs = list_runs(self.root)
        groups = sweep_groups(self.root, runs)
        ranked = {s.run_id: s for s in summary.rank([self.summary(r.path) for r in runs])}
        rows = [self.row(r, quality=ranked[r.run_id]) for r in ungrouped(runs, groups)]
        for s, trials in groups.values():
            c, best = s["counts"], s["best"]
            rows.append({
                "id": f"sweep:{s['id']}", "kind": "sweep", "model": s["model"], "state": s["state"],
                "step": c["complete"] + c["pruned"] + c["fail"], "total": s["trials"],
                "metrics": {s["objective"]: best["value"]} if best else {}, "key": s["objective"],
                "created": s["created"], "family": "", "tags": [], "trials": [r.run_id for r in trials],
                "key_lower": s["direction"] != "maximize",
            })
            rows += [self.row(r, s["id"], quality=ranked[r.run_id]) for r in trials]
        return rows

    def summary(self, run_dir: Path) -> summary.Summary:
        """The run's summary without its curves, read again only when its events grew."""
        try:
            size = RunDir(run_dir).events.stat().st_size
        except OSError:
            size = -1
        kept = self.summaries.get(run_dir)
        if kept is None or kept[0] != size:
            self.summaries[run_dir] = kept = (size, summary.summarise(run_dir, curves=False, known=self.known_view))
        return kept[1]

    def health(self, run_dir: Path) -> Verdict | None:
        """The run's training health (genlab.health), as a follower of it judges it: one follower
        a run, read on only when its events grew (the judge reads only what is new)."""
        try:
            size = RunDir(run_dir).events.stat().st_size
        except OSError:
            return None
        kept = self.judged.get(run_dir)
        if kept is None:  # (no curves wanted: the fewest buckets; no events kept but the newest)
            kept = self.judged[run_dir] = [None, RunFollower(run_dir, capacity=2, keep_events=1, clock=self.clock,
                                                             known=self.known_view)]
        if kept[0] != size:
            kept[0] = size
            kept[1].poll()
        return kept[1].view.health

    def row(self, r, sweep_id: str | None = None, quality: summary.Summary | None = None) -> dict:
        state = r.shown_state if r.problem else effective_state(r.status, r.path, now=self.clock())
        if state == RunState.STOPPED and r.shown_state == "pruned":
            state = "pruned"
        shows = view.read(r.path)
        return {
            "id": r.run_id, "model": r.model, "state": state, "step": r.status.get("step", 0),
            "total": r.config.get("total_steps") or 0, "metrics": r.status.get("metrics") or {},
            "budget_s": r.config["max_minutes"] * 60 if isinstance(r.config.get("max_minutes"), (int, float)) else None,
            "elapsed_s": r.status.get("elapsed_s"),
            "created": r.created, "family": r.config.get("family", ""), "key": shows.key,
            "key_lower": getattr(shows.metric(shows.key), "lower_is_better", True) is not False,
            "tags": tags.read(r.path).tags, "sweep": sweep_id, "config": r.config,
            "quality": quality.ranked_text() if quality is not None else "",
            "rank": quality.rank if quality is not None else None,
            "health": self.health(r.path),
        }

    def live_runs(self) -> int:
        """How many runs a process holds now (training, starting or paused)."""
        return sum(RunState.of(effective_state(r.status, r.path, now=self.clock())).live
                   for r in list_runs(self.root) if not r.problem)

    def follower(self, run_id: str) -> RunFollower:
        """A screen's follower: a long run's curves first, its health at the next poll (``owed``)."""
        return RunFollower(self.root / run_id, capacity=self.capacity, clock=self.clock, known=self.known_view,
                           quick_open=True)

    def known_view(self, run_dir: Path) -> view.View | None:
        """The view of the run's model as this genlab declares it (genlab/models/catalogue.py,
        torch-free), for a run recorded before its model declared health rules (genlab/health),
        so that it is judged here as `genlab show` judges it; None for a model not known."""
        model = (read_json(RunDir(run_dir).config) or {}).get("model")
        declared = SPECS.get(model) if isinstance(model, str) else None
        return declared.view if declared else None

    @staticmethod
    def snapshot(follower: RunFollower, max_buckets: int = 200, smooth_alpha: float = 0.05,
                 curves: bool = True) -> RunSnapshot:
        """A copy of the follower's view, with the curves ready to draw: at most
        ``max_buckets`` min/max pairs a curve (about a plot's width in columns). Without
        ``curves``, its ``curves`` is None: the status, events and samples only."""
        v = follower.view
        drawn = None
        if curves:
            drawn = {}
            for name, series in v.series.items():
                x, y = series.envelope(max_buckets)
                mx, my = series.means(max_buckets)
                drawn[name] = Curve(name, x, y, mx, ema(my, smooth_alpha) if my else [])
        live = ("series", "times")  # the follower's own buckets: the curves stand for them
        return RunSnapshot(**{f.name: _copied(getattr(v, f.name)) for f in fields(RunView) if f.name not in live},
                           curves=drawn)

    def grid(self, run_id: str, npy: str) -> np.ndarray | None:
        """A saved sample grid of the run (its path as its samples event gives it), or None."""
        return read_grid(self.root / run_id / npy)

    def sweep(self, sweep_id: str) -> dict:
        """A sweep read for its screen (genlab/run/sweep_report.py, each trial's objective curve
        with it); a trial's curve read again only when its events grew."""
        return sweep_report.report(self.root, self.root / sweep_id, curves=True, curve_of=self.objective_curve)

    def objective_curve(self, run_dir: Path, metric: str) -> tuple[list, list]:
        try:
            size = RunDir(run_dir).events.stat().st_size
        except OSError:
            size = -1
        kept = self.curves.get((run_dir, metric))
        if kept is None or kept[0] != size:
            kept = self.curves[(run_dir, metric)] = (size, sweep_report.objective_curve(run_dir, metric))
        return kept[1]

    # ---- comparing
    def comparison(self, run_ids: list[str], legend_width: int = 0) -> Comparison:
        return Comparison([self.follower(r) for r in run_ids], legend_width)

    # ---- commands
    def send(self, run_id: str, command: str) -> None:
        control.send(self.root / run_id, command)

    def genlab(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``genlab ARGS``, started from the spawner thread: at the cockpit's first priority
        (tui/priority.py), which a run started here inherits."""
        env = {**os.environ, "GENLAB_RUNS_DIR": str(self.root)}
        return spawner().submit(subprocess.run, [*GENLAB, *args], capture_output=True, text=True,
                                timeout=timeout, env=env).result()

    def models(self) -> list[dict]:
        """Every model genlab has, with its defaults, presets and view, as `genlab models --json`
        says (genlab/models/catalogue.py: torch-free, nothing built)."""
        return [declared.to_json() for declared in SPECS.values()]

    def answer(self, *args: str, timeout: float = 300) -> dict:
        """Run ``genlab ARGS --json`` and read the JSON object it answers; RuntimeError with
        genlab's one-line error if it failed (or answered no JSON object)."""
        p = self.genlab(*args, "--json", timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"genlab {args[0]} failed")
        try:
            answer = json.loads(p.stdout)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise RuntimeError(f"genlab {args[0]} answered no JSON object: {p.stdout.strip()[:200]!r}")
        return answer

    def launch(self, model: str, options: list[str]) -> str:
        """Start a detached run; its id, or RuntimeError with genlab's one-line error."""
        return str(self.answer("train", model, "--detach", "--runs-dir", str(self.root), *options)["run"])

    def fork_points(self, run_id: str) -> list[ForkPoint]:
        """The checkpoints the run keeps, oldest first: the steps it can be forked at."""
        return fork_points(self.root / run_id)

    def fork(self, run_id: str, options: list[str]) -> str:
        """Fork a run (`genlab fork RUN OPTIONS --detach`); the new run's id, or RuntimeError with
        genlab's one-line error (a shape-changing hyperparameter, no checkpoint before the step)."""
        return str(self.answer("fork", run_id, "--detach", "--runs-dir", str(self.root), *options)["run"])

    def walks(self, run_id: str, rows: int, steps: int, seed: int = 0) -> tuple[np.ndarray, int | None]:
        """``rows`` latent walks of ``steps`` digits each from the run's newest checkpoint (a
        ``genlab sample --interpolate`` process: the cockpit holds no model), and its step;
        RuntimeError with genlab's one-line error."""
        with tempfile.TemporaryDirectory(prefix="genlab-walks-") as tmp:
            npy = Path(tmp) / "walks.npy"
            saved = self.answer("sample", run_id, "--interpolate", "--rows", str(rows), "--steps", str(steps),
                                "--seed", str(seed), "--out", str(npy), "--runs-dir", str(self.root), timeout=120)
            images = np.load(npy, allow_pickle=False)
        step = saved.get("step")
        return images, int(step) if isinstance(step, int) else None

    def export(self, run_id: str, csv: Path) -> str:
        """The run's metrics to ``csv`` (a `genlab export` process); what it wrote, in genlab's
        words, or RuntimeError with genlab's one-line error."""
        p = self.genlab("export", run_id, "--csv", str(csv), "--runs-dir", str(self.root), timeout=600)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "genlab export failed")
        return p.stdout.strip().splitlines()[-1] if p.stdout.strip() else f"exported {run_id} to {csv}"

    def resume(self, run_id: str) -> str:
        """Resume a run (in place when paused, else a detached process from its checkpoint); what
        happened in words, or RuntimeError with genlab's one-line error."""
        done = self.answer("resume", run_id, "--detach", "--runs-dir", str(self.root))
        how = "" if done.get("in_place") else " in the background"
        return f"run {done['run']} {done['state']}{how} from step {int(done.get('step') or 0):,}"


LEGEND_WIDTH = 30  # characters of a run's label in a legend (an 80-column screen's plot has 38)


class Comparison:
    """Several runs followed at once: their labels (what differs), the metrics they share, and
    snapshots of them all with each shared metric overlaid. Plain data out, as ``snapshot``.

    Runs that differ only in their seed are one group (genlab/run/seed_groups.py): one curve, the
    mean of theirs inside a min–max band, in one colour (their grids and histograms titled in it),
    and one ranking row with the mean ± spread of their figures (:meth:`ranking_rows`). Where no
    two runs are one group, each run is its own group, named and drawn as a run."""

    def __init__(self, followers: list[RunFollower], legend_width: int = 0):
        """``legend_width``: characters of a run's label in a legend (0: LEGEND_WIDTH)."""
        self.followers = followers
        self.views = [view.read(f.path) for f in followers]
        configs = [f.run.read_config()[0] for f in followers]
        ids = [f.path.name for f in followers]
        # each run's label and colour (genlab/run/labels.py), the same on every pane and screen
        self.named = compare.labels(configs, ids)
        # the runs in groups that differ only in their seed; each group's label (a run's own, where none do)
        self.groups = seed_groups.grouped(configs)
        self.seeded = any(len(g) > 1 for g in self.groups)
        if self.seeded:
            self.group_named = seed_groups.group_labels(configs, ids, self.groups)
            colour = {i: label.colour for g, label in zip(self.groups, self.group_named) for i in g}
            self.named = [replace(label, colour=colour[i]) for i, label in enumerate(self.named)]
        else:
            self.groups, self.group_named = [[i] for i in range(len(followers))], list(self.named)
        # the curves' names (a group's), in legends: short (plotext drops a legend wider than its plot) and unique
        self.labels: list[str] = [label.fit(legend_width or LEGEND_WIDTH) for label in self.group_named]
        if len(set(self.labels)) < len(self.labels):
            self.labels = [label.text for label in self.group_named]
        self.colours = {legend: label.colour for legend, label in zip(self.labels, self.group_named)}
        self.full_labels = [label.text for label in self.named]
        self.not_comparable = compare.not_comparable(configs)  # why their figures are not, or ""
        self.differs = compare.differing(configs)  # the configuration keys that differ
        self.metrics: list[tuple[str, bool]] = compare.shared_metrics(self.views)
        # where each run's curves begin: a fork compared with its parent branches off the parent's line
        self.starts: list[int | None] = compare.drawn_from([f.path for f in followers], configs)

    def ranking_rows(self, runs: list[Compared]) -> list[Compared]:
        """The rows of a ranking: the runs (a snapshot's), or where some differ only in their
        seed, a row a group (:class:`GroupCompared`: the means, with the spread in its texts)."""
        if not self.seeded:
            return list(runs)
        return [seed_groups.as_row(seed_groups.SeedGroup.of([runs[i] for i in g], label), GroupCompared)
                for g, label in zip(self.groups, self.group_named)]

    @property
    def owed(self) -> bool:
        """Whether a run's health waits for the next poll (a long run just opened: its curves first)."""
        return any(f.owed is not None for f in self.followers)

    def poll(self) -> bool:
        """Read what the runs appended; True when anything changed."""
        before = [f.view.version for f in self.followers]
        for f in self.followers:
            f.poll()  # never raises: a broken directory says so in its view, the others carry on
        return [f.view.version for f in self.followers] != before

    def vital_signs(self) -> list[str]:
        """The vital signs some run recorded (genlab.run.vitals.FIELDS' order)."""
        have = {k for f in self.followers for k in f.view.vitals}
        return [key for key, _, _ in vitals.FIELDS if key in have]

    def snapshot(self, x: str = "step", max_buckets: int = 200, curves: bool = True,
                 smooth_alpha: float = 0.05, vital_signs: bool = False) -> CompareSnapshot:
        """``vital_signs``: the overlays are the runs' vital signs (CPU, memory, GPU), one curve
        a run, instead of their shared metrics."""
        runs = [self._run(f, v, label) for f, v, label in zip(self.followers, self.views, self.full_labels)]
        overlays = None
        if curves and vital_signs:
            overlays = {}
            for key in self.vital_signs():
                drawn = {}
                for g, label in zip(self.groups, self.labels):
                    members = []
                    for f in (self.followers[i] for i in g):
                        points = f.view.vitals.get(key) or []
                        if points:
                            xs, ys = self._x_of(f, x)([p[0] for p in points]), [p[1] for p in points]
                            members.append(Curve(label, xs, ys, xs, ema(ys, smooth_alpha)))
                    if members:
                        drawn[label] = banded(label, members)
                overlays[key] = Overlay(drawn, {})
        elif curves:
            overlays = {}
            for metric, held_out in self.metrics:
                drawn, evals, eval_bands = {}, {}, {}
                for g, label in zip(self.groups, self.labels):
                    members, points_of = [], []
                    for i in g:
                        f, start = self.followers[i], self.starts[i]
                        to_x = self._x_of(f, x)
                        if held_out:
                            points = [p for p in f.view.evals.get(metric) or [] if start is None or p[0] >= start]
                            points_of.append((to_x([p[0] for p in points]), [p[1] for p in points]))
                            continue
                        series = f.view.series.get(metric)
                        if series is None or not len(series):
                            continue
                        sx, sy = compare.from_step(*series.envelope(max_buckets), start)
                        mx, my = compare.from_step(*series.means(max_buckets), start)
                        members.append(Curve(label, to_x(sx), sy, to_x(mx), ema(my, smooth_alpha) if my else [],
                                             means=(to_x(mx), my) if len(g) > 1 else None))
                    if held_out and len(points_of) == 1:
                        evals[label] = list(zip(*points_of[0]))
                    elif held_out:
                        b = seed_groups.band(points_of)
                        evals[label] = list(zip(b.x, b.mean))
                        eval_bands[label] = (b.x, b.low, b.high)
                    elif members:
                        drawn[label] = banded(label, members)
                overlays[metric] = Overlay(drawn, evals, eval_bands)
        return CompareSnapshot(runs, overlays, x)

    @staticmethod
    def _x_of(f: RunFollower, x: str):
        """Steps to the x axis: themselves, or minutes since the run's first step."""
        times = f.view.times
        if x == "step" or times is None or not len(times):
            return lambda steps: list(steps)
        tx, ty = times.means(None)

        def minutes(steps) -> list[float]:
            if not len(steps):
                return []
            return ((np.interp(np.asarray(steps, dtype=float), tx, ty) - ty[0]) / 60).tolist()

        return minutes

    @staticmethod
    def _run(f: RunFollower, shows, label: str) -> Compared:
        """The run's summary, as `genlab compare` gives it, with its newest samples and the class
        histogram's caption."""
        v = f.view
        captions = []
        for name in shows.class_histogram:
            points, m = v.evals.get(name), shows.metric(name)
            if points and m is not None:
                captions.append(f"{m.label or m.name} {m.format(points[-1][1])}")
        s = summary.of_follower(v, shows, label)
        return Compared(**{**{k.name: getattr(s, k.name) for k in fields(summary.Summary)}, "health": v.health},
                        sample=v.sample, sample_step=v.sample_step, class_captions=" · ".join(captions))


class GroupCompared(seed_groups.Grouped, Compared):
    """A seed group as one row of a comparison's ranking (genlab.run.seed_groups.Grouped)."""


def banded(label: str, members: list[Curve]) -> Curve:
    """One group's curve from its runs' (one run: its own): the mean of their bucket means, and
    of their smoothed lines, each inside its min–max band (genlab.run.seed_groups.band)."""
    if len(members) == 1:
        return members[0]
    raw = seed_groups.band([c.means or (c.x, c.y) for c in members])  # (vital signs: their points)
    smooth = seed_groups.band([(c.smoothed_x, c.smoothed_y) for c in members])
    return Curve(label, raw.x, raw.mean, smooth.x, smooth.mean, band=(raw.low, raw.high),
                 smoothed_band=(smooth.low, smooth.high))


def _copied(value):
    """``value`` as a snapshot keeps it: a dict or list copied (and the lists a dict holds)."""
    if isinstance(value, dict):
        return {k: list(x) if isinstance(x, list) else x for k, x in value.items()}
    return list(value) if isinstance(value, list) else value
