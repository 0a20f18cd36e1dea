"""A curve pane draws whatever data it has, on a linear or a log axis, and never takes the cockpit
down: no data yet, one point, a flat line, NaN, infinities, zero and negative values."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from textual.app import App, ComposeResult

from tui.messages import Curve
from tui.widgets.curves import CurvesPlot

NAN, INF = math.nan, math.inf
SERIES = {
    "no data yet": None,
    "one point": ([10], [2.5]),
    "a flat line": ([10, 20, 30], [3.0, 3.0, 3.0]),
    "all NaN": ([10, 20], [NAN, NAN]),
    "zero and negatives": ([10, 20, 30], [0.0, -1.5, -2.0]),
    "infinities": ([10, 20, 30], [INF, 1.0, -INF]),
    "mixed": ([10, 20, 30, 40], [NAN, 0.0, 4.0, 8.0]),
}


def snapshot(series):
    curves, evals = {}, {}
    if series is not None:
        x, y = series
        curves["loss"] = Curve("loss", x, y, smoothed_x=x, smoothed_y=y)
        evals["test_fld"] = list(zip(x, y))
    return SimpleNamespace(curves=curves, evals=evals)


class OnePane(App):
    def compose(self) -> ComposeResult:
        yield CurvesPlot("losses", ["loss"], ["test_fld"])


@pytest.mark.parametrize("case", list(SERIES))
@pytest.mark.parametrize("size", [(80, 24), (200, 50), (30, 8)])
async def test_a_curve_pane_survives_log_scale_and_smoothing_on_any_data(case, size):
    app = OnePane()
    async with app.run_test(size=size) as pilot:
        plot = app.query_one(CurvesPlot)
        plot.show(snapshot(SERIES[case]))
        for log_scale, smooth in ((True, False), (True, True), (False, True), (False, False), (True, False)):
            plot.log_scale, plot.smooth = log_scale, smooth
            await pilot.pause()
            plot.render()  # plotext builds the picture here: what raised before
            assert app.is_running and app.return_code is None
        text = str(plot.render())  # on the log axis, as the loop ends
        drawable = SERIES[case] is not None and any(v > 0 and math.isfinite(v) for v in SERIES[case][1])
        assert ("waiting for data" in text) is not drawable, text
        assert "cannot draw" not in text, text


def cells(strips) -> list[list[tuple]]:
    """Each cell's character, colours and attributes (not Textual's selection offsets)."""
    return [[(ch, s.color, s.bgcolor, s.bold, s.dim, s.italic, s.underline, s.reverse) for seg in strip
             for s in [seg.style] for ch in seg.text] for strip in strips]


@pytest.mark.parametrize("colour", [True, False], ids=["colour", "NO_COLOR"])
async def test_a_plot_picture_is_what_textual_plotext_draws(colour, monkeypatch):
    """tui/widgets/plot_picture.py reads plotext's canvas: cell for cell what textual-plotext's
    ANSI, parsed by Rich and restyled by Textual, gives."""
    from textual.visual import Visual, visualize
    from textual_plotext import PlotextPlot

    if not colour:
        monkeypatch.setenv("NO_COLOR", "1")
    x = list(range(0, 3000, 10))
    y = [1 + math.sin(i / 7) + (i % 13) / 5 for i in range(len(x))]
    data = SimpleNamespace(curves={"loss": Curve("loss", x, y, smoothed_x=x, smoothed_y=y)},
                           evals={"test_fld": list(zip(x[::9], y[::9]))})
    for size in ((80, 24), (200, 50), (30, 8)):
        app = OnePane()
        async with app.run_test(size=size) as pilot:
            plot = app.query_one(CurvesPlot)
            for shown, log_scale in ((SimpleNamespace(curves={}, evals={}), False), (data, False), (data, True)):
                plot.show(shown)
                plot.log_scale = log_scale
                await pilot.pause()
                width, height = plot.size
                plot._build()
                ours = Visual.to_strips(plot, plot.picture(), width, height, plot.visual_style)
                plot._build()
                theirs = Visual.to_strips(plot, visualize(plot, PlotextPlot.render(plot)), width, height, plot.visual_style)
                assert cells(ours) == cells(theirs), (size, log_scale)


def test_plotexts_helpers_made_faster_give_what_plotexts_own_give():
    """genlab/render/plots_speed.py: the same canvas coordinates, lines of dots and braille cells
    as plotext's own functions, on random data (and plotext's own for what they do not handle)."""
    import random

    from genlab.render import plots_speed

    plots_speed.install()
    own = plots_speed._originals
    fast = {name: getattr(plots_speed, name) for name in own}
    r = random.Random(0)
    for _ in range(500):
        n = r.randint(1, 40)
        lim = sorted(r.uniform(-1e3, 1e3) for _ in range(2))
        data = [r.choice([r.uniform(lim[0] - 9, lim[1] + 9), lim[0], lim[1], 7]) for _ in range(n)]
        bins = r.randint(1, 300)
        assert fast["get_matrix_data"](data, lim, bins) == own["get_matrix_data"](data, lim, bins)
        x, y = [r.randint(-3, 200) for _ in range(n)], [r.randint(-3, 50) for _ in range(n)]
        others = (["braille"] * n, [r.choice([(1, 2, 3), "red"]) for _ in range(n)], ["default"] * n)
        lines, theirs = fast["get_lines"](x, y, *others), own["get_lines"](x, y, *others)
        if len(set(others[1])) > 1:
            assert lines == theirs
        else:  # one colour for the line: each dot once, in the order first drawn (plotext then drops the repeats)
            assert list(zip(*lines)) == list(dict.fromkeys(zip(*theirs)))
        dots = [[r.randint(-5, 120) for _ in range(n * 5)], [r.randint(-5, 60) for _ in range(n * 5)]]
        marks = [r.choice(["a", "b"]) for _ in range(n * 5)]
        assert fast["remove_outsiders"](*dots, 100, 50, marks) == own["remove_outsiders"](*dots, 100, 50, marks)
        assert sorted(zip(*fast["brush"](*dots, ["red"] * n * 5))) == sorted(zip(*own["brush"](*dots, ["red"] * n * 5)))
        sizes = ([2] * len(lines[0]), [4] * len(lines[0]))
        assert [list(v) for v in fast["hd_group"](lines[0], lines[1], *sizes)] == \
            [list(v) for v in own["hd_group"](lines[0], lines[1], *sizes)]
    assert fast["get_matrix_data"]([1.0, NAN, None], [0, 2], 10) == own["get_matrix_data"]([1.0, NAN, None], [0, 2], 10)


def test_a_canvas_drawn_with_the_faster_helpers_is_plotexts_own():
    """Sixteen min-max curves (each bucket's minimum then maximum: the same columns drawn up and
    down many times) in braille and in colour: the very canvas plotext's own helpers draw."""
    import plotext
    import plotext._utility as ut

    from genlab.render import plots_speed

    plots_speed.install()

    def canvas() -> list:
        plt = plotext._figure._figure_class()
        for run in range(16):
            x = [step * 500 for step in range(160)]
            y = [1 + (0.4 if step % 2 else -0.4) * math.sin(run + step / 9) for step in range(160)]
            plt.plot(x, y, label=f"run {run}", marker="braille", color=(run * 15, 90, 200))
        plt.plotsize(90, 14)
        plt._set_size(90, 14)
        plt._set_sizes()
        plt._build_matrix()
        m = plt.monitor.matrix
        return [[(m.marker[r][c], m.fullground[r][c]) for c in range(m.cols)] for r in range(m.rows)]

    ours = canvas()
    faster = {name: getattr(ut, name) for name in plots_speed._originals}
    try:
        for name, own in plots_speed._originals.items():
            setattr(ut, name, own)
        theirs = canvas()
    finally:
        for name, fast in faster.items():
            setattr(ut, name, fast)
    assert ours == theirs
    assert sum("\u2800" < ch <= "\u28ff" for row in ours for ch, _ in row) > 300  # (braille: curves were drawn)
