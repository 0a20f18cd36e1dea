"""A sweep, read for a person: what ``genlab sweep show`` prints (and ``--json`` gives) and what the
cockpit's sweep screen shows, as one dict of plain data (no Optuna, no torch).

- **trials**, ranked by the objective, best first: each trial's ``value`` (what Optuna was told),
  its run's ``newest`` value of the objective and its step (read from the run's record, so a
  running trial has one as soon as its log holds the figure), and ``objective``: the value it is ranked by (Optuna's
  for an ended trial; the newest for one not ended; none for a pruned or failed trial);
- **best**: the best complete trial so far (None before one completes);
- **importance**: which parameters mattered, as the study last computed it
  (genlab/sweep/importance.py, kept in trials.json by the workers and by ``sweep show``);
- **history**: the objective of each complete trial by number, with the best so far;
- **coordinates**: a parallel-coordinates view: one axis a parameter that varies, then the
  objective; each trial with an objective a line of positions in [0, 1] (a grid's values, which
  Optuna takes as categorical, evenly spaced; a range's from its lowest to its highest value, on
  a log scale where it is searched so; the objective with the better end up), and its band (0:
  the best third of the trials, 1: the middle, 2: the worst), which genlab/render/sweep_plots.py
  draws with a colour and a marker of its own;
- **curves** (``curves=True``, for the cockpit): each trial's objective over its steps.
"""

from __future__ import annotations

import math
from pathlib import Path

from genlab.run import metrics_log, summary
from genlab.run.compare import curve
from genlab.run.files import read_json
from genlab.run.rundir import RunDir, SweepDir
from genlab.run.sweeps import FINISHED, read_spec, read_trials
from genlab.run.sweeps import summary as sweep_summary

BANDS = ("best third", "middle third", "worst third")
NOT_YET = {"evaluator": None, "trials": 0, "params": {},
           "says": "not computed yet: genlab sweep show SWEEP computes it once no worker runs the sweep"}


def objective_curve(run_dir: Path, metric: str) -> tuple[list, list]:
    """(steps, values) of ``metric`` in a run's record: a training metric from metrics.bin, a
    held-out one from its evaluations (through the events index)."""
    if metric in (metrics_log.columns(run_dir) or []):
        return curve(run_dir, metric, points=400)
    points = [(int(e.get("step", 0)), float(e[metric])) for e in summary.eval_events(run_dir) if _number(e.get(metric))]
    return [p[0] for p in points], [p[1] for p in points]


def report(root: Path, sweep_dir: Path, curves: bool = False, curve_of=objective_curve) -> dict:
    """The sweep as the module docstring says; ``curve_of(run_dir, metric)``: how a run's
    objective curve is read (the cockpit passes one that keeps what it read)."""
    spec = read_spec(sweep_dir)
    lower = spec.direction == "minimize"
    stored = read_json(SweepDir(sweep_dir).trials)
    trials, drawn = [], {}
    for t in read_trials(sweep_dir):
        run_id = t.get("run_id")
        xs, ys = ([], [])
        if isinstance(run_id, str) and RunDir(root / run_id).config.exists():
            xs, ys = curve_of(root / run_id, spec.objective)
            if curves:
                drawn[run_id] = {"number": t.get("number"), "steps": list(xs), "values": list(ys)}
        newest = ys[-1] if ys and _number(ys[-1]) else None
        value = t.get("value") if _number(t.get("value")) else None
        ended = t.get("state") in FINISHED
        trials.append({**t, "newest": newest, "newest_step": xs[-1] if newest is not None else None,
                       "objective": value if ended else newest})
    ranked = ranked_trials(trials, lower)
    complete = [t for t in ranked if t.get("state") == "complete" and t["objective"] is not None]
    importance = stored.get("importance") if isinstance(stored, dict) else None
    said = {**sweep_summary(sweep_dir), "spec": spec.to_json(), "trials": ranked,
            "best": complete[0] if complete else None,
            "importance": importance if isinstance(importance, dict) else NOT_YET,
            "history": history(ranked, lower), "coordinates": coordinates(spec, ranked, lower)}
    if curves:
        said["curves"] = drawn
    return said


def ranked_trials(trials: list[dict], lower: bool) -> list[dict]:
    """Best first by ``objective`` (as runs are ranked: genlab.run.summary.ranked); trials with
    none after, by number."""
    by_number = sorted(trials, key=lambda t: t.get("number", 0))
    return summary.ranked(by_number, lambda t: ("objective", t.get("objective"), lower))


def history(trials: list[dict], lower: bool) -> list[dict]:
    """Each complete trial by number: its value and the best of those up to it."""
    out, best = [], None
    for t in sorted(trials, key=lambda t: t.get("number", 0)):
        if t.get("state") != "complete" or t.get("objective") is None:
            continue
        value = t["objective"]
        best = value if best is None else (min if lower else max)(best, value)
        out.append({"number": t.get("number"), "value": value, "best": best})
    return out


def coordinates(spec, trials: list[dict], lower: bool) -> dict:
    """The parallel coordinates of the trials that have an objective (module docstring)."""
    shown = [t for t in trials if t.get("objective") is not None]  # (best first)
    axes = []
    for key in [*spec.grid, *spec.search_space(), *spec.ranges]:
        if key in [a["name"] for a in axes]:
            continue
        values = [t.get("params", {}).get(key) for t in shown]
        if len({repr(v) for v in values}) < 2:
            continue  # a parameter every shown trial shares says nothing here
        if key in spec.ranges:
            r = spec.ranges[key]
            numbers = [float(v) for v in values if _number(v)]
            axes.append({"name": key, "kind": "numeric", "log": bool(r.log) and min(numbers) > 0,
                         "low": min(numbers), "high": max(numbers)})
        else:
            choices = list(spec.search_space().get(key) or dict.fromkeys(values))
            if all(_number(c) for c in choices):
                choices = sorted(choices)
            axes.append({"name": key, "kind": "categorical", "values": choices})
    objectives = [t["objective"] for t in shown]
    axes.append({"name": spec.objective, "kind": "objective", "log": False, "better_up": True,
                 "low": min(objectives) if objectives else None, "high": max(objectives) if objectives else None,
                 "lower_is_better": lower})
    lines = []
    for i, t in enumerate(shown):
        params = t.get("params", {})
        positions = [position(a, params.get(a["name"])) for a in axes[:-1]]
        positions.append(position(axes[-1], t["objective"]))
        lines.append({"number": t.get("number"), "run_id": t.get("run_id"), "objective": t["objective"],
                      "positions": positions, "band": min(2, i * 3 // len(shown))})
    return {"axes": axes, "lines": lines, "bands": list(BANDS)}


def position(axis: dict, value) -> float | None:
    """Where ``value`` sits on ``axis``, from 0 (bottom) to 1 (top)."""
    if axis["kind"] == "categorical":
        choices = axis["values"]
        at = next((i for i, c in enumerate(choices) if c == value or repr(c) == repr(value)), None)
        return None if at is None else (0.5 if len(choices) < 2 else at / (len(choices) - 1))
    if not _number(value):
        return None
    low, high, v = axis["low"], axis["high"], float(value)
    if axis.get("log"):
        low, high, v = math.log10(low), math.log10(high), math.log10(v)
    at = 0.5 if high == low else (v - low) / (high - low)
    return 1 - at if axis["kind"] == "objective" and axis["lower_is_better"] else at


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
