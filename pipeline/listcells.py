"""Canonical values of the cells and header values of a printed list (処理結果一覧表).

A system prints these, so a date comes in one of a few shapes: 和暦 text (令和7年6月1日),
a short form with the era's letter (R07.06.01), the bare year of the era where the column
knows its era (7.6.1), era-code digits (9070601) or Gregorian (2025/06/01). Every value
that cannot be read for sure carries a reason, as a form field does.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from pipeline.fields import KATAKANA, Normalised, canonical_text
from schemas.forms import ColumnDef
from schemas.normalise import ERAS, era_to_date, to_katakana

ERA_CODE_BY_NAME = {era.name: era.code for era in ERAS}
ERA_CODE_BY_LETTER = {era.letter: era.code for era in ERAS}
_ERA_NAMES = "|".join(ERA_CODE_BY_NAME)

_WAREKI = re.compile(rf"^({_ERA_NAMES})(元|\d{{1,2}})年(\d{{1,2}})月(?:(\d{{1,2}})日)?$")
_LETTER = re.compile(r"^([MTSHR])(\d{1,2})[./](\d{1,2})(?:[./](\d{1,2}))?$")
_BARE = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{1,2}))?$")
_GREGORIAN = re.compile(r"^(\d{4})[./年-](\d{1,2})[./月-](?:(\d{1,2})日?)?$")
_CODE = re.compile(r"^([13579])(\d{2})(\d{2})(\d{2})$")
_PERIOD_SEPARATOR = re.compile(r"[～〜~]|から")


def _fold(text: str) -> str:
    """NFKC (full-width digits and letters made ASCII) without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def parse_date(text: str, default_era: str | None = None, *, month_only: bool = False
               ) -> Normalised:
    """ISO `YYYY-MM-DD` (or `YYYY-MM` for `month_only`) of a printed date."""
    folded = _fold(text).upper()
    parts: tuple[int, int, int, int | None] | None = None
    if match := _WAREKI.match(folded):
        year = 1 if match[2] == "元" else int(match[2])
        parts = (ERA_CODE_BY_NAME[match[1]], year, int(match[3]), _int(match[4]))
    elif match := _LETTER.match(folded):
        parts = (ERA_CODE_BY_LETTER[match[1]], int(match[2]), int(match[3]), _int(match[4]))
    elif match := _GREGORIAN.match(folded):
        return _gregorian(int(match[1]), int(match[2]), _int(match[3]), month_only)
    elif (match := _CODE.match(folded)) and not month_only:
        parts = (int(match[1]), int(match[2]), int(match[3]), int(match[4]))
    elif match := _BARE.match(folded):
        if default_era is None:
            return Normalised("", ("era_missing",))
        parts = (ERA_CODE_BY_NAME[default_era], int(match[1]), int(match[2]), _int(match[3]))
    if parts is None:
        return Normalised("", ("date_format",))
    code, year, month, day = parts
    if (day is None) != month_only:
        return Normalised("", ("date_format",))
    try:
        date = era_to_date(code, year, month, day or 1)
    except ValueError as error:
        return Normalised("", (str(error),))
    return Normalised(date.isoformat()[:7] if month_only else date.isoformat())


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _gregorian(year: int, month: int, day: int | None, month_only: bool) -> Normalised:
    if (day is None) != month_only:
        return Normalised("", ("date_format",))
    try:
        date = dt.date(year, month, day or 1)
    except ValueError:
        return Normalised("", ("date_invalid",))
    return Normalised(date.isoformat()[:7] if month_only else date.isoformat())


def parse_period(text: str, default_era: str | None = None) -> Normalised:
    """`START/END` of a printed span `A～B`, of months or of days (ISO each)."""
    sides = _PERIOD_SEPARATOR.split(_fold(text))
    if len(sides) != 2:
        return Normalised("", ("period_format",))
    day_wise = [parse_date(side, default_era) for side in sides]
    month_wise = [parse_date(side, default_era, month_only=True) for side in sides]
    for start, end in (day_wise, month_wise):
        if start.value and end.value:
            if end.value < start.value:
                return Normalised("", ("period_reversed",))
            return Normalised(f"{start.value}/{end.value}")
    return Normalised("", month_wise[0].reasons or month_wise[1].reasons or ("period_format",))


def municipality_code_reasons(code: str) -> list[str]:
    """全国地方公共団体コード: 5 digits and a check digit (DOMAIN.md §4.1)."""
    if not re.fullmatch(r"\d{6}", code):
        return ["municipality_code_format"]
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    return [] if (11 - total % 11) % 10 == int(code[5]) else ["check_digit"]


def normalise_cell(column: ColumnDef, text: str) -> Normalised:
    """Canonical value of one cell, with the reasons it cannot be trusted."""
    stripped = text.strip()
    if not stripped:
        return Normalised("", ("empty",) if column.required else ())
    if column.type in ("digits", "bpn"):
        digits = re.sub(r"[\s\-‐－ー]", "", unicodedata.normalize("NFKC", stripped))
        if not digits.isdigit():
            return Normalised(digits, ("not_digits",))
        if column.type == "bpn" and len(digits) != 10:
            return Normalised(digits, (f"length_{len(digits)}_of_10",))
        return Normalised(digits)
    if column.type == "kana":
        value = to_katakana(stripped)
        return Normalised(value, () if all(ch in KATAKANA for ch in value) else ("not_katakana",))
    if column.type == "date":
        return parse_date(stripped, column.default_era)
    if column.type == "period":
        return parse_period(stripped, column.default_era)
    value = canonical_text(stripped)
    if column.vocabulary and value not in column.vocabulary:
        return Normalised(value, ("not_in_vocabulary",))
    return Normalised(value)
