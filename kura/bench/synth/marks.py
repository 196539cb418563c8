"""Marks a resident makes on choices and checkboxes, the way people make them: a circle round
the label (tight, or loose and open, running into the neighbours), a tick on or beside it, a
cross; a tick, a cross or (now and then) a lone slash in a checkbox, a circle round it or a
tick beside it; and the ways a mark made by mistake is taken back — a line across it, two
(二重線), a line that stops at the label's or the box's edge, a steep stroke across the box
and on past it or one kept inside it (a slash over the tick), a scribble over it or kept
inside the box, or the box filled in (塗りつぶし).

On Japanese forms a box filled in is usually a tick blotted out, not a tick: the benchmark's
truth for it is "not ticked" and the reader sends it to a person (`filled_box`).
"""

from __future__ import annotations

import math
import random
from typing import Protocol

from PIL import Image, ImageDraw

from pipeline.fonts import PRINTED_FONT, font

Box = tuple[int, int, int, int]
"""x, y, width, height in page pixels."""
SLASH_TICK_RATE = 0.05
"""Checkboxes ticked: share of ticks made as one slash ("/", "\\" or "|") kept inside the box."""
CIRCLE_BOX_RATE = 0.03
"""Checkboxes ticked: share of boxes circled (○ round □) instead of ticked."""
LABEL_FONT_SIZE = 44
"""The size `render_blank` prints option labels with."""
Shares = tuple[tuple[str, float], ...]


class MarkStyle(Protocol):
    """How a resident marks (the marks' part of `handwriting.HandStyle`)."""

    @property
    def tick_rate(self) -> float: ...
    @property
    def cross_rate(self) -> float: ...
    @property
    def loose_rate(self) -> float: ...
    @property
    def correction_rate(self) -> float: ...
    @property
    def checkbox_cross_rate(self) -> float: ...
    @property
    def beside_rate(self) -> float: ...
    @property
    def strike_styles(self) -> Shares: ...
    @property
    def checkbox_strike_styles(self) -> Shares: ...
    @property
    def weight(self) -> int | None: ...


class Pen(Protocol):
    """The hand that draws the marks (`handwriting._Pen`)."""

    @property
    def rng(self) -> random.Random: ...
    @property
    def style(self) -> MarkStyle: ...
    @property
    def overflow(self) -> bool: ...
    def put(self, page: Image.Image, mask: Image.Image, left: float, top: float) -> Box: ...


def mark_option(
    page: Image.Image, box: Box, label: str, pen: Pen, others: list[tuple[Box, str]]
) -> None:
    """Mark the option in `box`; now and then another option was marked first and taken back."""
    rng, style = pen.rng, pen.style
    if others and rng.random() < style.correction_rate:  # another marked first, taken back
        wrong_box, wrong_label = rng.choice(others)
        loose = rng.random() < style.loose_rate
        if rng.random() < style.tick_rate:
            mark = tick(page, wrong_box, pen, inside=False)
        else:
            mark = ellipse(page, wrong_box, wrong_label, pen, loose=loose)
        kind = _pick(rng, style.strike_styles)
        strike(page, mark, label_box(wrong_box, wrong_label), pen, kind)
    draw = rng.random()
    if draw < style.tick_rate:
        tick(page, box, pen, inside=False)
    elif draw < style.tick_rate + style.cross_rate:
        cross(page, box, pen, inside=False)
    else:
        ellipse(page, box, label, pen, loose=rng.random() < style.loose_rate)


def mark_checkbox(page: Image.Image, box: Box, pen: Pen) -> None:
    """Tick a checkbox: a tick in it, a cross in it, now and then a lone slash in it, a
    circle round it or a tick beside it."""
    rng, style = pen.rng, pen.style
    draw = rng.random()
    if draw < style.beside_rate:
        _tick_beside(page, box, pen)
    elif draw < style.beside_rate + style.checkbox_cross_rate:
        cross(page, box, pen, inside=True)
    elif draw < style.beside_rate + style.checkbox_cross_rate + SLASH_TICK_RATE:
        slash(page, box, pen)
    elif draw < style.beside_rate + style.checkbox_cross_rate + SLASH_TICK_RATE + CIRCLE_BOX_RATE:
        circle_round_box(page, box, pen)
    else:
        tick(page, box, pen, inside=True)


def take_back_checkbox(page: Image.Image, box: Box, pen: Pen) -> None:
    """A box ticked by mistake and taken back (`checkbox_strike_styles`)."""
    rng = pen.rng
    mark = tick(page, box, pen, inside=True)
    kind = _pick(rng, pen.style.checkbox_strike_styles)
    if kind == "diagonal":
        _diagonal(page, box, pen)
    elif kind == "slash":
        slash(page, box, pen)
    elif kind == "blot":
        _blot(page, box, pen, solid=False)
    elif kind == "fill":
        _blot(page, box, pen, solid=True)
    else:
        strike(page, mark, box, pen, kind)


def _pick(rng: random.Random, shares: Shares) -> str:
    names, weights = zip(*shares, strict=True)
    return str(rng.choices(names, weights=weights)[0])


def stroke_tile(
    size: tuple[int, int], strokes: list[list[tuple[float, float]]], width: float
) -> Image.Image:
    """Anti-aliased pen strokes on a mask (drawn at 2x, then halved)."""
    big = Image.new("L", (size[0] * 2, size[1] * 2), 0)
    draw = ImageDraw.Draw(big)
    for points in strokes:
        scaled = [(px * 2, py * 2) for px, py in points]
        draw.line(scaled, fill=255, width=max(2, int(width * 2)), joint="curve")
        r = width
        for px, py in (scaled[0], scaled[-1]):
            draw.ellipse((px - r, py - r, px + r, py + r), fill=255)
    return big.resize(size, Image.Resampling.BILINEAR)


def _put_strokes(
    page: Image.Image, strokes: list[list[tuple[float, float]]], width: float, pen: Pen
) -> Box:
    """Ink strokes given in page coordinates."""
    pad = 30
    x0 = min(x for stroke in strokes for x, _ in stroke) - pad
    y0 = min(y for stroke in strokes for _, y in stroke) - pad
    x1 = max(x for stroke in strokes for x, _ in stroke) + pad
    y1 = max(y for stroke in strokes for _, y in stroke) + pad
    local = [[(x - x0, y - y0) for x, y in stroke] for stroke in strokes]
    mask = stroke_tile((int(x1 - x0), int(y1 - y0)), local, width)
    return pen.put(page, mask, x0, y0)


def label_box(box: Box, label: str) -> Box:
    """Where `render_blank` prints an option's label: centred in the option's box."""
    ox, oy, ow, oh = box
    width = round(font(PRINTED_FONT, LABEL_FONT_SIZE).getlength(label))
    return (ox + (ow - width) // 2, oy + (oh - LABEL_FONT_SIZE) // 2, width, LABEL_FONT_SIZE)


def ellipse(page: Image.Image, box: Box, label: str, pen: Pen, *, loose: bool) -> Box:
    rng = pen.rng
    ox, oy, ow, oh = box
    label_w = font(PRINTED_FONT, LABEL_FONT_SIZE).getlength(label)
    rx = min(label_w / 2 + rng.uniform(18, 45), ow / 2 + 20)
    ry = LABEL_FONT_SIZE / 2 + rng.uniform(14, 32)
    sweep = 2 * math.pi + rng.uniform(0.15, 0.7)  # the pen overshoots where it started
    cx = ox + ow / 2 + rng.gauss(0, 8)
    cy = oy + oh / 2 + rng.gauss(0, 6)
    if loose:  # large and off-centre, into the neighbours' boxes; often not closed
        rx = label_w / 2 + rng.uniform(50, 120)
        ry = LABEL_FONT_SIZE / 2 + rng.uniform(25, 55)
        cx, cy = cx + rng.gauss(0, 14), cy + rng.gauss(0, 10)
        if rng.random() < 0.5:
            sweep = rng.uniform(1.7, 1.95) * math.pi
    elif pen.overflow:
        rx, ry = rx * 1.15, ry * 1.3
    tilt = math.radians(rng.gauss(0, 5))
    start = rng.uniform(0, 2 * math.pi)
    wobble = [(rng.uniform(0.02, 0.06), rng.randint(2, 4), rng.uniform(0, 6.3)) for _ in range(2)]
    pad = int(max(rx, ry) * 1.4)
    points = []
    steps = 90
    for i in range(steps + 1):
        t = start + sweep * i / steps
        grow = 1 + 0.06 * i / steps  # the end of the loop drifts outward
        r = grow * (1 + sum(a * math.sin(k * t + p) for a, k, p in wobble))
        ex, ey = rx * r * math.cos(t), ry * r * math.sin(t)
        points.append(
            (
                pad + ex * math.cos(tilt) - ey * math.sin(tilt),
                pad + ex * math.sin(tilt) + ey * math.cos(tilt),
            )
        )
    width = rng.uniform(3.0, 5.0) + (pen.style.weight or 0)
    mask = stroke_tile((2 * pad, 2 * pad), [points], width)
    return pen.put(page, mask, cx - pad, cy - pad)


def strike(page: Image.Image, mark: Box, across: Box, pen: Pen, kind: str) -> None:
    """Take a mark back as people do, through the middle of `across` (the option's label, or
    the checkbox): one line past both ends of it and of the mark ("line"), two ("double"), a
    scribble over it ("scribble"), or one line that stops at its edges ("short")."""
    rng = pen.rng
    ax, ay, aw, ah = across
    if kind == "short":  # from about one edge to about the other, no further
        left, right = ax + rng.uniform(-3, 6), ax + aw - rng.uniform(-3, 6)
    else:
        left = min(ax, mark[0]) - rng.uniform(15, 45)
        right = max(ax + aw, mark[0] + mark[2]) + rng.uniform(15, 45)
    middle = ay + ah / 2 + rng.gauss(0, 4)
    width = rng.uniform(3.5, 5.5) + (pen.style.weight or 0)
    if kind == "scribble":  # a zigzag over the label or box, up and down or to and fro
        half = ah / 2 + rng.uniform(8, 24)
        strokes = [_zigzag(rng, left, right, middle - half, middle + half)]
    else:
        rise = math.tan(math.radians(rng.gauss(0, 4))) * (right - left)
        sag = rng.gauss(0, 3)  # a hand's line is a little curved
        line = [
            (left, middle - rise / 2),
            ((left + right) / 2, middle + sag),
            (right, middle + rise / 2),
        ]
        strokes = [line]
        if kind == "double":
            apart = rng.choice((-1, 1)) * rng.uniform(9, 16)
            strokes.append([(x + rng.gauss(0, 3), y + apart + rng.gauss(0, 2)) for x, y in line])
    _put_strokes(page, strokes, width, pen)


def _diagonal(page: Image.Image, box: Box, pen: Pen) -> None:
    """One steep stroke across a ticked box, corner to corner and on past it (35–65°)."""
    rng = pen.rng
    x, y, w, h = box
    angle = math.radians(rng.uniform(35, 65)) * rng.choice((-1, 1))
    reach = math.hypot(w, h) / 2 + rng.uniform(15, 40)
    cx, cy = x + w / 2 + rng.gauss(0, 4), y + h / 2 + rng.gauss(0, 4)
    dx, dy = reach * math.cos(angle), reach * math.sin(angle)
    line = [(cx - dx, cy - dy), (cx + rng.gauss(0, 2), cy + rng.gauss(0, 2)), (cx + dx, cy + dy)]
    _put_strokes(page, [line], rng.uniform(3.5, 5.5) + (pen.style.weight or 0), pen)


def slash(page: Image.Image, box: Box, pen: Pen) -> None:
    """One straight stroke kept inside the box's lines: from about one corner to the other
    ("/", "\\") or from its top to its bottom ("|")."""
    rng = pen.rng
    x, y, w, h = box
    way = rng.choice("/\\|")
    inset = [rng.uniform(4, 10) for _ in range(4)]
    if way == "|":
        middle = x + w / 2 + rng.gauss(0, 5)
        line = [
            (middle + rng.gauss(0, 3), y + inset[0]),
            (middle + rng.gauss(0, 3), y + h - inset[1]),
        ]
    else:
        top, bottom = y + inset[0], y + h - inset[1]
        left, right = x + inset[2], x + w - inset[3]
        line = [(left, bottom), (right, top)] if way == "/" else [(left, top), (right, bottom)]
    _put_strokes(page, [line], rng.uniform(3.5, 5.5) + (pen.style.weight or 0), pen)


def circle_round_box(page: Image.Image, box: Box, pen: Pen) -> None:
    """A circle round the box, clear of its lines, a little off-centre; the pen overshoots
    where it started or leaves the loop a little open."""
    rng = pen.rng
    x, y, w, h = box
    rx, ry = w / 2 + rng.uniform(10, 35), h / 2 + rng.uniform(8, 30)
    cx, cy = x + w / 2 + rng.gauss(0, 4), y + h / 2 + rng.gauss(0, 4)
    start = rng.uniform(0, 2 * math.pi)
    sweep = 2 * math.pi + rng.uniform(-0.3, 0.5)
    points = [
        (
            cx + rx * math.cos(start + sweep * k / 60) * (1 + 0.04 * k / 60),
            cy + ry * math.sin(start + sweep * k / 60) * (1 + 0.04 * k / 60),
        )
        for k in range(61)
    ]
    _put_strokes(page, [points], rng.uniform(3.0, 5.0) + (pen.style.weight or 0), pen)


def _blot(page: Image.Image, box: Box, pen: Pen, *, solid: bool) -> None:
    """A tick blotted out inside its box: a scribble kept within the box's lines, or (solid)
    the box filled in, strokes so close they leave no paper between them."""
    rng = pen.rng
    x, y, w, h = box
    inset = rng.uniform(3, 8)
    left, top, right, bottom = x + inset, y + inset, x + w - inset, y + h - inset
    if solid:
        strokes = [
            [(left, row), (right, row + rng.gauss(0, 1))]
            for row in [top + k * 3.0 for k in range(int((bottom - top) / 3) + 1)]
        ]
        width = 5.0
    else:
        strokes = [_zigzag(rng, left, right, top, bottom)]
        width = rng.uniform(3.5, 5.5) + (pen.style.weight or 0)
    _put_strokes(page, strokes, width, pen)


def _zigzag(
    rng: random.Random, left: float, right: float, top: float, bottom: float
) -> list[tuple[float, float]]:
    """One scribbling stroke over a rectangle: back and forth a pen's width or two apart."""
    across = rng.random() < 0.5  # strokes up and down, moving right; else to and fro, moving down
    start, end = (left, right) if across else (top, bottom)
    low, high = (top, bottom) if across else (left, right)
    points = []
    at, far = start, False
    while at < end:
        swing = (high if far else low) + rng.gauss(0, 4)
        points.append((at, swing) if across else (swing, at))
        at += rng.uniform(7, 14)
        far = not far
    return points


def cross(page: Image.Image, box: Box, pen: Pen, *, inside: bool) -> None:
    """A × over an option's label (some people mark the option they mean that way), or in a
    checkbox (`inside`), its arms ending about at the box's lines."""
    rng = pen.rng
    ox, oy, ow, oh = box
    size = (min(ow, oh) * rng.uniform(0.7, 0.95)) if inside else oh * rng.uniform(0.5, 0.75)
    pad = int(size)
    a, b = pad - size / 2, pad + size / 2
    strokes = [
        [(a + rng.gauss(0, 3), a + rng.gauss(0, 3)), (b + rng.gauss(0, 3), b + rng.gauss(0, 3))],
        [(b + rng.gauss(0, 3), a + rng.gauss(0, 3)), (a + rng.gauss(0, 3), b + rng.gauss(0, 3))],
    ]
    width = rng.uniform(3.5, 5.5) + (pen.style.weight or 0)
    mask = stroke_tile((2 * pad, 2 * pad), strokes, width)
    cx = ox + ow / 2 + rng.gauss(0, 3 if inside else ow * 0.1)
    pen.put(page, mask, cx - pad, oy + oh / 2 + rng.gauss(0, 3 if inside else 5) - pad)


def tick(page: Image.Image, box: Box, pen: Pen, *, inside: bool) -> Box:
    rng = pen.rng
    ox, oy, ow, oh = box
    size = (min(ow, oh) * 0.7 if inside else oh * 0.6) * rng.uniform(0.85, 1.15)
    if inside:
        cx, cy = ox + ow / 2, oy + oh / 2
    elif rng.random() < 0.3:  # just left of the label, pointing at it
        cx, cy = ox + rng.uniform(0.0, 0.1) * ow, oy + oh / 2
    else:  # over the left part of the label, as people tick the word itself
        cx, cy = ox + ow / 2 - rng.uniform(0.15, 0.3) * ow, oy + oh / 2
    return _tick_at(page, cx, cy, size, pen)


def _tick_beside(page: Image.Image, box: Box, pen: Pen) -> Box:
    """A tick drawn just right of the box, not in it (the person ticked the line, not the box)."""
    rng = pen.rng
    ox, oy, ow, oh = box
    size = min(ow, oh) * 0.6 * rng.uniform(0.85, 1.15)
    cx = ox + ow + size / 2 + rng.uniform(6, 22)
    return _tick_at(page, cx, oy + oh / 2 + rng.gauss(0, 6), size, pen)


def _tick_at(page: Image.Image, cx: float, cy: float, size: float, pen: Pen) -> Box:
    rng = pen.rng
    cx, cy = cx + rng.gauss(0, size * 0.08), cy + rng.gauss(0, size * 0.08)
    pad = int(size)
    p0 = (pad - size * 0.45 + rng.gauss(0, 3), pad + rng.gauss(0, 3))
    p1 = (pad - size * 0.12 + rng.gauss(0, 3), pad + size * 0.38 + rng.gauss(0, 3))
    p2 = (pad + size * 0.5 + rng.gauss(0, 4), pad - size * 0.5 + rng.gauss(0, 4))
    mid = ((p1[0] + p2[0]) / 2 + rng.gauss(0, 3), (p1[1] + p2[1]) / 2 + rng.gauss(0, 3))
    width = rng.uniform(3.5, 5.5) + (pen.style.weight or 0)
    mask = stroke_tile((2 * pad, 2 * pad), [[p0, p1, mid, p2]], width)
    return pen.put(page, mask, cx - pad, cy - pad)
