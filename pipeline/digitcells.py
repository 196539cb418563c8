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
from pipeline.handwriting import LINE_GUARD_PX
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
        return RawField(line.text, line.confidence, engine.name, notes, line.runners_up, seen)
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
    return RawField(text, confidence, engine.name, notes, runners_up, seen)


def cell_crops(gray: np.ndarray, field: FieldDef) -> list[np.ndarray | None]:
    """Each cell's writing cut tight, None for an empty cell."""
    inset = LINE_GUARD_PX + 4
    crops = []
    for x, y, w, h in cell_boxes(field):
        cell = gray[y + inset : y + h - inset, x + inset : x + w - inset]
        crops.append(cut_tight(cell) if ink_share(cell) >= EMPTY_CELL_INK else None)
    return crops


def _read_many(engine: OcrEngine, images: list[np.ndarray], alphabet: str | None) -> list[Reading]:
    read_lines = getattr(engine, "read_lines", None)
    if read_lines is not None:
        return list(read_lines(images, alphabet))
    return [engine.read_line(image, alphabet) for image in images]
