"""Form definitions as data: one YAML file per form in schemas/forms/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

FORMS_DIR = Path(__file__).parent / "forms"

FieldType = Literal[
    "digits", "my_number", "bpn", "kana", "text", "date", "postal", "phone",
    "choice", "checkbox", "amount",
]
"""The documented set of field types; each has one canonical value form (see README)."""

Box = tuple[int, int, int, int]


class ChoiceOption(BaseModel):
    value: str
    label: str
    box: Box


class FieldDef(BaseModel):
    name: str
    label: str
    type: FieldType
    page: int = 1
    box: Box
    cells: int | None = None
    options: list[ChoiceOption] | None = None
    charset: str | None = Field(
        default=None, description="Character class hint for text fields: name, address."
    )
    required: bool = True
    used_when: dict[str, list[str]] | None = None
    """Filled only when the named choice holds one of these values (a section of the form
    that one kind of notification uses): needed then, and out of place otherwise."""


ColumnType = Literal["digits", "bpn", "kana", "date", "period", "text"]
"""Cell types of a printed list: `date` is any printed 和暦 or Gregorian date, `period` a
span of months or days printed `A～B` (canonical `START/END`, ISO)."""


class ColumnDef(BaseModel):
    """One column of a printed list, found on the page by its header text, never by place."""

    name: str
    header: str
    """The header as printed."""
    type: ColumnType
    aliases: list[str] = []
    """Other headers the same column is printed under (届出区分 for 届書区分)."""
    required: bool = True
    """Every row has a value here; an empty cell goes to review."""
    marks_row: bool = False
    """A printed line with this cell filled starts a new row; the lines between are the
    wrapped rest of the row above."""
    vocabulary: list[str] = []
    """The values this column prints (a code table's labels); another reading goes to
    review, and the reader only chooses among these values' characters."""
    default_era: str | None = None
    """The era a date printed without one (7.6.1) is read in; without it, such a date goes
    to review."""


HeaderType = Literal["municipality_code", "text", "date", "period", "page"]


class HeaderFieldDef(BaseModel):
    """A value printed above the table on every page, found by its label."""

    name: str
    label: str
    type: HeaderType
    aliases: list[str] = []


class FormDef(BaseModel):
    id: str
    title: str
    short_title: str = ""
    """The name a clerk knows the form by, short enough for a table column (受付 lists,
    batch reports); every form YAML gives one (tests/test_forms.py)."""
    kind: Literal["form", "table"] = "form"
    document_class: str
    form_code: str
    forward_only: bool = False
    pages: int = 1
    dpi: int = 300
    size_px: tuple[int, int]
    fields: list[FieldDef] = []
    columns: list[ColumnDef] | None = None
    header: list[HeaderFieldDef] | None = None

    def field(self, name: str) -> FieldDef:
        return next(f for f in self.fields if f.name == name)

    @model_validator(mode="after")
    def _sections_name_real_choices(self) -> FormDef:
        choices = {f.name: {o.value for o in f.options or []} for f in self.fields}
        for field in self.fields:
            for choice, values in (field.used_when or {}).items():
                unknown = set(values) - choices.get(choice, set())
                if choice not in choices or unknown:
                    raise ValueError(
                        f"{self.id}.{field.name}: used_when names {choice}={sorted(values)}, "
                        "which is not a choice field of this form with those options"
                    )
        if self.kind == "table" and not self.columns:
            raise ValueError(f"{self.id}: a table has columns")
        if self.kind == "table" and sum(c.marks_row for c in self.columns or []) != 1:
            raise ValueError(f"{self.id}: exactly one column marks where a row starts")
        return self

    def column(self, name: str) -> ColumnDef:
        return next(c for c in self.columns or [] if c.name == name)

    def contract(self) -> dict[str, object]:
        """The stable `kura forms list --json` shape."""
        return {
            "id": self.id,
            "title": self.title,
            "short_title": self.short_title,
            "kind": self.kind,
            "pages": self.pages,
            "dpi": self.dpi,
            "size_px": list(self.size_px),
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "type": f.type,
                    "page": f.page,
                    "box": list(f.box),
                    "cells": f.cells,
                    "options": (
                        [{"value": o.value, "label": o.label, "box": list(o.box)}
                         for o in f.options]
                        if f.options is not None
                        else None
                    ),
                }
                for f in self.fields
            ],
            "columns": (
                [{"name": c.name, "header": c.header, "type": c.type} for c in self.columns]
                if self.columns is not None
                else None
            ),
            "header": (
                [{"name": h.name, "label": h.label, "type": h.type} for h in self.header]
                if self.header is not None
                else None
            ),
        }


@lru_cache
def load_forms() -> dict[str, FormDef]:
    forms = {}
    for path in sorted(FORMS_DIR.glob("*.yaml")):
        form = FormDef.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        forms[form.id] = form
    return forms


def get_form(form_id: str) -> FormDef:
    forms = load_forms()
    if form_id not in forms:
        raise KeyError(f"unknown form {form_id!r}; known: {', '.join(sorted(forms))}")
    return forms[form_id]


def form_name(form_id: str | None) -> str:
    """A form by the short name printed on the paper (its short_title), else its id."""
    form = load_forms().get(form_id or "")
    return (form.short_title or form.title) if form is not None else (form_id or "?")
