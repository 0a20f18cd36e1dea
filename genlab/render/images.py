"""Digits as a picture, at full resolution, where the terminal can draw images: the one rule
that turns ``--images auto|on|off`` into a graphics protocol (or none: text), and the sample
grid as an image for textual-image to draw (its Rich renderable here; its Textual widget in
tui/widgets/samples.py).

The rule (``image_protocol``):

- ``off``: never; text as before (half blocks, or ASCII under ``--ascii``/NO_COLOR/a pipe).
- ``auto``: not on a terminal, ``TERM=dumb``, or inside tmux or GNU screen: text. tmux does not
  pass Kitty graphics through unwrapped (and textual-image does not wrap them), and a terminal's
  name inside a multiplexer tells nothing of the terminal outside it, so a multiplexer is text
  unless asked. ``TERM=xterm-kitty``/``xterm-ghostty`` or ``KITTY_WINDOW_ID``: Kitty's protocol.
  Else textual-image asks the terminal (its Sixel query first, then Kitty's; about 0.1 s, once,
  before the cockpit starts): what it answers, or text.
- ``on``: images whatever is detected: Kitty's protocol where the terminal names itself so
  (not inside a multiplexer), else what textual-image detects (inside tmux that is tmux's own
  answer: a tmux built with Sixel says so), else Sixel.

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


def detected() -> Protocol | None:
    """What textual-image found when it asked the terminal (on its first import, only on a
    terminal): Sixel, Kitty's graphics protocol, or neither. Call it before Textual starts:
    once Textual reads the terminal's input, the answer would go to Textual."""
    from textual_image.renderable import Image, SixelImage, TGPImage

    return {SixelImage: "sixel", TGPImage: "kitty"}.get(Image)


def in_multiplexer(env: Mapping[str, str]) -> bool:
    """Inside tmux or GNU screen: between genlab and the terminal, answering for it."""
    return bool(env.get("TMUX") or env.get("STY")) or env.get("TERM", "").startswith(("tmux", "screen"))


def says_kitty(env: Mapping[str, str]) -> bool:
    return env.get("TERM", "") in KITTY_TERMS or bool(env.get("KITTY_WINDOW_ID"))


def image_protocol(mode: str, env: Mapping[str, str] | None = None, tty: bool | None = None,
                   detect: Callable[[], Protocol | None] = detected) -> Protocol | None:
    """The graphics protocol to draw digits with (``"kitty"`` or ``"sixel"``), or None: text.
    ``env``: the environment (default os.environ); ``tty``: whether the output is a terminal
    (default: the process's standard output is); ``detect``: asks the terminal (textual-image),
    called only when the rule needs it. The rule is the module's docstring."""
    if mode not in MODES:
        raise ValueError(f"--images must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return None
    env = os.environ if env is None else env
    if tty is None:
        tty = bool(sys.__stdout__ and sys.__stdout__.isatty())
    multiplexer = in_multiplexer(env)
    if mode == "auto":
        if not tty or env.get("TERM") == "dumb" or multiplexer:
            return None
        return "kitty" if says_kitty(env) else detect()
    if says_kitty(env) and not multiplexer:
        return "kitty"
    return (detect() if tty else None) or "sixel"


GAP = 2  # pixels between digits


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


def picture(images, per_row: int, protocol: Protocol, width: int):
    """A Rich renderable that draws the grid as an image ``width`` cells wide (its height
    follows, the digits square) with ``protocol``, through textual-image."""
    from textual_image.renderable import SixelImage, TGPImage

    renderable = {"kitty": TGPImage, "sixel": SixelImage}[protocol]
    return renderable(grid_picture(images, per_row), width=width, height="auto")
