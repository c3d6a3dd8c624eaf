"""The release card's pictures, written as SVG text: no plotting library, the same bytes for the
same numbers (coordinates printed with fixed decimals, no ids, no dates).

    scatter  one disc per measured variant (KLD against file size), in POINT_COLOUR, and one square
             per measured stock mix in STOCK_COLOUR, with a legend when there are both kinds
    heatmap  bits per weight by role (rows) and layer (columns) for one variant
"""

from __future__ import annotations

import math
from typing import Sequence
from xml.sax.saxutils import escape

POINT_COLOUR = "#e4007c"  # the points' colour, found nowhere else in the pictures
STOCK_COLOUR = "#8a5a00"  # the stock mixes' squares (reference points), found nowhere else either
_INK, _GRID, _EMPTY = "#222222", "#dddddd", "#f2f2f2"
# bits per weight -> colour: a blue-to-yellow ramp (no magenta), 1.5 to 16 bpw on a log scale
_RAMP = ("#30123b", "#3e49bb", "#3582f5", "#1cc5d9", "#2ef19b", "#a4fc3c", "#f1cb3a", "#fb7e21")
_BPW_LO, _BPW_HI = 1.5, 16.0


def _f(x: float) -> str:
    """A coordinate: two decimals, no trailing zeros, no `-0`."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(x: float, y: float, body: str, anchor: str = "start", size: int = 12, extra: str = "") -> str:
    return (f'<text x="{_f(x)}" y="{_f(y)}" font-family="sans-serif" font-size="{size}" fill="{_INK}" '
            f'text-anchor="{anchor}"{extra}>{escape(body)}</text>')


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """COUNT+1 evenly spaced values from LO to HI."""
    return [lo + (hi - lo) * i / count for i in range(count + 1)]


def _span(values: Sequence[float]) -> tuple[float, float]:
    """An axis range around VALUES with 10 % room on each side (a single value gets room too)."""
    lo, hi = min(values), max(values)
    room = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1.0
    return max(0.0, lo - room) if lo >= 0 else lo - room, hi + room


def _label(x: float) -> str:
    return f"{x:.3g}"


def _legend(x: float, y: float) -> str:
    """The scatter's key: a disc for the recipes' variants, a square for the stock mixes."""
    return "\n".join([
        '<g class="legend">',
        f'<circle cx="{_f(x)}" cy="{_f(y - 4)}" r="5" fill="{POINT_COLOUR}"/>',
        _text(x + 9, y, "recipe", "start", 11),
        f'<rect x="{_f(x + 60)}" y="{_f(y - 9)}" width="10" height="10" fill="{STOCK_COLOUR}"/>',
        _text(x + 75, y, "stock mix", "start", 11),
        "</g>"])


def scatter(points: Sequence[tuple[str, float, float]], x_title: str, y_title: str, title: str,
            reference: Sequence[tuple[str, float, float]] = ()) -> str:
    """An SVG scatter plot: (label, x, y) per point, one circle each in POINT_COLOUR; REFERENCE
    points (the stock mixes) one square each in STOCK_COLOUR."""
    w, h, left, right, top, bottom = 640, 400, 80, 30, 40, 60
    every = [*points, *reference]
    xs, ys = _span([p[1] for p in every]), _span([p[2] for p in every])
    px = lambda x: left + (x - xs[0]) / (xs[1] - xs[0]) * (w - left - right)  # noqa: E731
    py = lambda y: h - bottom - (y - ys[0]) / (ys[1] - ys[0]) * (h - top - bottom)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
           f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
           _text(w / 2, 24, title, "middle", 15)]
    for t in _ticks(*xs):
        out.append(f'<line x1="{_f(px(t))}" y1="{top}" x2="{_f(px(t))}" y2="{h - bottom}" stroke="{_GRID}"/>')
        out.append(_text(px(t), h - bottom + 18, _label(t), "middle", 11))
    for t in _ticks(*ys):
        out.append(f'<line x1="{left}" y1="{_f(py(t))}" x2="{w - right}" y2="{_f(py(t))}" stroke="{_GRID}"/>')
        out.append(_text(left - 6, py(t) + 4, _label(t), "end", 11))
    out.append(f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" '
               f'fill="none" stroke="{_INK}"/>')
    out.append(_text(left + (w - left - right) / 2, h - 18, x_title, "middle", 13))
    out.append(_text(18, top + (h - top - bottom) / 2, y_title, "middle", 13,
                     f' transform="rotate(-90 18 {_f(top + (h - top - bottom) / 2)})"'))
    for stock, (label, x, y) in [*((False, p) for p in points), *((True, p) for p in reference)]:
        if stock:
            out.append(f'<rect x="{_f(px(x) - 6)}" y="{_f(py(y) - 6)}" width="12" height="12" fill="{STOCK_COLOUR}"/>')
        else:
            out.append(f'<circle cx="{_f(px(x))}" cy="{_f(py(y))}" r="7" fill="{POINT_COLOUR}"/>')
        flip = px(x) > left + 0.7 * (w - left - right)  # a label near the right edge goes to the left
        out.append(_text(px(x) + (-10 if flip else 10), py(y) - 10, label, "end" if flip else "start", 11))
    if reference:
        out.append(_legend(w - right - 135, 24))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bpw_colour(bpw: float) -> str:
    """The heat map's colour of BPW bits per weight (log scale between 1.5 and 16)."""
    t = (math.log(max(bpw, _BPW_LO)) - math.log(_BPW_LO)) / (math.log(_BPW_HI) - math.log(_BPW_LO))
    return _RAMP[min(len(_RAMP) - 1, max(0, int(t * len(_RAMP))))]


def heatmap(rows: Sequence[str], columns: Sequence[str], cells: dict[tuple[str, str], float], title: str) -> str:
    """An SVG heat map: one cell per (row, column) in CELLS coloured by its bits per weight."""
    cell, left, top = 16, 150, 50
    label_step = max(1, math.ceil(len(columns) / 30))
    w = max(left + cell * len(columns) + 20, 480)
    legend_y = top + cell * len(rows) + 40
    h = legend_y + 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
           f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
           _text(10, 22, title, "start", 15)]
    for j, col in enumerate(columns):
        if j % label_step == 0:
            out.append(_text(left + cell * j + cell / 2, top - 6, col, "middle", 9))
    for i, row in enumerate(rows):
        y = top + cell * i
        out.append(_text(left - 6, y + cell - 4, row, "end", 11))
        for j, col in enumerate(columns):
            bpw = cells.get((row, col))
            fill = _EMPTY if bpw is None else bpw_colour(bpw)
            out.append(f'<rect x="{left + cell * j}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}"/>')
    out.append(_text(10, legend_y - 8, "bits per weight", "start", 11))
    for k, colour in enumerate(_RAMP):
        lo = _BPW_LO * (_BPW_HI / _BPW_LO) ** (k / len(_RAMP))
        out.append(f'<rect x="{10 + 56 * k}" y="{legend_y}" width="54" height="14" fill="{colour}"/>')
        out.append(_text(12 + 56 * k, legend_y + 30, f"≥ {lo:.1f}", "start", 10))
    out.append("</svg>")
    return "\n".join(out) + "\n"
