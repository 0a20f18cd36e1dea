"""Drawing a latent map: a PNG (Pillow, which torchvision brings) and a terminal scatter
(plotext), one colour a digit and, in the terminal, the digit itself as the marker, so the
map reads without colour too."""

from __future__ import annotations

import io

import numpy as np

# matplotlib's tab10: ten colours told apart by most eyes
TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
TERMINAL = ["blue", "orange", "green", "red", "magenta", "brown", "violet", "gray", "yellow", "cyan"]


def _scaled(points: np.ndarray, low: float, high: float) -> np.ndarray:
    lo, hi = points.min(0), points.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return low + (points - lo) / span * (high - low)


def latent_png(points, labels, title: str, size: int = 640) -> bytes:
    """The map as PNG bytes: a dot a digit in its colour, a legend, the title."""
    from PIL import Image, ImageDraw

    pts, labs = np.asarray(points, dtype=float), np.asarray(labels, dtype=int)
    img = Image.new("RGB", (size + 120, size + 30), "white")
    draw = ImageDraw.Draw(img)
    draw.text((10, 8), title, fill="black")
    xy = _scaled(pts, 20, size - 20)
    xy[:, 1] = size + 30 - xy[:, 1]  # up is up
    for (x, y), c in zip(xy, labs):
        draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=TAB10[c % 10])
    for d in range(10):
        y = 50 + 24 * d
        draw.rectangle((size + 20, y, size + 34, y + 14), fill=TAB10[d])
        draw.text((size + 42, y + 1), str(d), fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def latent_text(points, labels, width: int, height: int, colour: bool = True, most: int = 3000) -> str:
    """The map as a terminal scatter: each digit drawn as its own character (in its colour)."""
    import plotext as plt

    pts, labs = np.asarray(points, dtype=float), np.asarray(labels, dtype=int)
    if len(pts) > most:  # a legible map: every k-th point
        keep = np.arange(0, len(pts), -(-len(pts) // most))
        pts, labs = pts[keep], labs[keep]
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("pro" if colour else "clear")
    for d in range(10):
        sel = labs == d
        if sel.any():
            plt.scatter(pts[sel, 0].tolist(), pts[sel, 1].tolist(), marker=str(d),
                        color=TERMINAL[d] if colour else None, label=str(d))
    drawn = plt.build()
    return drawn if colour else plt.uncolorize(drawn)
