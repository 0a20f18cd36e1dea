"""What a model declares of itself for the screens: its metrics, its curve panes, its key metric
and the quality figure runs are ranked by.

Each model declares a :class:`View` beside its code (genlab/models); it is written into the run
directory as ``view.json`` when the run is created, so the torch-free readers (the cockpit,
``genlab runs``, ``genlab show``, comparisons) draw whatever a run declares and no code outside
genlab/models names a metric. A run made before views existed gets its model's view, or, for a
model this genlab does not know, one curve pane per metric it finds.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from genlab.health.rules import rules_from_json
from genlab.run.rundir import RunDir


@dataclass(frozen=True)
class Metric:
    name: str  # as in the events: a training metric, or a held-out one (``test_`` and the name)
    means: str  # one line for a person
    unit: str = ""  # "nats", "bits/dim", "%" (a share 0-1, shown as a percentage) or ""
    lower_is_better: bool | None = True  # None: neither (a diagnostic, e.g. D(x))
    label: str = ""  # a short label where room is scarce (the class histogram's title)
    spec: str = ".4g"  # how a value is printed (a format spec)

    def format(self, value: float) -> str:
        return format(value, self.spec)


@dataclass(frozen=True)
class Pane:
    title: str
    train: tuple[str, ...] = ()  # training metrics, one point a step
    held_out: tuple[str, ...] = ()  # held-out metrics (evaluations and quality checks)


@dataclass(frozen=True)
class View:
    metrics: tuple[Metric, ...]
    panes: tuple[Pane, ...]
    # the training metric shown first (the runs tables' live figure, comparisons' key metric);
    # a loss, on the curves: it ranks nothing (a discriminator's loss says nothing of samples)
    key: str
    # the quality figure: the held-out figure that says how good the model is, which runs are
    # ranked by everywhere (genlab/run/summary.py) and a sweep's default objective, in the
    # direction its Metric declares: GANs' FLD, VAEs' importance-sampled NLL, PixelCNNs' test
    # NLL (lower is better); "" for none (a sweep then optimises the key; runs are not ranked)
    quality: str = ""
    progress: tuple[str, ...] = ()  # shown in progress lines and bars (default: the key)
    # the class histogram of generated digits, with these metrics in its title (GANs); () for none
    class_histogram: tuple[str, ...] = ()
    # a grid of ``classes`` blocks of equal size (a conditional model): when a pane cannot show
    # it whole, it shows digits taken across the blocks, so every class is in view
    sample_classes: int = 0
    # the model has a latent space to walk between points of (GANs, VAEs): the cockpit's `i`
    walks: bool = False
    # training health (genlab/health): the verdict rules this model declares, and how old a run
    # must be before it is judged and before its figures compare with another run's: this many
    # training steps and this many quality checks (held-out evaluations)
    health: tuple = ()  # of genlab.health.rules.Rule
    judged_after_steps: int = 0
    judged_after_checks: int = 0
    notes: dict = field(default_factory=dict)

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def ranks_by(self) -> tuple[str, bool]:
        """(the quality figure runs are ranked by, whether lower is better); ("", True) for none."""
        metric = self.metric(self.quality) if self.quality else None
        return self.quality, not (metric is not None and metric.lower_is_better is False)

    def shown_in_progress(self) -> tuple[str, ...]:
        return self.progress or (self.key,)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> View:
        """A view from view.json; ValueError or TypeError (KeyError) if it is not one."""
        return cls(
            metrics=tuple(Metric(**m) for m in raw["metrics"]),
            panes=tuple(Pane(p["title"], tuple(p.get("train", ())), tuple(p.get("held_out", ())))
                        for p in raw["panes"]),
            key=str(raw["key"]), quality=str(raw.get("quality", "")), progress=tuple(raw.get("progress", ())),
            class_histogram=tuple(raw.get("class_histogram", ())), sample_classes=int(raw.get("sample_classes", 0)),
            walks=bool(raw.get("walks", False)),
            health=rules_from_json(raw.get("health")),
            judged_after_steps=int(raw.get("judged_after_steps", 0)),
            judged_after_checks=int(raw.get("judged_after_checks", 0)),
        )


def fallback(metric_names: list[str]) -> View:
    """For a run whose model is unknown here: a pane per training metric found."""
    names = [n for n in metric_names if n not in ("step", "t", "epoch")]
    return View(metrics=tuple(Metric(n, n) for n in names),
                panes=tuple(Pane(n, (n,), (f"test_{n}",)) for n in names[:3]),
                key=names[0] if names else "")


def write(run_dir: Path, view: View) -> None:
    from genlab.run.files import atomic_write_json

    atomic_write_json(RunDir(run_dir).view, view.to_json(), durable=False)


def read(run_dir: Path, known=None) -> View:
    """The run's view.json; else ``known(run_dir)`` (the CLI passes its models' views: that
    imports torch, which the cockpit never does); else a fallback from metrics.json's columns."""
    try:
        return View.from_json(json.loads(RunDir(run_dir).view.read_text()))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    if known is not None:
        found = known(run_dir)
        if found is not None:
            return found
    from genlab.run import metrics_log
    return fallback(metrics_log.columns(run_dir) or [])
