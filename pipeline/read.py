"""Read the fields of a registered page: separate the handwriting from the printed form
(`pipeline.handwriting`), then read cells (`pipeline.digitcells`), lines
(`pipeline.textlines`) and marked choices (`pipeline.choices`) with the engine routed to each
field type (`pipeline.routes`), settle number fields among their readers
(`pipeline.digitsettle`) and a name's variant kanji with their own networks
(`pipeline.variants`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.choices import read_checkbox, read_choice
from pipeline.digitcells import read_cells
from pipeline.digitsettle import (
    DIGIT_CELLS,
    address_digits_doubt,
    read_phone,
    settle_digits,
    weigh_second_opinion,
)
from pipeline.fields import DIGITS
from pipeline.handwriting import handwriting, marks
from pipeline.ocr import get_engine
from pipeline.rawfield import RawField
from pipeline.routes import ROUTES, alphabet_for
from pipeline.textlines import read_line_field
from pipeline.variants import settle_variants
from schemas.forms import FieldDef, FormDef


def read_field(
    gray: np.ndarray,
    marked: np.ndarray,
    field: FieldDef,
    form_id: str,
    engine_name: str | None = None,
) -> RawField:
    if field.type == "choice":
        return read_choice(marked, field, form_id)
    if field.type == "checkbox":
        return read_checkbox(marked, field, form_id)
    alphabet = alphabet_for(field)
    reader = read_cells if field.cells else read_line_field
    raw = reader(gray, field, get_engine(engine_name or ROUTES[field.type]), alphabet)
    if engine_name is not None or not raw.text:
        return raw
    if field.cells and field.type in DIGIT_CELLS:
        return settle_digits(gray, field, raw)
    if field.type == "phone":
        return read_phone(gray, field, raw)
    if field.charset == "name":
        raw = settle_variants(raw)
    if field.charset == "address" and any(ch in DIGITS for ch in raw.text):
        doubt = address_digits_doubt(gray, field, raw.engine, raw.lines_read)
        if doubt and doubt not in raw.notes:
            raw = replace(raw, notes=(*raw.notes, doubt))
    return weigh_second_opinion(gray, field, raw)


def read_page_fields(
    registered_rgb: np.ndarray, form: FormDef, page: int, engine_name: str | None = None
) -> dict[str, RawField]:
    gray, under_seals = handwriting(registered_rgb, form.id, page)
    marked = marks(registered_rgb, form, page)
    return {
        field.name: _noted(
            read_field(gray, marked, field, form.id, engine_name),
            "seal_over_writing" if field.name in under_seals else None,
        )
        for field in form.fields
        if field.page == page
    }


def _noted(raw: RawField, note: str | None) -> RawField:
    return replace(raw, notes=(*raw.notes, note)) if note else raw
