"""The newest fixed-latent sample grid as half-block text (or ASCII), fitted to the pane; or
rows of latent walks (one walk a row, its ends at the edges) in its place.

Where the app draws images (``GenlabApp.images``: a graphics protocol, from ``--images``; see
genlab/render/images.py for the rule), the digits are one picture at full resolution instead,
every digit where they fit legibly (genlab.render.images.picture_layout): textual-image's widget,
a child of the pane, fitted to it. ASCII (``a``, NO_COLOR) still draws text."""

from __future__ import annotations

import numpy as np
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from genlab.render.digits import SIZES, across_classes, layout, render
from genlab.render.images import grid_picture, picture_layout


def picture_widget(protocol: str) -> type[Widget]:
    """textual-image's widget class for ``protocol`` ("kitty" or "sixel"). Its first import asks
    the terminal for its cell size in pixels: call this before Textual starts (GenlabApp does)."""
    from textual_image.widget import SixelImage, TGPImage

    return {"kitty": TGPImage, "sixel": SixelImage}[protocol]


def prepare_pictures(protocol: str | None) -> str | None:
    """Get textual-image ready to draw with ``protocol`` (its cell size asked now, before
    Textual reads the terminal); None, text, where it cannot (a terminal of no size)."""
    if not protocol:
        return None
    try:
        picture_widget(protocol)
    except ZeroDivisionError:  # textual-image divides the terminal's pixels by its 0 columns
        return None
    return protocol


class SamplesPane(Static):
    DEFAULT_CSS = """
    SamplesPane {
        height: 1fr;
        border: round $primary;
        border-title-align: left;
        padding: 0;
        overflow: hidden;
    }
    SamplesPane > .picture {
        width: auto;
        height: auto;
    }
    """

    ascii: reactive[bool] = reactive(False)

    def __init__(self, class_blocks: int = 0, title: str = "samples", hint: str = "", **kwargs):
        """``class_blocks``: the grid is that many blocks of one class each (a conditional model):
        a pane too small for all of it shows digits taken across the blocks, every class."""
        super().__init__("waiting for the first sample grid", **kwargs)
        self.class_blocks, self.title, self.hint = class_blocks, title, hint
        self.images: np.ndarray | None = None
        self.step: int | None = None
        self.where = ""  # "k of n" while an older grid is shown
        self.per_row: int | None = None  # walks: digits a row (the images are rows of walks)
        self.picture: Widget | None = None  # textual-image's widget, once a grid is drawn as an image
        self.border_title = title

    def show(self, images: np.ndarray | None, step: int | None, where: str = "") -> None:
        """Draw ``images`` (the grid of ``step``); ``where``: its place in the run's history
        ("3 of 40", when an older grid is shown), else the newest."""
        if images is None or (step == self.step and where == self.where and self.images is not None
                              and self.per_row is None):
            return
        self.images, self.step, self.where, self.per_row = images, step, where, None
        self.redraw()

    WALK_STEPS = (5, 10)  # digits a walk: fewer at full size, more at half size

    def walk_shape(self, width: int | None = None) -> tuple[int, int]:
        """(rows, digits a row) of walks that fill the pane (``width``: the width it is about to
        have, in cells): full-size digits where five a row and two rows fit, else half-size
        ones, up to ten a row."""
        width = max(14, width or self.content_size.width)
        height = max(7, self.content_size.height)
        for size, most in zip(SIZES, self.WALK_STEPS):
            steps, rows = min(most, (width + 1) // (size + 1)), height // (size // 2)
            if (steps >= 5 and rows >= 2) or size == SIZES[-1]:
                return max(1, min(10, rows)), max(2, min(most, steps))
        raise AssertionError("unreachable")

    def show_walks(self, images: np.ndarray, step: int | None, per_row: int, how: str) -> None:
        """Rows of ``per_row`` digits each, a walk a row (``how``: said in the title)."""
        self.images, self.step, self.where, self.per_row = images, step, how, per_row
        self.redraw()

    def watch_ascii(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if self.images is None or not self.display:  # (a hidden pane draws once shown: its resize)
            return
        if self.per_row:
            return self.redraw_walks()
        width = max(14, self.content_size.width)
        height = max(7, self.content_size.height)
        sizes = SIZES[:1] if self.ascii and width >= 28 and height >= 14 else SIZES
        if self.protocol:
            per_row, fits = picture_layout(len(self.images), width, height)
        else:
            size, per_row = layout(len(self.images), width, height, sizes)
            fits = per_row * max(1, height // (size // 2))
        images = across_classes(self.images, self.class_blocks) if self.class_blocks and fits < len(self.images) else self.images
        self.border_subtitle = self.hint if len(self.hint) + 4 <= self.size.width else ""
        title = (f"{self.title} · step {self.step:,}" + (f" · {self.where}" if self.where else "")
                 + (" · ascii" if self.ascii else ""))
        if len(title) + 4 > self.size.width:  # a narrow pane (a comparison's): the short form
            title = f"{self.title} · {self.step:,}" if len(self.title) + 12 <= self.size.width else self.title
        self.border_title = title
        if self.protocol:
            self.draw_picture(images[:fits], per_row)
        else:  # the pane's size comes from the layout, never from its text: no new layout needed
            self.hide_picture()
            self.update(render(images[:fits], width=width, height=height, ascii=self.ascii, sizes=sizes), layout=False)

    def redraw_walks(self) -> None:
        """Whole walks only: a row is ``per_row`` digits at the largest size that fits."""
        width = max(14, self.content_size.width)
        height = max(7, self.content_size.height)
        per_row = self.per_row
        size = next((s for s in SIZES if per_row * (s + 1) - 1 <= width and height >= s // 2), SIZES[-1])
        rows = max(1, min(len(self.images) // per_row, height // (size // 2)))
        step = f" · step {self.step:,}" if self.step is not None else ""
        title = f"latent walks{step} · {self.where}" + (" · ascii" if self.ascii else "")
        self.border_title = title if len(title) + 4 <= self.size.width else f"walks{step}"
        self.border_subtitle = "i new walks · End the samples"
        if self.protocol:  # every walk: an image's digits are legible smaller than half blocks'
            return self.draw_picture(self.images, per_row)
        self.hide_picture()
        self.update(render(self.images[: rows * per_row], width=per_row * (size + 1) - 1, height=None,
                           ascii=self.ascii, sizes=(size,)), layout=False)

    @property
    def protocol(self) -> str | None:
        """How digits are drawn as an image here ("kitty", "sixel"): the app's choice (GenlabApp.images),
        unless ASCII is on; None: as text."""
        return None if self.ascii else getattr(self.app, "images", None)

    def draw_picture(self, images: np.ndarray, per_row: int) -> None:
        """``images``, ``per_row`` a row, as one image fitted to the pane (textual-image's widget)."""
        grid = grid_picture(images, per_row)
        if self.picture is None:
            self.picture = picture_widget(self.protocol)(grid, classes="picture")
            self.mount(self.picture)
        else:
            self.picture.image = grid
        self.picture.display = True
        self.update("", layout=False)

    def hide_picture(self) -> None:
        if self.picture is not None:
            self.picture.display = False
