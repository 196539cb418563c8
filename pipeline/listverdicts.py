"""A list's cell or header value decided: accepted, or left for a person with its reasons
(too unsure, or two recognisers read free text otherwise).
"""

from __future__ import annotations

import difflib
import itertools
import unicodedata

import numpy as np

from pipeline import halfkana, lexicon, listcells
from pipeline.fields import Normalised, canonical_text
from pipeline.listreading import japanese_alphabet, probabilities, read_lines
from pipeline.listvocabulary import ctc_log_likelihood
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
MIXED_PLACES = 6
"""Places two readings of a free-text cell may differ in for their mixes to be weighed."""
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
    if unread:
        reasons.append("print_unread")
    if normalised.value and not reasons and confidence < ACCEPT_CONFIDENCE[column.type]:
        reasons.append("low_confidence")
    return FieldResult(
        value=normalised.value, raw=raw, confidence=round(confidence, 4),
        status="review" if reasons else "accepted", reasons=reasons,
        engine=reading.engine if reading else "", box=box,
    )


def second_opinion(images: list[np.ndarray], readings: list[Reading]
                   ) -> tuple[list[bool], list[Reading]]:
    """Whether a second recogniser (PP-OCRv5) reads each free-text cell the same, and each
    cell's proposal. Free text has no vocabulary or format to check it by, and a recogniser
    can drop a character it reads the rest of the line around with high confidence (取下げ
    read 下げ at 0.99). Where the two differ the cell goes to a person; the proposal is the
    mix of the two readings (each place where they differ taken from one or the other) that
    both recognisers together find likeliest: each misreads its own characters of a scan
    that lost strokes (却下 read 却ド by one, 前午 by the other)."""
    second = get_engine(SECOND_ENGINE)
    assert isinstance(second, PaddleEngine)
    others = read_lines(second, images, japanese_alphabet())
    agrees = [_folded(mine.text) == _folded(other.text)
              for mine, other in zip(readings, others, strict=True)]
    disputed = [i for i, agreed in enumerate(agrees) if not agreed]
    proposals = list(readings)
    if disputed:
        first = get_engine(readings[disputed[0]].engine)
        assert isinstance(first, PaddleEngine)
        crops = [images[i] for i in disputed]
        scored = [(engine, probabilities(engine, crops)) for engine in (first, second)]
        for n, i in enumerate(disputed):
            best = _likeliest(_mixes(readings[i].text, others[i].text),
                              [(engine, found[n][0]) for engine, found in scored])
            if best is not None:
                proposals[i] = Reading(best, readings[i].confidence, readings[i].engine)
    return agrees, proposals


def _mixes(mine: str, other: str) -> list[str]:
    """Readings made of `mine` and `other`: where one holds characters the other lacks, the
    longer (a recogniser drops characters far more often than it invents them: 書類不備 read
    書類不 by one); where each reads as many characters otherwise, either, in every
    combination (at most MIXED_PLACES such places; beyond, the two readings only)."""
    places = [op for op in difflib.SequenceMatcher(None, mine, other, autojunk=False
                                                   ).get_opcodes() if op[0] != "equal"]
    either = [op for op in places if op[2] - op[1] == op[4] - op[3]]
    if len(either) > MIXED_PLACES:
        return [mine, other]
    mixes = []
    for choice in itertools.product((False, True), repeat=len(either)):
        theirs = dict(zip(map(id, either), choice, strict=True))
        text, at = [], 0
        for op in places:
            _, i1, i2, j1, j2 = op
            take_other = theirs[id(op)] if id(op) in theirs else j2 - j1 > i2 - i1
            text.append(mine[at:i1] + (other[j1:j2] if take_other else mine[i1:i2]))
            at = i2
        mixes.append("".join(text) + mine[at:])
    return mixes


def _likeliest(candidates: list[str], outputs: list[tuple[PaddleEngine, np.ndarray]]
               ) -> str | None:
    """The candidate of greatest CTC likelihood summed over the recognisers' outputs; only
    candidates every recogniser can spell are weighed (None: none can)."""
    best, best_score = None, -np.inf
    for candidate in candidates:
        score = 0.0
        for engine, probs in outputs:
            index = {ch: i for i, ch in enumerate(engine.characters) if ch}
            if not candidate or any(ch not in index for ch in candidate):
                score = -np.inf
                break
            log_probs = np.log(np.maximum(probs, 1e-12))
            score += ctc_log_likelihood(log_probs, [index[ch] for ch in candidate])
        if score > best_score:
            best, best_score = candidate, score
    return best


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
