"""Names on a list measured on their ink. A small kana is printed smaller and on the
baseline: PP-OCR reads ツヨシ as ツョシ in small 1-bit print, the ink sets it back and a person
confirms; a small kana read right stands. A 1-bit scan at 300 dpi has no grey at all, and its
print must still be found (half-width words, their marks, the gap between words). A name is
cut into words at its space only, not at every wide gap of fixed-pitch print."""

from __future__ import annotations

import numpy as np

from pipeline.listkana import _words
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


def test_half_width_kana_scanned_one_bit_at_300_dpi_are_read_as_half_width() -> None:
    # no resampling leaves a grey level: the print is found below mid-grey, not at Otsu's 0
    for printed, name in (("ﾜﾀﾞ ﾅｵｷ", "ワダナオキ"), ("ｵｵﾀ ｱｲ", "オオタアイ")):
        crop = scanned_word(printed, "NotoSerifCJKJP", 33, 300, "bw")
        assert set(np.unique(crop)) == {0, 255}
        assert decide_cell(NAME_KANA, read_word(crop)).value == name


def test_a_name_is_cut_into_words_only_at_its_space() -> None:
    # fixed-pitch print leaves a gap beside a narrow イ nearly as wide as a space (イ|ノウエ);
    # the lone イ would be read as nothing
    crop = scanned_word("イノウエ\u3000チヒロ", "IPAGothic", 26, 240, "bw")
    assert len(_words(crop)) == 2
