"""The small normalisers every floor shares: Japanese eras, katakana, canonical JSON and
dated numbers (受付番号, disposal numbers). Pure functions; they import nothing of Kura."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Era:
    code: int
    """The digit forms print for the era (1明治 3大正 5昭和 7平成 9令和)."""
    name: str
    letter: str
    start: dt.date
    end: dt.date


ERAS = (
    Era(1, "明治", "M", dt.date(1868, 10, 23), dt.date(1912, 7, 29)),
    Era(3, "大正", "T", dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    Era(5, "昭和", "S", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era(7, "平成", "H", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era(9, "令和", "R", dt.date(2019, 5, 1), dt.date(9999, 12, 31)),
)
ERA_BY_CODE = {era.code: era for era in ERAS}
ERA_BY_MARK = {
    mark: era for era in ERAS for mark in (str(era.code), era.letter, era.name)
}
"""An era by how people write it: its code digit, its letter (S40) or its name (昭和40年)."""


def era_to_date(code: int, year: int, month: int, day: int) -> dt.date:
    """A 和暦 date as written (era code, year of era, month, day); ValueError if impossible."""
    era = ERA_BY_CODE.get(code)
    if era is None:
        raise ValueError("era_code")
    try:
        date = dt.date(era.start.year + year - 1, month, day)
    except ValueError:
        raise ValueError("date_invalid") from None
    if year < 1 or not (era.start <= date <= era.end):
        raise ValueError("date_outside_era")
    return date


def date_to_era(date: dt.date) -> tuple[int, int]:
    """(era code, year of era) for a Gregorian date."""
    era = next(e for e in ERAS if e.start <= date <= e.end)
    return era.code, date.year - era.start.year + 1


def to_katakana(text: str) -> str:
    """Full-width katakana without spaces: half-width and hiragana are converted."""
    text = unicodedata.normalize("NFKC", text)
    converted = "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in text)
    return re.sub(r"[\s・]", "", converted).replace("-", "ー").replace("－", "ー")


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no spaces, UTF-8 as is (hashes and signatures
    are taken over these bytes)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dated_prefix(letter: str, day: dt.date) -> str:
    """The shared start of the numbers issued on `day`: R20261129- , D20261129- ."""
    return f"{letter}{day:%Y%m%d}-"


def dated_number(letter: str, day: dt.date, issued: int, width: int) -> str:
    """The next number of the day after `issued` earlier ones: R20261129-000001."""
    return f"{dated_prefix(letter, day)}{issued + 1:0{width}d}"


def my_number_check_digit(first11: str) -> int:
    """The 個人番号 check digit (DOMAIN.md §4.1): weights 2..7 then 2..6 from the right."""
    total = 0
    for n, digit in enumerate(reversed(first11), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(digit) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder
