"""The newest fixed-latent sample grid as half-block text (or ASCII), fitted to the pane."""

from __future__ import annotations

import numpy as np
from textual.reactive import reactive
from textual.widgets import Static

from genlab.render import SIZES, layout, render


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

    def __init__(self, **kwargs):
        super().__init__("waiting for the first sample grid", **kwargs)
        self.images: np.ndarray | None = None
        self.step: int | None = None
        self.border_title = "samples"

    def show(self, images: np.ndarray | None, step: int | None) -> None:
        if images is None or (step == self.step and self.images is not None):
            return
        self.images, self.step = images, step
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
        self.border_title = f"samples · step {self.step:,}" + (" · ascii" if self.ascii else "")
        # the pane's size comes from the layout, never from its text: no new layout needed
        self.update(render(self.images[:fits], width=width, height=height, ascii=self.ascii, sizes=sizes), layout=False)
