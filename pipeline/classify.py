"""Classify a registered page: which form, which page of it, which way up — or unknown.

The score is the share of a template's printed ink found on the page. Handwriting only adds
ink, so it does not lower the score of the right form; a different form misses most of it.
Registration marks are the same on every form and are left out of the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.cleanup import to_gray
from pipeline.template import MARK_MARGIN, MARK_SIZE, template_ink
from schemas.forms import FormDef

SCALE = 0.25
MIN_SCORE = 0.6
MIN_MARGIN = 0.15


@dataclass(frozen=True)
class Classification:
    form_id: str | None
    page: int | None
    upside_down: bool
    score: float
    runner_up: float


def _shrink(mask: np.ndarray) -> np.ndarray:
    small = cv2.resize(
        mask.astype(np.uint8) * 255, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA
    )
    return small > 40


def _without_marks(mask: np.ndarray) -> np.ndarray:
    edge = int((MARK_MARGIN + MARK_SIZE + 20) * SCALE)
    trimmed = mask.copy()
    trimmed[:edge, :] = False
    trimmed[-edge:, :] = False
    return trimmed


def _template(form_id: str, page: int) -> np.ndarray:
    return _without_marks(_shrink(template_ink(form_id, page)))


def page_ink(registered_rgb: np.ndarray) -> np.ndarray:
    gray = to_gray(registered_rgb)
    dark = _shrink(gray < 170)
    return cv2.dilate(dark.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def classify(registered_rgb: np.ndarray, forms: list[FormDef]) -> Classification:
    ink = page_ink(registered_rgb)
    flipped = ink[::-1, ::-1]
    scores: list[tuple[float, str, int, bool]] = []
    for form in forms:
        for page in range(1, form.pages + 1):
            template = _template(form.id, page)
            if template.shape != ink.shape:
                continue
            total = max(int(template.sum()), 1)
            for upside_down, candidate in ((False, ink), (True, flipped)):
                score = float((candidate & template).sum()) / total
                scores.append((score, form.id, page, upside_down))
    scores.sort(reverse=True)
    if not scores:
        return Classification(None, None, False, 0.0, 0.0)
    best = scores[0]
    runner_up = next((s[0] for s in scores[1:] if (s[1], s[2]) != (best[1], best[2])), 0.0)
    if best[0] < MIN_SCORE or best[0] - runner_up < MIN_MARGIN:
        return Classification(None, None, False, best[0], runner_up)
    return Classification(best[1], best[2], best[3], best[0], runner_up)
