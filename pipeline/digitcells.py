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

GAP_PX = 30
"""White between two cells' writing in the line: wide enough that a digit's frames do not
spill into its neighbour's."""
LEAST_CHARACTER_MASS = 0.5
"""Below this summed probability of any character (not the blank) the recogniser saw nothing
in the cell: it has no opinion of it."""
BLANK = 0
"""The recogniser's output for "no character here" (CTC's blank)."""


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
