"""plotext's five busiest helpers, giving the same canvas in a fraction of the time.

Drawing a curve, plotext maps every point to its canvas (``get_matrix_data``), joins consecutive
points with lines of dots (``get_lines``), drops repeated dots (``brush``), groups the dots into
braille characters (``hd_group``) and keeps those inside the canvas (``remove_outsiders``), each
a general Python function called per point or per dot. A pane of sixteen noisy curves makes
over a hundred thousand dots. :func:`install` puts in their place versions that do the same
arithmetic on arrays, for the inputs plotext gives them when it draws numbers (integer dot
coordinates, one marker size a line); any other input goes to plotext's own. A line of one
marker, colour and style has each of its dots once, in the order first drawn.
tests/test_curves.py checks them against plotext's on random data, and a whole canvas of sixteen
curves against the one plotext's own helpers draw.
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
    point's ``other`` values (marker, colour, style). All segments at once, on arrays: dot ``k``
    of a segment of ``a`` dots from ``(x0, y0)`` is ``int(x0 + k * (x1 - x0) / a)`` (and so for y),
    the same float operations as plotext's. Where the ``other`` values are one for the whole
    line, each dot comes once, where plotext's repeats those drawn again: plotext drops the
    repeats next (``brush``), and the canvas is the same."""
    n = len(x)
    if not n or len(y) != n or any(len(o) != n for o in other) or not _numbers(x, INTEGERS) or not _numbers(y, INTEGERS):
        return _originals["get_lines"](x, y, *other)
    xs, ys = np.array(x, dtype=np.int64), np.array(y, dtype=np.int64)
    dx, dy = np.diff(xs), np.diff(ys)
    a = np.maximum(np.abs(dx), np.abs(dy))  # dots of each line, its last point left to the next
    drawn = a > 0
    seg, a = np.flatnonzero(drawn), a[drawn]
    first = np.repeat(seg, a)  # each dot's segment
    k = np.arange(len(first)) - np.repeat(np.cumsum(a) - a, a)  # its place along the segment
    aa = np.repeat(a, a).astype(np.float64)
    sx, sy = np.repeat(dx[seg], a) / aa, np.repeat(dy[seg], a) / aa  # (plotext's linspace slope)
    xd = np.append(np.trunc(xs[first] + k * sx).astype(np.int64), xs[-1])
    yd = np.append(np.trunc(ys[first] + k * sy).astype(np.int64), ys[-1])
    if all(o.count(o[0]) == n for o in other):  # one marker, colour and style for the whole line (the
        # usual case): each dot once, in the order first drawn (what plotext keeps of them after: a
        # min-max curve goes up and down the same columns, a dot drawn many times)
        _, keep = np.unique((xd - xd.min()) * (int(yd.max() - yd.min()) + 1) + (yd - yd.min()), return_index=True)
        keep.sort()
        xd, yd = xd[keep], yd[keep]
        return [xd.tolist(), yd.tolist(), *[[o[0]] * len(xd) for o in other]]
    dot_of = np.append(first, n - 1).tolist()
    return [xd.tolist(), yd.tolist(), *[[o[i] for i in dot_of] for o in other]]


def hd_group(x, y, xf, yf):
    """As plotext's: the dots grouped by character cell (in order of first dot), each cell's
    dots as its marker's code."""
    if not x or len(y) != len(x) or min(xf) != max(xf) or min(yf) != max(yf) or xf[-1] * yf[-1] > 8 \
            or not _numbers(x, INTEGERS) or not _numbers(y, INTEGERS):
        return _originals["hd_group"](x, y, xf, yf)
    w, h = xf[-1], yf[-1]
    xs, ys = np.array(x, dtype=np.int64), np.array(y, dtype=np.int64)
    cx, cy = xs // w, ys // h
    cell = (cx - cx.min()) * (int(cy.max() - cy.min()) + 1) + (cy - cy.min())  # one number a cell
    _, first, which = np.unique(cell, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # cells in the order of their first dot
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    code = np.zeros(len(first), dtype=np.int64)  # each cell's dots, dot j as bit j
    np.bitwise_or.at(code, rank[which.ravel()], 1 << ((h - 1 - ys % h) * w + xs % w))  # (plotext's rows top first)
    firsts, codes = first[order], _codes(w * h)
    return cx[firsts].tolist(), cy[firsts].tolist(), [codes[c] for c in code.tolist()]


_CODES: dict = {}


def _codes(dots: int) -> list:
    """Every pattern of a cell of ``dots`` dots, as plotext's tuple of 0s and 1s (dot j: bit j)."""
    if dots not in _CODES:
        _CODES[dots] = [tuple((c >> j) & 1 for j in range(dots)) for c in range(1 << dots)]
    return _CODES[dots]


def brush(*lists):
    """As plotext's: the points of ``x, y, *other`` each once (plotext's own order is a set's,
    arbitrary; this keeps the order first drawn). On arrays where the ``other`` values are one
    for the whole line (the usual case); plotext's own otherwise."""
    n = min(map(len, lists))
    x, y, other = lists[0][:n], lists[1][:n], [o[:n] for o in lists[2:]]
    if n < 64 or any(o.count(o[0]) != n for o in other) or not _numbers(x, INTEGERS) or not _numbers(y, INTEGERS):
        return _originals["brush"](*lists)
    xs, ys = np.array(x, dtype=np.int64), np.array(y, dtype=np.int64)
    _, keep = np.unique((xs - xs.min()) * (int(ys.max() - ys.min()) + 1) + (ys - ys.min()), return_index=True)
    keep.sort()
    return [xs[keep].tolist(), ys[keep].tolist(), *[[o[0]] * len(keep) for o in other]]


def remove_outsiders(x, y, width, height, *other):
    """As plotext's: the points inside the canvas (``0 <= x < width``, ``0 <= y < height``)."""
    if len(x) < 64 or len(y) != len(x) or not _numbers(x, INTEGERS) or not _numbers(y, INTEGERS) \
            or type(width) is not int or type(height) is not int:
        return _originals["remove_outsiders"](x, y, width, height, *other)
    xs, ys = np.array(x, dtype=np.int64), np.array(y, dtype=np.int64)
    inside = np.flatnonzero((xs >= 0) & (xs < width) & (ys >= 0) & (ys < height))
    if not len(inside):
        return [[]] * (2 + len(other))
    kept = inside.tolist()
    return [xs[inside].tolist(), ys[inside].tolist(), *[[o[i] for i in kept] for o in other]]


def install() -> None:
    """Put these in plotext's place (once; plotext's own kept for what they do not handle)."""
    import plotext._utility as ut

    for name in ("get_matrix_data", "get_lines", "hd_group", "brush", "remove_outsiders"):
        if name not in _originals:
            _originals[name] = getattr(ut, name)
            setattr(ut, name, globals()[name])
