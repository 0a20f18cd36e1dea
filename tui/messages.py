"""Messages that carry data from background workers to the cockpit's widgets.

Workers build these from the run directory (genlab.run.follow) and send them with ``post_message``,
which is safe from any thread. They hold plain data only: the worker never shares live objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from textual.message import Message

from genlab.health import Verdict
from genlab.run.follow import RunView
from genlab.run.summary import Summary


@dataclass
class Curve:
    label: str
    x: list[float]
    y: list[float]  # min/max envelope (two points per bucket) or EMA of the means
    smoothed_x: list[float] = field(default_factory=list)
    smoothed_y: list[float] = field(default_factory=list)
    # a seed group's (tui.source.banded): y's and smoothed_y's min–max band, as (low, high) along their x
    band: tuple[list[float], list[float]] | None = None
    smoothed_band: tuple[list[float], list[float]] | None = None
    means: tuple[list[float], list[float]] | None = None  # a run's bucket means (x, y), which its group's band reads


@dataclass
class RunSnapshot(RunView):
    """The follower's view of a run at one moment (genlab.run.follow.RunView, every field copied),
    with its curves ready to draw in place of its live series."""

    curves: dict[str, Curve] | None = None  # metric name -> curve; None in an update without curves


class RunUpdated(Message):
    """A followed run changed."""

    def __init__(self, snapshot: RunSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class RunsListed(Message):
    """The runs root was listed (rows for the runs screen)."""

    def __init__(self, rows: list[dict]) -> None:
        super().__init__()
        self.rows = rows


class SweepRead(Message):
    """A sweep was read (genlab/run/sweep_report.py's plain data) for its screen."""

    def __init__(self, report: dict) -> None:
        super().__init__()
        self.report = report


class RunStarted(Message):
    """A run launched from the cockpit is up: open its dashboard."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class ActionFailed(Message):
    """A launch, resume or control action failed: say why."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ModelsLoaded(Message):
    """The model catalogue (from `genlab models --json`, run in a subprocess)."""

    def __init__(self, models: list[dict]) -> None:
        super().__init__()
        self.models = models


@dataclass
class Overlay:
    """One metric of several runs, ready for a CurvesPlot: curves and evaluations keyed by the
    run's label (what tells it apart), in the comparison's run order (one colour each)."""

    curves: dict[str, Curve]
    evals: dict[str, list[tuple[float, float]]]
    eval_bands: dict[str, tuple[list, list, list]] = field(default_factory=dict)  # a seed group's: (x, low, high)


@dataclass
class Compared(Summary):
    """One run of a comparison: its summary (genlab.run.summary, as `genlab compare` gives it),
    with what the cockpit draws of it besides."""

    sample: np.ndarray | None = None
    sample_step: int | None = None
    class_captions: str = ""  # the class histogram's title figures (FLD, confident share)
    health: Verdict | None = None  # its training health, as the follower judged it (None: not yet)


@dataclass
class CompareSnapshot:
    runs: list[Compared]
    overlays: dict[str, Overlay] | None  # metric -> overlay; None in an update without curves
    x: str  # "step" or "time" (minutes since each run's first step)


class CompareUpdated(Message):
    def __init__(self, snapshot: CompareSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot
