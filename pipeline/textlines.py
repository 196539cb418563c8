"""Read a free-writing box (a name, its kana, an address) line by line: the writing cut into
lines, each line read, small and large kana told apart by their height, and the reading
checked for dropped characters and stray marks."""

from __future__ import annotations

import itertools
from dataclasses import replace

import cv2
import numpy as np

from pipeline import lexicon
from pipeline.crops import FREEHAND_MARGIN, TIGHT_PAD, box_crop, cut_tight, ink_share, with_overflow
from pipeline.handwriting import INK_THRESHOLD
from pipeline.ocr import OcrEngine, Reading
from pipeline.rawfield import RawField, Span
from schemas.calibration import calibration
from schemas.forms import FieldDef

MIN_CHARS_PER_WIDTH = {"name": 0.72, "address": 0.95}
"""Below this many characters per line-height of writing, characters were dropped (measured
on the benchmark corpus: right readings of names came below 0.78 once in 80, of addresses
never below 1.07)."""


def read_line_field(
    gray: np.ndarray, field: FieldDef, engine: OcrEngine, alphabet: str | None
) -> RawField:
    """A free-writing box, read line by line: a long address often wraps onto a second line."""
    lines = written_lines(gray, field)
    if not lines:
        return RawField("", 1.0, engine.name)
    lines_read: tuple[tuple[np.ndarray, tuple[Span, ...]], ...] = ()
    nearly: tuple[str, ...] = ()
    if field.charset in ("name", "address") and hasattr(engine, "read_with_frames"):
        framed = [engine.read_with_frames([line], alphabet)[0] for line in lines]
        readings = [reading for reading, _ in framed]
        lines_read = tuple((line, tuple(characters_of(engine, line, frames, alphabet)))
                           for line, (_, frames) in zip(lines, framed, strict=True))
        if field.charset == "name":
            nearly = tuple(ch for _, frames in framed
                           for ch in nearly_written(engine, frames, alphabet))
    else:
        readings = [engine.read_line(line, alphabet) for line in lines]
    if field.type == "kana":  # in mixed writing the neighbours' ink blurs the heights
        readings = [settle_kana_sizes(line, r) for line, r in zip(lines, readings, strict=True)]
    runners_up = tuple(pair for r in readings for pair in r.runners_up)
    text = "".join(r.text for r in readings)
    dropped = _too_short(text, lines, field) or _writing_unread(lines_read, field)
    notes: tuple[str, ...] = ("characters_missing",) if dropped else ()
    if field.charset == "address" and (trimmed := _without_stray_marks(text)) != text:
        text, notes = trimmed, (*notes, "stray_marks")
    confidence = min(r.confidence for r in readings)
    each = tuple(c for r in readings for c in r.confidences)[: len(text)]
    if len(each) != len(text):
        each = ()
    elif written := [c for ch, c in zip(text, each, strict=True) if ch != " "]:
        confidence = min(written)  # a space between words is no character of the value
    return RawField(text, confidence, engine.name, notes, runners_up, char_confidences=each,
                    lines_read=lines_read, nearly_written=nearly)


def written_lines(gray: np.ndarray, field: FieldDef) -> list[np.ndarray]:
    """The lines of writing in a free-writing box, each cut to its ink; none when blank."""
    # a personal seal (印) is stamped just right of a name box: a name is read in its box
    if field.charset == "name":
        crop = box_crop(gray, field.box, margin=FREEHAND_MARGIN)
    else:
        crop = with_overflow(gray, field.box)
    if ink_share(crop) < 0.002:
        return []
    bands = _text_lines(crop, may_wrap=field.charset == "address")
    return [tight for band in bands if (tight := cut_tight(band)) is not None]


STRAY_MARKS = "ー・-－‐.。、"


def _without_stray_marks(text: str) -> str:
    """An address does not end in dots, nor in a dash after its last number: such marks
    came from specks or lines past the writing, which a person looks at. (A building's
    name may end in a long vowel: タワー keeps its ー.)"""
    trimmed = text.rstrip(STRAY_MARKS)
    run = text[len(trimmed) :]
    if not run or not trimmed:
        return text
    if set(run) - {"ー"} or trimmed[-1].isdigit() or trimmed[-1] == "号":
        return trimmed
    return text


SMALL_TO_LARGE = lexicon.SMALL_TO_LARGE
LARGE_TO_SMALL = {large: small for small, large in SMALL_TO_LARGE.items()}
SMALL_KANA_MAX = 0.62
LARGE_KANA_MIN = 0.80
TALL_AS_ITS_NEIGHBOURS = 0.90
"""Height of a kana over the line's median character height: small kana (ャ, ッ) measured
0.54-0.80 on the benchmark corpora, large ones at least 0.76 except the flat ユ (0.63)."""


def settle_kana_sizes(line: np.ndarray, reading: Reading) -> Reading:
    """Decide small against large kana (ョ or ヨ) by how tall the writing is, which the
    recogniser judges poorly. A 'small' kana as tall as its neighbours is the large one;
    where the height agrees with the recogniser, its doubt between the two is settled; where
    the height and the recogniser disagree, or the height cannot tell, a person decides."""
    chars = list(reading.text)
    if len(reading.positions) != len(chars) or not any(
        c in SMALL_TO_LARGE or c in LARGE_TO_SMALL for c in chars
    ):
        return reading
    ratios = _height_ratios(line, chars, reading.positions)
    settled: set[tuple[str, str]] = set()
    doubts: list[tuple[str, str, float]] = []
    for index, (char, ratio) in enumerate(zip(chars, ratios, strict=True)):
        if char in SMALL_TO_LARGE:
            large = SMALL_TO_LARGE[char]
            settled.add((char, large))
            if ratio >= TALL_AS_ITS_NEIGHBOURS:
                chars[index] = large
            elif ratio > SMALL_KANA_MAX:
                doubts.append((char, large, 1.0))
        elif char in LARGE_TO_SMALL:
            small = LARGE_TO_SMALL[char]
            if ratio >= LARGE_KANA_MIN:
                settled.add((char, small))
            elif ratio <= SMALL_KANA_MAX:
                doubts.append((char, small, 1.0))
    runners_up = tuple(r for r in reading.runners_up if (r[0], r[1]) not in settled)
    return replace(reading, text="".join(chars), runners_up=runners_up + tuple(doubts))


def _height_ratios(line: np.ndarray, chars: list[str], positions: tuple[float, ...]) -> list[float]:
    """Each character's ink height, around where it was read, over the median of them all."""
    ink = line < INK_THRESHOLD
    height, width = line.shape
    half = 0.3 * max(height - 2 * TIGHT_PAD, 1)
    heights = []
    for char, position in zip(chars, positions, strict=True):
        left, right = max(int(position * width - half), 0), int(position * width + half) + 1
        rows = np.where(ink[:, left:right].any(axis=1))[0]
        heights.append(float(rows[-1] - rows[0] + 1) if rows.size and char != " " else 0.0)
    written = [h for h in heights if h > 0]
    median = float(np.median(written)) if written else 1.0
    return [h / median if h else 1.0 for h in heights]


def _too_short(text: str, lines: list[np.ndarray], field: FieldDef) -> bool:
    """Fewer characters than the writing is wide: the recogniser dropped some.

    Handwritten kana and kanji are about as wide as they are tall, so a line holds about
    width / height characters; digits in addresses are narrower, so more fit. The width
    counted is the writing's own: the space a resident leaves between 姓 and 名, and a
    speck or the rest of a seal far off at the end of the box, hold no characters."""
    written = sum(_written_width(line) / max(line.shape[0] - 2 * TIGHT_PAD, 1) for line in lines)
    least = MIN_CHARS_PER_WIDTH["address" if field.charset == "address" else "name"]
    return len(text.replace(" ", "")) < least * written


def _writing_unread(
    lines_read: tuple[tuple[np.ndarray, tuple[Span, ...]], ...], field: FieldDef
) -> bool:
    """Writing no character read accounts for (`calibration.unread_writing`): in a name,
    before the first character read or after the last (a 木 touching the 村 after it, read
    as one 村); in an address, between two characters read next to each other (a 7 between
    野 and 番地). `_too_short` counts characters against the whole width, and misses one
    dropped where the rest are written wide; a name's 姓 and 名 stand apart, so only its
    ends are measured."""
    limits = calibration().unread_writing
    for line, located in lines_read:
        if not located:
            continue
        height = max(line.shape[0] - 2 * TIGHT_PAD, 1)
        if field.charset == "address":
            pitches = written_pitches(line, list(located))
            if pitches and max(pitches) > limits.address_pitch * height:
                return True
        elif field.charset == "name":
            columns = np.flatnonzero((line < INK_THRESHOLD).any(axis=0))
            before = _writing_from(columns, located[0][3], -1, height // 2)
            after = _writing_from(columns, located[-1][3], 1, height // 2)
            if max(before, after) > limits.name_edge * height:
                return True
    return False


def _writing_from(columns: np.ndarray, middle: int, step: int, gap: int) -> int:
    """How far the writing (its inked `columns`) runs on from `middle`, rightwards (`step`
    1) or leftwards (-1), up to a gap wider than `gap`: what is past such a gap (the rest
    of a seal, a speck at the end of the box) is no character of the name."""
    ahead = np.sort(step * (columns - middle))
    ahead = ahead[ahead > 0]
    if ahead.size == 0:
        return 0
    wide = np.flatnonzero(np.diff(np.concatenate([[0], ahead])) > gap + 1)
    end = int(wide[0]) if wide.size else ahead.size  # the writing up to the first wide gap
    return int(ahead[end - 1]) if end else 0


def written_pitches(line: np.ndarray, read: list[Span]) -> list[int]:
    """The columns of writing between the middles of each two characters read in `line`,
    without gaps wider than half its height (a space between words holds no character)."""
    ink = np.asarray((line < INK_THRESHOLD).any(axis=0))
    gap_allowed = (line.shape[0] - 2 * TIGHT_PAD) // 2
    pitches = []
    for (*_, one), (*_, next_one) in itertools.pairwise(read):
        columns = np.flatnonzero(ink[one : next_one + 1])
        gaps = np.diff(columns) - 1
        wide = columns[-1] - columns[0] + 1 - gaps[gaps > gap_allowed].sum() if columns.size else 0
        pitches.append(int(wide))
    return pitches


HAIRLINE_PX = 3.0
"""A component longer than two characters whose ink, over its width and height, is at most
this (area ≤ HAIRLINE_PX · (w + h)) is what is left of a box's printed lines: the corner
of a box left beside a name on the widened corpus measured 2.3-2.8; the pieces of a
handwritten character measure 2 to 20 but are never two characters long."""


def _written_width(line: np.ndarray) -> int:
    """Columns of a line's writing, without gaps wider than half its height (within a word
    the strokes of one character and the room between characters are much narrower), nor
    what is left of a box's printed lines (`HAIRLINE_PX`)."""
    ink = cv2.morphologyEx((line < INK_THRESHOLD).astype(np.uint8), cv2.MORPH_OPEN,
                           np.ones((2, 2), np.uint8))  # specks, as `cut_tight` drops them
    height = max(line.shape[0] - 2 * TIGHT_PAD, 1)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink)
    lines = [
        i for i, (_, _, w, h, area) in enumerate(stats) if i
        and max(w, h) > 2 * height and area <= HAIRLINE_PX * (w + h)
    ]
    if lines:
        ink[np.isin(labels, lines)] = 0
    columns = np.flatnonzero(ink.any(axis=0))
    if columns.size == 0:
        return 0
    gaps = np.diff(columns) - 1
    return int(columns[-1] - columns[0] + 1 - gaps[gaps > height // 2].sum())


def _text_lines(
    crop: np.ndarray, may_wrap: bool, min_gap: int = 6, min_height: int = 24
) -> list[np.ndarray]:
    """Horizontal bands of writing separated by rows with (almost) no ink."""
    ink = (crop < INK_THRESHOLD).sum(axis=1)
    empty = ink <= max(2, int(0.01 * ink.max()))
    bands, start, gap = [], None, 0
    for row, is_empty in enumerate(empty):
        if not is_empty:
            if start is None:
                start = row
            gap = 0
        elif start is not None:
            gap += 1
            if gap >= min_gap:
                bands.append((start, row - gap + 1))
                start, gap = None, 0
    if start is not None:
        bands.append((start, len(empty) - gap))
    tall = [(a, b) for a, b in bands if b - a >= min_height]
    lines = [crop[max(a - 4, 0) : b + 4] for a, b in tall] or [crop]
    if not may_wrap:
        return lines
    return [part for line in lines for part in _split_touching_lines(line)]


def _split_touching_lines(band: np.ndarray) -> list[np.ndarray]:
    """Two lines of writing that touch: a band much taller than its characters is cut at
    its emptiest row near the middle."""
    ink = band < INK_THRESHOLD
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8))
    heights = [stats[i][3] for i in range(1, count) if stats[i][4] >= 30]
    if len(heights) < 4:
        return [band]
    char_height = float(np.percentile(heights, 90))
    rows = np.where(ink.any(axis=1))[0]
    written = rows[-1] - rows[0] + 1
    if written < 1.7 * char_height:
        return [band]
    middle = slice(rows[0] + written // 3, rows[0] + 2 * written // 3)
    profile = ink[middle].sum(axis=1)
    cut = middle.start + int(np.argmin(profile))
    return [band[:cut], band[cut:]]


def line_characters(engine: OcrEngine, line: np.ndarray, alphabet: str | None) -> list[Span]:
    """Each character the recogniser reads in `line` (an engine with `read_with_frames`), with
    the columns that are its own (`characters_of`)."""
    ((_, frames),) = engine.read_with_frames([line], alphabet)  # type: ignore[attr-defined]
    return characters_of(engine, line, frames, alphabet)


def characters_of(
    engine: OcrEngine, line: np.ndarray, frames: np.ndarray, alphabet: str | None
) -> list[Span]:
    """The characters the recogniser's `frames` of `line` decode to, each with the columns
    that are its own: the line is cut between the middles of the last frame of one character
    and the first of the next, at the emptiest column there."""
    best = _as_decoded(engine, frames, alphabet).argmax(axis=1)
    characters = engine.characters  # type: ignore[attr-defined]
    runs: list[list[int]] = []  # first frame, last frame, character
    for frame, index in enumerate(best):
        if index and runs and runs[-1][2] == index and runs[-1][1] == frame - 1:
            runs[-1][1] = frame
        elif index:
            runs.append([frame, frame, int(index)])
    width, count = line.shape[1], len(frames)
    ink = (line < INK_THRESHOLD).sum(axis=0)
    cuts = [0]
    for (_, end, _), (start, _, _) in itertools.pairwise(runs):
        # between the middles of the last frame of one character and the first of the next
        lo = int((end + 0.5) / count * width)
        hi = max(int(np.ceil((start + 0.5) / count * width)), lo + 1)
        cuts.append(lo + int(np.argmin(ink[lo:hi])))
    cuts.append(width)
    return [
        (characters[index], cuts[k], cuts[k + 1], int((first + last + 1) / 2 / count * width))
        for k, (first, last, index) in enumerate(runs)
    ]


def nearly_written(engine: OcrEngine, frames: np.ndarray, alphabet: str | None) -> list[str]:
    """The characters the recogniser almost wrote where it wrote none: at each frame whose
    blank won with less than `variant_classifier.nearly_written` (schemas/calibration.yaml),
    the likeliest other character, unless a frame beside it wrote that character (the edge
    of one it did write) or it is a space."""
    probs = _as_decoded(engine, frames, alphabet)
    best = probs.argmax(axis=1)
    characters = engine.characters  # type: ignore[attr-defined]
    blank_least = calibration().variant_classifier.nearly_written
    found = []
    for frame, index in enumerate(best):
        if index or probs[frame, 0] >= blank_least:
            continue
        candidate = int(probs[frame, 1:].argmax()) + 1
        if candidate not in best[max(frame - 1, 0) : frame + 2] and characters[candidate] != " ":
            found.append(characters[candidate])
    return found


def _as_decoded(engine: OcrEngine, frames: np.ndarray, alphabet: str | None) -> np.ndarray:
    """The recogniser's `frames` with the characters `alphabet` leaves out at 0, as it decodes."""
    allowed = engine.allowed_mask(alphabet)  # type: ignore[attr-defined]
    return frames if allowed is None else np.where(allowed, frames, 0.0)
