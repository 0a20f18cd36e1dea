"""Digits as a picture, at full resolution, where the terminal can draw images: the one rule
that turns ``--images auto|on|off`` into a graphics protocol (or none: text), and the sample
grid as one image. textual-image draws it (tui/images.py: its terminal query and its Rich
renderable; tui/widgets/samples.py: its Textual widget).

The rule (``image_protocol``):

- ``off``: never; text as before (half blocks, or ASCII under ``--ascii``/NO_COLOR/a pipe).
- ``auto``: not on a terminal (a pipe, the tests) or ``TERM=dumb``: text, nothing asked.
  ``TERM=xterm-kitty``/``xterm-ghostty`` or ``KITTY_WINDOW_ID``: Kitty's protocol. Else
  textual-image asks the terminal (a Sixel query, then Kitty's; some 0.1 s, once, before the
  cockpit starts) and what it answers is used, else text.
- inside tmux, ``auto`` is text unless tmux passes images through: tmux answers textual-image's
  questions itself, and says Sixel only where it draws Sixel (tmux 3.4 or later, built with it);
  Kitty's protocol never passes (tmux wants it wrapped, which textual-image does not do), and
  the terminal outside (``KITTY_WINDOW_ID`` inherited) does not count. GNU screen: text.
- ``on``: images whatever is detected: Kitty's protocol where the terminal names itself so (not
  in a multiplexer), else what textual-image detects, else Sixel.

ASCII, where it applies, wins over images. Nothing here imports Textual.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Literal, Mapping

import numpy as np

from genlab.render.digits import as_array

MODES = ("auto", "on", "off")
Mode = Literal["auto", "on", "off"]
Protocol = Literal["kitty", "sixel"]

KITTY_TERMS = ("xterm-kitty", "xterm-ghostty")  # terminals that speak Kitty's protocol, placeholders too


def in_multiplexer(env: Mapping[str, str]) -> bool:
    """Inside tmux or GNU screen: between genlab and the terminal, answering for it."""
    return bool(env.get("TMUX") or env.get("STY")) or env.get("TERM", "").startswith(("tmux", "screen"))


def says_kitty(env: Mapping[str, str]) -> bool:
    return env.get("TERM", "") in KITTY_TERMS or bool(env.get("KITTY_WINDOW_ID"))


def image_protocol(mode: str, env: Mapping[str, str] | None = None, tty: bool | None = None,
                   detect: Callable[[], Protocol | None] | None = None) -> Protocol | None:
    """The graphics protocol to draw digits with (``"kitty"`` or ``"sixel"``), or None: text.
    ``env``: the environment (default os.environ); ``tty``: whether the output is a terminal
    (default: the process's standard output is); ``detect``: asks the terminal
    (tui.images.detected; None: nothing is asked, nothing found), called only when the rule
    needs it. The rule is the module's docstring."""
    if mode not in MODES:
        raise ValueError(f"--images must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return None
    detect = detect or (lambda: None)
    env = os.environ if env is None else env
    if tty is None:
        tty = bool(sys.__stdout__ and sys.__stdout__.isatty())
    multiplexer = in_multiplexer(env)
    if mode == "auto":
        if not tty or env.get("TERM") == "dumb" or env.get("STY"):
            return None
        if multiplexer:  # tmux: only what tmux itself draws
            return "sixel" if detect() == "sixel" else None
        return "kitty" if says_kitty(env) else detect()
    if says_kitty(env) and not multiplexer:
        return "kitty"
    return (detect() if tty else None) or "sixel"


GAP = 2  # pixels between digits
SMALLEST = 6  # cells: the narrowest digit an image draws (some 50 pixels: twice MNIST's own 28)


def picture_layout(n: int, width: int, height: int, smallest: int = SMALLEST) -> tuple[int, int]:
    """(digits a row, digits shown) of ``n`` digits drawn as one image in ``width`` × ``height``
    cells (a cell about twice as tall as wide): every digit, arranged to be as large as the
    space allows; where even the best arrangement would draw them narrower than ``smallest``
    cells, as many as fit at that size, row by row. Unlike half blocks, an image's digits keep
    all their pixels at any size: no half-size digits here."""
    width, height = max(1, width), max(1, 2 * height)  # in units of a cell's width
    best, best_size = 1, 0.0
    for per_row in range(1, n + 1):
        size = min(width / per_row, height / -(-n // per_row))
        if size > best_size:
            best, best_size = per_row, size
    if best_size >= smallest:
        return best, n
    per_row = max(1, min(n, width // smallest))
    return per_row, min(n, per_row * max(1, height // smallest))


def grid_picture(images, per_row: int):
    """The digits as one greyscale PIL image, ``per_row`` a row, 28×28 pixels each, ``GAP``
    black pixels between them (the digits' own background)."""
    from PIL import Image

    images = as_array(images)
    per_row = max(1, min(per_row, len(images)))
    rows = -(-len(images) // per_row)
    step = 28 + GAP
    grid = np.zeros((rows * step - GAP, per_row * step - GAP), dtype=np.uint8)
    for i, digit in enumerate(images):
        y, x = divmod(i, per_row)
        grid[y * step: y * step + 28, x * step: x * step + 28] = digit
    return Image.fromarray(grid)  # uint8, two dimensions: greyscale ("L")
