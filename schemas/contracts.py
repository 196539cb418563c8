"""Typed contracts passed between stages and printed by the CLI (`kura extract --json`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

FieldStatus = Literal["accepted", "review"]


class FieldResult(BaseModel):
    value: str
    """Canonical value (see README: digits, ISO dates, full-width katakana, option value…)."""
    raw: str
    """What the engine read, before normalisation."""
    confidence: float
    status: FieldStatus
    reasons: list[str] = []
    """Machine-readable review reasons, e.g. `low_confidence`, `check_digit`, `no_choice`."""
    engine: str = ""
    box: tuple[int, int, int, int] | None = None
    """Where the field is, in template pixels of its page."""


class PageResult(BaseModel):
    number: int
    """Page number within the scanned file, 1-based."""
    kind: Literal["form", "table", "blank", "separator", "unknown"]
    """`table`: a page of a printed list (`form` names its definition, `rows` its rows)."""
    form: str | None = None
    form_page: int | None = None
    rotation: int = 0
    """Degrees the page was turned to read it (0, 90, 180, 270)."""
    residual_px: float | None = None
    """Registration error after alignment, template pixels (RMS over the marks)."""
    reasons: list[str] = []
    fields: dict[str, FieldResult] = {}
    """A form's fields; on a list page, its header block (市区町村コード, 作成年月日 …)."""
    rows: list[dict[str, FieldResult]] = []
    """A list page's rows in printed order: column name → cell."""
    list_page: int | None = None
    """A list page's printed page number (n of n/m), None when not printed or not read."""
    list_pages: int | None = None
    """The page count the list page prints (m of n/m)."""
    printed_total: int | None = None
    """The row count of a totals line (合計 N件) on this page."""
    timings: dict[str, float] = {}
    """Seconds per stage (cleanup, register, classify, read, validate)."""


class DocumentResult(BaseModel):
    source: str
    pages: list[int]
    form: str | None
    fields: dict[str, FieldResult]
    rows: list[dict[str, FieldResult]] | None = None
    """A printed list's rows, in printed order over all its pages (None for a form); each
    cell's `box` is where it is printed on its page."""
    row_pages: list[int] | None = None
    """The file page each row of `rows` is printed on."""
    reasons: list[str] = []

    @property
    def needs_review(self) -> bool:
        return (
            self.form is None
            or any(reason.startswith(("unknown_page", "list_")) for reason in self.reasons)
            or any(f.status == "review" for f in self.fields.values())
            or any(c.status == "review" for row in self.rows or [] for c in row.values())
        )
