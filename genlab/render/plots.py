"""Text plots for a terminal, drawn by plotext: curves of several runs overlaid (``genlab
compare --plot``) and two histograms of scores (``genlab anomaly``). Each returns the drawing as
a string; ``colour`` False gives plain text for a pipe, a file or NO_COLOR."""

from __future__ import annotations

import re

# where colour cannot tell lines apart (a pipe, a file, NO_COLOR), each gets a marker of its own
MARKERS = ("•", "+", "x", "o", "*", "#", "%", "@", "=", "~")
BAND_MARKER = "·"  # a seed group's min–max band (genlab/run/seed_groups.py), under its mean line
# plotext's own sequence of lines' colours, each with a dimmer shade for its band
BAND_COLOURS = (("blue+", "blue"), ("green+", "green"), ("red+", "red"), ("cyan+", "cyan"), ("magenta+", "magenta"),
                ("yellow", "gold"))


def marker(index: int, colour: bool) -> str:
    """The marker of the ``index``-th line: braille dots in colour, else its own character."""
    return "braille" if colour else MARKERS[index % len(MARKERS)]


def integer_ticks(xs: list, count: int = 5) -> list[int]:
    """Up to ``count`` whole-number ticks spanning ``xs`` (steps are whole: no "1.5 48.4 95.2")."""
    values = [x for x in xs if x == x]  # (NaN is not equal to itself)
    if not values:
        return []
    low, high = min(values), max(values)
    if high - low < 1:
        return [int(round(low))]
    return sorted({int(round(low + i * (high - low) / (count - 1))) for i in range(count)})


# beside a legend entry's label: the y axis' tick labels, the frame and the entry's marker
LEGEND_MARGIN = 16


def fitted(label: str, room: int) -> str:
    """``label`` cut to ``room`` characters (its end an ellipsis): plotext leaves out the whole
    legend when one label is wider than the plot."""
    return label if len(label) <= room else label[:room - 1] + "…"


def curves(lines: list[tuple[str, list, list]], title: str, xlabel: str, width: int, height: int,
           colour: bool, bands: list | None = None) -> str:
    """``lines``: (label, xs, ys) each, in braille dots (without colour, a marker a line); a line
    with no points is left out. Steps on the x axis get whole-number ticks. ``bands``: a line's
    (xs, low, high) or None, each drawn under the lines as two dotted lines (BAND_MARKER)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    room = max(8, plt.plotsize()[0] - LEGEND_MARGIN)  # (plotext's width: the asked one, within the terminal's)
    if not colour:
        plt.theme("clear")
    for i, drawn_band in enumerate(bands or []):
        if drawn_band and drawn_band[0]:
            for edge in drawn_band[1:]:
                plt.plot(drawn_band[0], edge, marker=BAND_MARKER, color=BAND_COLOURS[i % len(BAND_COLOURS)][1] if colour else None)
    drawn_xs = []
    for i, (label, xs, ys) in enumerate(lines):
        if xs:
            plt.plot(xs, ys, label=fitted(label, room), marker=marker(i, colour),
                     **({"color": BAND_COLOURS[i % len(BAND_COLOURS)][0]} if bands and colour else {}))
            drawn_xs += list(xs)
    if xlabel == "step" and drawn_xs:
        plt.xticks(integer_ticks(drawn_xs))
    plt.title(title)
    plt.xlabel(xlabel)
    drawn = plt.build()
    return drawn if colour else re.sub(r"\x1b\[[0-9;]*m", "", drawn)


def histograms(first, second, labels: tuple[str, str], title: str, width: int, colour: bool,
               bins: int = 40, height: int = 18) -> str:
    """Two histograms of values (tensors or lists) over one axis, the first light, the second dark."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("pro" if colour else "clear")
    plt.hist(as_list(first), bins=bins, label=labels[0], marker="sd" if colour else "░")
    plt.hist(as_list(second), bins=bins, label=labels[1], marker="hd" if colour else "█")
    plt.title(title)
    drawn = plt.build()
    return drawn if colour else plt.uncolorize(drawn)


def as_list(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)
