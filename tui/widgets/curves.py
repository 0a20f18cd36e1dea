"""One plot of training curves (textual-plotext), with log scale and EMA smoothing toggles.

Curves arrive already downsampled (genlab.follow.MinMaxSeries): the unsmoothed line traces each
bucket's minimum and maximum, so a spike is drawn however long the history.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual_plotext import PlotextPlot

from tui.messages import RunSnapshot


class CurvesPlot(PlotextPlot):
    DEFAULT_CSS = """
    CurvesPlot {
        height: 1fr;
        min-height: 6;
    }
    """

    log_scale: reactive[bool] = reactive(False)
    smooth: reactive[bool] = reactive(False)

    def __init__(self, title: str, metrics: list[str], evals: list[str] = (), **kwargs):
        super().__init__(**kwargs)
        self.title_text, self.metrics, self.eval_metrics = title, list(metrics), list(evals)
        self.snapshot: RunSnapshot | None = None

    def show(self, snapshot: RunSnapshot) -> None:
        self.snapshot = snapshot
        self.replot()

    def watch_log_scale(self) -> None:
        self.replot()

    def watch_smooth(self) -> None:
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        suffix = (" · log" if self.log_scale else "") + (" · EMA" if self.smooth else "")
        plt.title(self.title_text + suffix)
        plt.xlabel("step")
        drawn = False
        snap = self.snapshot
        if snap is not None:
            for name in self.metrics:
                c = snap.curves.get(name)
                if c is None:
                    continue
                x, y = (c.smoothed_x, c.smoothed_y) if self.smooth else (c.x, c.y)
                x, y = self._keep_positive(x, y)
                if x:
                    plt.plot(x, y, label=name, marker="braille")
                    drawn = True
            for name in self.eval_metrics:
                points = snap.evals.get(name) or []
                x, y = self._keep_positive([p[0] for p in points], [p[1] for p in points])
                if x:
                    plt.scatter(x, y, label=name, marker="dot")
                    drawn = True
        if self.log_scale:
            plt.yscale("log")
        if not drawn:
            plt.title(self.title_text + " · waiting for data")
        self.refresh()

    def _keep_positive(self, x, y):
        if not self.log_scale:
            return list(x), list(y)
        kept = [(a, b) for a, b in zip(x, y) if b > 0]
        return [a for a, _ in kept], [b for _, b in kept]
