"""Checks across the fields of one document: what no single field can tell.

The postal code must belong to the town the address names; a birth date comes before the
day of filing and makes a plausible age; 資格取得 (enrolment) happens from age 20; a section
that the chosen kind of notification uses is filled, and one it does not use is empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pipeline import lexicon
from pipeline.rawfield import RawField
from schemas.calibration import calibration
from schemas.contracts import FieldResult
from schemas.forms import FormDef

MAX_AGE = 120
ENROLMENT_AGES = (20, 75)
ACCEPT_TEXT = calibration().accept_confidence["text"]


def _flag(field: FieldResult, reason: str) -> None:
    field.reasons.append(reason)
    field.status = "review"


def _date(field: FieldResult | None) -> dt.date | None:
    if field is None or not field.value:
        return None
    return dt.date.fromisoformat(field.value)


def cross_check(form: FormDef, fields: dict[str, FieldResult]) -> None:
    """Adds review reasons (and postal-data corrections of the town name) in place."""
    for field in form.fields:
        if field.type == "postal" and field.name.endswith("postal_code"):
            address = fields.get(field.name.removesuffix("postal_code") + "address")
            postal = fields.get(field.name)
            if address is not None and postal is not None:
                _check_postal_address(postal, address)
    _check_sections(form, fields)
    birth, filed = _date(fields.get("birth_date")), _date(fields.get("filed_date"))
    if birth and filed:
        age = filed.year - birth.year - ((filed.month, filed.day) < (birth.month, birth.day))
        if not 0 <= age <= MAX_AGE:
            _flag(fields["birth_date"], "birth_after_filing" if age < 0 else "age_implausible")
        kind = fields.get("notification_type")
        if (
            kind is not None
            and kind.value == "acquisition"
            and not (ENROLMENT_AGES[0] <= age <= ENROLMENT_AGES[1])
        ):
            _flag(fields["birth_date"], "age_at_enrolment")


def _check_sections(form: FormDef, fields: dict[str, FieldResult]) -> None:
    """`needed_by:<choice>` on an empty field that the chosen option uses, `not_used_by:<choice>`
    on a filled one that it does not use; nothing while the choice itself is unsettled."""
    for field in form.fields:
        result = fields.get(field.name)
        for choice_name, values in (field.used_when or {}).items():
            choice = fields.get(choice_name)
            if result is None or choice is None or not choice.value or choice.status == "review":
                continue
            if choice.value in values and not result.value:
                _flag(result, f"needed_by:{choice_name}")
            elif choice.value not in values and result.value:
                _flag(result, f"not_used_by:{choice_name}")


def vouch_for_towns(
    form: FormDef, raw: Mapping[str, RawField], decided: dict[str, FieldResult]
) -> None:
    """Accept, in place, an address whose only doubt is a low confidence where every
    character the recogniser was unsure of lies in the town its postal code names: that
    part is written from the postal data (`lexicon.check_address`), not from the reading.
    The rest of the address (番地, building, room) must be as sure as any text."""
    for field in form.fields:
        if field.type != "postal" or not field.name.endswith("postal_code"):
            continue
        name = field.name.removesuffix("postal_code") + "address"
        postal, address, read = decided.get(field.name), decided.get(name), raw.get(name)
        if postal is None or address is None or read is None:
            continue
        if postal.status != "accepted" or address.reasons != ["low_confidence"]:
            continue
        if len(read.char_confidences) != len(read.text):
            continue
        checked = lexicon.check_address(postal.value, address.value)
        pairs = zip(read.text, read.char_confidences, strict=True)
        written = [c for ch, c in pairs if not ch.isspace()]
        if checked.reasons or not checked.town or len(written) != len(address.value):
            continue
        after_town = len(checked.address) - len(checked.town)
        rest = written[len(written) - after_town :] if after_town > 0 else []
        if min(rest, default=1.0) >= ACCEPT_TEXT:
            address.reasons, address.status = [], "accepted"


def _check_postal_address(postal: FieldResult, address: FieldResult) -> None:
    if not postal.value or not address.value or postal.status == "review":
        return
    checked = lexicon.check_address(postal.value, address.value)
    if "postal_address_mismatch" in checked.reasons:
        _flag(address, "postal_address_mismatch")
        _flag(postal, "postal_address_mismatch")
        return
    address.value = checked.address  # the raw reading stays beside it for the verifier
    for reason in checked.reasons:
        _flag(address, reason)
