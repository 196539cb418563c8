"""Normalisation and validation of field values, per type, and what the writing round a
reading, its kana and the postal data settle about it."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline import lexicon, readings
from pipeline.crosscheck import vouch_for_towns
from pipeline.fields import my_number_check_digit, normalise
from pipeline.page import decide
from pipeline.rawfield import RawField
from schemas.contracts import FieldResult, FieldStatus
from schemas.forms import get_form
from schemas.normalise import date_to_era, era_to_date, to_katakana

FORM = get_form("kokunen_hihokensha_todoke")


def test_my_number_check_digit_matches_the_published_test_vector() -> None:
    assert my_number_check_digit("12345678901") == 8


def test_a_my_number_with_a_wrong_check_digit_goes_to_review() -> None:
    assert normalise(FORM.field("my_number"), "123456789018").reasons == ()
    assert normalise(FORM.field("my_number"), "123456789017").reasons == ("check_digit",)


@pytest.mark.parametrize(
    ("cells", "iso"),
    [
        ("5580412", "1983-04-12"),
        ("7010108", "1989-01-08"),
        ("9010501", "2019-05-01"),
        ("5640107", "1989-01-07"),
    ],
)
def test_era_cells_become_iso_dates(cells: str, iso: str) -> None:
    assert normalise(FORM.field("birth_date"), cells).value == iso


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ("5650101", "date_outside_era"),
        ("7310501", "date_outside_era"),
        ("4580412", "era_code"),
        ("5580231", "date_invalid"),
        ("558041", "length_6_of_7"),
    ],
)
def test_impossible_era_dates_are_flagged(cells: str, reason: str) -> None:
    result = normalise(FORM.field("birth_date"), cells)
    assert result.value == ""
    assert result.reasons == (reason,)


def test_era_round_trip() -> None:
    for day in (dt.date(1950, 3, 3), dt.date(1989, 1, 8), dt.date(2019, 5, 1)):
        code, year = date_to_era(day)
        assert era_to_date(code, year, day.month, day.day) == day


def test_katakana_normalisation() -> None:
    assert to_katakana("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダタロウ"
    assert to_katakana("やまだ　はなこ") == "ヤマダハナコ"
    assert normalise(FORM.field("name_kana"), "ヤマダ太郎").reasons == ("not_katakana",)


def test_fixed_length_digit_fields() -> None:
    assert normalise(FORM.field("postal_code"), "１７０-００１３").value == "1700013"
    assert normalise(FORM.field("basic_pension_number"), "1234-56789").reasons == (
        "length_9_of_10",
    )


def test_phone_keeps_digits_and_checks_shape() -> None:
    assert normalise(FORM.field("phone"), "03-1234-5678").value == "0312345678"
    assert normalise(FORM.field("phone"), "12345").reasons == ("phone_format",)
    assert normalise(FORM.field("phone"), "090-4682-251").reasons == ("phone_format",)
    assert normalise(FORM.field("phone"), "090-4648-2251").reasons == ()


def test_an_empty_required_field_is_a_review_reason() -> None:
    assert normalise(FORM.field("name"), "  ").reasons == ("empty",)


def _field(value: str, reasons: tuple[str, ...] = (), confidence: float = 1.0) -> FieldResult:
    """A field as `decide` leaves it: in review when it has reasons."""
    status: FieldStatus = "review" if reasons else "accepted"
    return FieldResult(
        value=value, raw=value, confidence=confidence, status=status, reasons=list(reasons)
    )


def test_a_look_alike_takes_the_script_of_the_writing_round_it_even_undoubted() -> None:
    # the recogniser was sure, and wrong: the neighbours on both sides decide
    assert lexicon.settle_by_script("コ一ポ山田", ()) == ("コーポ山田", ())
    assert lexicon.settle_by_script("山ロ花子", ()) == ("山口花子", ())
    # hiragana is written beside kanji
    assert lexicon.settle_by_script("山ロさくら", ()) == ("山口さくら", ())
    assert lexicon.settle_by_script("さくらハイツ", ()) == ("さくらハイツ", ())
    # a katakana word ending before a kanji one: a kanji read there goes to a person
    text, open_doubts = lexicon.settle_by_script("43-11クレス卜桜台807号", ())
    assert text == "43-11クレス卜桜台807号"
    assert lexicon.doubts(open_doubts) == ["卜/ト"]
    # ... and a katakana read there stands where the recogniser hardly doubted it (it used
    # to take the script of the kanji after it: クレス卜, accepted)
    assert lexicon.settle_by_script("43-11クレスト桜台", (("ト", "卜", 0.18),)) == (
        "43-11クレスト桜台",
        (("ト", "卜", 0.18),),
    )
    assert lexicon.doubts((("ト", "卜", 0.18),)) == []


def test_a_dash_after_katakana_is_the_long_vowel_and_between_numbers_the_hyphen() -> None:
    assert lexicon.settle_by_script("野尻26-21コ-ポ山田508号", (("-", "－", 0.5),)) == (
        "野尻26-21コーポ山田508号",
        (("-", "－", 0.5),),
    )
    assert lexicon.doubts((("-", "－", 0.5),)) == []  # one character in the value either way
    assert lexicon.settle_by_script("栄和町24ー21", ())[0] == "栄和町24-21"
    assert lexicon.settle_by_script("栄和町24一21", ())[0] == "栄和町24-21"
    assert lexicon.settle_by_script("ハイツ-101", ())[0] == "ハイツ-101"
    assert lexicon.settle_by_script("タワー1203", ())[0] == "タワー1203"


def test_a_name_in_doubt_cannot_vouch_for_its_kana() -> None:
    form = get_form("kokunen_menjo_shinsei")
    # 翔太 misread 翔大, its kana ショウタ read right with ダ nearly: ショウダ fits 翔大,
    # but the name doubts its 大, and ショウタ fits 翔太: kana and name go to a person as read
    # (the name used to vouch for ショウダ, accepted)
    decided = {
        "name_kana": _field("ヘンミショウタ", ("doubt:タ/ダ",)),
        "name": _field("邊見翔大", ("variant_kanji:邊", "doubt:大/太")),
    }
    readings.settle_kana(form, {"name_kana": (("タ", "ダ", 0.3),)}, decided)
    assert decided["name_kana"].value == "ヘンミショウタ"
    assert decided["name_kana"].status == "review"
    assert decided["name"].status == "review"
    # where only one reading of the name fits its kana, the kana settles the name's doubt
    decided = {"name_kana": _field("タナカハナコ"), "name": _field("由中花子", ("doubt:由/田",))}
    readings.settle_kana(form, {}, decided)
    assert (decided["name"].value, decided["name"].status) == ("田中花子", "accepted")
    decided = {"name_kana": _field("タナカハナコ"), "name": _field("田中花子", ("doubt:田/由",))}
    readings.settle_kana(form, {}, decided)
    assert (decided["name"].value, decided["name"].status) == ("田中花子", "accepted")


def test_a_kana_misread_small_where_spelling_allows_none_is_the_large_one() -> None:

    kana = FORM.field("name_kana")
    doubted = RawField("ハラダュウコ", 0.97, "ppocr", runners_up=(("ュ", "ユ", 0.1),))
    assert (decide(kana, doubted).value, decide(kana, doubted).status) == (
        "ハラダユウコ",
        "accepted",
    )
    # read small without a doubt: a person looks
    sure = RawField("ハラダュウコ", 0.97, "ppocr")
    assert decide(kana, sure).reasons == ["small_kana"]


def test_an_address_unsure_only_in_the_town_its_postal_code_names_is_accepted() -> None:

    address = "東京都豊島区東池袋 1-2"
    town = len("東京都豊島区東池袋")
    unsure_town = tuple(0.1 if i == 3 else 0.9 for i in range(len(address)))
    unsure_number = tuple(0.1 if i == town + 2 else 0.9 for i in range(len(address)))
    for confidences, status in ((unsure_town, "accepted"), (unsure_number, "review")):
        decided = {
            "postal_code": _field("1700013"),
            "address": _field("東京都豊島区東池袋1-2", ("low_confidence",), confidence=0.1),
        }
        raw = {"address": RawField(address, 0.1, "ppocr", char_confidences=confidences)}
        vouch_for_towns(FORM, raw, decided)
        assert decided["address"].status == status
    # a postal code a person must still look at vouches for nothing
    decided = {
        "postal_code": _field("1700013", ("postal_unknown",)),
        "address": _field("東京都豊島区東池袋1-2", ("low_confidence",), confidence=0.1),
    }
    vouch_for_towns(FORM, {"address": RawField(address, 0.1, "ppocr", (), (), None, unsure_town)},
                    decided)
    assert decided["address"].status == "review"
