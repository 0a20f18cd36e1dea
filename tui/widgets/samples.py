"""The newest fixed-latent sample grid as half-block text (or ASCII), fitted to the pane."""

from __future__ import annotations

import numpy as np
from textual.reactive import reactive
from textual.widgets import Static

from genlab.render import SIZES, across_classes, layout, render


class SamplesPane(Static):
    DEFAULT_CSS = """
    SamplesPane {
        height: 1fr;
        border: round $primary;
        border-title-align: left;
        padding: 0;
        overflow: hidden;
    }
    """

    ascii: reactive[bool] = reactive(False)

    def __init__(self, class_blocks: int = 0, title: str = "samples", **kwargs):
        """``class_blocks``: the grid is that many blocks of one class each (a conditional model):
        a pane too small for all of it shows digits taken across the blocks, every class."""
        super().__init__("waiting for the first sample grid", **kwargs)
        self.class_blocks, self.title = class_blocks, title
        self.images: np.ndarray | None = None
        self.step: int | None = None
        self.where = ""  # "k of n" while an older grid is shown
        self.border_title = title

    def show(self, images: np.ndarray | None, step: int | None, where: str = "") -> None:
        """Draw ``images`` (the grid of ``step``); ``where``: its place in the run's history
        ("3 of 40", when an older grid is shown), else the newest."""
        if images is None or (step == self.step and where == self.where and self.images is not None):
            return
        self.images, self.step, self.where = images, step, where
        self.redraw()

    def watch_ascii(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if self.images is None:
            return
        width = max(14, self.content_size.width)
        height = max(7, self.content_size.height)
        sizes = SIZES[:1] if self.ascii and width >= 28 and height >= 14 else SIZES
        size, per_row = layout(len(self.images), width, height, sizes)
        fits = per_row * max(1, height // (size // 2))
        images = across_classes(self.images, self.class_blocks) if self.class_blocks and fits < len(self.images) else self.images
        title = (f"{self.title} · step {self.step:,}" + (f" · {self.where}" if self.where else "")
                 + (" · ascii" if self.ascii else ""))
        if len(title) + 4 > self.size.width:  # a narrow pane (a comparison's): the short form
            title = f"{self.title} · {self.step:,}" if len(self.title) + 12 <= self.size.width else self.title
        self.border_title = title
        # the pane's size comes from the layout, never from its text: no new layout needed
        self.update(render(images[:fits], width=width, height=height, ascii=self.ascii, sizes=sizes), layout=False)
