"""Normalise what was read into canonical values and validate them, per field type.

Every problem becomes a machine-readable reason; a field with any reason goes to review.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from pipeline import lexicon
from schemas.forms import FieldDef
from schemas.normalise import era_to_date, my_number_check_digit, to_katakana

DIGITS = "0123456789"
KATAKANA = "".join(chr(c) for c in range(ord("ァ"), ord("ヺ") + 1)) + "ー"


_HALF_WIDTH_KANA = re.compile("[\uff61-\uff9f]+")


def canonical_text(text: str) -> str:
    """Names and addresses as written, without spaces, full-width ASCII made ASCII and
    half-width kana made full-width. Ideographs are left alone: NFKC would turn a variant
    such as 﨑 into 崎, and a person's name must keep the character they wrote."""
    ascii_folded = "".join(
        chr(ord(ch) - 0xFEE0) if "\uff01" <= ch <= "\uff5e" else ch for ch in text
    )
    widened = _HALF_WIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), ascii_folded)
    return re.sub(r"\s+", "", widened)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class Normalised:
    value: str
    reasons: tuple[str, ...] = ()


ELEVEN_DIGITS = ("020", "050", "070", "080", "090")


def normalise(field: FieldDef, raw: str) -> Normalised:
    """Canonical value for one field type, with the reasons it cannot be trusted."""
    text = raw.strip()
    if not text:
        return Normalised("", ("empty",) if field.required else ())
    kind = field.type
    if kind == "my_number":
        return _fixed_digits(text, 12, _my_number_reasons)
    if kind == "bpn":
        return _fixed_digits(text, 10)
    if kind == "postal":
        return _fixed_digits(text, 7, _postal_reasons)
    if kind in ("digits", "amount"):
        value = _digits(text)
        return Normalised(value, () if value and len(value) == len(text) else ("not_digits",))
    if kind == "phone":
        value = _digits(text)
        # 0A0 numbers (mobile 070/080/090, IP 050, M2M 020) have 11 digits, the rest 10
        ok = value.startswith("0") and len(value) == (11 if value[:3] in ELEVEN_DIGITS else 10)
        return Normalised(value, () if ok else ("phone_format",))
    if kind == "date":
        return _date(text)
    if kind == "kana":
        value = to_katakana(text)
        if not all(ch in KATAKANA for ch in value):
            return Normalised(value, ("not_katakana",))
        return Normalised(value, ("small_kana",) if lexicon.misplaced_small_kana(value) else ())
    if kind == "choice":
        options = {option.value for option in field.options or []}
        return Normalised(text if text in options else "")
    if kind == "text":
        return _text(field, canonical_text(lexicon.to_japanese_forms(text)))
    return Normalised(text)


def _fixed_digits(
    text: str, length: int, extra: Callable[[str], list[str]] | None = None
) -> Normalised:
    value = _digits(text)
    if len(value) != length:
        return Normalised(value, (f"length_{len(value)}_of_{length}",))
    reasons = tuple(extra(value)) if extra else ()
    return Normalised(value, reasons)


def _my_number_reasons(value: str) -> list[str]:
    return [] if my_number_check_digit(value[:11]) == int(value[11]) else ["check_digit"]


def _text(field: FieldDef, value: str) -> Normalised:
    reasons = []
    if field.charset == "name":
        reasons += [f"variant_kanji:{ch}" for ch in lexicon.variant_characters(value)]
    if field.charset == "address" and lexicon.odd_address_numbering(value):
        reasons.append("address_numbering")
    if lexicon.repeated_kanji(value):
        reasons.append("repeated_kanji")
    if lexicon.misplaced_small_kana_in(value):
        reasons.append("small_kana")
    return Normalised(value, tuple(reasons))


def _postal_reasons(value: str) -> list[str]:
    return [] if lexicon.towns_for(value) else ["postal_unknown"]


def _date(text: str) -> Normalised:
    digits = _digits(text)
    if len(digits) != 7:
        return Normalised("", (f"length_{len(digits)}_of_7",))
    code, year, month, day = int(digits[0]), int(digits[1:3]), int(digits[3:5]), int(digits[5:7])
    try:
        return Normalised(era_to_date(code, year, month, day).isoformat())
    except ValueError as error:
        return Normalised("", (str(error),))
