"""Text plots for a terminal, drawn by plotext: curves of several runs overlaid (``genlab
compare --plot``) and two histograms of scores (``genlab anomaly``). Each returns the drawing as
a string; ``colour`` False gives plain text for a pipe, a file or NO_COLOR."""

from __future__ import annotations

import re


def curves(lines: list[tuple[str, list, list]], title: str, xlabel: str, width: int, height: int,
           colour: bool) -> str:
    """``lines``: (label, xs, ys) each, drawn in braille dots; a line with no points is left out."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    if not colour:
        plt.theme("clear")
    for label, xs, ys in lines:
        if xs:
            plt.plot(xs, ys, label=label, marker="braille")
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
