"""Small kana (ャ ュ ョ ッ ァ ィ ゥ ェ ォ) told from their full-size pair by where they stand in
the print.

A printer sets a small kana smaller and on the baseline, so its top stands well below its
neighbours' while its foot stands with theirs. Printed small or scanned coarse, the recogniser
reads the shape alone and takes one for the other either way (ツヨシ read ツョシ, キョウコ read
キヨウコ), often sure of either. Where the ink clearly says otherwise than the reading, the kana
is set as the ink has it and the word goes to a person with `doubt:ヨ/ョ` (the kana read and
the one proposed); where the ink does not clearly say, the reading stands.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.listgeometry import spans_of
from pipeline.ocr import Reading
from pipeline.voicing import print_of

SMALL = "ァィゥェォャュョッヮｧｨｩｪｫｬｭｮｯ"
FULL = "アイウエオヤユヨツワｱｲｳｴｵﾔﾕﾖﾂ"
SMALL_OF = dict(zip(FULL, SMALL, strict=True))
FULL_OF = dict(zip(SMALL, FULL, strict=True))
UNMEASURED = "ー-ｰﾞﾟ゛゜ 　"
"""Characters that are not a kana's whole height: no measure of the line."""
SMALL_TOP = 0.22
"""A kana whose top stands at least this share of the line's height below the other
characters' tops…"""
SMALL_FOOT = -0.1
"""…and whose foot stands no more than this share above theirs is small (set on the
baseline); a full-size ユ or エ is as short but stands in the middle of the line…"""
FULL_TOP = 0.13
"""…and one whose top stands at most this share below theirs is full size. Between, the
ink does not say and the reading stands (chosen on tuning lists, docs/benchmarks.md)."""
MERGED = 1.3
"""Print wider than this many pitches under one character is two glyphs run together: not
measured."""


def check_size(crops: list[np.ndarray], readings: list[Reading]) -> list[Reading]:
    """The words of one name (`crops`, cut from one line, so standing on one baseline, and
    their readings) with each small or full-size kana set as the print stands (see the
    module's doc); a kana as it was where the print under it cannot be measured."""
    checked = []
    for reading, word in zip(readings, offsets(crops, readings), strict=True):
        chars, doubts = list(reading.text), list(reading.doubts)
        for i, (ch, place) in enumerate(zip(reading.text, word, strict=True)):
            if place is None:
                continue
            top, foot = place
            small = top >= SMALL_TOP and foot >= SMALL_FOOT
            if (small or top <= FULL_TOP) and small != (ch in SMALL):
                pair = SMALL_OF.get(ch) or FULL_OF[ch]
                chars[i] = pair
                doubts.append(f"{ch}/{pair}")
        checked.append(replace(reading, text="".join(chars), doubts=tuple(doubts))
                       if len(doubts) > len(reading.doubts) else reading)
    return checked


def offsets(crops: list[np.ndarray], readings: list[Reading]
            ) -> list[list[tuple[float, float] | None]]:
    """For each small or full-size kana of each word, how far the top and the foot of its
    print stand below those of the name's other characters (the median), as a share of their
    height; None for other characters and where the print cannot be measured (fewer than
    two other characters measured, glyphs run together, no places read)."""
    spans = [_glyph_spans(print_of(crop), reading) for crop, reading
             in zip(crops, readings, strict=True)]
    measured = [(w, i, span) for w, (word, reading) in enumerate(zip(spans, readings, strict=True))
                for i, (span, ch) in enumerate(zip(word, reading.text, strict=True))
                if span is not None and ch not in UNMEASURED]
    found: list[list[tuple[float, float] | None]] = []
    for w, (word, reading) in enumerate(zip(spans, readings, strict=True)):
        found.append([])
        for i, (span, ch) in enumerate(zip(word, reading.text, strict=True)):
            others = [s for v, j, s in measured if (v, j) != (w, i)]
            if ch not in SMALL + FULL or span is None or len(others) < 2:
                found[-1].append(None)
                continue
            tops, bottoms = zip(*others, strict=True)
            height = float(np.median(np.subtract(bottoms, tops))) + 1
            found[-1].append(((span[0] - float(np.median(tops))) / height,
                              (span[1] - float(np.median(bottoms))) / height))
    return found


def _glyph_spans(ink: np.ndarray, reading: Reading) -> list[tuple[int, int] | None]:
    """(top, bottom) of each character's print: the runs of inked columns, each given to
    the character read nearest it (a kana's strokes may stand apart: ハ, ル). None where a
    character has no print, or print too wide for one glyph, or the reading no places."""
    if len(reading.positions) != len(reading.text) or not reading.text:
        return [None] * len(reading.text)
    centres = np.array(reading.positions) * ink.shape[1]
    pitch = (float(np.median(np.diff(centres))) if len(centres) > 1
             else float(np.count_nonzero(ink.any(axis=1))))
    pieces: list[list[tuple[int, int]]] = [[] for _ in centres]
    for left, right in spans_of(ink.any(axis=0), 0):
        pieces[int(np.abs(centres - (left + right) / 2).argmin())].append((left, right))
    spans: list[tuple[int, int] | None] = []
    for owned in pieces:
        if not owned or owned[-1][1] - owned[0][0] > MERGED * pitch:
            spans.append(None)
            continue
        rows = np.flatnonzero(ink[:, owned[0][0] : owned[-1][1]].any(axis=1))
        spans.append((int(rows[0]), int(rows[-1])))
    return spans
