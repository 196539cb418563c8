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

import itertools
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


def unvoiced(kana: str) -> str:
    """The kana without its (han)dakuten (ジ → シ, パ → ハ; others as they are)."""
    marks = unicodedata.normalize("NFD", kana).replace(DAKUTEN, "").replace(HANDAKUTEN, "")
    return unicodedata.normalize("NFC", marks)


def with_mark(kana: str, mark: str) -> str:
    """`kana` with the combining `mark` (シ → ジ); empty where it takes none."""
    joined = unicodedata.normalize("NFC", unvoiced(kana) + mark)
    return joined if len(joined) == 1 else ""


def ink_of(crop: np.ndarray) -> np.ndarray:
    """The print of a crop: below Otsu's threshold (a 1-bit crop has two levels, where Otsu
    answers 0: then below mid-grey)."""
    level, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(crop < (min(level, 200) if level > 0 else 128))


def marks_unclear(crop: np.ndarray) -> bool:
    """Whether the word in `crop` is printed too small, and scanned 1-bit, for a mark to
    stand clear of its kana's strokes."""
    rows = np.flatnonzero(ink_of(crop).any(axis=1))
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


SIBLINGS = 3
"""A doubtful kana is compared with at least this many of the same kana read elsewhere in
its column; with fewer it goes to a person."""
GLYPH_MATCH = 0.25
"""Two glyphs match when at most this share of their ink differs (best of a pixel's shift
either way): one printer prints one kana alike, a merged mark adds ink where it sits."""


def glyphs_of(crop: np.ndarray, reading: Reading) -> list[np.ndarray] | None:
    """Each character's ink in `crop`, cut between the places PP-OCR read them (at the
    emptiest column of the middle half between two), from its leftmost column and down to
    its lowest row (a mark sits at the top right); None where the places do not count the
    characters."""
    if len(reading.positions) != len(reading.text) or not reading.text:
        return None
    ink = ink_of(crop)
    width = crop.shape[1]
    centres = [min(width - 1, int(p * width)) for p in reading.positions]
    per_column = ink.sum(axis=0)
    cuts = [0]
    for left, right in itertools.pairwise(centres):
        lo, hi = left + (right - left) // 4, right - (right - left) // 4
        cuts.append(lo + int(np.argmin(per_column[lo:hi + 1])) if hi >= lo else left)
    cuts.append(width)
    glyphs = []
    for start, end in itertools.pairwise(cuts):
        piece = ink[:, start:end]
        rows, columns = np.flatnonzero(piece.any(axis=1)), np.flatnonzero(piece.any(axis=0))
        if rows.size == 0:
            return None
        glyphs.append(piece[: rows[-1] + 1, columns[0]:])
    return glyphs


def glyph_distance(one: np.ndarray, other: np.ndarray) -> float:
    """The share of the two glyphs' ink that differs, laid bottom left on bottom left, at
    the best shift of up to a pixel each way."""
    height, width = max(one.shape[0], other.shape[0]) + 2, max(one.shape[1], other.shape[1]) + 2

    def placed(glyph: np.ndarray, down: int, right: int) -> np.ndarray:
        canvas = np.zeros((height, width), bool)
        top = height - 1 - glyph.shape[0] + down
        canvas[top: top + glyph.shape[0], 1 + right: 1 + right + glyph.shape[1]] = glyph
        return canvas

    base = placed(one, 0, 0)
    best = 1.0
    for down in (-1, 0, 1):
        for right in (-1, 0, 1):
            moved = placed(other, down, right)
            union = int((base | moved).sum())
            if union:
                best = min(best, int((base ^ moved).sum()) / union)
    return best


def stands_among(glyph: np.ndarray, siblings: list[np.ndarray], partners: list[np.ndarray]
                 ) -> bool:
    """Whether a kana's `glyph` matches most of its `siblings` (the same kana read elsewhere
    in its column), at least `SIBLINGS` of them, and is nearer them than any of its voiced
    `partners` read there."""
    near = sorted(glyph_distance(glyph, sibling) for sibling in siblings)
    close = [d for d in near if d <= GLYPH_MATCH]
    if len(close) < SIBLINGS or len(close) * 2 <= len(near):
        return False
    return all(glyph_distance(glyph, partner) > close[0] for partner in partners)


def check_column_voicing(crops: list[np.ndarray], readings: list[Reading],
                         placed: list[Reading]) -> list[Reading]:
    """`readings` of a column's words of full-width kana (`check_voicing`), where a kana
    whose mark is in doubt is accepted again when its glyph matches the same kana read
    elsewhere in the column (`stands_among`): one printer prints every シ alike, and a ジ
    read シ is the odd one out. `placed` are the same words as PP-OCR read them, with the
    places of their characters."""
    checked = [check_voicing(crop, r) for crop, r in zip(crops, readings, strict=True)]
    glyphs: dict[int, list[np.ndarray]] = {}
    for i, (crop, reading, where) in enumerate(zip(crops, readings, placed, strict=True)):
        cut = glyphs_of(crop, where) if where.text == reading.text and marks_unclear(crop) else None
        if cut is not None:
            glyphs[i] = cut
    read_as: dict[str, list[tuple[int, int]]] = {}
    for i in glyphs:
        for k, kana in enumerate(readings[i].text):
            read_as.setdefault(kana, []).append((i, k))
    out = []
    for i, (reading, checked_reading) in enumerate(zip(readings, checked, strict=True)):
        if checked_reading.doubts == reading.doubts or i not in glyphs:
            out.append(checked_reading)
            continue
        left = []
        for k, kana in enumerate(reading.text):
            siblings = [glyphs[j][m] for j, m in read_as.get(kana, []) if (j, m) != (i, k)]
            if not doubtful_marks(kana):
                # a word misread otherwise (a kana dropped, コ read ー) is not let through
                # on the strength of its シ: each of its kana must look like another read so
                if not any(glyph_distance(glyphs[i][k], s) <= GLYPH_MATCH for s in siblings):
                    left = list(checked_reading.doubts[len(reading.doubts):])
                    break
                continue
            partners = [glyphs[j][m] for j, m in read_as.get(with_mark(kana, DAKUTEN), [])]
            if not stands_among(glyphs[i][k], siblings, partners):
                left += doubtful_marks(kana)
        out.append(replace(checked_reading, doubts=(*reading.doubts, *left)) if left else reading)
    return out
