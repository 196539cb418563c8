"""Read a row of written cells as one line, and keep where each cell lies in it, so that what
the recogniser saw under each cell can be told cell by cell.

The recogniser reads digits surer in a row than alone, but its greedy decoding may drop or
double a character (two frames of one 7, nothing for a faint 1), and then its text no
longer says which cell held which digit. The frames under each cell's own stretch of the
line still do: summed over those frames, the recogniser's probabilities for the ten digits
are its opinion of that cell, whatever the decoded text's length.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.crops import cut_tight, ink_share
from pipeline.fields import DIGITS
from pipeline.handwriting import INK_THRESHOLD, LINE_GUARD_PX
from pipeline.ocr import OcrEngine, Reading
from pipeline.rawfield import RawField
from pipeline.template import cell_boxes
from schemas.forms import FieldDef

GAP_PX = 30
"""White between two cells' writing in the line: wide enough that a digit's frames do not
spill into its neighbour's."""
LEAST_CHARACTER_MASS = 0.5
"""Below this summed probability of any character (not the blank) the recogniser saw nothing
in the cell: it has no opinion of it."""
BLANK = 0
"""The recogniser's output for "no character here" (CTC's blank)."""
EMPTY_CELL_INK = 0.01


def strip(cells: list[np.ndarray], gap: int = GAP_PX) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The cells' writing side by side, centred on one baseline, a gap apart; and each
    cell's span (first column, column past its end) in the line."""
    height = max(c.shape[0] for c in cells)
    parts, spans, left = [], [], 0
    for cell in cells:
        top = (height - cell.shape[0]) // 2
        bottom = height - cell.shape[0] - top
        parts.append(cv2.copyMakeBorder(cell, top, bottom, 0, gap, cv2.BORDER_CONSTANT, value=255))
        spans.append((left, left + cell.shape[1]))
        left += cell.shape[1] + gap
    return np.hstack(parts), spans


def digits_under_cells(
    frames: np.ndarray, digit_columns: list[int], spans: list[tuple[int, int]], width: int
) -> np.ndarray:
    """(cells × 10) the recogniser's opinion of each cell's digit: its probabilities for
    the ten digits (`digit_columns`, the outputs for 0 … 9) summed over the frames under the
    cell's span (and one frame either side: a stroke's frame may straddle the edge), then
    made to sum to one: which digit it is, given that it is one (a 1 the recogniser takes
    for an l is still its 1). A cell where it saw no character at all gets no opinion
    (uniform). `frames` covers the line's `width` columns."""
    count = frames.shape[0]
    opinions = np.full((len(spans), 10), 0.1)
    for cell, (left, right) in enumerate(spans):
        first = max(int(np.floor(left / width * count)) - 1, 0)
        last = min(int(np.ceil(right / width * count)) + 1, count)
        under = frames[first:last]
        mass = under[:, digit_columns].sum(axis=0)
        if float((1 - under[:, BLANK]).sum()) >= LEAST_CHARACTER_MASS and mass.sum() > 0:
            opinions[cell] = mass / mass.sum()
    return opinions


def no_opinion(opinion: np.ndarray) -> bool:
    """Whether a cell's opinion is the uniform one of a cell where no digit was seen."""
    return bool(np.ptp(opinion) == 0)


def read_cells(
    gray: np.ndarray, field: FieldDef, engine: OcrEngine, alphabet: str | None
) -> RawField:
    """One character per cell. The written cells are read together as one line — the
    recogniser is surer of digits in a row than of a digit alone — and cell by cell only
    when that line does not give one character per written cell."""
    crops = cell_crops(gray, field)
    written = [c for c in crops if c is not None]
    if not written:
        return RawField("", 1.0, engine.name)
    notes: tuple[str, ...] = ("cells_empty",) if len(written) != len(crops) else ()
    if cut_by_a_line(gray, field):
        notes += ("digit_on_line",)
    line_image, spans = strip(written)
    with_frames = getattr(engine, "read_with_frames", None) if alphabet == DIGITS else None
    seen = None
    if with_frames is not None:
        ((line, frames),) = with_frames([line_image], alphabet)
        columns = engine.columns(DIGITS)  # type: ignore[attr-defined]
        seen = digits_under_cells(frames, columns, spans, line_image.shape[1])
    else:
        line = engine.read_line(line_image, alphabet)
    if len(line.text) == len(written):
        return RawField(line.text, line.confidence, engine.name, notes, line.runners_up, seen,
                        written_cells=tuple(written))
    if with_frames is not None and seen is not None:
        # the line dropped or doubled a digit: each cell read alone as well, and where the
        # line saw no digit under a cell, what the cell alone shows is the opinion of it
        alone = with_frames(written, alphabet)
        readings = [reading for reading, _ in alone]
        for cell, (_, frames) in enumerate(alone):
            if no_opinion(seen[cell]):
                width = written[cell].shape[1]
                seen[cell] = digits_under_cells(frames, columns, [(0, width)], width)[0]
    else:
        readings = _read_many(engine, written, alphabet)
    text = "".join(r.text[:1] for r in readings)
    if any(len(r.text) != 1 for r in readings):
        notes += ("cell_unread",)
    runners_up = tuple(pair for r in readings for pair in r.runners_up)
    confidence = min(r.confidence for r in readings)
    return RawField(text, confidence, engine.name, notes, runners_up, seen,
                    written_cells=tuple(written))


CELL_INSET_PX = LINE_GUARD_PX + 4
STRAY_REACH = 0.5
"""How far past the field's box a digit that strays over its cell's edge is followed, as a
share of the cell's height."""
LEAST_STROKE_PX = 20
"""Ink pieces smaller than this are specks, not strokes of a digit."""
SHARED_STROKE = 0.3
"""A piece of ink with this share of it in each of two cells is two digits that touch: which
cell holds what is not told by the piece, and the cells are cut at their edge as before."""


def cell_crops(gray: np.ndarray, field: FieldDef) -> list[np.ndarray | None]:
    """Each cell's writing cut tight, None for an empty cell. A digit that strays over its
    cell's edge (into the neighbour's cell, or low across the box's bottom line) is taken
    whole with the cell that holds most of it, and left out of the neighbour's: cut at the
    edge, a 9 reads 7 and a 6 reads 1, both readers alike and sure."""
    boxes = cell_boxes(field)
    inset = CELL_INSET_PX
    crops = []
    for x, y, w, h in boxes:
        cell = gray[y + inset : y + h - inset, x + inset : x + w - inset]
        crops.append(cut_tight(cell) if ink_share(cell) >= EMPTY_CELL_INK else None)
    for index, crop in _stray_digits(gray, boxes).items():
        crops[index] = crop
    return crops


CROSSING_SLACK_PX = 8
"""How far apart (along the line) the ends of a stroke on the two sides of a line may be and
still be one stroke crossing it: an oblique stroke leaves the line lower than it met it."""


def cut_by_a_line(gray: np.ndarray, field: FieldDef) -> bool:
    """Whether a stroke crossed one of the field's printed lines and was cut there: the
    print's removal bridges a stroke across a line where it finds the stroke on both sides
    close enough, and where it does not, the two parts are read apart (a 9 across two cells
    reads 7 in one of them). The digits read are then not what was written.

    (A stroke that lay along the line, a 6 whose left arc was the line, is lost as well; but
    its trace beside the line is as often a 1 written close to the line, read right, or what
    a misregistered line leaves: flagged, it sent 62 of 632 cell fields to a person on the
    widened corpus, seed 97, 3 of them wrong.)"""
    x, y, w, h = field.box
    near, far = LINE_GUARD_PX + 1, CELL_INSET_PX
    inked = gray[max(y - far, 0) : y + h + far, max(x - far, 0) : x + w + far] < INK_THRESHOLD
    top, left = y - max(y - far, 0), x - max(x - far, 0)
    rows = slice(top + far, top + h - far)
    columns = slice(left + far, left + w - far)
    upright = [left + cell_x - x for cell_x, _, _, _ in cell_boxes(field)] + [left + w]
    # each line as (the writing just before it, the line's band, the writing just after),
    # turned so that the line runs down the array
    edges = [
        (inked[rows, e - far : e - near], inked[rows, e - near : e + near],
         inked[rows, e + near : e + far])
        for e in upright
    ] + [
        (inked[e - far : e - near, columns].T, inked[e - near : e + near, columns].T,
         inked[e + near : e + far, columns].T)
        for e in (top, top + h)
    ]
    return any(_cut_across(*edge) for edge in edges)


def _cut_across(before: np.ndarray, band: np.ndarray, after: np.ndarray) -> bool:
    touched_before, on_line, touched_after = (
        np.asarray(part.any(axis=1)) for part in (before, band, after)
    )
    if not (touched_before.any() and touched_after.any()):
        return False
    crossing = touched_before & _widened(touched_after)
    bridged = _widened(on_line)
    return bool((crossing & ~bridged).any())


def _widened(flags: np.ndarray) -> np.ndarray:
    slack = np.ones(2 * CROSSING_SLACK_PX + 1, np.uint8)
    return np.convolve(flags.astype(np.uint8), slack, mode="same") > 0


def _stray_digits(
    gray: np.ndarray, boxes: list[tuple[int, int, int, int]]
) -> dict[int, np.ndarray | None]:
    """The cells whose writing a stray digit changes, each with its writing redrawn from the
    pieces of ink it holds most of (None where none is left)."""
    left, top = boxes[0][0], boxes[0][1]
    right, bottom = boxes[-1][0] + boxes[-1][2], top + boxes[0][3]
    reach = round(boxes[0][3] * STRAY_REACH)
    x0, y0 = max(left - reach, 0), max(top - reach, 0)
    region = gray[y0 : bottom + reach, x0 : right + reach]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (region < INK_THRESHOLD).astype(np.uint8), connectivity=8
    )
    spans = [(x - x0, x - x0 + w) for x, _, w, _ in boxes]
    inset = CELL_INSET_PX
    box_top, box_bottom = top - y0, bottom - y0
    inner = (box_top + inset, box_bottom - inset)
    owned: dict[int, list[int]] = {}
    changed: set[int] = set()
    for piece in range(1, count):
        px, py, pw, ph, area = stats[piece]
        if area < LEAST_STROKE_PX:
            continue
        within = [k for k, (a, b) in enumerate(spans) if a <= px and px + pw <= b]
        if within and box_top <= py and py + ph <= box_bottom:
            a, b = spans[within[0]]  # in its cell: no pixel to weigh
            if px + pw > a + inset and px < b - inset and py + ph > inner[0] and py < inner[1]:
                owned.setdefault(within[0], []).append(piece)
            continue
        ys, xs = np.nonzero(labels[py : py + ph, px : px + pw] == piece)
        ys, xs = ys + py, xs + px
        per_cell = np.array([((xs >= a) & (xs < b)).sum() for a, b in spans])
        owner = int(per_cell.argmax())
        a, b = spans[owner]
        inside = (ys >= inner[0]) & (ys < inner[1]) & (xs >= a + inset) & (xs < b - inset)
        if not inside.any():
            continue  # writing beside the field, not in it
        shares = np.sort(per_cell / max(per_cell.sum(), 1))
        if len(shares) < 2 or shares[-2] < SHARED_STROKE:
            changed.update(int(c) for c in np.nonzero(per_cell)[0])
        owned.setdefault(owner, []).append(piece)
    redrawn: dict[int, np.ndarray | None] = {}
    for cell in sorted(changed):
        pieces = np.isin(labels, owned.get(cell, []))
        if not pieces.any():
            redrawn[cell] = None
            continue
        rim = cv2.dilate(pieces.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        redrawn[cell] = cut_tight(np.where(rim, region, 255).astype(np.uint8))
    return redrawn


def _read_many(engine: OcrEngine, images: list[np.ndarray], alphabet: str | None) -> list[Reading]:
    read_lines = getattr(engine, "read_lines", None)
    if read_lines is not None:
        return list(read_lines(images, alphabet))
    return [engine.read_line(image, alphabet) for image in images]
