"""A reader of half-width katakana (ﾔﾏﾀﾞ ﾀﾛｳ) as a list printer prints them: one glyph on
each half-em cell, the (han)dakuten (ﾞ ﾟ) a glyph of its own.

PP-OCR reads small half-width kana poorly (ﾌ/ｿ, ﾜ/ﾘ, small ｮ read large, a kana dropped).
A printer of half-width kana puts every glyph on a fixed pitch, so a word can be cut into
its character cells and each cell read alone: a word is laid out as a row of cells of one
pitch (with at most a blank between the family and the given name), the layout whose
cells the classifier reads likeliest wins (dynamic programming over the word's columns),
and each cell is read by a small network trained on glyphs rendered from the installed
Japanese fonts and degraded as a scan degrades them (`kura bench train-kana`; the weights
ship in `pipeline/models/halfkana.npz`, nothing is downloaded at run time).

The result is one opinion beside PP-OCR's, not a verdict: `pipeline.listkana` accepts a name
only when the two agree.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

MODEL = Path(__file__).parent / "models" / "halfkana.npz"
GLYPHS = "".join(chr(c) for c in range(0xFF66, 0xFFA0))
"""ｦ … ﾟ: the half-width katakana, the long-vowel mark ｰ and the two voicing marks."""
BLANK = " "
CLASSES = GLYPHS + BLANK
CELL_W, CELL_H = 16, 24
"""A cell is read at this size: its pitch and a margin on each side, one em high."""
MARGIN = 0.15
"""Share of the pitch taken on each side of a cell (a glyph may stray over its cell)."""
ABOVE, BELOW = 0.95, 0.08
"""The band read, in ems above and below the word's lowest ink (most kana end 0.1 em above
the em box's foot, so the lowest ink is about where every cell's glyphs end)."""
HEIGHT_PER_PITCH = 1.55
"""A word's ink height over its pitch (about 0.78 em over half an em), for the first guess
of the pitch; the search around it settles it."""
PITCH_STEPS = (0.86, 0.9, 0.94, 0.98, 1.02, 1.06, 1.1, 1.14)
"""Pitches tried around the first guess on a column's first words…"""
PITCH_WORDS = 6
"""…and how many words settle the column's pitch, held for every word of it (letting each
word choose its own pitch around it read worse on the tuning names: 97 against 101 of 103)."""
GAP_EMS = (0.2, 0.65)
"""How wide (ems) the blank between family and given name may be: a proportional face
prints an ASCII space of about 0.28 em, a line printer a whole cell (0.5 em)."""


@dataclass(frozen=True)
class KanaReading:
    text: str
    """Full-width katakana, voicing marks joined, no spaces."""
    confidence: float
    """The least sure cell's probability."""


def ink_levels(gray: np.ndarray) -> np.ndarray:
    """Print as 0 (paper) … 1 (full ink), however grey the ribbon or light the scan."""
    g = gray.astype(np.float32)
    paper = float(np.percentile(g, 75))
    dark = float(np.percentile(g, 2))
    if paper - dark < 30:
        return np.zeros_like(g)
    return np.clip((paper - g) / (paper - dark), 0.0, 1.0)


def cell_features(ink: np.ndarray, left: float, pitch: float, bottom: float) -> np.ndarray:
    """One cell (from `left`, `pitch` wide, its glyphs ending about `bottom`) at the
    classifier's size, flattened."""
    em = 2.0 * pitch
    x0, x1 = left - MARGIN * pitch, left + (1 + MARGIN) * pitch
    y0, y1 = bottom - ABOVE * em, bottom + BELOW * em
    # an affine map of the cell onto CELL_W × CELL_H (sub-pixel, padded with paper)
    sx, sy = CELL_W / (x1 - x0), CELL_H / (y1 - y0)
    matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float32)
    flags = cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR
    cell = cv2.warpAffine(ink, matrix, (CELL_W, CELL_H), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return np.asarray(cell, np.float32).reshape(-1)


@lru_cache(maxsize=2)
def _weights(model: Path = MODEL) -> tuple[np.ndarray, ...]:
    data = np.load(model)
    return tuple(data[name].astype(np.float32) for name in ("w1", "b1", "w2", "b2"))


def cell_log_probabilities(features: np.ndarray, model: Path = MODEL) -> np.ndarray:
    """log P(class | cell) for each row of `features` (N × CELL_W·CELL_H)."""
    w1, b1, w2, b2 = _weights(model)
    # einsum's own loop, not BLAS: matrices this small gain nothing from BLAS's threads, and
    # on a busy machine those threads spin (ten times the CPU, a page's names 18 s not 1 s)
    hidden = np.maximum(np.einsum("ij,jk->ik", features, w1, optimize=False) + b1, 0.0)
    logits = np.einsum("ij,jk->ik", hidden, w2, optimize=False) + b2
    logits -= logits.max(axis=1, keepdims=True)
    return np.asarray(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))


def _word_extent(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, right, top, bottom) of a word's print, stray specks aside."""
    on = ink > 0.5
    rows = np.flatnonzero(on.sum(axis=1) >= 2)
    cols = np.flatnonzero(on.sum(axis=0) >= 1)
    if rows.size == 0 or cols.size == 0:
        return None
    return int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1


def read_words(crops: list[np.ndarray], model: Path = MODEL) -> list[KanaReading | None]:
    """The words of one column (crops of names, gray, dark print on paper) read cell by cell;
    None for a crop without print. One printer prints the column at one pitch: it is found on
    the first words (the pitch whose cells read likeliest) and held for all."""
    inks = [ink_levels(crop) for crop in crops]
    extents = [_word_extent(ink) for ink in inks]
    pitches: list[float] = []
    for ink, extent in zip(inks, extents, strict=True):
        if extent is not None and len(pitches) < PITCH_WORDS:
            guess = (extent[3] - extent[2]) / HEIGHT_PER_PITCH
            found = [(r[0], guess * step) for step in PITCH_STEPS
                     if (r := _layout(ink, extent, guess * step, model)) is not None]
            if found:
                pitches.append(max(found)[1])
    if not pitches:
        return [None] * len(crops)
    pitch = float(np.median(pitches))
    out: list[KanaReading | None] = []
    for ink, extent in zip(inks, extents, strict=True):
        layout = _layout(ink, extent, pitch, model) if extent is not None else None
        if layout is None:
            out.append(None)
            continue
        _, classes, sure = layout
        text = "".join(CLASSES[c] for c in classes if CLASSES[c] != BLANK)
        out.append(KanaReading(full_width(text), min(sure, default=0.0)))
    return out


def read_word(gray: np.ndarray, model: Path = MODEL) -> KanaReading | None:
    """One printed word of half-width kana read cell by cell (see `read_words`)."""
    return read_words([gray], model)[0]


def _layout(ink: np.ndarray, extent: tuple[int, int, int, int], pitch: float, model: Path
            ) -> tuple[float, list[int], list[float]] | None:
    """The likeliest row of cells over the word's print at `pitch`: (mean log-probability
    per cell, the classes, each cell's probability). A cell starts where the one before
    ended, give or take a pixel of the classifier's grid; one blank gap may part two words."""
    left, right, _top, bottom = extent
    if pitch < 3:
        return None
    em = 2 * pitch
    # the band the cells are read from, scaled so that a cell is CELL_W × CELL_H: every
    # cell start on the scaled grid is then one window of it
    scale = CELL_W / ((1 + 2 * MARGIN) * pitch)
    x0 = left - (0.25 + MARGIN) * pitch  # a glyph's left side-bearing, and the margin
    x1 = right + (1 + MARGIN) * pitch
    y0, y1 = bottom - ABOVE * em, bottom + BELOW * em
    width = max(CELL_W + 1, round((x1 - x0) * scale))
    matrix = np.array([[scale, 0, -x0 * scale], [0, CELL_H / (y1 - y0), -y0 * CELL_H / (y1 - y0)]],
                      np.float32)
    band = cv2.warpAffine(ink, matrix, (width, CELL_H), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    windows = np.lib.stride_tricks.sliding_window_view(band, (CELL_H, CELL_W))[0]
    log_probs = cell_log_probabilities(windows.reshape(len(windows), -1), model)
    blank = CLASSES.index(BLANK)
    glyph_best = log_probs[:, :blank].argmax(axis=1)
    glyph_score = log_probs[np.arange(len(windows)), glyph_best]
    # cell i's left edge on the page: where its window starts, past the margin
    starts = x0 + (np.arange(len(windows)) / scale) + MARGIN * pitch
    step = pitch * scale
    size = len(windows)
    score = np.full(size, -np.inf)
    count = np.zeros(size, int)
    back = np.full(size, -1)
    for i in range(size):
        if starts[i] <= left - 0.02 * pitch:
            score[i], count[i] = glyph_score[i], 1
    column_ink = ink.sum(axis=0)
    gap_lo, gap_hi = GAP_EMS[0] * em * scale, GAP_EMS[1] * em * scale
    for i in range(size):
        if not np.isfinite(score[i]):
            continue
        end = i + step
        jumps = {round(end) - 1, round(end), round(end) + 1}
        clear = _clear_run(column_ink, int(starts[i] + pitch)) * scale
        jumps |= {round(end + g) for g in np.arange(gap_lo, min(gap_hi, clear) + 1)}
        for j in jumps:
            if j <= i or j >= size:
                continue
            candidate = score[i] + glyph_score[j]
            if candidate / (count[i] + 1) > (score[j] / count[j] if count[j] else -np.inf):
                score[j], count[j], back[j] = candidate, count[i] + 1, i
    ends = [i for i in range(size) if np.isfinite(score[i])
            and starts[i] + pitch >= right - 0.15 * pitch]
    if not ends:
        return None
    last = max(ends, key=lambda i: score[i] / count[i])
    path = []
    at = int(last)
    while at >= 0:
        path.append(at)
        at = int(back[at])
    path.reverse()
    classes = [int(glyph_best[i]) for i in path]
    sure = [float(np.exp(glyph_score[i])) for i in path]
    return float(score[last] / count[last]), classes, sure


def _clear_run(column_ink: np.ndarray, start: int) -> int:
    """How many columns from `start` hold (almost) no print."""
    run = 0
    for x in range(max(0, start), len(column_ink)):
        if column_ink[x] > 1.0:
            break
        run += 1
    return run


def full_width(text: str) -> str:
    """Half-width kana as full-width, each voicing mark joined to the kana before it."""
    out: list[str] = []
    for ch in text:
        mark = {"ﾞ": "\u3099", "ﾟ": "\u309a"}.get(ch)
        if mark and out:
            joined = unicodedata.normalize("NFC", out[-1] + mark)
            if len(joined) == 1:
                out[-1] = joined
                continue
        out.append(unicodedata.normalize("NFKC", ch))
    return "".join(out)
