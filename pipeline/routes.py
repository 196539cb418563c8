"""Which engine reads each field type, and which characters it may choose among."""

from __future__ import annotations

from pipeline import lexicon
from pipeline.fields import DIGITS, KATAKANA
from schemas.calibration import calibration
from schemas.forms import FieldDef

ROUTES: dict[str, str] = calibration().routes
"""Engine per field type, chosen on `kura bench` (schemas/calibration.yaml)."""

SECOND_OPINION: dict[str, str] = calibration().second_opinion
"""A second recogniser for number fields written freehand (phone numbers), whose silent
errors cost most and which no lexicon can check: where the two read different digits, a
person decides (schemas/calibration.yaml says on which corpus it earned its place). Digit
cells have the single-cell digit model (`pipeline.digits`) instead (`pipeline.digitsettle`)."""

ALPHABETS: dict[str, str] = {
    "digits": DIGITS,
    "my_number": DIGITS,
    "bpn": DIGITS,
    "postal": DIGITS,
    "date": DIGITS,
    "amount": DIGITS,
    "phone": DIGITS + "-",
    "kana": KATAKANA + " ",
}


def alphabet_for(field: FieldDef) -> str:
    """The characters a field may hold: the engine chooses among these alone."""
    if field.type != "text":
        return ALPHABETS[field.type]
    if field.charset == "address":
        return lexicon.address_alphabet()
    return lexicon.name_alphabet()
