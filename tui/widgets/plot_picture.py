"""A plotext plot as Textual draws it, straight from plotext's canvas.

plotext draws into a matrix of characters with their colours, then writes it out as one ANSI
string; textual-plotext has Rich parse that string back into styled text, which Textual then
restyles cell by cell. For a curve pane that round trip costs more than plotext's drawing.
:func:`picture` reads the matrix instead: each line's runs of one colour become segments whose
Rich style is the one Rich reads from plotext's own escape codes for those colours (worked out
once per colour), so the strips are those the round trip gives, in a fraction of its time.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.strip import Strip
from textual.visual import Visual

_styles: dict[tuple, RichStyle | None] = {}  # plotext's (foreground, style, background) -> Rich's style


def _style(colours: tuple) -> RichStyle | None:
    """The Rich style of text that plotext writes in ``colours`` (as Rich parses its ANSI)."""
    key = tuple(tuple(c) if isinstance(c, list) else c for c in colours)
    if key not in _styles:
        import plotext._utility as ut

        text = Text.from_ansi(ut.colors_to_ansi(*colours) + "x" + ut.ansi_end)
        styles = [span.style for span in text.spans if span.start == 0 and span.end >= 1]
        style = RichStyle.combine(s if isinstance(s, RichStyle) else RichStyle.parse(s) for s in styles) if styles else None
        _styles[key] = style if style else None
    return _styles[key]


def picture(matrix) -> PlotPicture:
    """The picture of a plotext matrix just built (``figure._build_matrix()``)."""
    lines = []
    marker, fore, back, style = matrix.marker, matrix.fullground, matrix.background, matrix.style
    for row in reversed(range(matrix.rows)):  # (plotext's row 0 is the bottom one)
        markers, f, s, b = marker[row], fore[row], style[row], back[row]
        runs, start, current = [], 0, (f[0], s[0], b[0]) if matrix.cols else None
        for col in range(1, matrix.cols + 1):
            colours = (f[col], s[col], b[col]) if col < matrix.cols else None
            if colours != current:
                runs.append(("".join(markers[start:col]), _style(current)))
                start, current = col, colours
        lines.append(runs)
    return PlotPicture(lines, matrix.cols)


class PlotPicture(Visual):
    """Lines of (text, Rich style) runs, drawn over the widget's own style."""

    def __init__(self, lines: list[list[tuple[str, RichStyle | None]]], width: int):
        self.lines, self.width = lines, width

    def render_strips(self, width: int, height: int | None, style, options) -> list[Strip]:
        base = style.rich_style
        strips = []
        for runs in self.lines[:height]:
            strip = Strip([Segment(text, base + s if s is not None else base) for text, s in runs if text], self.width)
            strips.append(strip.crop_extend(0, width, base) if self.width != width else strip)
        return strips

    def get_optimal_width(self, rules, container_width: int) -> int:
        return self.width

    def get_height(self, rules, width: int) -> int:
        return len(self.lines)

    def __str__(self) -> str:
        """The picture's characters, a line each (what a test reads of a plot)."""
        return "\n".join("".join(text for text, _ in runs) for runs in self.lines)
