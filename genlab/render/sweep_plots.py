"""A sweep drawn for a terminal, from genlab/run/sweep_report.py's plain data: the parameters'
importance as bars, the optimisation history and the parallel coordinates (by plotext), and each
trial's objective curve overlaid (genlab.render.plots.curves). ``genlab sweep show`` prints them
and the cockpit's sweep screen shows them; ``colour`` False gives plain text (a pipe, NO_COLOR),
where the bands of the parallel coordinates are told apart by their markers alone."""

from __future__ import annotations

import re

from genlab.render.plots import curves

BAND_COLOURS = ("green", "orange", "red")  # best, middle, worst third
BAND_MARKERS = ("@", "+", ".")  # the same, without colour: dense to sparse


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


def importance_lines(importance: dict, width: int = 80) -> list[str]:
    """``importance (PED-ANOVA over 12 complete trials)`` and a bar a parameter, most important
    first; or the line that says why there are no figures."""
    n, evaluator = importance.get("trials", 0), importance.get("evaluator")
    head = f"importance ({evaluator} over {n} complete trial{'s' * (n != 1)})" if evaluator else "importance"
    params = importance.get("params") or {}
    lines = [head + (f": {importance['says']}" if importance.get("says") else "")]
    if params and len(params) > 1:
        name_w = max(len(k) for k in params)
        bar_w = max(10, min(50, width - name_w - 12))
        for name, value in params.items():
            lines.append(f"  {name:<{name_w}} {'█' * round(value * bar_w):<{bar_w}} {value:.2f}")
    return lines


def history(report: dict, width: int, height: int, colour: bool) -> str:
    """The objective of each complete trial by its number (dots), and the best so far (a line)."""
    import plotext as plt

    points = report["history"]
    _start(plt, width, height, colour)
    if points:
        numbers = [p["number"] for p in points]
        steps_x, steps_y = [numbers[0]], [points[0]["best"]]  # a step: the best holds until a trial beats it
        for p in points[1:]:
            steps_x += [p["number"], p["number"]]
            steps_y += [steps_y[-1], p["best"]]
        plt.plot(steps_x, steps_y, marker="braille" if colour else "-", label="best so far",
                 color="green" if colour else None)
        plt.scatter(numbers, [p["value"] for p in points], marker="●" if colour else "o", label="a trial",
                    color="blue" if colour else None)  # (over the line: a trial on it shows)
        plt.xticks(sorted(set(numbers))[:: max(1, len(numbers) // 8)])
    plt.title(f"history: {report['objective']} by trial number")
    plt.xlabel("trial")
    return _built(plt, colour)


def coordinates(report: dict, width: int, height: int, colour: bool) -> str:
    """One line a trial across the axes (each parameter that varies, then the objective, better
    up), coloured and marked by its band; each axis's bottom and top values under and over it."""
    import plotext as plt

    c = report["coordinates"]
    axes, lines = c["axes"], c["lines"]
    _start(plt, width, height, colour)
    k = len(axes)
    for line in sorted(lines, key=lambda ln: -ln["band"]):  # the best drawn last, over the others
        xs = [i for i, p in enumerate(line["positions"]) if p is not None]
        ys = [p for p in line["positions"] if p is not None]
        b = line["band"]
        plt.plot(xs, ys, marker=BAND_MARKERS[b], color=BAND_COLOURS[b] if colour else None)
    for i, axis in enumerate(axes):
        plt.vline(i, "gray" if colour else None)
        bottom, top = ends(axis)
        plt.text(top, i, 1.2, alignment="center")
        plt.text(bottom, i, -0.2, alignment="center")
    plt.xlim(-0.5, k - 0.5)
    plt.ylim(-0.25, 1.25)
    plt.xticks(list(range(k)), [a["name"] for a in axes])
    plt.yticks([])
    plt.title(f"parallel coordinates: {len(lines)} trials; {legend(colour)}")
    return _built(plt, colour)


def ends(axis: dict) -> tuple[str, str]:
    """What the bottom and the top of an axis stand for."""
    if axis["kind"] == "categorical":
        values = axis["values"]
        return fmt(values[0]), fmt(values[-1])
    if axis["kind"] == "objective" and axis["lower_is_better"]:
        return fmt(axis["high"]), fmt(axis["low"])
    return fmt(axis["low"]), fmt(axis["high"])


def legend(colour: bool) -> str:
    if colour:
        return "green best third, orange middle, red worst"
    return f"{BAND_MARKERS[0]} best third, {BAND_MARKERS[1]} middle, {BAND_MARKERS[2]} worst"


def axes_lines(report: dict) -> list[str]:
    """The axes in words: a grid's values bottom to top, a range's span and scale."""
    said = []
    for axis in report["coordinates"]["axes"]:
        if axis["kind"] == "categorical":
            said.append(f"  {axis['name']}: {', '.join(map(fmt, axis['values']))} (bottom to top)")
        elif axis["kind"] == "numeric":
            said.append(f"  {axis['name']}: {fmt(axis['low'])} to {fmt(axis['high'])}{' (log)' if axis['log'] else ''}")
        elif axis["low"] is not None:
            said.append(f"  {axis['name']}: {ends(axis)[0]} to {ends(axis)[1]} (better up)")
    return said


def objective_curves(report: dict, width: int, height: int, colour: bool) -> str:
    """Each trial's objective over its steps (``report(..., curves=True)``), best first."""
    order = {t.get("run_id"): i for i, t in enumerate(report["trials"])}
    drawn = sorted(report.get("curves", {}).items(), key=lambda kv: order.get(kv[0], len(order)))
    lines = [(f"#{c['number']}", c["steps"], c["values"]) for _, c in drawn]
    return curves(lines, f"{report['objective']} of each trial", "step", width, height, colour)


def _start(plt, width: int, height: int, colour: bool) -> None:
    plt.clear_figure()
    plt.plotsize(width, height)
    if not colour:
        plt.theme("clear")


def _built(plt, colour: bool) -> str:
    drawn = plt.build()
    return drawn if colour else re.sub(r"\x1b\[[0-9;]*m", "", drawn)
