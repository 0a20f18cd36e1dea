"""A sample grid as a PNG file, without torchvision: the same bytes as torchvision's
``save_image(images / 255, nrow=8, padding=2)`` (tests/test_grid.py compares them), so a
training process need not import torchvision (and the compiler it loads) to write its samples.

The layout is ``make_grid``'s: grey digits become RGB, ``per_row`` to a row, ``padding`` black
pixels around and between them (one digit alone: unpadded).
"""

from __future__ import annotations

import io
import math

import numpy as np


def grid_rgb(images: np.ndarray, per_row: int = 8, padding: int = 2) -> np.ndarray:
    """``images`` (N×H×W uint8) as one H'×W'×3 uint8 picture."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w = images.shape
    if n == 1:  # (make_grid's one digit: alone, unpadded)
        return np.repeat(images[0][:, :, None], 3, axis=2)
    cols = min(per_row, n)
    rows = math.ceil(n / cols) if n else 0
    cell_h, cell_w = h + padding, w + padding
    grid = np.zeros((rows * cell_h + padding, cols * cell_w + padding, 3), dtype=np.uint8)
    for k in range(n):
        y, x = divmod(k, cols)
        top, left = y * cell_h + padding, x * cell_w + padding
        grid[top:top + h, left:left + w] = images[k][:, :, None]
    return grid


def grid_png(images: np.ndarray, per_row: int = 8, padding: int = 2) -> bytes:
    """``images`` (N×H×W uint8) as the bytes of a PNG grid."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(grid_rgb(images, per_row, padding)).save(buf, format="png")
    return buf.getvalue()
