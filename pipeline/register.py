"""Register a page to its form template by the four printed corner marks.

A homography through the marks found near the page corners (an affine fit where one is
missing) gives the first fit; `pipeline.align` then fits the printed content itself, and
aligns pages without marks. A page that does not fit is not guessed at: it goes to review
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.cleanup import to_gray
from pipeline.template import MARK_SIZE

CORNER_REACH = 0.22
"""A mark must lie within this share of the page size from its corner."""


class NotAligned(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Registration:
    image: np.ndarray
    """The page warped into template space, same size as the template."""
    residual_px: float


def find_marks(gray: np.ndarray) -> list[tuple[float, float] | None]:
    """Centres of the corner marks (top-left, top-right, bottom-left, bottom-right)."""
    otsu, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    height, width = gray.shape
    reach = CORNER_REACH * np.hypot(width, height)
    # only the corners are searched (a mark lies within `reach` of its corner): the middle
    # of the page is most of its pixels
    side = int(reach) + 2 * MARK_SIZE
    found: list[tuple[float, float] | None] = []
    for cx, cy in ((0, 0), (width, 0), (0, height), (width, height)):
        left, top = max(cx - side, 0), max(cy - side, 0)
        window = gray[top : top + side, left : left + side]
        _, dark = cv2.threshold(window, otsu, 255, cv2.THRESH_BINARY_INV)
        near = [(x + left, y + top) for x, y in _mark_centres(dark)
                if np.hypot(x + left - cx, y + top - cy) <= reach]
        found.append(min(near, key=lambda c: np.hypot(c[0] - cx, c[1] - cy), default=None))
    return found


def _mark_centres(dark: np.ndarray) -> list[tuple[float, float]]:
    """Centres of the blobs in `dark` shaped like a corner mark: about its size, square, solid."""
    count, _, stats, centroids = cv2.connectedComponentsWithStats(dark, connectivity=8)
    expected = MARK_SIZE * MARK_SIZE
    centres = []
    for i in range(1, count):
        _x, _y, w, h, area = stats[i]
        if not (0.35 * expected <= area <= 2.5 * expected):
            continue
        if not (0.6 <= w / h <= 1.6) or area < 0.7 * w * h:
            continue
        centres.append((float(centroids[i][0]), float(centroids[i][1])))
    return centres


def register(
    rgb: np.ndarray, template_marks: list[tuple[int, int]], size_px: tuple[int, int]
) -> Registration:
    """The page warped onto the template by its corner marks: a homography through all four
    (a sheet not lying flat is not an affine image of the form), an affine fit through
    three. The marks fit exactly; whether the page really fits its form is measured on the
    content afterwards (`pipeline.align`)."""
    marks = find_marks(to_gray(rgb))
    pairs = [(m, t) for m, t in zip(marks, template_marks, strict=True) if m is not None]
    if len(pairs) < 3:
        raise NotAligned(f"only {len(pairs)} of 4 registration marks found")
    source = np.array([p[0] for p in pairs], dtype=np.float32)
    target = np.array([p[1] for p in pairs], dtype=np.float32)
    if len(pairs) == 4:
        matrix, _ = cv2.findHomography(source, target, 0)
    else:
        affine, _ = cv2.estimateAffine2D(source, target, method=cv2.LMEDS)
        matrix = None if affine is None else np.vstack([affine, [0.0, 0.0, 1.0]])
    if matrix is None or not _plausible(matrix, rgb.shape[1], size_px[0]):
        raise NotAligned("the registration marks do not form a page")
    warped = cv2.warpPerspective(
        rgb, matrix, size_px, flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )
    return Registration(warped, 0.0)


MAX_SCALE_CHANGE = 0.12
MAX_PERSPECTIVE = 0.06


def _plausible(matrix: np.ndarray, page_width: int, template_width: int) -> bool:
    """Marks that make a page: its scale within a few per cent of the dpi's, not mirrored,
    and only mild perspective (marks found in the wrong places make wild transforms)."""
    h = matrix / matrix[2, 2]
    linear = h[:2, :2]
    det = float(np.linalg.det(linear))
    if det <= 0:
        return False
    expected = template_width / page_width
    scale = np.sqrt(det) / expected
    perspective = float(np.abs(h[2, :2]).max()) * page_width
    return abs(scale - 1) <= MAX_SCALE_CHANGE and perspective <= MAX_PERSPECTIVE
