"""Names in kana on a list, as printed: half-width kana read stretched, their separate
(han)dakuten found by shape and put back, each word checked against the printer's pitch and
voted with the glyph-by-glyph reader (`pipeline.halfkana`).
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import replace

import cv2
import numpy as np

from pipeline import halfkana
from pipeline.kanasize import check_size
from pipeline.listgeometry import spans_of
from pipeline.listreading import VOICING_MARKS, read_lines
from pipeline.ocr import PaddleEngine, Reading
from pipeline.voicing import check_voicing, print_of, unvoiced
from schemas.normalise import to_katakana

HALF_WIDTH_ENGINE = "halfkana"
"""The engine named on a half-width name read cell by cell where PP-OCR read it otherwise."""
UNSURE_VOICING = 0.3
"""The confidence of a half-width name whose voicing marks and kana do not add up, or
whose two readings count different characters."""
WORD_GAP = 0.55
"""A gap in a name at least this share of the text's height is the space between words…"""
SPACE_SHARE = 0.5
"""…where it is at least this share of the name's widest gap."""
HALF_WIDTH_STRETCH = 2.0
COUNT_FIT_WORDS = 8
"""Words of a column needed to fit its printing pitch…"""
COUNT_TOLERANCE = 0.5
"""…and how far (in pitches) a word's width may stray from the characters read in it."""
CELL_SURE = 0.95
"""Where the two readers differ, the cell reader's kana are proposed only when its least sure
cell is at least this sure (chosen on the tuning lists, see docs/benchmarks.md)."""
HALF_WIDTH_RATIO = 0.8
"""Printed width over height per character under which kana are half-width (about 0.55;
full-width about 1.1)."""


def compose_voicing(text: str) -> str:
    """Kana with the (han)dakuten read as a separate mark joined to the kana before it."""
    out: list[str] = []
    for ch in text:
        mark = "\u3099" if ch in "゛”\"ﾞ" else "\u309a" if ch in "゜°ﾟ" else None
        if mark is None:
            out.append(ch)
            continue
        if out and out[-1] != unvoiced(out[-1]):
            continue  # the recogniser read the voiced kana and its mark besides
        if out:
            base = unicodedata.normalize("NFKC", out[-1])
            joined = unicodedata.normalize("NFC", base + mark)
            if len(joined) == 1:
                out[-1] = joined
                continue
        out.append(ch)
    return "".join(out)


def _printed_half_width(crops: list[np.ndarray], counts: list[int]) -> bool:
    """The list prints its kana half-width: over all the column's cells, the characters are
    about half as wide as they are tall. (One printer prints the whole list one way.)
    `counts`: the characters read in each crop; the larger of the plain and the stretched
    reading, as small half-width print read plainly loses characters and would look wide."""
    width = height = 0.0
    for crop, count in zip(crops, counts, strict=True):
        ink = np.argwhere(print_of(crop))
        if ink.size == 0 or count == 0:
            continue
        width += float(ink[:, 1].max() - ink[:, 1].min() + 1)
        height += float(ink[:, 0].max() - ink[:, 0].min() + 1) * count
    return height > 0 and width / height < HALF_WIDTH_RATIO


def voicing_marks(crop: np.ndarray) -> list[tuple[int, int, str]]:
    """The separate (han)dakuten of half-width kana (ｶﾞ, ﾊﾟ), found by their shape: a
    narrow piece of print in a cell of its own, in the top half of the line only. Each is
    (left, right) in the crop's pixels and the combining mark."""
    ink = print_of(crop)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return []
    top, height = int(rows[0]), int(rows[-1] - rows[0] + 1)
    marks = []
    for left, right in spans_of(ink.any(axis=0), 0):
        piece = ink[:, left:right]
        ys = np.flatnonzero(piece.any(axis=1))
        if (right - left > 0.6 * height or ys[-1] > top + 0.5 * height
                or ys[0] > top + 0.2 * height):
            continue
        contours, hierarchy = cv2.findContours(piece.astype(np.uint8), cv2.RETR_CCOMP,
                                               cv2.CHAIN_APPROX_SIMPLE)
        ring = len(contours) == 1 and hierarchy is not None and hierarchy[0][0][2] >= 0
        marks.append((left, right, "\u309a" if ring else "\u3099"))
    return marks


def _voiced(reading: Reading, marks: list[tuple[float, str]]) -> Reading:
    """`reading` (with its characters' positions) with each mark (where it stood, as a share
    of the width read, and the combining mark) put on the character to its left; unsure
    when a mark has no character it can voice."""
    chars, confidence = list(reading.text), reading.confidence
    for x, mark in marks:
        before = [i for i, p in enumerate(reading.positions) if p < x]
        if not before:
            confidence = min(confidence, UNSURE_VOICING)
            continue
        index = before[-1]
        if chars[index] != unvoiced(chars[index]):
            continue  # the recogniser read the voiced kana itself
        joined = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", chars[index]) + mark)
        if len(joined) == 1:
            chars[index] = joined
        else:
            confidence = min(confidence, UNSURE_VOICING)
    text = "".join(chars)
    if sum(ch != unvoiced(ch) for ch in text) != len(marks):
        confidence = min(confidence, UNSURE_VOICING)
    return Reading(text, confidence, reading.engine, positions=reading.positions)


def _words(crop: np.ndarray) -> list[np.ndarray]:
    """A name's crop cut at the space between family and given name, which the recogniser
    would read as a long-vowel mark (ー)."""
    ink = print_of(crop)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return [crop]
    height = int(rows[-1] - rows[0] + 1)
    spans = spans_of(ink.any(axis=0), int(height * WORD_GAP))
    if len(spans) < 2:
        return [crop]
    # fixed-pitch print leaves a wide gap beside a narrow kana (イ|ノウエ): only the gaps
    # near the widest are spaces
    gaps = [right[0] - left[1] for left, right in itertools.pairwise(spans)]
    words = [spans[0]]
    for gap, span in zip(gaps, spans[1:], strict=True):
        if gap >= SPACE_SHARE * max(gaps):
            words.append(span)
        else:
            words[-1] = (words[-1][0], span[1])
    spans = words
    pad = max(2, height // 4)
    return [crop[:, max(0, a - pad) : min(crop.shape[1], b + pad)] for a, b in spans]


def read_kana(engine: PaddleEngine, crops: list[np.ndarray], alphabet: str | None
              ) -> list[Reading]:
    """Each name read word by word (see `_read_kana_words`), the words joined."""
    words = [_words(crop) for crop in crops]
    flat = [w for pieces in words for w in pieces]
    read = iter(_read_kana_words(engine, flat, alphabet, [len(pieces) for pieces in words]))
    joined = []
    for pieces in words:
        parts = [next(read) for _ in pieces]
        joined.append(Reading("".join(p.text for p in parts), min(p.confidence for p in parts),
                              parts[0].engine, doubts=tuple(d for p in parts for d in p.doubts)))
    return joined


def _read_kana_words(engine: PaddleEngine, crops: list[np.ndarray], alphabet: str | None,
                     names: list[int]) -> list[Reading]:
    """Kana as printed; half-width kana again stretched to full-width proportions, which
    the recogniser reads far better, except for the separate (han)dakuten, which it drops:
    those are found by their shape and put back. `names`: how many of the words (in order)
    make each name; a small kana is measured against the rest of its name."""
    plain = read_lines(engine, crops, alphabet)
    # Stretched, a mark reads as nothing or as noise: it is left to `voicing_marks`.
    # (Whitening the marks first reads worse: the kana beside them are dropped more often.)
    unmarked = "".join(ch for ch in alphabet or "" if ch not in VOICING_MARKS + "ﾞﾟ") or None
    marks = [voicing_marks(crop) for crop in crops]
    wide = read_lines(engine, [cv2.resize(crop, None, fx=HALF_WIDTH_STRETCH, fy=1.0,
                                          interpolation=cv2.INTER_CUBIC) for crop in crops],
                      unmarked)
    chosen = [replace(r, text=compose_voicing(r.text)) for r in plain]
    counts = [max(len(unvoiced(c.text)), len(w.text)) for c, w in zip(chosen, wide, strict=True)]
    if not _printed_half_width(crops, counts):
        chosen = [replace(sized, text=compose_voicing(sized.text))
                  for sized in _sized(crops, plain, names)]
        counted = _counted(crops, chosen, [len(r.text) for r in chosen])
        return [check_voicing(crop, r) for crop, r in zip(crops, counted, strict=True)]
    voiced = [_voiced(reading, [((left + right) / 2 / crop.shape[1], mark)
                                for left, right, mark in found])
              for crop, reading, found in zip(crops, wide, marks, strict=True)]
    for i, word in enumerate(_sized(crops, voiced, names)):
        if len(unvoiced(chosen[i].text)) != len(word.text):
            # the plain reading counts other characters: one of the two dropped or added one
            word = replace(word, confidence=min(word.confidence, UNSURE_VOICING))
        chosen[i] = word
    # a half-width voicing mark takes a character's place of its own
    counted = _counted(crops, chosen, [len(r.text) + len(found) for r, found
                                       in zip(chosen, marks, strict=True)])
    return [_cell_vote(cells, reading) for cells, reading
            in zip(halfkana.read_words(crops), counted, strict=True)]


def _sized(crops: list[np.ndarray], readings: list[Reading], names: list[int]) -> list[Reading]:
    """`check_size` over each name's words."""
    sized: list[Reading] = []
    for count in names:
        start = len(sized)
        sized += check_size(crops[start : start + count], readings[start : start + count])
    return sized


def _cell_vote(cells: halfkana.KanaReading | None, line: Reading) -> Reading:
    """A half-width word read again glyph by glyph (`pipeline.halfkana`), beside the line
    recogniser's reading. Where both read the same, the line reading stands as it was (taking
    the surer of the two left 2 names accepted wrong on the tuning lists: both readers can
    make the same mistake). Where they differ the word waits for a person, proposed as the
    cell reader read it where every cell of it was sure (it reads small half-width print
    better), else as the line recogniser read it: the cell reader is trained on some faces
    only, and on a face it never saw it is unsure where it is wrong, so the proposal is
    never worse for it than PP-OCR's."""
    if cells is None:
        return replace(line, confidence=min(line.confidence, UNSURE_VOICING))
    if cells.text == to_katakana(line.text):
        return line
    if cells.confidence < CELL_SURE:
        return replace(line, confidence=min(line.confidence, UNSURE_VOICING))
    return Reading(cells.text, min(line.confidence, cells.confidence, UNSURE_VOICING),
                   HALF_WIDTH_ENGINE)


def _counted(crops: list[np.ndarray], readings: list[Reading], places: list[int]
             ) -> list[Reading]:
    """A printer puts kana on a fixed pitch: over a column's words the printed width grows
    by one pitch a character (width ≈ pitch × places + sidebearing, fitted on the column's
    own words). A word whose reading holds a character more or less than its width has
    room for lost or invented one: it is made unsure."""
    widths = []
    for crop in crops:
        columns = np.flatnonzero(print_of(crop).any(axis=0))
        widths.append(float(columns[-1] - columns[0] + 1) if columns.size else 0.0)
    counted = [i for i, n in enumerate(places) if n > 0 and widths[i] > 0]
    if len(counted) < COUNT_FIT_WORDS or len({places[i] for i in counted}) < 2:
        return readings
    x = np.array([places[i] for i in counted], float)
    y = np.array([widths[i] for i in counted])
    pitch, offset = np.polyfit(x, y, 1)
    residual = np.abs(y - (pitch * x + offset))
    inliers = residual <= np.quantile(residual, 0.8)  # fitted again without the misreads
    if inliers.sum() >= 2 and len(set(x[inliers])) >= 2:
        pitch, offset = np.polyfit(x[inliers], y[inliers], 1)
    if pitch <= 0:
        return readings
    out = list(readings)
    for i in counted:
        if abs(widths[i] - (pitch * places[i] + offset)) / pitch > COUNT_TOLERANCE:
            out[i] = replace(out[i], confidence=min(out[i].confidence, UNSURE_VOICING))
    return out
