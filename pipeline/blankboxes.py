"""Find the printed boxes and the rows of per-character cells of a blank form, and guess each
field's type from its shape.

The method: the form's dark print is split into long horizontal and long vertical strokes by
morphological opening (text strokes are too short to survive), the two are joined into a
ruling mask, and every white region that the ruling closes in on all sides and that fills its
bounding rectangle is one box interior. Interiors of equal height that sit side by side,
separated only by a ruling line, are the cells of one cell field. Each box is grown back out
over its ruling lines to the outer edge, which is where a definition's `box` lies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from schemas.forms import FieldType

Box = tuple[int, int, int, int]

LINE_MIN_PX = 60
"""Shortest ruling stroke kept at 300 dpi (0.2 inch); printed text strokes are shorter."""
MIN_INTERIOR_PX = 40
"""Smallest box interior taken for a box, per side."""
RECT_FILL = 0.9
"""A box interior must fill this share of its bounding rectangle."""
ALIGN_PX = 8
"""Tolerance for the top and bottom edges of cells in one row."""
CELL_GAP_PX = 14
"""Widest ruling line between two cells of one field."""
FURIGANA_GAP_PX = 60
"""Widest gap between a kana box and the name box under it."""
LEGEND_REACH_PX = 120
"""A date's era legend starts within this distance right of its cells."""
PAPER_REACH_PX = 31
"""Wider than any printed stroke or ruling line at 300 dpi: the brightest pixel this near is
paper."""
SPECK_PX = 12
"""Ink blobs smaller than this (pixels) are paper noise, not print."""
INSET_PX = 5
"""A box interior's rim this wide is left out when looking for print in it (the ruling's
blurred edge)."""
PRINT_MIN_PX = 60
"""A box interior with at least this much print in it holds a caption, a legend or options,
not room to write (a printed character at 300 dpi has several hundred)."""
CORNER_SHARE = 0.4
"""A corner caption starts within this share of its cell's width from the left."""
CORNER_ROOM = 0.5
"""A corner caption ends within this share of its cell's height from the top, leaving the
rest to write in (a caption centred in its cell ends lower)."""
LINE_SHARE = 0.8
"""A row (column) beside a box is its ruling line where this share of it is ruling."""
TYPE_BY_CELLS: dict[int, FieldType] = {12: "my_number", 10: "bpn", 7: "date"}


@dataclass(frozen=True)
class ProposedField:
    page: int
    box: Box
    cells: int | None
    type: FieldType
    note: str | None = None
    """Why the administrator must look at this field, written as a YAML comment."""
    charset: str | None = None
    label: str | None = None
    """The printed caption beside or above the box, as read."""
    name: str | None = None
    options: tuple[tuple[str, Box], ...] = ()
    """A choice's options: each printed label as read and the box a mark on it falls in."""
    caption_at: Box | None = None
    """Where the caption is printed inside the box itself (small, in its top-left corner)."""



@dataclass(frozen=True)
class PrintedCell:
    """A ruled cell with print in it: its outer box (over its ruling lines, where a neighbour
    shares its border) and the white interior the print stands in."""

    box: Box
    interior: Box


def shaped_fields(
    ink: np.ndarray, ruling: np.ndarray, page: int
) -> tuple[list[ProposedField], list[PrintedCell]]:
    """Every empty box and row of empty cells the ruling closes in, with the type its shape
    suggests; and, apart, the cells with print in them (a caption, a legend, a note, a row of
    □ options): on a ruled form these stand beside the cells a person writes in."""
    fields: list[ProposedField] = []
    interiors = _interiors(ruling)
    print_ = printed(ink, ruling)
    empty = [b for b in interiors if not _has_print(print_, b)]
    printed_cells = []
    for interior in (b for b in interiors if b not in empty):
        outer = _outer_box(ruling, [interior])
        corner = _corner_caption(print_, interior)
        if corner is None:
            printed_cells.append(PrintedCell(outer, interior))
        else:
            fields.append(replace(_box_field(page, outer), caption_at=corner))
    for group in _group_cells(empty):
        box = _outer_box(ruling, group)
        if len(group) > 1:
            fields.append(_cell_field(page, box, len(group), ink))
        else:
            fields.append(_box_field(page, box))
    return fields, printed_cells


def printed(ink: np.ndarray, ruling: np.ndarray) -> np.ndarray:
    """The print that is not ruling, specks of paper noise taken out; a ruling line's
    blurred rim (a line left a little turned has one) is ruling too."""
    rims = cv2.dilate(ruling.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    text = (ink & ~rims).astype(np.uint8)
    _count, labels, stats, _centres = cv2.connectedComponentsWithStats(text)
    return (stats[:, cv2.CC_STAT_AREA] >= SPECK_PX)[labels] & (labels > 0)


def _corner_caption(print_: np.ndarray, interior: Box) -> Box | None:
    """Where the print of a cell is, when it is a caption in the cell's top-left corner with
    room to write under it (氏名 printed small in the corner of the name's box); else None."""
    x, y, w, h = interior
    inside = print_[y + INSET_PX : y + h - INSET_PX, x + INSET_PX : x + w - INSET_PX]
    rows, cols = np.where(inside.any(axis=1))[0], np.where(inside.any(axis=0))[0]
    left, top = x + INSET_PX + int(cols[0]), y + INSET_PX + int(rows[0])
    right, bottom = x + INSET_PX + int(cols[-1]), y + INSET_PX + int(rows[-1])
    if left - x > CORNER_SHARE * w or bottom - y > CORNER_ROOM * h or right - x > w / 2:
        return None
    pad = INSET_PX  # the caption's blurred edge
    return (left - pad, top - pad, right + 1 - left + 2 * pad, bottom + 1 - top + 2 * pad)


def _has_print(print_: np.ndarray, interior: Box) -> bool:
    """Whether a box interior holds print (clear of the ruling's rims): a person writes in an
    empty one."""
    x, y, w, h = interior
    inside = print_[y + INSET_PX : y + h - INSET_PX, x + INSET_PX : x + w - INSET_PX]
    return int(inside.sum()) >= PRINT_MIN_PX


def with_furigana(fields: list[ProposedField]) -> list[ProposedField]:
    """A low box right above a taller one of the same width is a name's kana reading."""
    out = list(fields)
    for i, upper in enumerate(out):
        if upper.type != "text":
            continue
        x, y, w, h = upper.box
        below = next(
            (
                j
                for j, lower in enumerate(out)
                if lower.type == "text"
                and lower.page == upper.page
                and abs(lower.box[0] - x) <= ALIGN_PX
                and abs(lower.box[2] - w) <= ALIGN_PX
                and 0 <= lower.box[1] - (y + h) <= FURIGANA_GAP_PX
                and lower.box[3] > 1.15 * h
            ),
            None,
        )
        if below is None:
            continue
        out[i] = ProposedField(
            upper.page, upper.box, None, "kana", "TODO a low box above a name: its kana reading?"
        )
        lower = out[below]
        out[below] = ProposedField(
            lower.page, lower.box, None, "text", "TODO under a kana box: a name?", "name"
        )
    return out


def flat_paper(gray: np.ndarray) -> np.ndarray:
    """The page with the paper made evenly white: each pixel divided by the paper's brightness
    around it (the brightest within a print stroke's reach), so a scanner's uneven light,
    yellowed paper and a shaded caption cell's tint do not pass for print."""
    paper = cv2.dilate(gray, np.ones((PAPER_REACH_PX, PAPER_REACH_PX), np.uint8))
    paper = cv2.blur(paper, (PAPER_REACH_PX, PAPER_REACH_PX))
    flat = gray.astype(np.float32) * 255 / np.maximum(paper.astype(np.float32), 1)
    return np.clip(flat, 0, 255).astype(np.uint8)


def dark_print(gray: np.ndarray) -> np.ndarray:
    _, dark = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    # Otsu on a nearly empty page can pick a threshold in the paper's noise; print is dark.
    return (dark > 0) & (gray < 200)


def ruling_lines(ink: np.ndarray) -> np.ndarray:
    mask = ink.astype(np.uint8)
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, LINE_MIN_PX), np.uint8))
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((LINE_MIN_PX, 1), np.uint8))
    ruling = cv2.bitwise_or(horizontal, vertical)
    # Close pinholes where a scan broke a line; a corner gap would open a box to the outside.
    return cv2.morphologyEx(ruling, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0


def _interiors(ruling: np.ndarray) -> list[Box]:
    """White regions closed in by ruling lines on all sides, as rectangles."""
    white = (~ruling).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(white, connectivity=4)
    height, width = ruling.shape
    boxes: list[Box] = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue  # the page's open background
        if w < MIN_INTERIOR_PX or h < MIN_INTERIOR_PX:
            continue
        if area < RECT_FILL * w * h and not _tilted_rectangle(labels[y : y + h, x : x + w] == i):
            continue
        boxes.append((x, y, w, h))
    return boxes


def _tilted_rectangle(region: np.ndarray) -> bool:
    """Whether a white region fills the rectangle round it once that is turned with it: a
    wide, low cell left a fraction of a degree turned by the scan fills too little of its
    upright bounding box (1800 px at 0.3° drift 9 px over 80)."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    (_, _), (w, h), _angle = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    return bool(region.sum() >= RECT_FILL * w * h)


def _group_cells(interiors: list[Box]) -> list[list[Box]]:
    """Runs of interiors in one row, of equal height, separated only by a ruling line."""
    remaining = sorted(interiors, key=lambda b: (b[0], b[1]))
    groups: list[list[Box]] = []
    used: set[int] = set()
    for start, box in enumerate(remaining):
        if start in used:
            continue
        used.add(start)
        group = [box]
        while True:
            last = group[-1]
            follower = next(
                (
                    i
                    for i, other in enumerate(remaining)
                    if i not in used and _next_cell(last, other)
                ),
                None,
            )
            if follower is None:
                break
            used.add(follower)
            group.append(remaining[follower])
        groups.append(group)
    return groups


def _next_cell(cell: Box, other: Box) -> bool:
    x, y, w, h = cell
    ox, oy, ow, oh = other
    gap = ox - (x + w)
    return (
        0 <= gap <= CELL_GAP_PX
        and abs(oy - y) <= ALIGN_PX
        and abs((oy + oh) - (y + h)) <= ALIGN_PX
        and 0.6 <= ow / w <= 1.6
    )


def _outer_box(ruling: np.ndarray, group: list[Box]) -> Box:
    """The box of a run of interiors, grown over the ruling lines around it: each side moves
    out while the row or column beyond it is ruling along most of the box (a line of a
    neighbouring cell that merely touches this one does not carry it away)."""
    left = min(b[0] for b in group)
    top = min(b[1] for b in group)
    right = max(b[0] + b[2] for b in group)  # exclusive
    bottom = max(b[1] + b[3] for b in group)
    height, width = ruling.shape
    while left > 0 and ruling[top:bottom, left - 1].mean() >= LINE_SHARE:
        left -= 1
    while right < width and ruling[top:bottom, right].mean() >= LINE_SHARE:
        right += 1
    while top > 0 and ruling[top - 1, left:right].mean() >= LINE_SHARE:
        top -= 1
    while bottom < height and ruling[bottom, left:right].mean() >= LINE_SHARE:
        bottom += 1
    # The outer edge is the last ruling pixel, as a definition's x + w is.
    return (left, top, right - 1 - left, bottom - 1 - top)


def _cell_field(page: int, box: Box, cells: int, ink: np.ndarray) -> ProposedField:
    guessed = TYPE_BY_CELLS.get(cells, "digits")
    if guessed != "date":
        note = None if cells in TYPE_BY_CELLS else f"TODO {cells} cells: digits, amount or other"
        return ProposedField(page, box, cells, guessed, note)
    x, y, w, h = box
    legend = ink[y : y + h, x + w + 10 : x + w + LEGEND_REACH_PX]
    if legend.size and legend.mean() > 0.005:
        return ProposedField(
            page,
            box,
            cells,
            "date",
            "TODO 7 cells with a legend beside them: date (era code + YYMMDD)?",
        )
    return ProposedField(
        page, box, cells, "postal", "TODO 7 cells: postal code, or a date (era code + YYMMDD)?"
    )


def _box_field(page: int, box: Box) -> ProposedField:
    _, _, w, h = box
    if w <= 2 * MIN_INTERIOR_PX + 80 and h <= 2 * MIN_INTERIOR_PX + 80 and 0.7 <= w / h <= 1.4:
        return ProposedField(page, box, None, "checkbox", "TODO a small square: checkbox?")
    if w >= 3 * h:
        return ProposedField(
            page,
            box,
            None,
            "text",
            "TODO text: kana, name (charset: name), address (charset: address) or phone?",
        )
    return ProposedField(page, box, None, "text", "TODO a box: text, or something else?")

