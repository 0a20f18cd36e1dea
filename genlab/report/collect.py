"""What a report says, as plain data: read from the run directories (and a sweep's), no drawing.

A :class:`Report` is a set of runs as they are at the moment it is read: for each run
(:class:`RunPart`) what it is (its model, what differs from the others, its data, machine and
versions), its curves (the panes its view declares, as :class:`Series`), a few of its sample
grids, its newest class histogram and quality figures with how they were measured, and its health
verdict; for several runs their comparison (genlab.run.compare); for a sweep its report
(genlab.run.sweep_report: importance, history). A run still training is ``live``.

Every run is named and coloured by its label among the others (genlab/run/labels.py), as the
cockpit's compare screen names and colours it. No torch, no matplotlib: genlab/report/figures.py
draws this, genlab/report/html.py and markdown.py write it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from genlab import view as views
from genlab.health.verdict import spans as verdict_spans
from genlab.run import compare as cmp
from genlab.run import summary as summaries
from genlab.run.files import read_json
from genlab.run.rundir import RunDir, step_of
from genlab.run.state import RunState
from genlab.run.store import read_grid

GRIDS = 4  # sample grids shown a run: the oldest, the newest and evenly between
LEGEND = 24  # characters of a run's name in a figure's legend
LIVE = (RunState.STARTING, RunState.RUNNING, RunState.PAUSED, RunState.STALLED)  # a run not ended: shown as it is now


@dataclass
class Series:
    """One run's curve of one metric: training rows (a line) or held-out checks (points)."""

    metric: str
    xs: list
    ys: list
    held_out: bool = False


@dataclass
class Pane:
    """A figure: the curves a view's pane draws, of every run that has them. ``unit``: the
    metrics' unit ("%" for shares, drawn as percentages)."""

    title: str
    unit: str
    curves: dict = field(default_factory=dict)  # run id -> [Series]


@dataclass
class RunPart:
    """One run in the report (module docstring)."""

    run_id: str
    name: str  # its label's name among the runs reported (``#3``, its id)
    differs: str  # what differs in its configuration from the others' ("" for none or one run)
    colour: tuple  # RGB, its colour on every figure (its label's: the cockpit's)
    short: str  # its name and as much of what differs as a legend has room for (``#0 model=wgan-gp…``)
    summary: summaries.Summary
    live: bool  # still training (or paused, stalled): reported as it is at ``Report.made``
    facts: list = field(default_factory=list)  # (what, said): model, hyperparameters, data, machine, versions...
    grids: list = field(default_factory=list)  # (step, N×28×28 uint8)
    class_hist: list | None = None  # the newest quality check's share of each digit
    class_hist_title: str = ""
    quality: list = field(default_factory=list)  # (metric, value as its view prints it, what it means)
    measured: str = ""  # how the newest quality check measured them
    health: object = None  # genlab.health.Verdict, or None where the model has no rules
    health_history: list = field(default_factory=list)  # "D winning at steps 1,200-1,700", ...

    @property
    def state(self) -> str:
        return str(self.summary.state)


@dataclass
class Report:
    made: float  # when it was read (a live run is as it was then)
    runs: list  # RunPart, in the order given
    panes: list  # Pane
    comparison: object = None  # genlab.run.compare.SideBySide for several runs
    sweep: dict | None = None  # genlab.run.sweep_report.report's, for --sweep
    sweep_id: str = ""
    lesson: str = ""  # a recipe's sweep: what its trials taught, in words ("lesson: ...")

    @property
    def title(self) -> str:
        if self.sweep_id:
            return f"genlab report: sweep {self.sweep_id}"
        if len(self.runs) == 1:
            return f"genlab report: {self.runs[0].run_id}"
        return f"genlab report: {len(self.runs)} runs"


def collect(run_dirs: list[Path], sweep_dir: Path | None = None, root: Path | None = None, known=None,
            lesson=None, now: float | None = None) -> Report:
    """The report of these runs (and of ``sweep_dir``, a sweep of ``root``). ``known``: as
    genlab.view.read's (the CLI passes its models' views, for runs made before views);
    ``lesson(summaries)``: a recipe's lesson in words, from the runs' summaries."""
    made = time.time() if now is None else now
    configs = [RunDir(p).read_config()[0] for p in run_dirs]
    labels = cmp.labels(configs, [p.name for p in run_dirs])
    runs = [run_part(p, label, known) for p, label in zip(run_dirs, labels)]
    comparison = cmp.compare(run_dirs) if len(run_dirs) > 1 else None
    swept = None
    if sweep_dir is not None and root is not None:
        from genlab.run.sweep_report import report as sweep_report

        swept = sweep_report(root, sweep_dir)
    said = lesson([p.summary for p in runs]) if lesson is not None else ""
    return Report(made, runs, panes(runs), comparison, swept, sweep_dir.name if sweep_dir is not None else "", said)


def run_part(run_dir: Path, label, known=None) -> RunPart:
    from genlab.health import judged

    s = summaries.summarise(run_dir, known=known)
    part = RunPart(s.run_id, label.name, label.differs, label.colour, label.fit(LEGEND), s, RunState.of(s.state) in LIVE)
    part.facts = facts(s.config, s, read_json(RunDir(run_dir).status) or {})
    part.grids = grids(run_dir)
    _quality(part, s)
    verdict, events = judged(run_dir, known)
    part.health, part.health_history = verdict, verdict_spans(events)
    return part


def facts(config: dict, s: summaries.Summary, status: dict) -> list[tuple[str, str]]:
    """What a run is, a line each: model, hyperparameters, length, data, machine, versions."""
    hp = {**(config.get("hp") or {}), "batch_size": config.get("batch_size"), "lr": config.get("lr")}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    versions = config.get("versions") if isinstance(config.get("versions"), dict) else {}
    out = [("model", f"{config.get('model')} ({config.get('family')})" + (f", preset {config['preset']}"
                                                                        if config.get("preset") else "")),
           ("hyperparameters", ", ".join(f"{k}={cmp.fmt(v)}" for k, v in hp.items())),
           ("seed", str(config.get("seed"))),
           ("length", length(config)),
           ("state", f"{s.state}, step {s.step:,} of {s.total:,}" + (f", {s.wall_s / 60:.1f} min of training"
                                                                      if s.wall_s else "")
            + (f", {s.images_per_s:,.0f} images/s" if s.images_per_s else ""))]
    if data:
        said = f"{data.get('source')}" + (f" ({data['location']})" if data.get("location") else "")
        if isinstance(data.get("train"), int) and isinstance(data.get("test"), int):
            said += f": {data['train']:,} training and {data['test']:,} test digits"
        excluded = data.get("excluded") or config.get("exclude_digits")
        if excluded:
            said += f", digits {', '.join(map(str, excluded))} left out of training"
        out.append(("data", said))
    load = s.overload_mark() or (f"load per core {s.load:.1f}×" if s.load is not None else "")
    machine = [f"host {config['host']}" if config.get("host") else "",
               f"device {config['device']}" if config.get("device") else "",
               f"{config['processes']} processes" if (config.get("processes") or 1) > 1 else "", load]
    if any(machine):
        out.append(("machine", ", ".join(m for m in machine if m)))
    if versions:
        out.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    if config.get("created"):
        out.append(("created", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(config["created"]))))
    parent = config.get("forked_from")  # a fork (genlab fork): {"run": its parent's id, "step": the fork step}
    if isinstance(parent, dict) and parent.get("run"):
        out.append(("forked from", f"{parent['run']}" + (f" at step {parent['step']:,}"
                                                          if isinstance(parent.get("step"), int) else "")))
    if s.tags or s.note:
        out.append(("tags", " ".join(s.tags) + (f" — {s.note}" if s.note else "")))
    return out


def length(config: dict) -> str:
    parts = [f"{config['epochs']} epochs" if config.get("epochs") else "",
             f"at most {config['max_steps']:,} steps" if config.get("max_steps") else "",
             f"at most {config['max_minutes']:g} minute{'s' * (config['max_minutes'] != 1)}"
             if config.get("max_minutes") else ""]
    return ", ".join(p for p in parts if p) or "-"


def grids(run_dir: Path, count: int = GRIDS) -> list[tuple[int, object]]:
    """Up to ``count`` readable sample grids, oldest to newest, evenly spread (the newest always)."""
    paths = RunDir(run_dir).grids()
    if len(paths) > count:
        last = len(paths) - 1
        paths = [paths[round(i * last / (count - 1))] for i in range(count)]
    out = []
    for path in dict.fromkeys(paths):
        images = read_grid(path)
        if images is not None:
            out.append((step_of(path), images))
    return out


def _quality(part: RunPart, s: summaries.Summary) -> None:
    """The newest quality check's figures, its class histogram and how it was measured."""
    evaluations = summaries.eval_events(s.path)
    checks = [e for e in evaluations if e.get("quality")]
    newest = checks[-1] if checks else (evaluations or [None])[-1]
    figures = s.quality or s.held_out
    part.quality = [(name, s.formatted(name, value), _means(s.view, name)) for name, value in figures.items()]
    part.class_hist = s.class_hist
    part.class_hist_title = "class histogram of generated digits" + (
        " (" + ", ".join(f"{name} {s.formatted(name, figures[name])}" for name in s.view.class_histogram
                         if name in figures) + ")" if s.view.class_histogram else "")
    if newest is None:
        return
    how = f"at step {int(newest.get('step', 0)):,}"
    n = newest.get("n")
    if isinstance(n, int):
        how += f", on {n:,} " + ("generated digits, each judged by genlab's digit classifier "
                                 "(bundled/classifier.pt; 'confident': its top class at 90% or more)"
                                 if s.view.class_histogram or isinstance(newest.get("class_hist"), list)
                                 else "held-out test digits")
    if isinstance(newest.get("k"), int):
        how += f", {newest['k']:,} importance samples a digit"
    if isinstance(newest.get("seconds"), (int, float)):
        how += f", in {newest['seconds']:.1f} s"
    part.measured = how + f"; {s.checks} check{'s' * (s.checks != 1)} in all"


def _means(view: views.View, name: str) -> str:
    metric = view.metric(name)
    return metric.means if metric else ""


def panes(runs: list[RunPart]) -> list[Pane]:
    """The curve panes: the first run's view's panes, then any other run's own, each with the
    curves of every run that has its metrics (training metrics from metrics.bin, held-out ones from
    its evaluations: genlab.run.compare.curve)."""
    from genlab.run import metrics_log

    out: dict[str, Pane] = {}
    for part in runs:
        v = part.summary.view
        columns = set(metrics_log.columns(part.summary.path) or [])
        for p in v.panes:
            units = {(v.metric(m).unit if v.metric(m) else "") for m in (*p.train, *p.held_out)}
            pane = out.setdefault(p.title, Pane(p.title, units.pop() if len(units) == 1 else ""))
            drawn = [Series(m, *cmp.curve(part.summary.path, m), held_out=False) for m in p.train if m in columns]
            drawn += [Series(m, *cmp.curve(part.summary.path, m), held_out=True) for m in p.held_out]
            drawn = [d for d in drawn if d.xs]
            if drawn:
                pane.curves[part.run_id] = drawn
    return [p for p in out.values() if p.curves]
