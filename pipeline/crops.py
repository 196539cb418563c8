"""Cut a field's writing out of a page where only the handwriting is left: the box, the box
with what runs on past its edge, the ink cut tight."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.handwriting import INK_THRESHOLD

FREEHAND_MARGIN = 30
TIGHT_PAD = 12
OVERFLOW_MAX_PX = 400
OVERFLOW_GAP_PX = 40


def box_crop(gray: np.ndarray, box: tuple[int, int, int, int], margin: int = 0) -> np.ndarray:
    x, y, w, h = box
    top, left = max(y - margin, 0), max(x - margin, 0)
    return gray[top : y + h + margin, left : x + w + margin]


def with_overflow(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A free-writing box with the writing that runs on past its right edge, followed until
    a clear gap: residents who run out of room keep writing, and the end of an address (the
    room number) is what falls outside."""
    x, y, w, h = box
    top, bottom = max(y - FREEHAND_MARGIN, 0), y + h + FREEHAND_MARGIN
    left, right = max(x - FREEHAND_MARGIN, 0), x + w + FREEHAND_MARGIN
    inked = (gray[top:bottom, right : right + OVERFLOW_MAX_PX] < INK_THRESHOLD).any(axis=0)
    clear = np.convolve(~inked, np.ones(OVERFLOW_GAP_PX, int), mode="valid") == OVERFLOW_GAP_PX
    end = int(np.argmax(clear)) if clear.any() else inked.size
    return gray[top:bottom, left : right + end]


def ink_share(image: np.ndarray) -> float:
    return float((image < INK_THRESHOLD).mean()) if image.size else 0.0


def cut_tight(image: np.ndarray, pad: int = TIGHT_PAD) -> np.ndarray | None:
    """The image cut to its ink with a white margin; None when there is no ink."""
    ink = image < INK_THRESHOLD
    ink = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size == 0:
        return None
    cut = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cv2.copyMakeBorder(cut, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
