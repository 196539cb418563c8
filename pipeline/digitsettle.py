"""Settle what a number field holds (digit cells, a phone number written freehand) from
every reader of its digits: PP-OCR, the single-cell digit model and, for some types, a
second recogniser, weighed in `pipeline.digitvote` against the field's own check."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import cv2
import numpy as np

from pipeline import digitcells, digitvote, lexicon
from pipeline import digits as digit_model
from pipeline.crops import TIGHT_PAD, cut_tight, with_overflow
from pipeline.crosscheck import MAX_AGE
from pipeline.fields import DIGITS, normalise
from pipeline.handwriting import INK_THRESHOLD
from pipeline.ocr import get_engine
from pipeline.rawfield import RawField, Span
from pipeline.routes import SECOND_OPINION, alphabet_for
from pipeline.textlines import line_characters, read_line_field, written_lines, written_pitches
from schemas.calibration import calibration
from schemas.forms import FieldDef

DIGIT_CELLS = ("digits", "my_number", "bpn", "postal", "date", "amount")
CHECKED = ("my_number", "postal", "date", "phone")
"""Digit fields with a check of their own (check digit, a postal code that exists, a real
date): among the readings their readers leave open, the check may choose."""


def settle_digits(
    gray: np.ndarray, field: FieldDef, raw: RawField, glyphs: list[np.ndarray] | None = None,
    other: str | None = None,
) -> RawField:
    """PP-OCR's reading of digit cells (what it saw under each cell, `raw.cell_digits`) or of
    the digits cut out of a freehand number (`glyphs`), weighed with the single-cell digit
    model's and, where the field has one, the second recogniser's (`pipeline.digitvote`):
    where every reader agrees and is sure the reading stands; where they differ the field's
    check may settle it when one combination clearly passes; otherwise a person decides,
    shown the likeliest digits."""
    if glyphs is None:  # the cells as read_cells cut them (a reading made elsewhere: cut now)
        glyphs = list(raw.written_cells) or [
            crop for crop in digitcells.cell_crops(gray, field) if crop is not None
        ]
    written = glyphs
    model = [p for p in digit_model.cell_probabilities(written) if p is not None]
    if len(model) != len(written):  # a speck the model saw no digit in
        return replace(raw, notes=(*raw.notes, "engines_disagree"))
    seen: digitvote.Seen = {}
    votes: digitvote.Votes = {}
    if raw.cell_digits is not None and len(raw.cell_digits) == len(written):
        seen[raw.engine] = raw.cell_digits
    else:
        ours = digits_of(raw.text)
        votes[raw.engine] = ours if len(ours) == len(written) else None
    second = SECOND_OPINION.get(field.type)
    if second:
        other = second_opinion(gray, field, second) if other is None else other
        votes[second] = other if len(other) == len(written) else None
    passes = None
    if field.type in CHECKED:

        def passes(text: str) -> bool:
            normalised = normalise(field, text)
            return not normalised.reasons and plausible(field, normalised.value)

    settled = digitvote.settle(np.stack(model), votes, passes, seen)
    # the first recogniser read another count of digits than were cut out: the cutting or
    # the reading is wrong (the second's count is weighed in its votes)
    miscounted = next(iter(votes.values()), "") is None
    # the second recogniser read other digits and the first was in doubt of one: the model
    # alone may not side with the first (a 4 like a 9 read 9 by the model at 1.00, v6 in
    # doubt of a 4, v5 reading 4: --digits mnist --seed 91)
    doubted = len(set(votes.values())) > 1 and bool(lexicon.doubts(raw.runners_up))
    if settled.settled and not miscounted and not doubted:  # PP-OCR's doubts are weighed
        # and a cell its line reading missed was read under the cell
        notes = tuple(n for n in raw.notes if not (seen and n == "cell_unread"))
        normalised = normalise(field, settled.text)
        if not normalised.reasons and not plausible(field, normalised.value):
            notes += ("date_implausible",)  # every reader sure of the same misread era
        return RawField(settled.text, settled.confidence, raw.engine, notes)
    model_reads = "".join(str(int(np.argmax(p))) for p in model)
    disagree = any(v != model_reads for v in votes.values()) or any(
        "".join(str(int(d)) for d in np.argmax(s, axis=1)) != model_reads for s in seen.values()
    )
    note = "engines_disagree" if disagree else "low_confidence"
    proposal = settled.text
    if not field.cells:  # a freehand number: the line's reading where the cut-out digits
        # make no number either, or are not the digits the line shows
        pieces_fail = (miscounted and bool(normalise(field, proposal).reasons)) or cut_astray(
            model_reads, digits_of(raw.text)
        )
        proposal = raw.text if pieces_fail else toward_the_model(field, proposal, model_reads, raw)
    return replace(raw, text=proposal, notes=(*raw.notes, note))


def cut_astray(model_reads: str, line_reads: str) -> bool:
    """Whether the pieces cut out of a freehand number are not the digits the recogniser
    read on the line: the model reads other digits than it in more places than could be
    weighed (`digitvote.MAX_DISPUTED`), as where a faint digit was lost to the cutting and
    another cut in two (every later piece one place off). What the pieces say is then no
    proposal for a person."""
    return sum(a != b for a, b in zip(model_reads, line_reads, strict=False)) > (
        digitvote.MAX_DISPUTED
    )


def toward_the_model(field: FieldDef, proposal: str, model_reads: str, raw: RawField) -> str:
    """The digits a person is shown for a freehand number going to them: where the model
    reads another digit than `proposal` and the first recogniser was in doubt between the two
    (its runner-up, `doubt:` pairs), the model's (seeds 3 and 91: a 5 read 3 with 5 the
    runner-up, a 6 read 0 with 6 the runner-up, the model reading 5 and 6; on the tuning
    seeds no proposal it changed was right before). Never a digit no reader saw, and the
    number keeps its shape."""
    if len(proposal) != len(model_reads):
        return proposal
    doubted = set(lexicon.doubts(raw.runners_up))
    shown = "".join(
        theirs if ours != theirs and f"{ours}/{theirs}" in doubted else ours
        for ours, theirs in zip(proposal, model_reads, strict=True)
    )
    return shown if not normalise(field, shown).reasons else proposal


FILED_YEARS_BACK = 20
"""A form is filed on a day no later than today and, at an office that scans what arrives,
not decades before: a filing date further back is an era misread (令和元年 written 9 01 and
read 7 01, 平成元年: 2019 read 1989, every reader sure, on --digits mnist --seed 53) far
more often than a real one."""


def plausible(field: FieldDef, value: str) -> bool:
    """Whether a date field's value (ISO) can be what was written: no date on these forms
    lies more than a lifetime from today, a filing date (`filed_date`, as
    `pipeline.crosscheck` names it) lies between `FILED_YEARS_BACK` years back and today,
    and a period (申請期間: `*_start`, `*_end`) begins on the first of a month and ends on
    the last day of one: premiums, and their exemption, are counted in whole months."""
    if field.type != "date":
        return True
    date, today = dt.date.fromisoformat(value), dt.date.today()
    if field.name.endswith("_start") and date.day != 1:
        return False  # a period of the pension is counted in whole months
    if field.name.endswith("_end") and (date + dt.timedelta(days=1)).day != 1:
        return False
    if field.name == "filed_date":
        return today.year - FILED_YEARS_BACK <= date.year and date <= today
    return abs(date.year - today.year) <= MAX_AGE


GLYPH_MIN_AREA = 40
HYPHEN_HEIGHT = 0.45
"""A mark lower than this share of the digits' height is a hyphen or a speck, not a digit."""


def digit_glyphs(gray: np.ndarray, field: FieldDef, count: int | None = None) -> list[np.ndarray]:
    """The digits of a number written freehand (a phone number), each cut out by its strokes,
    left to right; hyphens and specks left out; where fewer are found than the `count` the
    recogniser read, two that touch cut apart (`cut_touching`). Empty where the cutting is
    unsure (a piece wider than a digit and no count to say it is one, a cut that would leave
    a sliver), so the field is read as a line alone."""
    crop = with_overflow(gray, field.box)
    ink = (crop < INK_THRESHOLD).astype(np.uint8)
    components, _, stats, _ = cv2.connectedComponentsWithStats(ink)
    spans: list[list[int]] = []  # left, top, right, bottom of the pieces that stack
    for x, y, w, h, area in sorted(stats[1:components].tolist()):
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
    if count and len(digits) < count:
        digits = cut_touching(crop, ink, digits, count)
    elif len(digits) != count and any(r - left > 1.2 * (b - t) for left, t, r, b in digits):
        return []  # two digits written into one another, and no count to cut them by
    # a piece cut off its neighbour takes none of the neighbour's ink beyond the cut
    edges = {x for x, *_ in digits} & {r for _, _, r, _ in digits}
    pieces = []
    for x, t, r, b in digits:
        left, right = max(x - (0 if x in edges else 4), 0), r + (0 if r in edges else 4)
        pieces.append(cut_tight(crop[max(t - 4, 0) : b + 4, left:right]))
    return [glyph for glyph in pieces if glyph is not None]


def cut_touching(
    crop: np.ndarray, ink: np.ndarray, digits: list[list[int]], count: int
) -> list[list[int]]:
    """`digits` (left, top, right, bottom) cut, one cut at a time, until there are `count`.
    A piece at least `touching_width` times as wide as the median digit is tried cut at its
    column of least ink within `touching_window` of its width either side of its middle; the
    cut kept is the one whose two halves the digit model reads surest (the lesser of its two
    probabilities): two digits that touch come apart into two digits, one wide digit cut in
    two reads as none (width alone says little: a 3 may be wider than a 6 touching an 8).
    Empty where no piece is wide enough or leaves two of at least `narrowest_digit` of the
    writing's height: no digits touch, the count is wrong."""
    settle = calibration().digit_settle
    digits = [list(d) for d in digits]
    narrowest = settle.narrowest_digit * float(np.median([b - t for _, t, _, b in digits]))
    widest_one = settle.touching_width * float(np.median([r - left for left, _, r, _ in digits]))
    while len(digits) < count:
        cuts = []  # (how sure the model is of the two halves, piece, column)
        for k, (left, top, right, bottom) in enumerate(digits):
            if right - left < widest_one:
                continue  # as wide as one digit: its two halves may read as two (a 0: 6 and 3)
            middle, reach = (left + right) // 2, int(settle.touching_window * (right - left))
            columns = ink[top:bottom, middle - reach : middle + reach + 1].sum(axis=0)
            at = middle - reach + int(np.argmin(columns))
            if min(at - left, right - at) < narrowest:
                continue
            halves = [cut_tight(crop[top:bottom, a:b]) for a, b in ((left, at), (at, right))]
            if any(half is None for half in halves):
                continue
            read = digit_model.cell_probabilities([h for h in halves if h is not None])
            cuts.append((min(0.0 if p is None else float(p.max()) for p in read), k, at))
        if not cuts:
            return []
        _, k, at = max(cuts)
        left, top, right, bottom = digits[k]
        digits[k : k + 1] = [[left, top, at, bottom], [at, top, right, bottom]]
    return digits


def read_phone(gray: np.ndarray, field: FieldDef, raw: RawField) -> RawField:
    """A phone number written freehand: its digits cut apart (`digit_glyphs`, as many as the
    first recogniser read) and settled with the digit model's and the second recogniser's
    readings; where they do not settle it and both recognisers read the same digits, the line
    as a whole (`weigh_second_opinion`: the model may still veto)."""
    second = SECOND_OPINION.get(field.type)
    other = second_opinion(gray, field, second) if second else None  # read once, for both
    glyphs = digit_glyphs(gray, field, len(digits_of(raw.text)))
    if not glyphs:
        return weigh_second_opinion(gray, field, raw, other)
    settled = settle_digits(gray, field, raw, glyphs, other)
    unsure = {"engines_disagree", "low_confidence"} & set(settled.notes) - set(raw.notes)
    if unsure and digits_of(raw.text) == other:
        return weigh_second_opinion(gray, field, raw, other)
    return settled


def second_opinion(gray: np.ndarray, field: FieldDef, engine_name: str) -> str:
    """The digits the other recogniser reads, in one pass: written cells as one strip."""
    engine, alphabet = get_engine(engine_name), alphabet_for(field)
    if not field.cells:
        return digits_of(read_line_field(gray, field, engine, alphabet).text)
    written = [crop for crop in digitcells.cell_crops(gray, field) if crop is not None]
    if not written:
        return ""
    return digits_of(engine.read_line(digitcells.strip(written)[0], alphabet).text)


def weigh_second_opinion(
    gray: np.ndarray, field: FieldDef, raw: RawField, other: str | None = None
) -> RawField:
    """A number written freehand whose digits could not be cut apart, read by a second
    recogniser as well: where the two differ a person decides, shown the reading that makes
    a number of the field's kind (a phone number's count of digits for its prefix) where
    only the second's does — a digit dropped or doubled in the first reading, kept in the
    second."""
    second = SECOND_OPINION.get(field.type)
    if not second or "engines_disagree" in raw.notes:
        return raw
    other = second_opinion(gray, field, second) if other is None else other
    notes = (*raw.notes, "engines_disagree")
    if digits_of(raw.text) == other:
        # the two PP-OCR models misread the same writing alike: the digit model may veto
        doubted = model_doubts_a_digit(gray, field, raw.engine, other)
        return replace(raw, notes=notes) if doubted else raw
    if normalise(field, raw.text).reasons and not normalise(field, other).reasons:
        return replace(raw, text=other, notes=notes)
    return replace(raw, notes=notes)


def model_doubts_a_digit(gray: np.ndarray, field: FieldDef, engine_name: str, number: str) -> bool:
    """Whether the digit model, shown each character of the freehand line cut out where the
    recogniser's frames pass from one character to the next, gives a digit of `number` less
    than `freehand_veto` (or the line no longer reads as `number`). Touching digits leave
    parts of their neighbours in each piece, so the model often doubts a right digit: this
    is a veto, never a reading."""
    engine = get_engine(engine_name)
    line = cut_tight(with_overflow(gray, field.box))
    if getattr(engine, "read_with_frames", None) is None or line is None:
        return False
    read = line_characters(engine, line, alphabet_for(field) or DIGITS)
    digits = [span for span in read if span[0] in DIGITS]
    if "".join(char for char, *_ in digits) != number:
        return True
    return model_vetoes(line, digits)


def address_digits_doubt(
    gray: np.ndarray, field: FieldDef, engine_name: str,
    lines_read: tuple[tuple[np.ndarray, tuple[Span, ...]], ...] = (),
) -> str | None:
    """Why a person should look at an address's digits, cut out of each written line where
    the recogniser's frames pass from one character to the next (no lexicon checks a
    number): writing between two characters wider than the line's others
    (`dropped_pitch`) or a digit on next to no ink (`smallest_digit`) — digits dropped:
    `characters_missing`; a run of digits the digit model gives less than `freehand_veto`
    (`model_vetoes`): `engines_disagree`."""
    engine = get_engine(engine_name)
    if getattr(engine, "read_with_frames", None) is None:
        return None
    settle = calibration().digit_settle
    if not lines_read:
        lines_read = tuple((line, tuple(line_characters(engine, line, alphabet_for(field))))
                           for line in written_lines(gray, field))
    for line, located in lines_read:
        least = settle.smallest_digit * (line.shape[0] - 2 * TIGHT_PAD)
        read = list(located)
        pitches = written_pitches(line, read)
        if len(pitches) >= 3 and max(pitches) > settle.dropped_pitch * float(np.median(pitches)):
            return "characters_missing"
        for char, left, right, _ in read:
            piece = cut_tight(line[:, left:right]) if char in DIGITS and right > left else None
            if char in DIGITS and (piece is None or piece.shape[0] - 2 * TIGHT_PAD < least):
                return "characters_missing"
        runs = itertools.groupby(read, key=lambda span: span[0] in DIGITS)
        if any(digit and model_vetoes(line, list(run)) for digit, run in runs):
            return "engines_disagree"
    return None


def model_vetoes(line: np.ndarray, digits: list[Span]) -> bool:
    """Whether the digit model, shown each of `digits` cut out of `line`, gives one of them
    less than `freehand_veto`, or a piece holds no ink."""
    return least_digit(line, digits) < calibration().digit_settle.freehand_veto


def least_digit(line: np.ndarray, digits: list[Span]) -> float:
    """The least probability the digit model gives one of `digits`, each cut out of `line`
    (0 where a piece holds no ink)."""
    pieces = [cut_tight(line[:, a:b]) if b > a else None for _, a, b, _ in digits]
    if any(piece is None for piece in pieces):
        return 0.0
    seen = digit_model.cell_probabilities([p for p in pieces if p is not None])
    return min(
        (0.0 if p is None else float(p[int(d)]) for p, (d, *_) in zip(seen, digits, strict=True)),
        default=1.0,
    )


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
