"""Normalisation and validation of field values, per type."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.fields import my_number_check_digit, normalise
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
