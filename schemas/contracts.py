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
    kind: Literal["form", "blank", "separator", "unknown"]
    form: str | None = None
    form_page: int | None = None
    rotation: int = 0
    """Degrees the page was turned to read it (0, 90, 180, 270)."""
    residual_px: float | None = None
    """Registration error after alignment, template pixels (RMS over the marks)."""
    reasons: list[str] = []
    fields: dict[str, FieldResult] = {}
    timings: dict[str, float] = {}
    """Seconds per stage (cleanup, register, classify, read, validate)."""


class DocumentResult(BaseModel):
    source: str
    pages: list[int]
    form: str | None
    fields: dict[str, FieldResult]
    rows: list[dict[str, FieldResult]] | None = None
    reasons: list[str] = []

    @property
    def needs_review(self) -> bool:
        return (
            self.form is None
            or any(reason.startswith("unknown_page") for reason in self.reasons)
            or any(f.status == "review" for f in self.fields.values())
        )
