"""Digits as text: one renderer for ``genlab show``, ``genlab sample``, training output and the cockpit.

Half-block mode draws two pixels per cell: ``▀`` with the upper pixel as foreground colour and
the lower one as background, so a 28×28 digit takes 28×14 cells (Rich downgrades the grey levels
to what the terminal supports). ASCII mode maps the mean of the two pixels to a character ramp,
for ``NO_COLOR``, ``--ascii``, dumb terminals and log files. When the grid would not fit, digits
are drawn at half size (14×7 cells, 2×2 pixels averaged).
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

RAMP = " .:-=+*#%@"
SIZES = (28, 14)  # digit width in pixels (and cells) at full and half size
GAP = 1


def should_use_ascii(force: bool = False, stream=None) -> bool:
    """ASCII when asked, when NO_COLOR is set, on a dumb terminal, or when not a terminal."""
    stream = stream or sys.stdout
    if force or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return True
    return not (hasattr(stream, "isatty") and stream.isatty())


def layout(n: int, width: int, height: int | None = None, sizes=SIZES) -> tuple[int, int]:
    """(digit size in pixels, digits per row): full size if the grid fits in ``height`` lines."""
    for size in sizes:
        per_row = max(1, min(n, (width + GAP) // (size + GAP)))
        lines = math.ceil(n / per_row) * (size // 2)
        if height is None or lines <= height:
            return size, per_row
    return sizes[-1], per_row


def as_array(images) -> np.ndarray:
    """Digits as a ``uint8`` N×28×28 array, from a numpy array or a (CPU) torch tensor."""
    if hasattr(images, "numpy"):
        images = images.detach().cpu().numpy()
    return np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28)


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Average f×f pixel blocks, f = 28 / size."""
    if size == 28:
        return images
    f = 28 // size
    return images.reshape(len(images), size, f, size, f).mean(axis=(2, 4)).round().astype(np.uint8)


def _rows(images, width: int, height: int | None, sizes=SIZES):
    """Yield (pixel rows stacked side by side with gaps) per row of digits, as a list of lists."""
    images = as_array(images)
    size, per_row = layout(len(images), width, height, sizes)
    images = _resize(images, size).astype(np.int16)
    for start in range(0, len(images), per_row):
        chunk = images[start : start + per_row]
        pad = np.full((size, GAP), -1, dtype=np.int16)  # -1 marks a gap column
        parts = []
        for i, img in enumerate(chunk):
            if i:
                parts.append(pad)
            parts.append(img)
        yield np.concatenate(parts, axis=1).tolist()


def to_ascii(images, width: int = 80, height: int | None = None, sizes=SIZES) -> str:
    """The grid as plain characters: one cell is the mean of two vertically adjacent pixels."""
    lines = []
    for band in _rows(images, width, height, sizes):
        for y in range(0, len(band), 2):
            top, bottom = band[y], band[y + 1]
            lines.append("".join(
                " " if a < 0 else RAMP[min(len(RAMP) - 1, (a + b) * len(RAMP) // 512)]
                for a, b in zip(top, bottom)
            ).rstrip())
    return "\n".join(lines)


_styles: dict[tuple[int, int], Style] = {}


def _style(top: int, bottom: int) -> Style:
    key = (top, bottom)
    if key not in _styles:
        _styles[key] = Style(color=Color.from_rgb(top, top, top), bgcolor=Color.from_rgb(bottom, bottom, bottom))
    return _styles[key]


def to_halfblock(images, width: int = 80, height: int | None = None, sizes=SIZES) -> Text:
    """The grid as Rich text of ``▀`` cells; runs of identical cells share one span."""
    text = Text(no_wrap=True, overflow="crop")
    first = True
    for band in _rows(images, width, height, sizes):
        for y in range(0, len(band), 2):
            if not first:
                text.append("\n")
            first = False
            run_style, run_len = None, 0
            for a, b in zip(band[y], band[y + 1]):
                style = None if a < 0 else _style(a, b)
                if style is run_style:
                    run_len += 1
                    continue
                if run_len:
                    text.append(("▀" if run_style else " ") * run_len, run_style)
                run_style, run_len = style, 1
            if run_len:
                text.append(("▀" if run_style else " ") * run_len, run_style)
    return text


def render(images, width: int = 80, height: int | None = None, ascii: bool = False,
           sizes=SIZES) -> Text | str:
    return to_ascii(images, width, height, sizes) if ascii else to_halfblock(images, width, height, sizes)


def across_classes(images, classes: int) -> np.ndarray:
    """A grid made of ``classes`` equal blocks, class after class (a conditional model's rows of
    0s, 1s, ...), reordered to take one digit of each class in turn: then any ``classes``
    digits from the front hold every class."""
    images = as_array(images)
    per_class = len(images) // classes
    if per_class < 1:
        return images
    n = per_class * classes
    blocks = images[:n].reshape(classes, per_class, 28, 28)
    return np.concatenate([blocks.transpose(1, 0, 2, 3).reshape(n, 28, 28), images[n:]])
