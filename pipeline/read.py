"""Read the fields of a registered page: separate the handwriting from the printed form,
then read cells, lines and marked choices with the engine routed to each field type."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from functools import lru_cache

import cv2
import numpy as np

from pipeline import digitcells, digitvote, lexicon
from pipeline import digits as digit_model
from pipeline import marks as mark_reader
from pipeline.cleanup import to_gray
from pipeline.crosscheck import MAX_AGE
from pipeline.fields import DIGITS, KATAKANA, normalise
from pipeline.ocr import OcrEngine, Reading, get_engine
from pipeline.template import cell_boxes, template_ink
from schemas.calibration import calibration
from schemas.forms import FieldDef, FormDef, get_form

ROUTES: dict[str, str] = calibration().routes
"""Engine per field type, chosen on `kura bench` (schemas/calibration.yaml)."""

SECOND_OPINION: dict[str, str] = calibration().second_opinion
"""A second recogniser for number fields written freehand (phone numbers), whose silent
errors cost most and which no lexicon can check: where the two read different digits, a
person decides (schemas/calibration.yaml says on which corpus it earned its place). Digit
cells have the single-cell digit model (`pipeline.digits`) instead (`_settle_digits`)."""

ALPHABETS: dict[str, str] = {
    "digits": DIGITS,
    "my_number": DIGITS,
    "bpn": DIGITS,
    "postal": DIGITS,
    "date": DIGITS,
    "amount": DIGITS,
    "phone": DIGITS + "-",
    "kana": KATAKANA + " ",
}


def alphabet_for(field: FieldDef) -> str:
    """The characters a field may hold: the engine chooses among these alone."""
    if field.type != "text":
        return ALPHABETS[field.type]
    if field.charset == "address":
        return lexicon.address_alphabet()
    return lexicon.name_alphabet()


INK_THRESHOLD = 150
EMPTY_CELL_INK = 0.01
CHOICE_MARK_INK = 0.025
SEAL_RADIUS_PX = (48, 95)
FREEHAND_MARGIN = 30
TIGHT_PAD = 12
MIN_CHARS_PER_WIDTH = {"name": 0.72, "address": 0.95}
"""Below this many characters per line-height of writing, characters were dropped (measured
on the benchmark corpus: right readings of names came below 0.78 once in 80, of addresses
never below 1.07)."""
OVERFLOW_MAX_PX = 400
OVERFLOW_GAP_PX = 40
SEAL_SEARCH_RIGHT_PX = 300
SEAL_CLEARANCE_PX = 30
LINE_GUARD_PX = 3


@dataclass(frozen=True)
class RawField:
    text: str
    confidence: float
    engine: str
    notes: tuple[str, ...] = ()
    runners_up: tuple[tuple[str, str, float], ...] = ()
    cell_digits: np.ndarray | None = dataclass_field(default=None, compare=False)
    """Digit cells: the recogniser's opinion of each written cell's digit (cells × 10),
    from the frames under that cell (`pipeline.digitcells`); None where it gives none."""


def handwriting(
    registered_rgb: np.ndarray, form_id: str, page: int, guard_px: int = LINE_GUARD_PX
) -> tuple[np.ndarray, set[str]]:
    """Grayscale page with only the handwriting left: printed form ink and seals go white;
    and the names of the fields whose writing a removed seal touched.

    Colour drop-out removes the green form print and red seals where the scan has colour;
    the template's own print (widened by `guard_px`) is removed as well, which also serves
    1-bit scans that have lost their colour. Where a pen stroke crosses a printed line, the
    stroke is bridged across it, so a character written over the box edge stays whole.
    """
    gray = _without_print(registered_rgb, _printed(form_id, page, guard_px), guard_px)
    touched = {
        field.name
        for field in get_form(form_id).fields
        if field.page == page and field.charset == "name" and remove_seals(gray, field.box)
    }
    return gray, touched


def marks(registered_rgb: np.ndarray, form: FormDef, page: int) -> np.ndarray:
    """Like `handwriting`, for the ticks and circles on choices and checkboxes: the printed
    labels are removed with almost no widening, because a tick is often drawn across its
    label, and only around the fields that take marks."""
    canvas = np.full(registered_rgb.shape[:2], 255, np.uint8)
    boxes = [f.box for f in form.fields if f.page == page and f.type in ("choice", "checkbox")]
    if not boxes:
        return canvas
    margin = mark_reader.REACH_PX + 10
    x0 = max(min(b[0] for b in boxes) - margin, 0)
    y0 = max(min(b[1] for b in boxes) - margin, 0)
    x1 = max(b[0] + b[2] for b in boxes) + margin
    y1 = max(b[1] + b[3] for b in boxes) + margin
    region = (slice(y0, y1), slice(x0, x1))
    canvas[region] = _without_print(
        registered_rgb[region], _printed(form.id, page, 1)[region], guard_px=1
    )
    return canvas


@lru_cache(maxsize=32)
def _printed(form_id: str, page: int, guard_px: int) -> np.ndarray:
    """The template's print widened by `guard_px`: the same for every page of the form."""
    guard = 2 * guard_px + 1
    ink = template_ink(form_id, page).astype(np.uint8)
    return np.asarray(cv2.dilate(ink, np.ones((guard, guard), np.uint8)) > 0)


def _without_print(rgb: np.ndarray, printed: np.ndarray, guard_px: int) -> np.ndarray:
    gray = to_gray(rgb).copy()
    guard = 2 * guard_px + 1
    dropped = np.zeros_like(printed)
    if rgb.ndim == 3:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        hue, saturation = hsv[..., 0], hsv[..., 1]
        coloured = saturation > 70
        dropped = coloured & (((hue > 35) & (hue < 95)) | (hue < 12) | (hue > 165))
    dark = gray < INK_THRESHOLD
    pen = (dark & ~printed & ~dropped).astype(np.uint8)
    span = guard + 4
    down = cv2.morphologyEx(pen, cv2.MORPH_CLOSE, np.ones((span, 1), np.uint8)) > 0
    along = cv2.morphologyEx(pen, cv2.MORPH_CLOSE, np.ones((1, span), np.uint8)) > 0
    bridged = (down | along) & printed & dark & ~dropped
    gray[(printed & ~bridged) | dropped] = 255
    return gray


def remove_seals(gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Blank out round personal seals (印) stamped at or beside a name box; True when a seal
    sat on the writing itself, so that what was under it is for a person to read.

    Colour drop-out already removes red seals; this catches them on grey and 1-bit scans.
    A ring is taken for a seal only when most of its circumference is inked and the paper
    just outside it is mostly clear, which a dense handwritten kanji is not.
    """
    x, y, w, h = box
    top, left = max(y - 100, 0), max(x + w // 3, 0)
    region = gray[top : y + h + 100, left : x + w + SEAL_SEARCH_RIGHT_PX]
    if region.size == 0:
        return False
    circles = cv2.HoughCircles(
        cv2.medianBlur(region, 5),
        cv2.HOUGH_GRADIENT,
        dp=2,
        minDist=120,
        param1=120,
        param2=45,
        minRadius=SEAL_RADIUS_PX[0],
        maxRadius=SEAL_RADIUS_PX[1],
    )
    touched = False
    for cx, cy, radius in [] if circles is None else circles.reshape(-1, 3):
        ring = _ring_coverage(region, cx, cy, (radius - 5, radius, radius + 5))
        outside = _ring_coverage(region, cx, cy, (radius + 16, radius + 22))
        if ring < 0.7 or outside > 0.25:
            continue
        disk_left = left + cx - radius - 10
        cv2.circle(region, (round(cx), round(cy)), round(radius) + 10, 255, thickness=-1)
        writing = gray[y : y + h, x : x + w] < INK_THRESHOLD
        columns = np.where(writing.any(axis=0))[0]
        touched |= bool(columns.size) and x + columns[-1] >= disk_left - SEAL_CLEARANCE_PX
    return touched


def _ring_coverage(image: np.ndarray, cx: float, cy: float, radii: tuple[float, ...]) -> float:
    """Share of directions round (cx, cy) in which any of the radii meets ink."""
    angles = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    height, width = image.shape
    inked = 0
    for angle in angles:
        for r in radii:
            px, py = round(cx + r * np.cos(angle)), round(cy + r * np.sin(angle))
            if 0 <= py < height and 0 <= px < width and image[py, px] < INK_THRESHOLD:
                inked += 1
                break
    return inked / len(angles)


def _crop(gray: np.ndarray, box: tuple[int, int, int, int], margin: int = 0) -> np.ndarray:
    x, y, w, h = box
    top, left = max(y - margin, 0), max(x - margin, 0)
    return gray[top : y + h + margin, left : x + w + margin]


def _with_overflow(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A free-writing box with the writing that runs on past its right edge, followed until
    a clear gap: residents who run out of room keep writing, and the end of an address (the
    room number) is what falls outside."""
    x, y, w, h = box
    top, bottom = max(y - FREEHAND_MARGIN, 0), y + h + FREEHAND_MARGIN
    left, right = max(x - FREEHAND_MARGIN, 0), x + w + FREEHAND_MARGIN
    inked = (gray[top:bottom, right : right + OVERFLOW_MAX_PX] < INK_THRESHOLD).any(axis=0)
    clear = np.convolve(~inked, np.ones(OVERFLOW_GAP_PX, int), mode="valid") == OVERFLOW_GAP_PX
    end = int(np.argmax(clear)) if clear.any() else inked.size
    return gray[top:bottom, left : right + end]


def _ink_share(image: np.ndarray) -> float:
    return float((image < INK_THRESHOLD).mean()) if image.size else 0.0


def _tight(image: np.ndarray, pad: int = TIGHT_PAD) -> np.ndarray | None:
    """The image cut to its ink with a white margin; None when there is no ink."""
    ink = image < INK_THRESHOLD
    ink = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size == 0:
        return None
    cut = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cv2.copyMakeBorder(cut, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def read_cells(
    gray: np.ndarray, field: FieldDef, engine: OcrEngine, alphabet: str | None
) -> RawField:
    """One character per cell. The written cells are read together as one line — the
    recogniser is surer of digits in a row than of a digit alone — and cell by cell only
    when that line does not give one character per written cell."""
    crops = _cell_crops(gray, field)
    written = [c for c in crops if c is not None]
    if not written:
        return RawField("", 1.0, engine.name)
    notes: tuple[str, ...] = ("cells_empty",) if len(written) != len(crops) else ()
    line_image, spans = digitcells.strip(written)
    with_frames = getattr(engine, "read_with_frames", None) if alphabet == DIGITS else None
    seen = None
    if with_frames is not None:
        ((line, frames),) = with_frames([line_image], alphabet)
        columns = engine.columns(DIGITS)  # type: ignore[attr-defined]
        seen = digitcells.digits_under_cells(frames, columns, spans, line_image.shape[1])
    else:
        line = engine.read_line(line_image, alphabet)
    if len(line.text) == len(written):
        return RawField(line.text, line.confidence, engine.name, notes, line.runners_up, seen)
    if with_frames is not None and seen is not None:
        # the line dropped or doubled a digit: each cell read alone as well, and where the
        # line saw no digit under a cell, what the cell alone shows is the opinion of it
        alone = with_frames(written, alphabet)
        readings = [reading for reading, _ in alone]
        for cell, (_, frames) in enumerate(alone):
            if digitcells.no_opinion(seen[cell]):
                width = written[cell].shape[1]
                seen[cell] = digitcells.digits_under_cells(frames, columns, [(0, width)], width)[0]
    else:
        readings = _read_many(engine, written, alphabet)
    text = "".join(r.text[:1] for r in readings)
    if any(len(r.text) != 1 for r in readings):
        notes += ("cell_unread",)
    runners_up = tuple(pair for r in readings for pair in r.runners_up)
    confidence = min(r.confidence for r in readings)
    return RawField(text, confidence, engine.name, notes, runners_up, seen)


def _cell_crops(gray: np.ndarray, field: FieldDef) -> list[np.ndarray | None]:
    """Each cell's writing cut tight, None for an empty cell."""
    inset = LINE_GUARD_PX + 4
    crops = []
    for x, y, w, h in cell_boxes(field):
        cell = gray[y + inset : y + h - inset, x + inset : x + w - inset]
        crops.append(_tight(cell) if _ink_share(cell) >= EMPTY_CELL_INK else None)
    return crops


def _read_many(engine: OcrEngine, images: list[np.ndarray], alphabet: str | None) -> list[Reading]:
    read_lines = getattr(engine, "read_lines", None)
    if read_lines is not None:
        return list(read_lines(images, alphabet))
    return [engine.read_line(image, alphabet) for image in images]


def read_line_field(
    gray: np.ndarray, field: FieldDef, engine: OcrEngine, alphabet: str | None
) -> RawField:
    """A free-writing box, read line by line: a long address often wraps onto a second line."""
    # a personal seal (印) is stamped just right of a name box: a name is read in its box
    if field.charset == "name":
        crop = _crop(gray, field.box, margin=FREEHAND_MARGIN)
    else:
        crop = _with_overflow(gray, field.box)
    if _ink_share(crop) < 0.002:
        return RawField("", 1.0, engine.name)
    bands = _text_lines(crop, may_wrap=field.charset == "address")
    lines = [tight for band in bands if (tight := _tight(band)) is not None]
    if not lines:
        return RawField("", 1.0, engine.name)
    readings = [engine.read_line(line, alphabet) for line in lines]
    if field.type == "kana":  # in mixed writing the neighbours' ink blurs the heights
        readings = [settle_kana_sizes(line, r) for line, r in zip(lines, readings, strict=True)]
    runners_up = tuple(pair for r in readings for pair in r.runners_up)
    text = "".join(r.text for r in readings)
    notes: tuple[str, ...] = ("characters_missing",) if _too_short(text, lines, field) else ()
    if field.charset == "address" and (trimmed := _without_stray_marks(text)) != text:
        text, notes = trimmed, (*notes, "stray_marks")
    return RawField(text, min(r.confidence for r in readings), engine.name, notes, runners_up)


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
    width / height characters; digits in addresses are narrower, so more fit."""
    written = sum(
        (w - 2 * TIGHT_PAD) / max(h - 2 * TIGHT_PAD, 1) for h, w in (line.shape for line in lines)
    )
    least = MIN_CHARS_PER_WIDTH["address" if field.charset == "address" else "name"]
    return len(text.replace(" ", "")) < least * written


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


def read_choice(gray: np.ndarray, field: FieldDef, form_id: str) -> RawField:
    """The option a person marked: the label a circle encloses, or the option a tick is
    drawn on or beside (`pipeline.marks`). None marked, two marked, or a mark that could be
    either is for a person; so is a correction (a mark struck through), with the mark left
    standing proposed."""
    assert field.options is not None
    options = [option.box for option in field.options]
    labels = mark_reader.label_boxes(form_id, field.page, field)
    found = mark_reader.find_marks(gray, options, labels)
    struck = mark_reader.struck_options(gray, _printed(form_id, field.page, 1), labels)
    chosen = sorted({m.option for m in found} - struck)
    if struck and not chosen:  # the mark left standing may have run into the struck one
        chosen = sorted({m.also for m in found if m.also is not None} - struck)
    if struck:
        several = ("several_choices",) if len(chosen) > 1 else ()
        standing = ",".join(field.options[k].value for k in chosen)
        return RawField(standing, 0.0, "omr", ("struck_through", *several))
    if not chosen:
        return RawField("", 0.0, "omr", ("no_choice",))
    if len(chosen) > 1:
        both = ",".join(field.options[k].value for k in chosen)
        return RawField(both, 0.0, "omr", ("several_choices",))
    value = field.options[chosen[0]].value
    if not all(m.certain for m in found):
        return RawField(value, 0.5, "omr", ("unsure_mark",))
    return RawField(value, 1.0, "omr")


CHECKBOX_CLEAR_INK = 0.005
"""Below this share of ink a checkbox is clear; between it and `CHOICE_MARK_INK` the mark is
too faint or too small to call (a stray dot, a tick that barely touches the box)."""


def read_checkbox(gray: np.ndarray, field: FieldDef, form_id: str) -> RawField:
    """Ticked or clear; a mark between the two goes to a person with its reason, whatever
    the accept threshold is, and so does a mark struck through (proposed clear: taken back)."""
    share = _ink_share(_crop(gray, field.box))
    if share >= CHECKBOX_CLEAR_INK and mark_reader.struck_checkbox(
        gray, _printed(form_id, field.page, 1), field.box
    ):
        return RawField("false", 0.0, "omr", ("struck_through",))
    if share >= CHOICE_MARK_INK:
        return RawField("true", 1.0, "omr")
    if share < CHECKBOX_CLEAR_INK:
        return RawField("false", 1.0, "omr")
    return RawField("false", 0.5, "omr", ("unsure_mark",))


def read_field(
    gray: np.ndarray,
    marked: np.ndarray,
    field: FieldDef,
    form_id: str,
    engine_name: str | None = None,
) -> RawField:
    if field.type == "choice":
        return read_choice(marked, field, form_id)
    if field.type == "checkbox":
        return read_checkbox(marked, field, form_id)
    alphabet = alphabet_for(field)
    reader = read_cells if field.cells else read_line_field
    raw = reader(gray, field, get_engine(engine_name or ROUTES[field.type]), alphabet)
    if engine_name is not None or not raw.text:
        return raw
    if field.cells and field.type in DIGIT_CELLS:
        return _settle_digits(gray, field, raw)
    if field.type == "phone" and (glyphs := _digit_glyphs(gray, field)):
        return _settle_digits(gray, field, raw, glyphs)
    second = SECOND_OPINION.get(field.type)
    if (
        second
        and "engines_disagree" not in raw.notes
        and _digits_of(raw.text) != _second_opinion(gray, field, second)
    ):
        raw = replace(raw, notes=(*raw.notes, "engines_disagree"))
    return raw


DIGIT_CELLS = ("digits", "my_number", "bpn", "postal", "date", "amount")
CHECKED = ("my_number", "postal", "date")
"""Digit fields with a check of their own (check digit, a postal code that exists, a real
date): among the readings their readers leave open, the check may choose."""


def _settle_digits(
    gray: np.ndarray, field: FieldDef, raw: RawField, glyphs: list[np.ndarray] | None = None
) -> RawField:
    """PP-OCR's reading of digit cells (what it saw under each cell, `raw.cell_digits`) or of
    the digits cut out of a freehand number (`glyphs`), weighed with the single-cell digit
    model's and, where the field has one, the second recogniser's (`pipeline.digitvote`):
    where every reader agrees and is sure the reading stands; where they differ the field's
    check may settle it when one combination clearly passes; otherwise a person decides,
    shown the likeliest digits."""
    if glyphs is None:
        glyphs = [crop for crop in _cell_crops(gray, field) if crop is not None]
    written = glyphs
    model = [p for p in digit_model.cell_probabilities(written) if p is not None]
    if len(model) != len(written):  # a speck the model saw no digit in
        return replace(raw, notes=(*raw.notes, "engines_disagree"))
    seen: digitvote.Seen = {}
    votes: digitvote.Votes = {}
    if raw.cell_digits is not None and len(raw.cell_digits) == len(written):
        seen[raw.engine] = raw.cell_digits
    else:
        ours = _digits_of(raw.text)
        votes[raw.engine] = ours if len(ours) == len(written) else None
    second = SECOND_OPINION.get(field.type)
    if second:
        other = _second_opinion(gray, field, second)
        votes[second] = other if len(other) == len(written) else None
    passes = None
    if field.type in CHECKED:

        def passes(text: str) -> bool:
            normalised = normalise(field, text)
            if normalised.reasons:
                return False
            # no date on these forms lies more than a lifetime back or years ahead
            year = int(normalised.value[:4]) if field.type == "date" else 0
            return field.type != "date" or abs(year - dt.date.today().year) <= MAX_AGE

    settled = digitvote.settle(np.stack(model), votes, passes, seen)
    miscounted = any(v is None for v in votes.values())
    if settled.settled and not miscounted:  # the doubts PP-OCR had are weighed: gone
        # and a cell its line reading missed was read under the cell
        notes = tuple(n for n in raw.notes if not (seen and n == "cell_unread"))
        return RawField(settled.text, settled.confidence, raw.engine, notes)
    model_reads = "".join(str(int(np.argmax(p))) for p in model)
    disagree = any(v != model_reads for v in votes.values()) or any(
        "".join(str(int(d)) for d in np.argmax(s, axis=1)) != model_reads for s in seen.values()
    )
    note = "engines_disagree" if disagree else "low_confidence"
    proposal = settled.text
    if miscounted and not field.cells and normalise(field, proposal).reasons:
        proposal = raw.text  # the cut-out digits make no number either: the line's reading
    return replace(raw, text=proposal, notes=(*raw.notes, note))


GLYPH_MIN_AREA = 40
HYPHEN_HEIGHT = 0.45
"""A mark lower than this share of the digits' height is a hyphen or a speck, not a digit."""


def _digit_glyphs(gray: np.ndarray, field: FieldDef) -> list[np.ndarray]:
    """The digits of a number written freehand (a phone number), each cut out by its strokes,
    left to right; hyphens and specks left out. Empty where the cutting is unsure (two digits
    touching, a digit in pieces that do not stack), so the field is read as a line alone."""
    crop = _with_overflow(gray, field.box)
    ink = (crop < INK_THRESHOLD).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink)
    spans: list[list[int]] = []  # left, top, right, bottom of the pieces that stack
    for x, y, w, h, area in sorted(stats[1:count].tolist()):
        if area < GLYPH_MIN_AREA:
            continue
        if spans and x < spans[-1][2] - 0.5 * min(w, spans[-1][2] - spans[-1][0]):
            last = spans[-1]
            spans[-1] = [last[0], min(last[1], y), max(last[2], x + w), max(last[3], y + h)]
        else:
            spans.append([x, y, x + w, y + h])
    if not spans:
        return []
    height = float(np.median([b - t for _, t, _, b in spans]))
    digits = [s for s in spans if s[3] - s[1] >= HYPHEN_HEIGHT * height]
    if any(r - left > 1.2 * (b - t) for left, t, r, b in digits):
        return []  # two digits written into one another
    cut = [_tight(crop[max(t - 4, 0) : b + 4, max(x - 4, 0) : r + 4]) for x, t, r, b in digits]
    return [glyph for glyph in cut if glyph is not None]


def _second_opinion(gray: np.ndarray, field: FieldDef, engine_name: str) -> str:
    """The digits the other recogniser reads, in one pass: written cells as one strip."""
    engine, alphabet = get_engine(engine_name), alphabet_for(field)
    if not field.cells:
        return _digits_of(read_line_field(gray, field, engine, alphabet).text)
    written = [crop for crop in _cell_crops(gray, field) if crop is not None]
    if not written:
        return ""
    return _digits_of(engine.read_line(digitcells.strip(written)[0], alphabet).text)


def _digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def read_page_fields(
    registered_rgb: np.ndarray, form: FormDef, page: int, engine_name: str | None = None
) -> dict[str, RawField]:
    gray, under_seals = handwriting(registered_rgb, form.id, page)
    marked = marks(registered_rgb, form, page)
    return {
        field.name: _noted(
            read_field(gray, marked, field, form.id, engine_name),
            "seal_over_writing" if field.name in under_seals else None,
        )
        for field in form.fields
        if field.page == page
    }


def _noted(raw: RawField, note: str | None) -> RawField:
    return replace(raw, notes=(*raw.notes, note)) if note else raw
