"""Align a page to its form by the printed content itself, not only by Kura's corner marks.

Two steps, after whatever first fit a page got (the corner marks, or `by_content` where the
marks are missing or were never printed):

- `by_content`: the page's print fitted to each blank template at low resolution (skew,
  shift, then an affine ECC fit); the best correlation wins. This aligns a copy with a
  corner cut off, a page printed from another PDF (no marks of ours).
- `refine`: the printed lines and labels of the classified template, fitted again locally,
  tile by tile (phase correlation), into a smooth displacement field: what the first fit
  left of a perspective, and an uneven feed, which stretches the page by different amounts
  along it and which no single transform follows. Each field is then read where it is on
  the page. (A global ECC homography was tried first: at 1/8 scale it made some pages
  worse, at 1/4 it cost 0.5–1 s a page; the tiles do its work for a tenth of that.)

The fit is measured on the content: the mean distance from the template's printed ink to
the nearest ink on the page (`content_residual`), in template pixels. A page is refused only
when that distance says the content does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from pipeline.cleanup import skew_angle, to_gray
from pipeline.template import MARK_SIZE, blank_gray, has_reference_blank, registration_marks
from schemas.calibration import calibration
from schemas.forms import FormDef, get_form

COARSE_WIDTH = 310
"""Width in pixels of the coarse fit by content (a template is 2480 wide at 300 dpi)."""
COARSE_BLUR = 2.0
COARSE_ITERATIONS = 60
COARSE_START_SCALES = (1.0, 0.955)
"""Scales the coarse fit starts from: a sheet printed "fit to page" is 94–97 % of its size,
too far for the fit to find from 1."""
MIN_CONTENT_SCORE = 0.3
"""Least correlation of the page's print with a form's after the coarse fit."""

LOCAL_SCALE = 0.5
TILES = (4, 7)
"""Columns and rows of tiles whose shift is measured for the local refinement."""
MAX_LOCAL_SHIFT_PX = 60
"""Largest local correction, in template pixels (about 5 mm at 300 dpi)."""
MIN_TILE_INK = 0.01
MIN_TILE_RESPONSE = 0.08

RESIDUAL_SCALE = 0.5
RESIDUAL_CAP_PX = 24.0
SETTLED_PX = 0.3
"""A page whose print lies this close to the template's is not refined further."""
MAX_CONTENT_RESIDUAL_PX = calibration().max_content_residual_px
"""Mean distance (template pixels at 300 dpi) from the printed ink of the template to ink on
the page, above which the page does not fit its form. Aligned pages of the benchmark measure
0.5–2.5 (handwriting and 1-bit scans included); a page off by 3 mm measures over 8."""


@dataclass(frozen=True)
class ContentFit:
    matrix: np.ndarray
    """3×3 homography from page pixels to template pixels."""
    form_id: str
    page: int
    score: float
    """Correlation of the page's ink with the template's after the fit (ECC)."""


@dataclass(frozen=True)
class Refined:
    image: np.ndarray
    residual_px: float
    """Content residual after refinement (template pixels)."""
    before_px: float
    """Content residual of the page as it came in."""


@lru_cache(maxsize=16)
def _template_gray(form_id: str, page: int) -> np.ndarray:
    """The blank form page without Kura's corner marks: pages printed from another PDF or
    with a corner cut off have none, and the content is what is fitted here."""
    form = get_form(form_id)
    gray = blank_gray(form_id, page).copy()
    if has_reference_blank(form_id, page):  # a real blank: no marks of ours on it
        return gray
    half = MARK_SIZE // 2 + 2
    for cx, cy in registration_marks(form):
        gray[cy - half : cy + half, cx - half : cx + half] = 255
    return gray


LINE_SCALE = 0.25
LINE_LENGTH = 30
"""Least length of a printed line, in pixels at `LINE_SCALE` (about 10 mm)."""


def _print_lines(gray: np.ndarray, scale: float) -> np.ndarray:
    """The long straight lines of a level page (box edges: print, never handwriting), at
    `LINE_SCALE`, then blurred at the coarse width: what `by_content` fits."""
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    dark = cv2.dilate((small < 170).astype(np.uint8), np.ones((3, 3), np.uint8))
    across = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, LINE_LENGTH), np.uint8))
    down = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((LINE_LENGTH, 1), np.uint8))
    lines = cv2.bitwise_or(across, down).astype(np.float32)
    coarse = COARSE_WIDTH / lines.shape[1]
    small_lines = cv2.resize(lines, None, fx=coarse, fy=coarse, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small_lines, (0, 0), COARSE_BLUR)


@lru_cache(maxsize=16)
def _template_lines(form_id: str, page: int) -> np.ndarray:
    gray = _template_gray(form_id, page)
    return _print_lines(gray, LINE_SCALE * TEMPLATE_WIDTH / gray.shape[1])


TEMPLATE_WIDTH = 2480


def by_content(rgb: np.ndarray, forms: list[FormDef]) -> ContentFit | None:
    """The transform that carries the page onto the blank form page it matches best, by
    the printed content alone; None when no form page matches.

    A form is many alike boxes and labels, so matched features often pair a box with its
    neighbour, and handwriting pulls a fit of the whole ink its way; instead the printed
    lines (long and straight: box edges) are fitted: the page levelled by the skew of its
    lines, the shift by phase correlation, then an affine ECC fit at low resolution, right
    way up and upside down, against every form page. The best correlation wins; `refine`
    takes it on to local corrections."""
    gray = to_gray(rgb)
    height, width = gray.shape
    angle = skew_angle(gray)
    level = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    levelled = cv2.warpAffine(gray, level, (width, height), borderValue=255)
    scale = LINE_SCALE * TEMPLATE_WIDTH / width
    page_lines = _print_lines(levelled, scale)
    to_coarse = COARSE_WIDTH / (width * scale) * scale  # page pixels → coarse pixels
    page_centre = np.array(page_lines.shape[::-1], np.float64) / 2
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, COARSE_ITERATIONS, 1e-4)
    best: ContentFit | None = None
    for form in forms:
        for number in range(1, form.pages + 1):
            template = _template_lines(form.id, number)
            centre = np.array(template.shape[::-1], np.float64) / 2
            t_scale = COARSE_WIDTH / form.size_px[0]
            for turn in [k * np.eye(2) for k in COARSE_START_SCALES for k in (k, -k)]:
                warp_small = np.hstack([turn, (page_centre - turn @ centre)[:, None]])
                seen = cv2.warpAffine(
                    page_lines,
                    warp_small,
                    template.shape[::-1],
                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                )
                (dx, dy), _ = cv2.phaseCorrelate(template, seen)
                warp_small[:, 2] += turn @ np.array([dx, dy])
                try:
                    score, found = cv2.findTransformECC(
                        template,
                        page_lines,
                        warp_small.astype(np.float32),
                        cv2.MOTION_AFFINE,
                        criteria,
                        None,
                    )
                except cv2.error:  # no convergence from here
                    continue
                if (best is not None and score <= best.score) or not _page_like(found[:, :2]):
                    continue
                # template → coarse → levelled page (coarse → full) → page as scanned
                to_levelled = (
                    np.diag([1 / to_coarse, 1 / to_coarse, 1.0])
                    @ np.vstack([found.astype(np.float64), [0.0, 0.0, 1.0]])
                    @ np.diag([t_scale, t_scale, 1.0])
                )
                unlevel = np.linalg.inv(np.vstack([level, [0.0, 0.0, 1.0]]))
                full = unlevel @ to_levelled
                best = ContentFit(np.linalg.inv(full), form.id, number, float(score))
    return best if best is not None and best.score >= MIN_CONTENT_SCORE else None


MAX_COARSE_STRETCH = 0.12


def _page_like(linear: np.ndarray) -> bool:
    """A fit that keeps the page a page: scale within a few per cent in both directions."""
    stretch = np.linalg.svd(linear.astype(np.float64), compute_uv=False)
    return bool(np.all(np.abs(stretch - 1) <= MAX_COARSE_STRETCH))


def warp(rgb: np.ndarray, matrix: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    return cv2.warpPerspective(
        rgb, matrix, size_px, flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )


def _darkness(gray: np.ndarray, scale: float, blur: float) -> np.ndarray:
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    dark = (255.0 - small.astype(np.float32)) / 255.0
    return cv2.GaussianBlur(dark, (0, 0), blur)


def content_residual(gray: np.ndarray, form_id: str, page: int) -> float:
    """Mean distance, in template pixels, from the template's printed ink to the nearest
    dark pixel of the page (capped, so a missing line counts as a fixed penalty). Print in
    a margin the page lost (`_cut_off`) is not counted: what is left of it is measured."""
    template = _template_gray(form_id, page)
    size = (round(template.shape[1] * RESIDUAL_SCALE), round(template.shape[0] * RESIDUAL_SCALE))
    small_t = cv2.resize(template, size, interpolation=cv2.INTER_AREA) < 170
    small_p = cv2.resize(gray, size, interpolation=cv2.INTER_AREA) < 170
    small_t &= ~_cut_off(small_p, small_t)
    if not small_t.any():
        return 0.0
    distance = cv2.distanceTransform((~small_p).astype(np.uint8), cv2.DIST_L2, 3)
    capped = np.minimum(distance[small_t], RESIDUAL_CAP_PX * RESIDUAL_SCALE)
    return float(capped.mean() / RESIDUAL_SCALE)


MM_AT_RESIDUAL_SCALE = 300 / 25.4 * RESIDUAL_SCALE
LEAST_CUT_MM = 5.0
"""A margin counts as cut off when the page is bare this much deeper than the form's print
begins; less is what a shift left or a feed stretched, and is measured as misfit."""
MOST_CUT_MM = 30.0
"""Deepest margin a page may lose and still be read (a copy's cut corner, a sheet fed
askew into a copier: 15–25 mm seen in the benchmark's scanner model)."""
SPECK_PX = 3
"""Dark pixels a row or column of the page may hold and still count as bare (dust, noise)."""


def _cut_off(page_ink: np.ndarray, template_ink: np.ndarray) -> np.ndarray:
    """Where the page lost a margin: along each edge, the strip where the page is bare paper
    although the form prints there, up to `MOST_CUT_MM` deep. A cut margin reads as bare
    paper on the scan, so its print is missing, not misplaced; counted, it would refuse a
    page whose remaining content fits."""
    lost = np.zeros_like(template_ink)
    least, most = (round(mm * MM_AT_RESIDUAL_SCALE) for mm in (LEAST_CUT_MM, MOST_CUT_MM))
    for axis in (0, 1):  # rows (top, bottom), then columns (left, right)
        inked = page_ink.sum(axis=1 - axis) > SPECK_PX
        printed = template_ink.sum(axis=1 - axis) > 0
        for step in (1, -1):  # from the first line inwards, then from the last
            bare = _leading_false(inked[::step])
            if bare - _leading_false(printed[::step]) < least:
                continue
            depth = min(bare, most)
            strip = slice(0, depth) if step == 1 else slice(len(inked) - depth, None)
            lost[(strip, slice(None)) if axis == 0 else (slice(None), strip)] = True
    return lost


def _leading_false(flags: np.ndarray) -> int:
    return int(np.argmax(flags)) if flags.any() else len(flags)


def refine(registered: np.ndarray, form_id: str, page: int) -> Refined:
    """The registered page fitted again to its template's print by a smooth displacement
    from tile shifts, kept only when it brings the print closer (`content_residual`)."""
    template = _template_gray(form_id, page)
    height, width = template.shape
    gray = to_gray(registered)
    before = content_residual(gray, form_id, page)
    if before <= SETTLED_PX:
        return Refined(registered, before, before)
    displacement = _local_shifts(template, gray)
    if displacement is None:
        return Refined(registered, before, before)
    map_x, map_y = _maps((width, height), displacement)
    image = cv2.remap(registered, map_x, map_y, cv2.INTER_LINEAR, borderValue=(255, 255, 255))
    after = content_residual(to_gray(image), form_id, page)
    if after >= before:
        return Refined(registered, before, before)
    return Refined(image, after, before)


def _local_shifts(template: np.ndarray, gray: np.ndarray) -> np.ndarray | None:
    """Shift (dx, dy) in template pixels for each tile, smoothed; None when too few tiles
    hold enough print to measure."""
    t = _darkness(template, LOCAL_SCALE, 1.0)
    p = _darkness(gray, LOCAL_SCALE, 1.0)
    columns, rows = TILES
    h, w = t.shape
    th, tw = h // rows, w // columns
    window = cv2.createHanningWindow((tw, th), cv2.CV_32F)
    shifts = np.full((rows, columns, 2), np.nan, np.float32)
    limit = MAX_LOCAL_SHIFT_PX * LOCAL_SCALE
    for r in range(rows):
        for c in range(columns):
            tile = (slice(r * th, (r + 1) * th), slice(c * tw, (c + 1) * tw))
            if (t[tile] > 0.3).mean() < MIN_TILE_INK:
                continue
            (dx, dy), response = cv2.phaseCorrelate(t[tile], p[tile], window)
            if response >= MIN_TILE_RESPONSE and abs(dx) <= limit and abs(dy) <= limit:
                shifts[r, c] = (dx / LOCAL_SCALE, dy / LOCAL_SCALE)
    measured = ~np.isnan(shifts[..., 0])
    if measured.sum() < 4:
        return None
    # a tile disagreeing with its neighbours (handwriting mistaken for print) is dropped,
    # and every unmeasured tile takes its neighbours' median
    filled = shifts.copy()
    for r in range(rows):
        for c in range(columns):
            near = shifts[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].reshape(-1, 2)
            near = near[~np.isnan(near[:, 0])]
            if near.size == 0:
                near = shifts[measured]
            middle = np.median(near, axis=0)
            if not measured[r, c] or np.abs(shifts[r, c] - middle).max() > 6:
                filled[r, c] = middle
    return filled


def _maps(size: tuple[int, int], displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """remap tables: output pixel x reads the registered page at x + d(x)."""
    width, height = size
    coarse = (width // 16, height // 16)
    # where cv2.resize puts each coarse sample on the full grid, so that the tables
    # resized to full size are exact
    xs, ys = np.meshgrid(
        ((np.arange(coarse[0]) + 0.5) * width / coarse[0] - 0.5).astype(np.float32),
        ((np.arange(coarse[1]) + 0.5) * height / coarse[1] - 0.5).astype(np.float32),
    )
    field = cv2.resize(displacement, coarse, interpolation=cv2.INTER_LINEAR)
    xs = xs + field[..., 0]
    ys = ys + field[..., 1]
    map_x = cv2.resize(np.ascontiguousarray(xs), size, interpolation=cv2.INTER_LINEAR)
    map_y = cv2.resize(np.ascontiguousarray(ys), size, interpolation=cv2.INTER_LINEAR)
    return map_x, map_y
