"""A list's cell or header value decided: accepted, or left for a person with its reasons
(too unsure, or two recognisers read free text otherwise).
"""

from __future__ import annotations

import unicodedata

import numpy as np

from pipeline import halfkana, lexicon, listcells
from pipeline.fields import Normalised, canonical_text
from pipeline.listreading import japanese_alphabet, read_lines
from pipeline.ocr import PaddleEngine, Reading, get_engine
from schemas.contracts import FieldResult
from schemas.forms import ColumnDef

ACCEPT_CONFIDENCE: dict[str, float] = {
    "digits": 0.6, "bpn": 0.7, "kana": 0.85, "date": 0.6, "period": 0.6, "text": 0.97,
}
"""Lowest confidence accepted without a person, per column type (docs/benchmarks.md,
"Printed result lists"; kana raised from 0.75 on the tuning lists, seed 5: the misread names
left accepted were read at 0.77–0.92, small kana and ソ/フ)."""
SECOND_ENGINE = "ppocr5"
"""The recogniser that must read a free-text cell the same before it is accepted."""
UNREAD_EDGE = 1.0
UNREAD_GAP = 1.8
"""Print with no character read on it: more than UNREAD_EDGE of the line's height between
the edge of the print and the character read nearest it, or more than UNREAD_GAP between
two characters read (a full-width character's centre stands about one height from the
next)."""


def decide_cell(column: ColumnDef, reading: Reading | None,
                box: tuple[int, int, int, int] | None = None, *, disputed: bool = False,
                unread: bool = False) -> FieldResult:
    raw = reading.text if reading else ""
    normalised: Normalised = listcells.normalise_cell(column, raw)
    reasons = list(normalised.reasons)
    confidence = reading.confidence if reading else 1.0
    if normalised.value and disputed:
        reasons.append("engines_disagree")
    if normalised.value and reading is not None:
        reasons.extend(f"doubt:{doubt}" for doubt in reading.doubts)
    if unread:
        reasons.append("characters_missing")
    if normalised.value and not reasons and confidence < ACCEPT_CONFIDENCE[column.type]:
        reasons.append("low_confidence")
    return FieldResult(
        value=normalised.value, raw=raw, confidence=round(confidence, 4),
        status="review" if reasons else "accepted", reasons=reasons,
        engine=reading.engine if reading else "", box=box,
    )


def second_opinion(images: list[np.ndarray], readings: list[Reading]) -> list[bool]:
    """Whether a second recogniser (PP-OCRv5) reads each free-text cell the same. Free text
    has no vocabulary or format to check it by, and a recogniser can drop a character it
    reads the rest of the line around with high confidence (取下げ read 下げ at 0.99)."""
    second = get_engine(SECOND_ENGINE)
    assert isinstance(second, PaddleEngine)
    others = read_lines(second, images, japanese_alphabet())
    return [_folded(mine.text) == _folded(other.text)
            for mine, other in zip(readings, others, strict=True)]


def _folded(text: str) -> str:
    return canonical_text(lexicon.to_japanese_forms(unicodedata.normalize("NFKC", text)))


def unread_print(crop: np.ndarray, reading: Reading) -> bool:
    """Whether some of a cell's print has no character of the reading on it: a character
    the recogniser dropped. Two recognisers can drop the same one (所得確認中 read 所得確認 by
    both where the scan took 中's strokes), so their agreeing does not show it; where the
    characters read stand on the print does."""
    ink = halfkana.ink_levels(crop) > 0.5
    cols = np.flatnonzero(ink.sum(axis=0) >= 2)
    rows = np.flatnonzero(ink.sum(axis=1) >= 2)
    if cols.size == 0:
        return False
    if not reading.positions:
        return True
    height = float(rows[-1] - rows[0] + 1)
    centres = [p * crop.shape[1] for p in reading.positions]
    edges = (centres[0] - cols[0], cols[-1] - centres[-1])
    gaps = np.diff(centres)
    return max(edges) > UNREAD_EDGE * height or bool((gaps > UNREAD_GAP * height).any())
