"""A report's pictures as PNG bytes: curves, class histograms and a sweep's history and importance
drawn with matplotlib, sample grids with genlab/render/grid.py (as ``genlab sample`` writes them).

matplotlib is an optional extra (``pip install 'genlab[report]'``), imported only here and only
when a figure is drawn: :func:`require` says in one line how to install it. Figures are drawn on
matplotlib's Agg canvas directly (no pyplot: no global state, no window), without a timestamp in
their metadata, so one report's pictures are the same bytes every time. Every axis is named with
its unit; each run keeps its colour (its label's, the cockpit's: genlab/run/labels.py) on every
figure, its metrics told apart by line style, held-out checks drawn as points.
"""

from __future__ import annotations

import io

from genlab.errors import UsageError

INSTALL = "pip install 'genlab[report]'"
STYLES = ("-", "--", ":", "-.")  # a run's metrics in one pane, in order
SIZE = (9.0, 3.6)  # inches, at DPI (the curves' legend beside them)
DPI = 100


def require() -> None:
    """UsageError (exit 2) in one line unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"genlab report draws its figures with matplotlib, which is not installed: {INSTALL}") from None


def _figure(size=SIZE):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def rgb(colour: tuple) -> tuple:
    """An RGB colour (0-255) as matplotlib's (0-1)."""
    return tuple(c / 255 for c in colour)


def axis_label(name: str, unit: str) -> str:
    """``test_bpd (bits/dim)``; a share's unit ("%"): drawn as a percentage."""
    return f"{name} ({unit})" if unit else name


def curves(pane, runs: list) -> bytes:
    """One pane's curves (genlab.report.collect.Pane) as PNG (:func:`curves_figure`)."""
    return _png(curves_figure(pane, runs))


def curves_figure(pane, runs: list):
    """One pane's curves: every run's in its colour, against the training step. ``runs``: the
    RunParts, for their names and colours."""
    fig = _figure()
    ax = fig.add_subplot()
    share = pane.unit == "%"
    metrics = list(dict.fromkeys(s.metric for drawn in pane.curves.values() for s in drawn))
    for part in runs:
        for series in pane.curves.get(part.run_id, []):
            ys = [y * 100 for y in series.ys] if share else series.ys
            name = f"{part.short}: {series.metric}" if len(runs) > 1 else series.metric
            style = STYLES[metrics.index(series.metric) % len(STYLES)]
            if series.held_out:
                ax.plot(series.xs, ys, linestyle=style, marker="o", markersize=3.5, linewidth=1,
                        color=rgb(part.colour), label=f"{name} (held out)")
            else:
                ax.plot(series.xs, ys, linestyle=style, linewidth=1.2, color=rgb(part.colour), label=name)
    ax.set_title(pane.title, fontsize=10)
    ax.set_xlabel("training step")
    unit = "% of digits" if share else pane.unit
    measured = list(dict.fromkeys(m.removeprefix("test_") for m in metrics))  # (held out: the same measure)
    ax.set_ylabel(axis_label(", ".join(measured) if len(measured) <= 3 else "value", unit))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)  # (beside: never over a curve)
    fig.tight_layout()
    return fig


def class_histogram(runs: list) -> bytes:
    """The share of each digit among the generated digits the classifier judged, a bar a digit
    and a run (each in its colour), with the even share (10%) drawn across."""
    fig = _figure()
    ax = fig.add_subplot()
    shown = [p for p in runs if p.class_hist]
    width = 0.8 / max(1, len(shown))
    for i, part in enumerate(shown):
        xs = [d - 0.4 + width * (i + 0.5) for d in range(len(part.class_hist))]
        ax.bar(xs, [h * 100 for h in part.class_hist], width=width, color=rgb(part.colour),
               label=part.short if len(runs) > 1 else None)
    digits = max(len(p.class_hist) for p in shown)
    ax.axhline(100 / digits, color="grey", linestyle="--", linewidth=1, label=f"even ({100 / digits:g}%)")
    ax.set_xticks(range(digits))
    ax.set_xlabel("digit, as the classifier judged it")
    ax.set_ylabel("share of generated digits (%)")
    ax.set_title("class histogram of generated digits (newest quality check)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def sweep_history(swept: dict) -> bytes:
    """A sweep's objective by trial number (points) and the best so far (a step line)."""
    fig = _figure()
    ax = fig.add_subplot()
    points = swept["history"]
    objective = swept.get("objective") or swept["spec"].get("objective", "objective")
    if points:
        numbers = [p["number"] for p in points]
        ax.step(numbers, [p["best"] for p in points], where="post", color="green", label="best so far")
        ax.plot(numbers, [p["value"] for p in points], "o", color=rgb((0, 130, 200)), label="a trial")
        ax.set_xticks(numbers)
        ax.legend(fontsize=7)
    ax.set_xlabel("trial number")
    ax.set_ylabel(objective)
    ax.set_title(f"history: {objective} of each complete trial", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def importance(params: dict) -> bytes:
    """Which parameters mattered (a share each, most first) as horizontal bars."""
    fig = _figure((7.0, 0.6 + 0.4 * len(params)))
    ax = fig.add_subplot()
    names = list(params)[::-1]
    ax.barh(names, [params[n] for n in names], color=rgb((0, 130, 200)))
    ax.set_xlabel("importance (share of the objective's variance)")
    ax.set_xlim(0, 1)
    fig.tight_layout()
    return _png(fig)


def grid(images, classes: int = 0) -> bytes:
    """A sample grid as PNG (genlab/render/grid.py; ``classes`` blocks of a conditional model: a
    row a class)."""
    from genlab.render.grid import grid_png

    per_row = len(images) // classes if classes and len(images) % classes == 0 and len(images) // classes <= 16 else 8
    return grid_png(images, per_row=per_row)
