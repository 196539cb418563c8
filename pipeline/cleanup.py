"""Image cleanup on a derived copy: grayscale, orientation to portrait, dark borders, deskew,
blank pages."""

from __future__ import annotations

import cv2
import numpy as np

MAX_DESKEW_DEG = 5.0
BLANK_INK_RATIO = 0.002


def to_gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def to_portrait(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """Turn a landscape page upright by 90°; returns the image and the turn applied."""
    if rgb.shape[1] > rgb.shape[0]:
        return cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE), 90
    return rgb, 0


DARK_LEVEL = 90
DARK_ROW_SHARE = 0.6
MAX_BORDER_SHARE = 0.08
BORDER_FEATHER_PX = 4


def remove_dark_border(rgb: np.ndarray) -> np.ndarray:
    """White out the dark bands along the edges of a scan (the lid or the feeder belt
    around a sheet smaller than the scan area), which would otherwise read as ink."""
    dark = to_gray(rgb) < DARK_LEVEL
    height, width = dark.shape
    rows, cols = dark.mean(axis=1) > DARK_ROW_SHARE, dark.mean(axis=0) > DARK_ROW_SHARE
    top, bottom = _edge_run(rows, height), _edge_run(rows[::-1], height)
    left, right = _edge_run(cols, width), _edge_run(cols[::-1], width)
    if not (top or bottom or left or right):
        return rgb
    cleaned = rgb.copy()
    white = 255
    if top:
        cleaned[: top + BORDER_FEATHER_PX] = white
    if bottom:
        cleaned[height - bottom - BORDER_FEATHER_PX :] = white
    if left:
        cleaned[:, : left + BORDER_FEATHER_PX] = white
    if right:
        cleaned[:, width - right - BORDER_FEATHER_PX :] = white
    return cleaned


def _edge_run(dark_lines: np.ndarray, length: int) -> int:
    """How many lines from the edge in are dark, when it is a border's width at most."""
    run = int(np.argmin(dark_lines)) if not dark_lines.all() else dark_lines.size
    return run if run <= MAX_BORDER_SHARE * length else 0


def ink_ratio(gray: np.ndarray, border: float = 0.05) -> float:
    """Share of dark pixels away from the edges, where scanner shadows live."""
    h, w = gray.shape
    dy, dx = int(h * border), int(w * border)
    inner = gray[dy : h - dy, dx : w - dx]
    small = cv2.resize(
        inner, (inner.shape[1] // 4, inner.shape[0] // 4), interpolation=cv2.INTER_AREA
    )
    background = cv2.medianBlur(small, 31)
    dark = (background.astype(np.int16) - small.astype(np.int16)) > 60
    return float(dark.mean())


def is_blank(gray: np.ndarray) -> bool:
    return ink_ratio(gray) < BLANK_INK_RATIO


def skew_angle(gray: np.ndarray) -> float:
    """Median angle of long near-horizontal lines, in degrees (0 when none are found)."""
    scale = 0.25
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    edges = cv2.Canny(small, 50, 150)
    lines = cv2.HoughLinesP(
        edges, 1, np.pi / 720, threshold=80, minLineLength=small.shape[1] // 4, maxLineGap=8
    )
    if lines is None:
        return 0.0
    angles = []
    for x1, y1, x2, y2 in lines.reshape(-1, 4):
        angle = float(np.degrees(np.arctan2(y2 - y1, x2 - x1)))
        if abs(angle) <= MAX_DESKEW_DEG:
            angles.append(angle)
    return float(np.median(angles)) if angles else 0.0


def deskew(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Rotate so that the page's long horizontal lines are level."""
    angle = skew_angle(to_gray(rgb))
    if abs(angle) < 0.05:
        return rgb, 0.0
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    turned = cv2.warpAffine(
        rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )
    return turned, angle
