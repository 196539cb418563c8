"""Register a page to its form template by the four printed corner marks.

An affine transform is fitted to the marks found near the page corners; the RMS residual
over the marks says how well the page fits. A page whose marks cannot be found or whose
residual is too large is not guessed at: it goes to review with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.cleanup import to_gray
from pipeline.template import MARK_SIZE

MAX_RESIDUAL_PX = 6.0
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
    _, dark = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(dark, connectivity=8)
    expected = MARK_SIZE * MARK_SIZE
    candidates = []
    for i in range(1, count):
        _x, _y, w, h, area = stats[i]
        if not (0.35 * expected <= area <= 2.5 * expected):
            continue
        if not (0.6 <= w / h <= 1.6) or area < 0.7 * w * h:
            continue
        candidates.append((float(centroids[i][0]), float(centroids[i][1])))
    height, width = gray.shape
    corners = [(0, 0), (width, 0), (0, height), (width, height)]
    reach = CORNER_REACH * np.hypot(width, height)
    found: list[tuple[float, float] | None] = []
    for cx, cy in corners:
        best = min(candidates, key=lambda c: np.hypot(c[0] - cx, c[1] - cy), default=None)
        if best is not None and np.hypot(best[0] - cx, best[1] - cy) <= reach:
            found.append(best)
        else:
            found.append(None)
    return found


def register(
    rgb: np.ndarray, template_marks: list[tuple[int, int]], size_px: tuple[int, int]
) -> Registration:
    marks = find_marks(to_gray(rgb))
    pairs = [(m, t) for m, t in zip(marks, template_marks, strict=True) if m is not None]
    if len(pairs) < 3:
        raise NotAligned(f"only {len(pairs)} of 4 registration marks found")
    source = np.array([p[0] for p in pairs], dtype=np.float32)
    target = np.array([p[1] for p in pairs], dtype=np.float32)
    matrix, _ = cv2.estimateAffine2D(source, target, method=cv2.LMEDS)
    if matrix is None:
        raise NotAligned("the registration marks do not form a page")
    projected = cv2.transform(source[np.newaxis], matrix)[0]
    residual = float(np.sqrt(np.mean(np.sum((projected - target) ** 2, axis=1))))
    if residual > MAX_RESIDUAL_PX:
        raise NotAligned(f"page does not fit the template (residual {residual:.1f} px)")
    warped = cv2.warpAffine(
        rgb, matrix, size_px, flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )
    return Registration(warped, residual)
