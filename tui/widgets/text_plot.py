"""A plot drawn as text (plotext's ANSI drawing, genlab/render/sweep_plots.py) at the size of its
pane: given a ``draw(width, height)`` that returns the drawing, it draws again when its size or
its drawing changes, on the cockpit's background. The sweep screen's history, parallel
coordinates and objective curves."""

from __future__ import annotations

import re

from rich.text import Text
from textual.widgets import Static

# plotext's default theme draws on white with black axes: on the cockpit's own background instead
WHITE_CANVAS = re.compile(r"\x1b\[(?:48;5;15|38;5;0)m")


class TextPlot(Static):
    DEFAULT_CSS = """
    TextPlot {
        height: 16;
        width: 1fr;
    }
    """

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.draw = None  # (width, height) -> the drawing, or None for nothing yet
        self.drawn_for = None  # (draw, width, height) last drawn: nothing drawn twice

    def show(self, draw) -> None:
        self.draw = draw
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        width, height = self.content_size.width, self.content_size.height
        if self.draw is None or width < 20 or height < 5 or self.drawn_for == (self.draw, width, height):
            return
        self.drawn_for = (self.draw, width, height)
        self.update(Text.from_ansi(WHITE_CANVAS.sub("", self.draw(width, height)), no_wrap=True, overflow="crop"))
