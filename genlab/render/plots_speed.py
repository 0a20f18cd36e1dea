"""plotext's three busiest helpers, giving the same results in a fraction of the time.

Drawing a curve, plotext maps every point to its canvas (``get_matrix_data``), joins consecutive
points with lines of dots (``get_lines``) and groups the dots into braille characters
(``hd_group``), each a general Python function called per point or per dot. A cockpit pane of
four curves of a few hundred points makes tens of thousands of dots: these three were two thirds
of drawing it. :func:`install` puts in their place versions that do the same arithmetic on the
same values in tight loops, for the inputs plotext gives them when it draws numbers (integer dot
coordinates, one marker size a line); any other input goes to plotext's own. tests/test_curves.py
checks them against plotext's on random data.
"""

from __future__ import annotations

import numpy as np

_originals: dict = {}


NUMBERS, INTEGERS = {int, float}, {int}


def _numbers(values, kinds=NUMBERS) -> bool:
    return set(map(type, values)) <= kinds


def get_matrix_data(data, lim, bins):
    """As plotext's: data to canvas coordinates (``floor(round(0.5 + (bins - 1) * (v - lo) / span, 8))``),
    the same float operations in the same order, on arrays."""
    if not _numbers(data) or not _numbers(lim) or not len(data):
        return _originals["get_matrix_data"](data, lim, bins)
    values = np.array(data, dtype=np.float64)
    if not np.isfinite(values).all() or not np.isfinite(lim).all():
        return _originals["get_matrix_data"](data, lim, bins)
    n = (0.5 + (bins - 1) * (values - lim[0]) / (lim[1] - lim[0])) * 100000000  # plotext's round(n, 8): halves up
    f = np.floor(n)
    return np.floor(np.where(n - f < 0.5, f, np.ceil(n)) * 1e-08).astype(np.int64).tolist()


def get_lines(x, y, *other):
    """As plotext's: the dots of the lines between consecutive points, each carrying its first
    point's ``other`` values (marker, colour, style)."""
    n = len(x)
    if not n or len(y) != n or any(len(o) != n for o in other) or not _numbers(x, INTEGERS) or not _numbers(y, INTEGERS):
        return _originals["get_lines"](x, y, *other)
    xl, yl, ol = [], [], [[] for _ in other]
    for i in range(n - 1):
        x0, x1, y0, y1 = x[i], x[i + 1], y[i], y[i + 1]
        a = max(abs(x1 - x0), abs(y1 - y0))  # dots of the line, its last point left to the next
        if not a:
            continue
        sx, sy = (x1 - x0) / a, (y1 - y0) / a  # (plotext's linspace slope)
        xl += [int(x0 + k * sx) for k in range(a)]
        yl += [int(y0 + k * sy) for k in range(a)]
        for values, o in zip(ol, other):
            values += [o[i]] * a
    xl.append(x[-1])
    yl.append(y[-1])
    for values, o in zip(ol, other):
        values.append(o[-1])
    return [xl, yl, *ol]


def hd_group(x, y, xf, yf):
    """As plotext's: the dots grouped by character cell (in order of first dot), each cell's
    dots as its marker's code."""
    if not x or len(y) != len(x) or min(xf) != max(xf) or min(yf) != max(yf) \
            or not _numbers(x, INTEGERS) or not _numbers(y, INTEGERS):
        return _originals["hd_group"](x, y, xf, yf)
    w, h = xf[-1], yf[-1]
    cells: dict = {}
    for xi, yi in zip(x, y):
        key = (xi // w, yi // h)
        bits = cells.get(key)
        if bits is None:
            bits = cells[key] = [0] * (w * h)
        bits[(h - 1 - yi % h) * w + xi % w] = 1  # (plotext's rows top first)
    return [k[0] for k in cells], [k[1] for k in cells], [tuple(b) for b in cells.values()]


def install() -> None:
    """Put these in plotext's place (once; plotext's own kept for what they do not handle)."""
    import plotext._utility as ut

    for name in ("get_matrix_data", "get_lines", "hd_group"):
        if name not in _originals:
            _originals[name] = getattr(ut, name)
            setattr(ut, name, globals()[name])
