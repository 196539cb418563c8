"""The geometry of a printed list page (処理結果一覧表): level it, take the ruling out of the
text, cut the text into printed lines and crop what lies between two x positions on a line.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Line:
    top: int
    bottom: int


def ink_of(gray: np.ndarray) -> np.ndarray:
    """Dark print on the page, with uneven light and paper tone taken out."""
    background = cv2.dilate(gray, np.ones((25, 25), np.uint8))
    level = cv2.divide(gray, background, scale=255)
    return level < 170


def skew_of(ink: np.ndarray) -> float:
    """The angle (degrees) that makes the rows of print sharpest."""
    small = cv2.resize(ink.astype(np.uint8) * 255, None, fx=0.25, fy=0.25,
                       interpolation=cv2.INTER_AREA)
    h, w = small.shape
    best, best_angle = -1.0, 0.0
    for angle in np.arange(-3.5, 3.51, 0.25):
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
        turned = cv2.warpAffine(small, matrix, (w, h))
        score = float(np.var(turned.sum(axis=1, dtype=np.float64)))
        if score > best:
            best, best_angle = score, float(angle)
    fine = best_angle
    for angle in np.arange(best_angle - 0.2, best_angle + 0.21, 0.05):
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
        score = float(np.var(cv2.warpAffine(small, matrix, (w, h)).sum(axis=1,
                                                                        dtype=np.float64)))
        if score > best:
            best, fine = score, float(angle)
    return fine


def rotated(image: np.ndarray, angle: float, fill: int) -> np.ndarray:
    if abs(angle) < 0.01:
        return image
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill)


def rulings(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal, vertical) ruling: runs of ink far longer than any character, found on
    ink thickened across the rule so that a rule a little off level still runs unbroken,
    and widened to cover its whole stroke."""
    mask = ink.astype(np.uint8)
    across = cv2.dilate(mask, np.ones((3, 1), np.uint8))
    horizontal = cv2.morphologyEx(across, cv2.MORPH_OPEN, np.ones((1, 120), np.uint8))
    along = cv2.dilate(mask, np.ones((1, 3), np.uint8))
    vertical = cv2.morphologyEx(along, cv2.MORPH_OPEN, np.ones((70, 1), np.uint8))
    grow = np.ones((3, 3), np.uint8)
    return cv2.dilate(horizontal, grow) > 0, cv2.dilate(vertical, grow) > 0


FAINT_HEIGHT = 0.6
FAINT_INK = 2.0


def printed_lines(text: np.ndarray) -> list[Line]:
    """Printed lines: bands of rows holding text, separated by empty rows."""
    profile = text.sum(axis=1)
    merged: list[Line] = []
    for line in (Line(top, bottom) for top, bottom in spans_of(profile >= 3, 0)):
        if merged and line.top - merged[-1].bottom <= 3:
            merged[-1].bottom = line.bottom
        else:
            merged.append(line)
    heights = [ln.bottom - ln.top for ln in merged]
    if not heights:
        return []
    tall = float(np.median([h for h in heights if h >= 8] or heights))
    kept = [ln for ln in merged if ln.bottom - ln.top >= max(8, 0.35 * tall)]
    kept = sorted(kept + _faint_lines(profile, kept, tall), key=lambda ln: ln.top)
    return [part for ln in kept for part in _split_touching(ln, profile, tall)]


def _faint_lines(profile: np.ndarray, lines: list[Line], tall: float) -> list[Line]:
    """Lines too thin for three inked pixels a row: one character alone on a line in hairline
    print (a remark's last 下, wrapped) inks one or two in most of its rows. Found in the gaps
    between the lines found, apart from them, as rows each inked at all, at least
    FAINT_HEIGHT of a line tall and FAINT_INK pixels a row on average (specks are neither)."""
    found = []
    edges = [0, *[y for line in lines for y in (line.top, line.bottom)], len(profile)]
    for top, bottom in zip(edges[::2], edges[1::2], strict=True):
        for start, end in spans_of(profile[top:bottom] >= 1, 0):
            apart = (start >= 2 or top == 0) and (end <= bottom - top - 2 or bottom == len(profile))
            rows = profile[top + start : top + end]
            if apart and end - start >= FAINT_HEIGHT * tall and rows.mean() >= FAINT_INK:
                found.append(Line(top + start, top + end))
    return found


def _split_touching(line: Line, profile: np.ndarray, tall: float) -> list[Line]:
    """Two printed lines that smudged print or dots joined: cut at the thinnest row."""
    height = line.bottom - line.top
    if height < 1.7 * tall:
        return [line]
    parts = round(height / tall)
    cuts = [line.top]
    for k in range(1, parts):
        centre = line.top + round(k * height / parts)
        window = profile[centre - int(tall * 0.3) : centre + int(tall * 0.3)]
        cuts.append(centre - int(tall * 0.3) + int(np.argmin(window)))
    cuts.append(line.bottom)
    return [Line(a, b) for a, b in itertools.pairwise(cuts) if b - a >= 0.35 * tall]


def spans_of(columns_on: np.ndarray | np.bool_, gap: int) -> list[tuple[int, int]]:
    """Runs of True in a 1-D mask, joined across gaps of at most `gap` False."""
    spans: list[tuple[int, int]] = []
    xs = np.flatnonzero(np.asarray(columns_on))
    if xs.size == 0:
        return spans
    start = prev = int(xs[0])
    for x in xs[1:]:
        if x - prev - 1 > gap:
            spans.append((start, prev + 1))
            start = int(x)
        prev = int(x)
    spans.append((start, prev + 1))
    return spans


def cell_crop(gray: np.ndarray, text: np.ndarray, line: Line, left: int, right: int
              ) -> np.ndarray | None:
    """The cell's print, trimmed to its ink with a margin, or None when it is empty."""
    band = text[line.top : line.bottom, left:right]
    if band.sum() < 12:
        band = _faint_print(gray[line.top : line.bottom, left:right])
    cols = np.flatnonzero(band.sum(axis=0) >= 1)
    if cols.size == 0 or band.sum() < 12:
        return None
    height = line.bottom - line.top
    pad = max(4, height // 4)
    x0 = max(0, left + int(cols[0]) - pad)
    x1 = min(gray.shape[1], left + int(cols[-1]) + 1 + pad)
    y0 = max(0, line.top - pad)
    y1 = min(gray.shape[0], line.bottom + pad)
    return gray[y0:y1, x0:x1]


FAINT = 0.8
"""Print at most this share of the cell's paper brightness is print, where the page's text
mask found (almost) none in the cell."""


def _faint_print(cell: np.ndarray) -> np.ndarray:
    """A cell's print lighter than the page's text mask takes (the 1-pixel stem of a 1 in a
    light face, blurred by the scan, reads about 170 on paper of 240: the tuning list that
    lost its row 1 so): darker than FAINT of the cell's paper, and as tall as half the line,
    so that a speck of noise is not print."""
    if cell.size == 0:
        return np.zeros(cell.shape, bool)
    dark = cell < FAINT * float(np.percentile(cell, 90))
    rows = np.flatnonzero(dark.any(axis=1))
    if rows.size == 0 or rows[-1] - rows[0] + 1 < cell.shape[0] / 2:
        return np.zeros(cell.shape, bool)
    return np.asarray(dark)
