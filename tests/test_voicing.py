"""A full-width kana name printed small and scanned 1-bit loses its dakuten (ジ read シ at high
confidence): the word goes to a person with the doubt named, and in print where the mark
stands clear the reading stands."""

from __future__ import annotations

from pipeline.listreading import column_alphabet
from pipeline.listverdicts import decide_cell
from pipeline.ocr import Reading, get_engine
from pipeline.voicing import check_voicing, doubtful_marks, marks_unclear
from tests.kana_print import NAME_KANA, read_word, scanned_word


def test_a_dakuten_lost_in_a_small_one_bit_scan_sends_the_name_to_a_person() -> None:
    crop = scanned_word("フジタ", "MotoyaLCedar", 26, 200, "bw")
    assert marks_unclear(crop)
    bare = get_engine("ppocr").read_line(crop, column_alphabet(NAME_KANA))
    assert bare.text == "フシタ" and bare.confidence >= 0.85  # what PP-OCR alone accepts
    cell = decide_cell(NAME_KANA, read_word(crop))
    assert cell.status == "review"
    assert "doubt:シ/ジ" in cell.reasons


def test_a_doubt_in_one_word_stays_with_the_whole_name() -> None:
    # the name is read word by word (family, given) and the words joined
    crop = scanned_word("タナカ\u3000ハナコ", "MotoyaLCedar", 26, 200, "bw")
    cell = decide_cell(NAME_KANA, read_word(crop))
    assert (cell.value, cell.status, cell.reasons) == ("タナカハナコ", "review", ["doubt:コ/ゴ"])


def test_the_same_name_printed_larger_or_scanned_grey_is_accepted() -> None:
    for crop in (scanned_word("フジタ", "MotoyaLCedar", 34, 300, "bw"),
                 scanned_word("フジタ", "MotoyaLCedar", 26, 200, "gray")):
        assert not marks_unclear(crop)
        cell = decide_cell(NAME_KANA, read_word(crop))
        assert (cell.value, cell.status, cell.reasons) == ("フジタ", "accepted", [])


def test_a_word_without_a_kana_whose_mark_is_in_doubt_stands() -> None:
    crop = scanned_word("ナカムラ", "MotoyaLCedar", 26, 200, "bw")
    assert marks_unclear(crop)
    cell = decide_cell(NAME_KANA, read_word(crop))
    assert (cell.value, cell.status) == ("ナカムラ", "accepted")


def test_which_kana_are_in_doubt() -> None:
    # the marks that run into their kana's stroke, and a handakuten's ring filled in
    assert doubtful_marks("シスコテサケ") == ["シ/ジ", "ス/ズ", "コ/ゴ", "テ/デ", "サ/ザ", "ケ/ゲ"]
    assert doubtful_marks("パピプペポ") == ["パ/バ", "ピ/ビ", "プ/ブ", "ペ/ベ", "ポ/ボ"]
    # read with its dakuten, or with its mark in open space: it stands
    assert doubtful_marks("ジズハバタダカガ") == []


def test_a_reading_keeps_its_doubts_and_is_made_unsure() -> None:
    crop = scanned_word("フジタ", "MotoyaLCedar", 26, 200, "bw")
    checked = check_voicing(crop, Reading("フシタ", 0.99, "ppocr"))
    assert checked.doubts == ("シ/ジ",) and checked.confidence < 0.5
    assert check_voicing(crop, Reading("フジタ", 0.99, "ppocr")).doubts == ()
