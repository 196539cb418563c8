"""Full-width kana whose (han)dakuten a small 1-bit scan leaves too ambiguous to read.

Printed small (26 px at 300 dpi) and scanned 1-bit at 200–240 dpi, a kana stands 14–18
scanned pixels tall and its voicing mark is two dots of a pixel or two. Where the mark sits
against the end of one of the kana's own strokes (ジ, ズ, ゴ, デ, ザ, ゲ: the top right of シ,
ス, コ, テ, サ, ケ), the two run together or the mark vanishes, and PP-OCR reads シ for ジ at
confidence 1.0: nothing in its reading, and nothing in the ink at that size, says which it
is. A dakuten's two dots blur into a handakuten's ring the same way (バ read パ). So in such
print each of those kana goes to a person with `doubt:シ/ジ` (the kana read, and the one it
may be); in larger or grey print, where the mark stands clear, the reading stands.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace

import cv2
import numpy as np

from pipeline.ocr import Reading

DAKUTEN, HANDAKUTEN = "\u3099", "\u309a"
MARK_ON_STROKE = "シスコテサケ"
"""Kana whose dakuten sits against the end of their own stroke (chosen on tuning words: the
voicing misread in small 1-bit print, see docs/benchmarks.md)."""
SMALL_PRINT = 23
"""Text this many pixels tall or less (on the page at 300 dpi, as `pipeline.ingest` brings
it) is too small for a mark to stand clear in 1-bit…"""
ONE_BIT_PURE = 0.5
"""…and a crop was scanned 1-bit when at least this share of its pixels is pure black or
pure white (a grey scan's paper and ink are never quite; resampled to 300 dpi, a 1-bit
scan's are, but at the edges of its strokes)."""
UNSURE_MARK = 0.3
"""The confidence of a word holding a kana whose mark the ink cannot settle."""


def unvoiced(text: str) -> str:
    """`text` with its kana's (han)dakuten taken off (ジ → シ, パ → ハ; others as they are)."""
    marks = unicodedata.normalize("NFD", text).replace(DAKUTEN, "").replace(HANDAKUTEN, "")
    return unicodedata.normalize("NFC", marks)


def with_mark(kana: str, mark: str) -> str:
    """`kana` with the combining `mark` (シ → ジ); empty where it takes none."""
    joined = unicodedata.normalize("NFC", unvoiced(kana) + mark)
    return joined if len(joined) == 1 else ""


def print_of(crop: np.ndarray) -> np.ndarray:
    """The print of a crop: below Otsu's threshold (a 1-bit crop has two levels, where Otsu
    answers 0: then below mid-grey)."""
    level, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(crop < (min(level, 200) if level > 0 else 128))


def marks_unclear(crop: np.ndarray) -> bool:
    """Whether the word in `crop` is printed too small, and scanned 1-bit, for a mark to
    stand clear of its kana's strokes."""
    rows = np.flatnonzero(print_of(crop).any(axis=1))
    if rows.size == 0:
        return False
    pure = float(((crop == 0) | (crop == 255)).mean())
    return int(rows[-1] - rows[0] + 1) <= SMALL_PRINT and pure >= ONE_BIT_PURE


def doubtful_marks(text: str) -> list[str]:
    """`read/may be` for each kana of `text` whose mark small 1-bit print leaves unsure."""
    semi_voiced = {with_mark(kana, HANDAKUTEN) for kana in "ハヒフヘホ"}
    return [f"{kana}/{with_mark(kana, DAKUTEN)}" for kana in text
            if kana in MARK_ON_STROKE or kana in semi_voiced]


def check_voicing(crop: np.ndarray, reading: Reading) -> Reading:
    """`reading` of a word of full-width kana, made unsure with its doubts named where the
    print leaves a kana's mark unsure."""
    doubts = doubtful_marks(reading.text) if marks_unclear(crop) else []
    if not doubts:
        return reading
    return replace(reading, confidence=min(reading.confidence, UNSURE_MARK),
                   doubts=(*reading.doubts, *doubts))
