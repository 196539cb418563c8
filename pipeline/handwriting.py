"""Separate the handwriting from the printed form: drop the form's print and the seals, so
that what is left on the page is what a person wrote or marked."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from pipeline import marks as mark_reader
from pipeline.cleanup import to_gray
from pipeline.template import template_ink
from schemas.forms import FormDef, get_form

INK_THRESHOLD = 150
"""Darker than this is ink, on the page with only the handwriting left."""
SEAL_RADIUS_PX = (48, 95)
SEAL_SEARCH_RIGHT_PX = 300
SEAL_CLEARANCE_PX = 30
SEAL_INK = 185
"""Darker than this is a seal's ink, for finding its ring: red ink scanned in grey comes out
lighter than a pen (a seal on a grey scan of the widened corpus, seed 12, was inked round
46 % of its ring below INK_THRESHOLD and 77 % below this)."""
LINE_GUARD_PX = 3


def handwriting(
    registered_rgb: np.ndarray, form_id: str, page: int, guard_px: int = LINE_GUARD_PX
) -> tuple[np.ndarray, set[str]]:
    """Grayscale page with only the handwriting left: printed form ink and seals go white;
    and the names of the fields whose writing a removed seal touched.

    Colour drop-out removes the green form print and red seals where the scan has colour;
    the template's own print (widened by `guard_px`) is removed as well, which also serves
    1-bit scans that have lost their colour. Where a pen stroke crosses a printed line, the
    stroke is bridged across it, so a character written over the box edge stays whole.
    """
    gray = _without_print(registered_rgb, widened_print(form_id, page, guard_px), guard_px)
    touched = {
        field.name
        for field in get_form(form_id).fields
        if field.page == page and field.charset == "name" and remove_seals(gray, field.box)
    }
    return gray, touched


def marks(registered_rgb: np.ndarray, form: FormDef, page: int) -> np.ndarray:
    """Like `handwriting`, for the ticks and circles on choices and checkboxes: the printed
    labels are removed with almost no widening, because a tick is often drawn across its
    label, and only around the fields that take marks."""
    canvas = np.full(registered_rgb.shape[:2], 255, np.uint8)
    boxes = [f.box for f in form.fields if f.page == page and f.type in ("choice", "checkbox")]
    if not boxes:
        return canvas
    margin = mark_reader.REACH_PX + 10
    x0 = max(min(b[0] for b in boxes) - margin, 0)
    y0 = max(min(b[1] for b in boxes) - margin, 0)
    x1 = max(b[0] + b[2] for b in boxes) + margin
    y1 = max(b[1] + b[3] for b in boxes) + margin
    region = (slice(y0, y1), slice(x0, x1))
    canvas[region] = _without_print(
        registered_rgb[region], widened_print(form.id, page, 1)[region], guard_px=1
    )
    return canvas


@lru_cache(maxsize=32)
def widened_print(form_id: str, page: int, guard_px: int) -> np.ndarray:
    """The template's print widened by `guard_px`: the same for every page of the form."""
    guard = 2 * guard_px + 1
    ink = template_ink(form_id, page).astype(np.uint8)
    return np.asarray(cv2.dilate(ink, np.ones((guard, guard), np.uint8)) > 0)


def _without_print(rgb: np.ndarray, printed: np.ndarray, guard_px: int) -> np.ndarray:
    gray = to_gray(rgb).copy()
    guard = 2 * guard_px + 1
    dropped = _colour_print(rgb) if rgb.ndim == 3 else np.zeros_like(printed)
    dark = gray < INK_THRESHOLD
    pen = (dark & ~printed & ~dropped).astype(np.uint8)
    span = guard + 4
    down = cv2.morphologyEx(pen, cv2.MORPH_CLOSE, np.ones((span, 1), np.uint8)) > 0
    along = cv2.morphologyEx(pen, cv2.MORPH_CLOSE, np.ones((1, span), np.uint8)) > 0
    bridged = (down | along) & printed & dark & ~dropped
    gray[(printed & ~bridged) | dropped] = 255
    return gray


def _colour_print(rgb: np.ndarray) -> np.ndarray:
    """Where the page is the form's green print or a red seal, by hue (OpenCV's 0–179) and
    saturation; `cv2.inRange` rather than numpy comparisons on HSV's strided channels, which
    cost a tenth of a second on a full page."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    green = cv2.inRange(hsv, (36, 71, 0), (94, 255, 255))
    red_low = cv2.inRange(hsv, (0, 71, 0), (11, 255, 255))
    red_high = cv2.inRange(hsv, (166, 71, 0), (179, 255, 255))
    return np.asarray(cv2.bitwise_or(cv2.bitwise_or(green, red_low), red_high) > 0)


def remove_seals(gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Blank out round personal seals (印) stamped at or beside a name box; True when a seal
    sat on the writing itself, so that what was under it is for a person to read.

    Colour drop-out already removes red seals; this catches them on grey and 1-bit scans.
    A ring is taken for a seal only when most of its circumference is inked and the paper
    just outside it is mostly clear, which a dense handwritten kanji is not.
    """
    x, y, w, h = box
    top, left = max(y - 100, 0), max(x + w // 3, 0)
    region = gray[top : y + h + 100, left : x + w + SEAL_SEARCH_RIGHT_PX]
    if region.size == 0:
        return False
    circles = cv2.HoughCircles(
        cv2.medianBlur(region, 5),
        cv2.HOUGH_GRADIENT,
        dp=2,
        minDist=120,
        param1=120,
        param2=45,
        minRadius=SEAL_RADIUS_PX[0],
        maxRadius=SEAL_RADIUS_PX[1],
    )
    touched = False
    for cx, cy, radius in [] if circles is None else circles.reshape(-1, 3):
        ring = _ring_coverage(region, cx, cy, (radius - 5, radius, radius + 5))
        outside = _ring_coverage(region, cx, cy, (radius + 16, radius + 22))
        if ring < 0.7 or outside > 0.25:
            continue
        disk_left = left + cx - radius - 10
        cv2.circle(region, (round(cx), round(cy)), round(radius) + 10, 255, thickness=-1)
        inked = (gray[y : y + h, x : x + w] < INK_THRESHOLD).astype(np.uint8)
        # without specks and what is left of the box's own edge lines (thin and upright)
        writing = cv2.morphologyEx(inked, cv2.MORPH_OPEN, np.ones((2, 6), np.uint8)) > 0
        columns = np.where(writing.any(axis=0))[0]
        touched |= bool(columns.size) and x + columns[-1] >= disk_left - SEAL_CLEARANCE_PX
    return touched


def _ring_coverage(image: np.ndarray, cx: float, cy: float, radii: tuple[float, ...]) -> float:
    """Share of directions round (cx, cy) in which any of the radii meets ink."""
    angles = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    height, width = image.shape
    inked = 0
    for angle in angles:
        for r in radii:
            px, py = round(cx + r * np.cos(angle)), round(cy + r * np.sin(angle))
            if 0 <= py < height and 0 <= px < width and image[py, px] < SEAL_INK:
                inked += 1
                break
    return inked / len(angles)
