"""Runs side by side: what differs in their configurations, and how each one did.

Read from the run directories only (config.json, status.json, view.json, metrics.bin, the tail of
events.jsonl, tags.json): no torch, so the CLI and the cockpit both use it. A run is named in
legends by what differs (``lr=0.001 width=16``); its key metric (as its model declares it) is
given at its newest step and at its best, with the step of the best; its quality figures are
those of its newest live quality check, as its view names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genlab import view

from genlab.run import metrics_log

from genlab.run import tags
from genlab.errors import UsageError
from genlab.run.rundir import RunDir
from genlab.run.store import effective_state, newest_events, read_events

# what may tell runs apart, in the order a table shows it (hyperparameters after the model)
SHOWN = ("model", "preset", "batch_size", "lr", "seed", "device", "amp", "compile")


@dataclass
class Summary:
    run_id: str
    path: Path
    config: dict
    view: view.View
    state: str
    step: int
    total: int
    wall_s: float | None  # from its first metric row to its newest
    images_per_s: float | None  # over that time
    key: str
    key_latest: float | None = None
    key_best: float | None = None
    key_best_step: int | None = None
    quality: dict = field(default_factory=dict)  # the newest live quality check's figures
    class_hist: list | None = None
    held_out: dict = field(default_factory=dict)  # the newest evaluation's figures
    tags: list = field(default_factory=list)
    note: str = ""
    label: str = ""  # what tells it apart from the others

    def to_json(self) -> dict:
        return {"id": self.run_id, "label": self.label, "model": self.config.get("model"), "state": self.state,
                "step": self.step, "total_steps": self.total, "wall_s": self.wall_s,
                "images_per_s": self.images_per_s, "key_metric": {"name": self.key, "latest": self.key_latest,
                                                                  "best": self.key_best, "best_step": self.key_best_step},
                "quality": self.quality, "class_hist": self.class_hist, "held_out": self.held_out,
                "tags": self.tags, "note": self.note, "path": str(self.path)}


def flat(config: dict) -> dict:
    """The configuration keys that may tell runs apart, hyperparameters as ``hp.name``."""
    out = {k: config.get(k) for k in SHOWN}
    hp = config.get("hp") if isinstance(config.get("hp"), dict) else {}
    for k, v in hp.items():
        if k not in ("batch_size", "lr"):  # format 1 repeated them in hp
            out[k] = v
    return out


def differing(configs: list[dict]) -> list[str]:
    """The keys whose values are not the same in every configuration (model first)."""
    flats = [flat(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    return [k for k in keys if len({repr(f.get(k)) for f in flats}) > 1]


def fmt(value) -> str:
    if value is None:
        return "-"  # a key this run's model does not have
    return f"{value:g}" if isinstance(value, float) else str(value)


def summarise(run_dir: Path) -> Summary:
    config, _ = RunDir(run_dir).read_config()
    status, _ = RunDir(run_dir).read_status()
    shows = view.read(run_dir)
    s = Summary(run_dir.name, run_dir, config, shows, effective_state(status, run_dir) if status else "unreadable",
                int(status.get("step", 0)), int(config.get("total_steps") or 0), None, None, shows.key)
    t = tags.read(run_dir)
    s.tags, s.note = t.tags, t.note
    _key_and_time(s)
    _evaluations(s)
    return s


def _key_and_time(s: Summary) -> None:
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


def _evaluations(s: Summary) -> None:
    events = newest_events(s.path)
    declared = {m.name for m in s.view.metrics}
    for e in events:
        if e["kind"] != "eval":
            continue
        figures = {k: v for k, v in e.items() if k in declared and isinstance(v, (int, float))}
        if e.get("quality"):
            s.quality = figures
            if isinstance(e.get("class_hist"), list):
                s.class_hist = e["class_hist"]
        else:
            s.held_out = figures


def compare(run_dirs: list[Path]) -> tuple[list[str], list[Summary]]:
    """(the configuration keys that differ, a summary a run with its label)."""
    if len(run_dirs) < 2:
        raise UsageError("compare needs two runs or more")
    runs = [summarise(p) for p in run_dirs]
    for r, label in zip(runs, labels([r.config for r in runs], [r.run_id for r in runs])):
        r.label = label
    return differing([r.config for r in runs]), runs


def curve(run_dir: Path, metric: str, x: str = "step", points: int = 2000) -> tuple[list[float], list[float]]:
    """One run's curve of ``metric``: a training metric from metrics.bin (at most ``points``
    points, each chunk's mean), or a held-out one from its evaluations. ``x``: "step" or "time"
    (minutes since its first metric row)."""
    cols, rows, _ = metrics_log.read(run_dir)
    if cols and metric in cols and len(rows):
        xs = rows[:, 0] if x == "step" else (rows[:, 1] - rows[0, 1]) / 60
        ys = rows[:, cols.index(metric)]
        if len(rows) > points:
            f = -(-len(rows) // points)
            n = len(rows) // f * f
            xs, ys = xs[:n].reshape(-1, f)[:, -1], np.nanmean(ys[:n].reshape(-1, f), axis=1)
        return xs.tolist(), ys.tolist()
    events, _ = read_events(RunDir(run_dir).events)
    t0 = next((e["t"] for e in events if e["kind"] == "metrics"), events[0]["t"] if events else 0)
    pts = [(e["step"] if x == "step" else (e["t"] - t0) / 60, e[metric]) for e in events
           if e["kind"] == "eval" and isinstance(e.get(metric), (int, float))]
    return [p[0] for p in pts], [p[1] for p in pts]


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


def shorten(label: str, width: int) -> str:
    """``label`` in at most ``width`` characters, cut between words with an ellipsis."""
    if len(label) <= width:
        return label
    return label[: width - 1].rsplit(" ", 1)[0] + "…"


def labels(configs: list[dict], run_ids: list[str]) -> list[str]:
    """Each run's label: the configuration values that differ; its id first where that alone
    does not tell it apart (and its id alone when nothing differs)."""
    keys = differing(configs)
    flats = [flat(c) for c in configs]
    out = [" ".join(f"{k}={fmt(f[k])}" for k in keys if f.get(k) is not None) for f in flats]
    return [label if label and out.count(label) == 1 else f"{rid} {label}".strip()
            for label, rid in zip(out, run_ids)]
