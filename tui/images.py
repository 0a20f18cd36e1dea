"""textual-image, the library the digits are drawn as images with (Kitty's graphics protocol or
Sixel): what the terminal answered when asked, and a sample grid as its Rich renderable. The
rule that picks a protocol, and the grid as a picture, are genlab/render/images.py's (no
Textual there); the cockpit's samples pane mounts textual-image's widget
(tui/widgets/samples.py), and `genlab show`/`sample` print the renderable from here.

textual-image asks the terminal on its first import, so :func:`detected` must run before
Textual reads the terminal's input: the CLI resolves the protocol before it builds the app.
"""

from __future__ import annotations

from genlab.render.images import Protocol, grid_picture


def detected() -> Protocol | None:
    """What textual-image found when it asked the terminal (on its first import, only on a
    terminal): Sixel, Kitty's graphics protocol, or neither."""
    from textual_image.renderable import Image, SixelImage, TGPImage

    return {SixelImage: "sixel", TGPImage: "kitty"}.get(Image)


def picture(images, per_row: int, protocol: Protocol, width: int):
    """A Rich renderable that draws the grid as an image ``width`` cells wide (its height
    follows, the digits square) with ``protocol``."""
    from textual_image.renderable import SixelImage, TGPImage

    renderable = {"kitty": TGPImage, "sixel": SixelImage}[protocol]
    return renderable(grid_picture(images, per_row), width=width, height="auto")
