"""The numbers recognition decides by — engine routes, accept thresholds, confusable pairs,
variant families — as data (`schemas/calibration.yaml`), each section with the corpus and
date that justified it. An office recalibrated on its own verified scans (`kura bench
calibrate`) points `KURA_CALIBRATION` at its file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

DEFAULT = Path(__file__).with_name("calibration.yaml")


class DigitSettle(BaseModel):
    """How a field of digit cells is settled from its readers (`pipeline.digitvote`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_trusted: float
    """Beside readers that only vote (a number written freehand), a cell stands without
    weighing when every reader agrees and the model is this sure."""
    model_over_second: float
    """Beside votes, a cell the second recogniser read as another digit stands on the model
    and the first recogniser only where the model is at least this sure."""
    seen_sure: float
    """Beside readers whose probabilities under each cell are weighed (printed cells), the
    least product of the model's and their probabilities for a cell's digit for it to stand."""
    cell_trusted: float
    """The least posterior for a cell's digit to stand without the field's check."""
    near_miss_sure: float
    """Printed cells: a cell whose readers' first choices differ still stands where one of
    them gives a digit at least this and each other gives it at least `near_miss_floor`
    (its runner-up: a near miss), the posterior at least `cell_trusted`."""
    near_miss_floor: float
    check_share: float
    """Where two or more combinations of the open cells pass the field's check (a real date,
    a postal code that exists, a check digit), the likeliest settles the field when it holds
    at least this share of their weight."""
    model_floor: float
    """Every digit keeps at least this probability: the model is sometimes sure and wrong."""
    engine_cell_accuracy: dict[str, float]
    """How often each recogniser's digit in a cell is right: the weight of its vote (the
    second counts less: the two PP-OCR models tend to misread the same writing alike)."""
    candidate_floor: float
    """An open cell's candidates: what the recognisers read and every digit the model gives
    at least this probability."""
    freehand_veto: float
    """A number written freehand that both recognisers read alike still goes to a person
    where the model, reading its digits cut apart at the recogniser's characters, gives one
    of them less than this probability (0.5: the model does not take it for that digit)."""
    dropped_pitch: float
    """The most writing one character of an address may have between its middle and the
    next's, over the line's median: more, and a character between them was not read."""
    smallest_digit: float
    """A digit read in an address on ink less than this share of the line's height tall
    sits on no digit: one was dropped there."""
    touching_window: float
    """Two digits of a freehand number that touch are cut apart at the column of least ink
    within this share of their joint width either side of its middle."""
    touching_width: float
    """Only a piece at least this many times as wide as the median digit of the number may be
    two digits that touch."""
    narrowest_digit: float
    """A piece cut off touching digits narrower than this share of the writing's height is
    no digit: the cut is refused and the number read as a line."""


class VariantClassifier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    families: list[str]
    """Variant families with a network of their own (`pipeline.variants`), forms in the
    order of its outputs."""
    sure: float
    """The least probability of one form for it to stand without a person."""
    nearly_written: float
    """A frame of a name's line whose blank wins with less than this was nearly a character
    (`pipeline.textlines.nearly_written`): a look-alike of a family dropped there goes to a
    person."""


class UnreadWriting(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name_edge: float
    """Writing of a name this many line heights before the middle of the first character
    read, or after the middle of the last, holds a character the recogniser dropped."""
    address_pitch: float
    """Writing this many line heights wide between the middles of two characters of an
    address read next to each other holds a character the recogniser dropped."""


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provenance: dict[str, str]
    routes: dict[str, str]
    second_opinion: dict[str, str]
    accept_confidence: dict[str, float]
    digit_model_sure: float
    digit_settle: DigitSettle
    max_content_residual_px: float
    confusable_sets: list[str]
    confusable_doubt: float
    other_doubt: float
    variant_families: list[str]
    variants_told_apart: list[str]
    variant_classifier: VariantClassifier
    unread_writing: UnreadWriting


def calibration_path() -> Path:
    return Path(os.environ.get("KURA_CALIBRATION") or DEFAULT)


@lru_cache(maxsize=4)
def _load(path: Path) -> Calibration:
    return Calibration.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def calibration() -> Calibration:
    """The calibration in force (read once per file)."""
    return _load(calibration_path())
