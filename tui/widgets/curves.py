"""One plot of training curves (textual-plotext), with log scale and EMA smoothing toggles.

Curves arrive already downsampled (genlab.run.series.MinMaxSeries): the unsmoothed line traces each
bucket's minimum and maximum, so a spike is drawn however long the history. Building a plot is
the cockpit's most expensive work (tens of milliseconds), so a plot redraws at most every five
seconds, and less often if a build takes longer: each plot stays under 1% of a core, so that
watching a run leaves its training (which has every core) nearly all of the machine.
"""

from __future__ import annotations

import math
import os
import time

from rich.text import Text
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from genlab.render import plots_speed
from genlab.render.plots import integer_ticks, marker
from tui.messages import RunSnapshot
from tui.widgets.plot_picture import PlotPicture, picture

plots_speed.install()  # plotext's busiest helpers, faster (the same drawing)


class CurvesPlot(PlotextPlot):
    DEFAULT_CSS = """
    CurvesPlot {
        height: 1fr;
        min-height: 6;
    }
    """

    ALLOW_SELECT = False  # a picture, not text (tui/widgets/plot_picture.py)

    log_scale: reactive[bool] = reactive(False)
    smooth: reactive[bool] = reactive(False)

    MIN_INTERVAL_S = 5.0
    BUDGET = 0.01  # share of one core that one plot may take

    def __init__(self, title: str, metrics: list[str], evals: list[str] = (), colours: dict | None = None, **kwargs):
        """``metrics`` and ``evals``: the names of the curves and of the evaluation points to
        draw from a snapshot (a run's metrics; or, comparing runs, the runs' labels); ``colours``:
        a name's own colour (RGB), where it has one (comparing runs: the run's)."""
        super().__init__(**kwargs)
        self.colours = dict(colours or {})
        self.title_text, self.metrics, self.eval_metrics = title, list(metrics), list(evals)
        self.x_label = "step"
        self.snapshot: RunSnapshot | None = None
        self.next_draw = 0.0
        self.pending = None

    def show(self, snapshot: RunSnapshot) -> None:
        """Take new data; draw now if the budget allows, else once it does."""
        self.snapshot = snapshot
        wait = self.next_draw - time.monotonic()
        if wait <= 0:
            self.replot()
        elif self.pending is None:
            self.pending = self.set_timer(wait, self._draw_pending)

    def _draw_pending(self) -> None:
        self.pending = None
        self.replot()

    def watch_log_scale(self) -> None:
        self.replot()

    def watch_smooth(self) -> None:
        self.replot()

    def replot(self) -> None:
        self.refresh()
        if self.snapshot is not None:  # (a plot with nothing to draw yet draws its first data at once)
            self.next_draw = time.monotonic() + max(self.MIN_INTERVAL_S, self.build_cost / self.BUDGET)

    build_cost = 0.0
    drawn: RunSnapshot | None = None  # the snapshot last drawn (tests wait for it)

    def render(self):
        """The plot is built here, once per refresh; its cost paces the next redraw. Some
        data trips plotext (a labelled series none of whose points lands on the canvas, as one
        point on a log axis can: its legend code indexes an empty list): then the plot is drawn
        again without legends, and failing that says so, never taking the cockpit down."""
        if self.snapshot is None:  # (before its first data, which follows within a poll: its title only,
            return Text(self.title_text, style="bold", justify="center")  # not plotext's empty frame)
        start = time.monotonic()
        try:
            self._build()  # here, at the size it is drawn at (a plot built while hidden draws nothing)
            result = self.picture()
        except Exception:
            self._build(legend=False)
            try:
                result = self.picture()
            except Exception as e:
                result = Text(f"{self.title_text}: cannot draw this data ({type(e).__name__})", style="dim")
        self.build_cost = time.monotonic() - start
        self.drawn = self.snapshot
        return result

    def picture(self) -> PlotPicture:
        """What textual-plotext's render draws (at the widget's size, in the app's theme), read
        from plotext's canvas rather than parsed back from its ANSI (tui/widgets/plot_picture.py)."""
        plt, (width, height) = self.plt, self.size
        plt.plotsize(width, height)
        plt._set_size(width, height)  # (as textual-plotext does: plotsize alone does not resize)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        plt._set_sizes()
        plt._build_matrix()
        return picture(plt.monitor.matrix)

    def _build(self, legend: bool = True) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        suffix = (" · log" if self.log_scale else "") + (" · EMA" if self.smooth else "")
        plt.title(self.fit_title(self.title_text + suffix))
        plt.xlabel(self.x_label)
        drawn, xs_drawn = False, []
        colour = "NO_COLOR" not in os.environ
        snap = self.snapshot
        if snap is not None:
            xs_drawn += self._draw_bands(snap, colour)
            for i, name in enumerate(self.metrics):
                c = snap.curves.get(name)
                if c is None:
                    continue
                x, y = (c.smoothed_x, c.smoothed_y) if self.smooth else (c.x, c.y)
                x, y = self._keep_positive(x, y)
                if x:
                    plt.plot(x, y, label=name if legend else None, marker=marker(i, colour),
                             color=self.colours.get(name) if colour else None)
                    drawn, xs_drawn = True, xs_drawn + x
            for name in self.eval_metrics:
                points = snap.evals.get(name) or []
                x, y = self._keep_positive([p[0] for p in points], [p[1] for p in points])
                if x:
                    plt.scatter(x, y, label=name if legend else None, marker="dot" if colour else "o",
                                color=self.colours.get(name) if colour else None)
                    drawn, xs_drawn = True, xs_drawn + x
        if self.x_label == "step" and xs_drawn:
            plt.xticks(integer_ticks(xs_drawn))
        if self.log_scale and drawn:  # (plotext's log axis of nothing raises)
            plt.yscale("log")
        if not drawn:
            plt.title(self.fit_title(self.title_text + " · waiting for data", axis=False))

    BAND_MARKER = "·"  # a seed group's min–max band: two dotted lines, dimmer than its mean line
    BAND_SHADE = 0.5  # the band's colour: the line's, this much of the way to black

    def _draw_bands(self, snap, colour: bool) -> list:
        """The min–max bands of the seed groups drawn here (tui.source.banded: a curve's, or its
        smoothed curve's; an evaluation's), under every line; the x values drawn."""
        bands = []
        for name in self.metrics:
            c = (snap.curves or {}).get(name)
            if c is not None and (c.smoothed_band if self.smooth else c.band):
                bands.append((name, c.smoothed_x if self.smooth else c.x, c.smoothed_band if self.smooth else c.band))
        for name in self.eval_metrics:
            b = getattr(snap, "eval_bands", {}).get(name)
            if b:
                bands.append((name, b[0], b[1:]))
        drawn = []
        for name, x, (low, high) in bands:
            rgb = self.colours.get(name)
            shade = tuple(int(v * self.BAND_SHADE) for v in rgb) if rgb and colour else None
            for edge in (low, high):
                ex, ey = self._keep_positive(x, edge)
                if ex:
                    self.plt.plot(ex, ey, marker=self.BAND_MARKER, color=shade)
                    drawn += ex
        return drawn

    def fit_title(self, title: str, axis: bool = True) -> str:
        """The title, cut to the canvas's width (plotext leaves out a title wider than the plot
        less its frame and y axis, whose labels take up to 5 columns)."""
        width = self.size.width - (7 if axis else 2)
        return title if width <= 0 or len(title) <= width else title[: width - 1] + "…"

    def _keep_positive(self, x, y):
        """The points a plot can draw: finite values, and on a log axis positive ones."""
        kept = [(a, b) for a, b in zip(x, y)
                if isinstance(b, (int, float)) and math.isfinite(b) and (b > 0 or not self.log_scale)]
        return [a for a, _ in kept], [b for _, b in kept]
