"""Read what a person means by a mark on a choice: which option's label a circle encloses, or
which option a tick is drawn on or beside — not whose rectangle holds the most ink.

A loose, large circle runs into the neighbouring option's box and puts more ink there than
round its own label; but it encloses its own label and not the neighbour's. So each pen mark
(a connected stroke, printed labels already removed) is taken apart: a mark whose hull
covers most of a label encloses that label; a smaller stroke (a tick, a cross, a dot) points
at the option it is drawn on or nearest beside. Two options marked go to a person.

A mark taken back is struck through: one straight line across it, two (二重線), or a
scribble over it. What they share is pen ink along a straight, nearly level course through
the middle of the struck label (or checkbox) and on past both its ends, which neither a
circle (round the label, never through it), a tick nor a cross (short and steep) draws;
`struck_options` and `struck_checkbox` find it, and a correction goes to a person. A strike
may also stop at the label's or box's edges: then the course is inked wherever the print
leaves it to be seen, from one end of the label to the other (looked for only across labels
wider than a tick or a cross; a scribble kept inside a box is found the same way). A tick in
a box may be struck out with one steep stroke, corner to corner and on past the box, where a
cross's arms end at the box's lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from pipeline.template import template_ink
from schemas.forms import FieldDef

INK_THRESHOLD = 150
REACH_PX = 90
"""How far around the options a mark is looked for (a loose circle runs this far out)."""
TICK_REACH_PX = (45, 20)
"""How far left or right, and above or below, of an option's box a tick may be drawn and
still point at it (a tick below an option is the checkbox's under it, not this one's)."""
MIN_MARK_PX = 25
"""Least extent of a stroke taken for a mark (smaller: noise, remnants of the print)."""
MIN_MARK_INK = 80
PIECES_APART_PX = 13
ENCLOSES = 0.55
"""Share of a label's box inside a mark's hull from which the mark encloses that label."""
ALSO_ENCLOSES = 0.45
"""A mark enclosing a second label this much as well is ambiguous."""
STRIKE_SLOPES = np.tan(np.radians(np.arange(-21, 21.1, 1.5)))
"""The slopes a strike is looked for at: it runs across, not up (a steeper straight stroke
is an arm of a tick or a cross; a cross drawn flat has arms at 30–35°)."""
STRIKE_BAND = 0.3
"""A strike passes within this share of the label's (or box's) height of its middle; a
circle round the label passes outside it."""
STRIKE_PAST_PX = 12
"""A strike runs on past both ends of the label or checkbox it crosses, where no print
hides it: a tick over a label's start, a filled box, a cross do not."""
STRIKE_INKED = 0.8
"""Share of a strike's course, off the print, that holds pen ink."""
SCRIBBLE_GAP_PX = 15
"""A scribble's zigzags this far apart are one dark patch (level lines cross it inked)."""
EDGE_STRIKE_LEAST_PX = 80
"""A strike that stops at the edges is looked for only across labels (and boxes) at least this
wide: across one character it is no longer than a tick's arm or a cross's."""
EDGE_STRIKE_SPAN = 0.75
"""Least share of a label's (or box's) width that a strike stopping at its edges spans."""
EDGE_STRIKE_SEEN = 0.2
"""Least share of such a course that the print leaves to be seen (else there is nothing to
judge by)."""
STEEP_ANGLES = np.radians(np.r_[np.arange(-69, -23, 3), np.arange(24, 70, 3)])
"""The angles a steep strike across a checkbox is looked for at (flatter: `STRIKE_SLOPES`)."""
STROKE_ANGLES = np.radians(np.arange(0, 180, 3))
"""The directions a straight stroke inside a checkbox is looked for in (`strokes_in_box`)."""
STROKE_GAP_PX = 15
"""A straight stroke is followed across a gap this long: where another stroke crossing it
was taken away, or the print of the box's line cut it."""
LONG_STROKE = 0.8
"""A straight stroke inside a box spanning at least this share of the box along its course
is drawn from corner to corner (or edge to edge): a slash, a "|", a cross's arm. A tick's
long arm spans about two thirds of it."""
SHORTEST_COURSE = 0.7
"""Courses across a box shorter than this share of its side (by a corner) are not measured
for `LONG_STROKE`: a tick's arm spans most of them."""
STROKE_HALF_WIDTH_PX = 6
"""How far either side of a straight stroke's course its ink is taken for that stroke."""
LEFT_OVER_INK = 20
"""Pen pixels left over after two straight strokes from which a third stroke was drawn (a
tick, a cross or a lone slash leaves none: pieces under 15 px are not counted)."""
CROSS_ARM = 0.35
"""A cross's second arm reaches at least this share of the box's side out on either side of
the first."""
TICK_VERTEX = 0.2
"""A tick's arms meet within this share of the long arm's length from its end."""
DOUBLED = 1.55
"""A straight stroke this many times wider over most of its length than where it is
narrow is two strokes laid along each other (a slash over a tick's long arm)."""
CIRCLE_REACH_PX = 90
"""How far round a checkbox a circle round it is looked for."""
CIRCLED = 0.95
"""Share of a checkbox inside a stroke's hull from which the stroke runs round it."""
BESIDE_REACH_PX = (80, 30)
"""How far left or right, and above or below, of a checkbox a tick drawn beside it is looked
for (the next field's writing starts further down)."""


@dataclass(frozen=True)
class Mark:
    option: int
    kind: str
    """"circle" (encloses the label) or "tick" (drawn on or beside the option)."""
    certain: bool
    also: int | None = None
    """The option whose label an uncertain circle encloses nearly as much (two circles run
    into one another)."""


def label_boxes(form_id: str, page: int, field: FieldDef) -> list[tuple[int, int, int, int]]:
    """Where each option's printed label lies (its ink's bounding box), in template pixels."""
    return list(_label_boxes(form_id, page, field.name, tuple(o.box for o in field.options or [])))


@lru_cache(maxsize=64)
def _label_boxes(
    form_id: str, page: int, name: str, boxes: tuple[tuple[int, int, int, int], ...]
) -> tuple[tuple[int, int, int, int], ...]:
    ink = template_ink(form_id, page)
    found = []
    for x, y, w, h in boxes:
        rows, cols = np.where(ink[y : y + h, x : x + w])
        if rows.size == 0:  # no printed label: the option's box stands for it
            found.append((x, y, w, h))
        else:
            found.append(
                (
                    x + int(cols.min()),
                    y + int(rows.min()),
                    int(cols.max() - cols.min() + 1),
                    int(rows.max() - rows.min() + 1),
                )
            )
    return tuple(found)


def find_marks(
    gray: np.ndarray,
    options: list[tuple[int, int, int, int]],
    labels: list[tuple[int, int, int, int]],
) -> list[Mark]:
    """The pen marks round a row of options (print already removed from `gray`)."""
    x0, y0, region = _surroundings(gray, options, REACH_PX)
    if not region.any():
        return []
    # a stroke broken by the removed print (a circle crossing a box line) joins up again
    joined = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    # a tick drawn across a label is cut into short pieces where the label's print was
    # taken out: pieces a few pixels apart are one mark
    near = cv2.dilate(joined, np.ones((PIECES_APART_PX, PIECES_APART_PX), np.uint8))
    count, labelled, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
    labelled[joined == 0] = 0
    areas = np.bincount(labelled.ravel(), minlength=count)
    grown = PIECES_APART_PX // 2  # the dilation's growth on each side
    marks: list[Mark] = []
    ticks: list[tuple[Mark, int, int]] = []
    circled = np.zeros_like(joined)
    for i in range(1, count):
        left, top, width, height, _ = stats[i]
        left, top, width, height = left + grown, top + grown, width - 2 * grown, height - 2 * grown
        area = int(areas[i])
        if max(width, height) < MIN_MARK_PX or area < MIN_MARK_INK:
            continue
        if (
            left <= grown
            or top <= grown
            or left + width + grown >= joined.shape[1]
            or top + height + grown >= joined.shape[0]
        ):
            continue  # runs on out of the options' surroundings: another field's writing
        points = np.column_stack(np.where(labelled == i)[::-1]).astype(np.int32)
        cx, cy = float(points[:, 0].mean()) + x0, float(points[:, 1].mean()) + y0
        hull = np.zeros_like(joined)
        cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
        enclosed = [_inside(hull, (lx - x0, ly - y0, lw, lh)) for lx, ly, lw, lh in labels]
        ranked = sorted(range(len(labels)), key=lambda k: enclosed[k], reverse=True)
        best = ranked[0]
        second = enclosed[ranked[1]] if len(ranked) > 1 else 0.0
        if enclosed[best] >= ENCLOSES:
            certain = second < ALSO_ENCLOSES
            marks.append(Mark(best, "circle", certain, None if certain else ranked[1]))
            circled = cv2.bitwise_or(circled, hull)
            continue
        pointed = _pointed_at(options, cx, cy)
        if pointed is not None:
            ticks.append((Mark(pointed[0], "tick", pointed[1]), round(cx - x0), round(cy - y0)))
    # a piece of a circle cut off where it crossed a label is part of that circle
    near_circles = cv2.dilate(circled, np.ones((61, 61), np.uint8))
    return marks + [tick for tick, x, y in ticks if not near_circles[y, x]]


def struck_options(
    gray: np.ndarray,
    printed: np.ndarray,
    labels: list[tuple[int, int, int, int]],
    marked: set[int] | None = None,
) -> set[int]:
    """The options whose label a strike crosses: `gray` with the print taken out where
    `printed` is true (a strike is cut where it crossed the label's print). On the labels
    of `marked` options (where two or more are marked) a strike that stops at the edges is
    looked for however narrow the label (男, 女): one of two marks may have been taken back
    (a cross drawn over one character to mark it can look like one, so not elsewhere)."""
    return {
        index
        for index, label in enumerate(labels)
        if _struck_across(
            gray, printed, label, 0 if marked and index in marked else EDGE_STRIKE_LEAST_PX
        )
    }


def struck_checkbox(gray: np.ndarray, printed: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether a checkbox's mark is struck through, level or steeply (`gray` and `printed` as
    for `struck_options`)."""
    return _struck_across(gray, printed, box) or _struck_diagonally(gray, printed, box)


def slash_over_mark(gray: np.ndarray, box: tuple[int, int, int, int]) -> str | None:
    """Whether a mark in the box was struck out with one straight stroke kept inside it: a
    slash ("/", "\\") or a "|" from about one corner or edge to the other, drawn over a mark
    that is not one straight stroke itself. A lone slash is a tick (some people tick that
    way); a cross is two straight strokes; a tick is two short ones joined at an end. A
    slash over a tick is three: the slash and what it leaves of the tick's two arms →
    "struck_through". A slash laid along a tick's long arm leaves a tick's shape with that
    arm drawn twice over, which a tick gone over again also is → "unsure_mark"."""
    x, y, w, h = box
    ink = (gray[y : y + h, x : x + w] < INK_THRESHOLD).astype(np.uint8)
    first = _straight_stroke(ink)
    if first is None or first.spans < LONG_STROKE:
        return None  # no stroke from corner to corner: a tick, a dot
    rest = _without_stroke(ink, first.ends)
    second = _straight_stroke(rest)
    shape = "slash" if second is None else _cross_or_tick(first.ends, second.ends, min(w, h))
    if second is not None and (
        _without_stroke(rest, second.ends).sum() >= LEFT_OVER_INK or shape is None
    ):
        return "struck_through"
    widths = _widths_along(ink, first.ends)
    widths = widths[widths > 0]  # the course may run on past the stroke's ends
    if (
        shape != "cross"
        and widths.size
        and np.percentile(widths, 70) >= DOUBLED * max(float(np.percentile(widths, 20)), 1.0)
    ):
        return "unsure_mark"
    return None  # a lone slash, a cross, a tick


def _cross_or_tick(
    first: tuple[tuple[int, int], tuple[int, int]],
    second: tuple[tuple[int, int], tuple[int, int]],
    side: int,
) -> str | None:
    """ "cross" where a second straight stroke crosses the first from well on one side of it
    to well on the other, "tick" where it meets it near one of its ends (a tick's arms), else
    None: a stroke that meets a slash midway is what is left of a tick it was drawn over."""
    start, end = np.asarray(first[0], float), np.asarray(first[1], float)
    course = end - start
    length = float(np.hypot(*course))
    normal = np.array([-course[1], course[0]]) / length
    sides = [float((np.asarray(p, float) - start) @ normal) for p in second]
    if min(sides) <= -CROSS_ARM * side and max(sides) >= CROSS_ARM * side:
        return "cross"
    touching = second[int(np.argmin(np.abs(sides)))]
    at = float((np.asarray(touching, float) - start) @ course) / length**2
    meets = min(abs(sides[0]), abs(sides[1])) <= STROKE_HALF_WIDTH_PX * 2
    return "tick" if meets and (at <= TICK_VERTEX or at >= 1 - TICK_VERTEX) else None


def _widths_along(ink: np.ndarray, ends: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """How much ink lies across a straight stroke's course at each point along it."""
    (x0, y0), (x1, y1) = ends
    length = float(np.hypot(x1 - x0, y1 - y0))
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    along = np.arange(4, max(length - 4, 5))[:, None]
    across = np.arange(-9, 10)[None, :]
    cols = np.rint(x0 + along * ux - across * uy).astype(int)
    rows = np.rint(y0 + along * uy + across * ux).astype(int)
    on_box = (cols >= 0) & (cols < ink.shape[1]) & (rows >= 0) & (rows < ink.shape[0])
    inked = ink[np.clip(rows, 0, ink.shape[0] - 1), np.clip(cols, 0, ink.shape[1] - 1)] > 0
    return np.asarray((inked & on_box).sum(axis=1))


@dataclass(frozen=True)
class _Stroke:
    ends: tuple[tuple[int, int], tuple[int, int]]
    spans: float
    """The largest share of the box along its course that a straight run of ink spans (of
    all the courses looked at, not only this stroke's)."""


def _straight_stroke(ink: np.ndarray) -> _Stroke | None:
    """The longest straight run of pen ink in a box (gaps up to `STROKE_GAP_PX` followed
    across); None where there is too little ink for a stroke."""
    if int(ink.sum()) < MIN_MARK_INK // 2:
        return None
    height, width = ink.shape
    thick = cv2.dilate(ink, np.ones((3, 3), np.uint8))
    half = int(np.hypot(height, width) / 2) + 1
    t = np.arange(-half, half + 1)
    offsets = np.arange(-half, half + 1, 2)
    best, longest, spans = None, 0, 0.0
    for angle in STROKE_ANGLES:
        cos, sin = float(np.cos(angle)), float(np.sin(angle))
        cols = np.rint(width / 2 + t[None, :] * cos - offsets[:, None] * sin).astype(int)
        rows = np.rint(height / 2 + t[None, :] * sin + offsets[:, None] * cos).astype(int)
        on_box = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
        along = thick[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)] & on_box
        closed = cv2.morphologyEx(
            along.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((1, STROKE_GAP_PX), np.uint8)
        )
        start, length = _longest_runs(closed > 0)
        chord = on_box.sum(axis=1)
        across = chord >= SHORTEST_COURSE * min(height, width)
        spans = max(spans, float((length / np.maximum(chord, 1))[across].max()))
        k = int(np.argmax(length))
        if length[k] > longest:
            a, b = start[k], start[k] + length[k] - 1
            best = ((int(cols[k, a]), int(rows[k, a])), (int(cols[k, b]), int(rows[k, b])))
            longest = int(length[k])
    return _Stroke(best, spans) if best is not None and longest >= MIN_MARK_PX else None


def _longest_runs(along: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `along`, where its longest run of True starts and how long it is."""
    padded = np.pad(along.astype(np.int8), ((0, 0), (1, 1)))
    change = np.diff(padded, axis=1)
    start = np.zeros(along.shape[0], int)
    length = np.zeros(along.shape[0], int)
    for row in range(along.shape[0]):
        ups, downs = np.flatnonzero(change[row] == 1), np.flatnonzero(change[row] == -1)
        if ups.size:
            k = int(np.argmax(downs - ups))
            start[row], length[row] = ups[k], downs[k] - ups[k]
    return start, length


def _without_stroke(ink: np.ndarray, ends: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """`ink` with the straight stroke between `ends` taken away (and what it leaves of a
    stroke's end cap: pieces too small to be a stroke)."""
    taken = np.zeros_like(ink)
    cv2.line(taken, ends[0], ends[1], 1, thickness=2 * STROKE_HALF_WIDTH_PX + 1)
    rest = (ink > 0) & (taken == 0)
    _, labelled, stats, _ = cv2.connectedComponentsWithStats(rest.astype(np.uint8))
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < 15)
    rest[np.isin(labelled, small[small > 0])] = False
    return rest.astype(np.uint8)


def mark_beside(gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether a pen mark is drawn beside a checkbox or round it rather than in it: a stroke
    near the box (a tick, a cross) that lies whole within `BESIDE_REACH_PX` of it (the
    writing of another field, or a circle round an option above, runs on further), or a
    circle round the box (○ round □, as people circle what they mean)."""
    x, y, w, h = box
    reach_x, reach_y = BESIDE_REACH_PX
    x0, y0 = max(x - reach_x, 0), max(y - reach_y, 0)
    near = (gray[y0 : y + h + reach_y, x0 : x + w + reach_x] < INK_THRESHOLD).astype(np.uint8)
    near[max(y - y0 - 6, 0) : y - y0 + h + 6, max(x - x0 - 6, 0) : x - x0 + w + 6] = 0
    joined = cv2.morphologyEx(near, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    count, labelled, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    areas = np.bincount(labelled[near > 0].ravel(), minlength=count)
    for i in range(1, count):
        left, top, width, height, _ = stats[i]
        inside = left > 0 and top > 0
        inside = inside and left + width < near.shape[1] and top + height < near.shape[0]
        if inside and max(width, height) >= MIN_MARK_PX and areas[i] >= MIN_MARK_INK:
            return True
    return _circled(gray, box)


def _circled(gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether one pen stroke runs round the box (closed or nearly, within `CIRCLE_REACH_PX`
    of it) and is centred on it: a circle round an option above or below passes round its
    label, not round the box."""
    x, y, w, h = box
    x0, y0 = max(x - CIRCLE_REACH_PX, 0), max(y - CIRCLE_REACH_PX, 0)
    near = gray[y0 : y + h + CIRCLE_REACH_PX, x0 : x + w + CIRCLE_REACH_PX] < INK_THRESHOLD
    near[max(y - y0 - 6, 0) : y - y0 + h + 6, max(x - x0 - 6, 0) : x - x0 + w + 6] = False
    joined = cv2.morphologyEx(near.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    count, labelled, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    bx, by = x - x0, y - y0
    for i in range(1, count):
        left, top, width, height, _ = stats[i]
        if left <= 0 or top <= 0:
            continue  # runs on out of the box's surroundings: another field's writing
        if left + width >= joined.shape[1] or top + height >= joined.shape[0]:
            continue
        if not (left < bx and top < by and left + width > bx + w and top + height > by + h):
            continue
        points = np.column_stack(np.where(labelled == i)[::-1]).astype(np.int32)
        hull = np.zeros_like(joined)
        cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
        centre_x, centre_y = left + width / 2, top + height / 2
        centred = abs(centre_x - (bx + w / 2)) < w / 2 and abs(centre_y - (by + h / 2)) < h / 2
        if centred and _inside(hull, (bx, by, w, h)) >= CIRCLED:
            return True
    return False


def _struck_across(
    gray: np.ndarray,
    printed: np.ndarray,
    box: tuple[int, int, int, int],
    edge_least_px: int = EDGE_STRIKE_LEAST_PX,
) -> bool:
    """Whether a straight, nearly level stroke crosses `box` through its middle and runs on
    past both its ends, or stops at them (`_stops_at_edges`, where `box` is at least
    `edge_least_px` wide): the pen ink is followed along
    courses at each of `STRIKE_SLOPES`, passing over the print and its rims (where the print
    was taken out, so was the strike)."""
    x, y, w, h = box
    middle = round(y + h / 2)
    reach = round(h * STRIKE_BAND + STRIKE_SLOPES[-1] * (w / 2 + STRIKE_PAST_PX)) + 3
    margin = STRIKE_PAST_PX + SCRIBBLE_GAP_PX
    x0, y0 = max(x - margin, 0), max(middle - reach, 0)
    pen = gray[y0 : middle + reach + 1, x0 : x + w + margin] < INK_THRESHOLD
    left, right = x - x0 - STRIKE_PAST_PX, x - x0 + w + STRIKE_PAST_PX
    end = STRIKE_PAST_PX // 2  # the ends out beyond the print's rims
    past_both = pen[:, left : left + end].any() and pen[:, right - end + 1 : right + 1].any()
    inner = pen[y - y0 : y - y0 + h, x - x0 : x - x0 + w]
    quarter = w // 4
    wide = w >= edge_least_px and inner[:, :quarter].any() and inner[:, -quarter:].any()
    if not (past_both or wide):
        return False  # most labels and boxes: no ink past one of their ends, nor on both
    ink = _scribbles_filled(pen)
    hidden = _print_and_rims(printed[y0 : y0 + pen.shape[0], x0 : x0 + pen.shape[1]])
    xs = np.arange(left, right + 1)
    offsets = np.arange(-round(h * STRIKE_BAND), round(h * STRIKE_BAND) + 1, 2)
    courses = y + h / 2 - y0 + offsets[:, None, None]
    ys = courses + STRIKE_SLOPES[None, :, None] * (xs - (x - x0 + w / 2))
    rows = np.clip(np.rint(ys).astype(int), 0, ink.shape[0] - 1)
    cols = np.broadcast_to(np.clip(xs, 0, ink.shape[1] - 1), rows.shape)
    along, seen = ink[rows, cols], ~hidden[rows, cols]
    if past_both:
        inked = (along & seen).sum(axis=-1) >= STRIKE_INKED * np.maximum(seen.sum(axis=-1), 1)
        past = (along[..., :end].mean(axis=-1) >= STRIKE_INKED) & (
            along[..., -end:].mean(axis=-1) >= STRIKE_INKED
        )
        if (inked & past).any():
            return True
    if not wide:
        return False
    # from edge to edge, wherever the print leaves pen ink to be seen (a strike on the print
    # shows in the glyphs' gaps, which the rims would hide); a scribble's gaps are closed
    # only away from the print (a label's rims would close into a line) and across labels
    # wider than a cross (its two arms close into a line across one character)
    within = slice(STRIKE_PAST_PX, STRIKE_PAST_PX + w)
    plain = cv2.dilate(pen.astype(np.uint8), np.ones((3, 1), np.uint8)) > 0
    if w >= EDGE_STRIKE_LEAST_PX:
        plain |= ink & ~hidden
    visible = ~printed[y0 : y0 + pen.shape[0], x0 : x0 + pen.shape[1]]
    return _stops_at_edges(plain[rows, cols][..., within], visible[rows, cols][..., within])


def _stops_at_edges(along: np.ndarray, seen: np.ndarray) -> bool:
    """Whether a course across a label or box (its last axis) holds a strike from about one
    edge to the other: its pen ink where the print lets it be seen spans `EDGE_STRIKE_SPAN`
    of it, and between the first and last of that ink the course is inked wherever it is
    seen (and enough of it is seen to judge). A tick or a cross inks a stretch of it."""
    hit = along & seen
    length = along.shape[-1]
    found = hit.any(axis=-1)
    first = np.where(found, np.argmax(hit, axis=-1), length)
    last = np.where(found, length - 1 - np.argmax(hit[..., ::-1], axis=-1), -1)
    at = np.arange(length)
    between = (at >= first[..., None]) & (at <= last[..., None])
    seen_between = (seen & between).sum(axis=-1)
    spans = last - first + 1 >= EDGE_STRIKE_SPAN * length
    inked = hit.sum(axis=-1) >= STRIKE_INKED * np.maximum(seen_between, 1)
    judged = seen_between >= EDGE_STRIKE_SEEN * length
    return bool((spans & inked & judged).any())


def _struck_diagonally(
    gray: np.ndarray, printed: np.ndarray, box: tuple[int, int, int, int]
) -> bool:
    """Whether one straight, steep stroke (`STEEP_ANGLES`) crosses the box near its middle
    and runs on past its edges at both ends: a tick struck out corner to corner. The arms of
    a cross drawn in the box end at its lines; a tick's long arm starts inside it."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    reach = round(np.hypot(w, h) / 2 + STRIKE_PAST_PX) + 4
    x0, y0 = max(round(cx) - reach, 0), max(round(cy) - reach, 0)
    pen = gray[y0 : round(cy) + reach + 1, x0 : round(cx) + reach + 1] < INK_THRESHOLD
    outside = pen.copy()
    outside[max(y - y0 - 8, 0) : y - y0 + h + 8, max(x - x0 - 8, 0) : x - x0 + w + 8] = False
    if not outside.any():
        return False  # a tick or a cross kept in the box
    ink = cv2.dilate(pen.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    hidden = _print_and_rims(printed[y0 : y0 + pen.shape[0], x0 : x0 + pen.shape[1]])
    offsets = np.arange(-round(h * STRIKE_BAND), round(h * STRIKE_BAND) + 1, 2)[:, None]
    end = STRIKE_PAST_PX // 2
    for angle in STEEP_ANGLES:
        cos, sin = float(np.cos(angle)), float(np.sin(angle))
        to_edge = min(w / 2 / abs(cos), h / 2 / abs(sin))
        t = np.arange(-(to_edge + STRIKE_PAST_PX), to_edge + STRIKE_PAST_PX + 1)[None, :]
        cols = np.clip(np.rint(cx - x0 + t * cos - offsets * sin).astype(int), 0, ink.shape[1] - 1)
        rows = np.clip(np.rint(cy - y0 + t * sin + offsets * cos).astype(int), 0, ink.shape[0] - 1)
        along, seen = ink[rows, cols], ~hidden[rows, cols]
        inked = (along & seen).sum(axis=-1) >= STRIKE_INKED * np.maximum(seen.sum(axis=-1), 1)
        past = (along[:, :end].mean(axis=-1) >= STRIKE_INKED) & (
            along[:, -end:].mean(axis=-1) >= STRIKE_INKED
        )
        if (inked & past).any():
            return True
    return False


def _surroundings(
    gray: np.ndarray, boxes: list[tuple[int, int, int, int]], reach: int
) -> tuple[int, int, np.ndarray]:
    """The ink within `reach` of the boxes, and where that region starts on the page."""
    x0 = max(min(b[0] for b in boxes) - reach, 0)
    y0 = max(min(b[1] for b in boxes) - reach, 0)
    x1 = max(b[0] + b[2] for b in boxes) + reach
    y1 = max(b[1] + b[3] for b in boxes) + reach
    return x0, y0, gray[y0:y1, x0:x1] < INK_THRESHOLD


def _scribbles_filled(pen: np.ndarray) -> np.ndarray:
    """Pen ink with the gaps of a scribble closed across, and each stroke two pixels
    thicker up and down: a hand's line is a little curved, a straight course strays off it."""
    wide = cv2.morphologyEx(
        pen.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((1, SCRIBBLE_GAP_PX), np.uint8)
    )
    return cv2.dilate(wide, np.ones((5, 3), np.uint8)) > 0


def _print_and_rims(printed: np.ndarray) -> np.ndarray:
    """Where print was taken out, widened by the rims a scan leaves round it (a bilevel
    scan leaves a thin outline of each glyph; closed across, a label's rims would run along
    it like a strike)."""
    return cv2.dilate(printed.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def _inside(hull: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x, y, w, h = box
    part = hull[max(y, 0) : y + h, max(x, 0) : x + w]
    return float(part.sum()) / max(w * h, 1)


def _pointed_at(
    options: list[tuple[int, int, int, int]], cx: float, cy: float
) -> tuple[int, bool] | None:
    """The option a stroke centred at (cx, cy) is drawn on, or nearest beside (left of its
    label, as people tick); whether that is clear (not halfway between two)."""
    distances = []
    reach_x, reach_y = TICK_REACH_PX
    for x, y, w, h in options:
        dx = max(x - cx, 0.0, cx - (x + w))
        dy = max(y - cy, 0.0, cy - (y + h))
        distances.append(float(np.hypot(dx, dy)) if dx <= reach_x and dy <= reach_y else np.inf)
    ranked = sorted(range(len(options)), key=lambda k: distances[k])
    best = ranked[0]
    if distances[best] == np.inf:
        return None
    second = distances[ranked[1]] if len(ranked) > 1 else float("inf")
    return best, second - distances[best] > 20 or (distances[best] == 0.0 and second > 0.0)
