"""A small kana is printed smaller and on the baseline. Printed small and scanned 1-bit, PP-OCR
reads ツヨシ as ツョシ: the ink sets it back and a person confirms; a small kana read right
stands."""

from __future__ import annotations

from pipeline.listreading import column_alphabet
from pipeline.listverdicts import decide_cell
from pipeline.ocr import get_engine
from tests.kana_print import NAME_KANA, read_word, scanned_word


def test_a_full_size_kana_read_small_is_set_back_by_the_ink_and_shown_to_a_person() -> None:
    crop = scanned_word("タカハシ\u3000ツヨシ", "IPAexGothic", 30, 240, "bw")
    line = get_engine("ppocr").read_line(crop, column_alphabet(NAME_KANA))
    assert "ツョシ" in line.text  # what PP-OCR alone reads
    cell = decide_cell(NAME_KANA, read_word(crop))
    assert (cell.value, cell.status) == ("タカハシツヨシ", "review")
    assert "doubt:ョ/ヨ" in cell.reasons


def test_a_small_kana_read_small_stands() -> None:
    crop = scanned_word("ササキ\u3000キョウコ", "IPAexGothic", 30, 240, "bw")
    cell = decide_cell(NAME_KANA, read_word(crop))
    assert (cell.value, cell.status, cell.reasons) == ("ササキキョウコ", "accepted", [])
