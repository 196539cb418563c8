"""Read the caption printed beside or above a box of a blank form (氏名, 生年月日 …) and
propose from it the field's name, type and label."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.blankboxes import Box, ProposedField, ruling_lines
from schemas.forms import FieldType

CAPTIONS: tuple[tuple[str, str, FieldType, str | None, int | None], ...] = (
    # (caption holds, name, type, charset, cells); the first that matches wins
    ("フリガナ", "name_kana", "kana", None, None),
    ("ふりがな", "name_kana", "kana", None, None),
    ("個人番号", "my_number", "my_number", None, 12),
    ("基礎年金番号", "basic_pension_number", "bpn", None, 10),
    ("生年月日", "birth_date", "date", None, 7),
    ("年月日", "date", "date", None, 7),
    ("郵便番号", "postal_code", "postal", None, 7),
    ("〒", "postal_code", "postal", None, 7),
    ("電話", "phone", "phone", None, None),
    ("住所", "address", "text", "address", None),
    ("居住地", "address", "text", "address", None),
    ("氏名", "name", "text", "name", None),
    ("名前", "name", "text", "name", None),
    ("性別", "sex", "choice", None, None),
)
"""Printed captions and the field they head (氏名 → a name, 生年月日 → a date …)."""
CAPTION_REACH_PX = 700
"""How far left of a box its caption is looked for (the caption column of a form)."""


def named_by_caption(fields: list[ProposedField], gray: np.ndarray) -> list[ProposedField]:
    """Each box with the caption printed left of it (or just above it) read, and a name,
    type and label proposed from that caption; names made unique by a number."""
    from pipeline.ocr import get_engine

    engine = get_engine("ppocr")
    out: list[ProposedField] = []
    taken: dict[str, int] = {}
    for field in fields:
        caption = read_caption(gray, field.box, engine)
        match = next((c for c in CAPTIONS if caption and c[0] in caption), None)
        if match is None:
            out.append(_replace(field, label=caption or None))
            continue
        _, name, kind, charset, cells = match
        # the caption names the type where the box's shape agrees: a cell row of the
        # caption's length, or a plain box for a type written freehand
        agrees = field.cells == cells if field.cells or cells else True
        count = taken.get(name, 0) + 1
        taken[name] = count
        out.append(
            _replace(
                field,
                label=caption,
                name=name if count == 1 else f"{name}_{count}",
                type=kind if agrees else field.type,
                charset=charset if agrees else field.charset,
                note=None if agrees else field.note,
            )
        )
    return out


def _replace(field: ProposedField, **changes: object) -> ProposedField:
    from dataclasses import replace

    return replace(field, **changes)  # type: ignore[arg-type]


def read_caption(gray: np.ndarray, box: Box, engine: object) -> str:
    x, y, w, h = box
    left = gray[y + 4 : y + h - 4, max(x - CAPTION_REACH_PX, 0) : max(x - 12, 0)]
    for region in (left, gray[max(y - 70, 0) : max(y - 6, 0), x : x + w]):
        line = tight_text(region)
        if line is not None:
            text = engine.read_line(line).text.strip()  # type: ignore[attr-defined]
            if text:
                return text.replace(" ", "")
    return ""


def tight_text(region: np.ndarray) -> np.ndarray | None:
    """The printed text of a region cut tight (long ruling lines taken out), or None."""
    if region.size == 0:
        return None
    ink = (region < 170).astype(np.uint8)
    ink &= ~(ruling_lines(ink.astype(bool)).astype(np.uint8))
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size < 10 or cols.size < 10:
        return None
    cut = region[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cv2.copyMakeBorder(cut, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
