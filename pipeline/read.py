"""Read the fields of a registered page: separate the handwriting from the printed form,
then read cells, lines and marked choices with the engine routed to each field type."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.cleanup import to_gray
from pipeline.fields import DIGITS, KATAKANA
from pipeline.ocr import OcrEngine, Reading, get_engine
from pipeline.template import cell_boxes, template_ink
from schemas.forms import FieldDef, FormDef

ROUTES: dict[str, str] = {
    "digits": "ppocr",
    "my_number": "ppocr",
    "bpn": "ppocr",
    "postal": "ppocr",
    "date": "ppocr",
    "phone": "ppocr",
    "amount": "ppocr",
    "kana": "ppocr",
    "text": "ppocr",
}
"""Engine per field type, chosen on `kura bench` (see docs/benchmarks.md)."""

ALPHABETS: dict[str, str | None] = {
    "digits": DIGITS,
    "my_number": DIGITS,
    "bpn": DIGITS,
    "postal": DIGITS,
    "date": DIGITS,
    "amount": DIGITS,
    "phone": DIGITS + "-",
    "kana": KATAKANA + " ",
    "text": None,
}
INK_THRESHOLD = 150
EMPTY_CELL_INK = 0.01
CHOICE_MARK_INK = 0.025
LINE_GUARD_PX = 3


@dataclass(frozen=True)
class RawField:
    text: str
    confidence: float
    engine: str
    notes: tuple[str, ...] = ()


def handwriting(registered_rgb: np.ndarray, form_id: str, page: int) -> np.ndarray:
    """Grayscale page with only the handwriting left: printed form ink and red seals go white.

    Colour drop-out removes the green form print and red seals where the scan has colour;
    the template's own lines (widened a little) are removed as well, which also serves
    1-bit scans that have lost their colour.
    """
    gray = to_gray(registered_rgb).copy()
    printed = (
        cv2.dilate(
            template_ink(form_id, page).astype(np.uint8),
            np.ones((2 * LINE_GUARD_PX + 1, 2 * LINE_GUARD_PX + 1), np.uint8),
        )
        > 0
    )
    gray[printed] = 255
    if registered_rgb.ndim == 3:
        hsv = cv2.cvtColor(registered_rgb, cv2.COLOR_RGB2HSV)
        hue, saturation = hsv[..., 0], hsv[..., 1]
        coloured = saturation > 70
        green = coloured & (hue > 35) & (hue < 95)
        red = coloured & ((hue < 12) | (hue > 165))
        gray[green | red] = 255
    return gray


def _crop(gray: np.ndarray, box: tuple[int, int, int, int], margin: int = 0) -> np.ndarray:
    x, y, w, h = box
    top, left = max(y - margin, 0), max(x - margin, 0)
    return gray[top : y + h + margin, left : x + w + margin]


def _ink_share(image: np.ndarray) -> float:
    return float((image < INK_THRESHOLD).mean()) if image.size else 0.0


def _tight(image: np.ndarray, pad: int = 12) -> np.ndarray | None:
    """The image cut to its ink with a white margin; None when there is no ink."""
    ink = image < INK_THRESHOLD
    ink = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size == 0:
        return None
    cut = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cv2.copyMakeBorder(cut, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def read_cells(
    gray: np.ndarray, field: FieldDef, engine: OcrEngine, alphabet: str | None
) -> RawField:
    """One character per cell; an empty cell reads as nothing."""
    inset = LINE_GUARD_PX + 4
    crops = []
    for x, y, w, h in cell_boxes(field):
        cell = gray[y + inset : y + h - inset, x + inset : x + w - inset]
        crops.append(_tight(cell) if _ink_share(cell) >= EMPTY_CELL_INK else None)
    written = [c for c in crops if c is not None]
    if not written:
        return RawField("", 1.0, engine.name)
    readings = _read_many(engine, written, alphabet)
    text = "".join(r.text[:1] for r in readings)
    notes = ("cell_unread",) if any(len(r.text) != 1 for r in readings) else ()
    if len(written) != len(crops):
        notes += ("cells_empty",)
    return RawField(text, min(r.confidence for r in readings), engine.name, notes)


def _read_many(engine: OcrEngine, images: list[np.ndarray], alphabet: str | None) -> list[Reading]:
    read_lines = getattr(engine, "read_lines", None)
    if read_lines is not None:
        return list(read_lines(images, alphabet))
    return [engine.read_line(image, alphabet) for image in images]


def read_line_field(
    gray: np.ndarray, field: FieldDef, engine: OcrEngine, alphabet: str | None
) -> RawField:
    crop = _crop(gray, field.box)
    tight = _tight(crop)
    if tight is None or _ink_share(crop) < 0.002:
        return RawField("", 1.0, engine.name)
    reading = engine.read_line(tight, alphabet)
    return RawField(reading.text, reading.confidence, engine.name)


def read_choice(gray: np.ndarray, field: FieldDef) -> RawField:
    """The option whose box holds a hand-drawn mark (circle or tick) — exactly one of them."""
    assert field.options is not None
    shares = [_ink_share(_crop(gray, option.box)) for option in field.options]
    marked = [
        o.value for o, share in zip(field.options, shares, strict=True) if share >= CHOICE_MARK_INK
    ]
    strongest = max(shares, default=0.0)
    confidence = min(1.0, strongest / (2 * CHOICE_MARK_INK))
    if len(marked) == 1:
        return RawField(marked[0], confidence, "omr")
    note = "no_choice" if not marked else "several_choices"
    return RawField(",".join(marked), 0.0, "omr", (note,))


def read_checkbox(gray: np.ndarray, field: FieldDef) -> RawField:
    share = _ink_share(_crop(gray, field.box))
    ticked = share >= CHOICE_MARK_INK
    return RawField("true" if ticked else "false", 1.0 if share < 0.005 or ticked else 0.5, "omr")


def read_field(gray: np.ndarray, field: FieldDef, engine_name: str | None = None) -> RawField:
    if field.type == "choice":
        return read_choice(gray, field)
    if field.type == "checkbox":
        return read_checkbox(gray, field)
    engine = get_engine(engine_name or ROUTES[field.type])
    alphabet = ALPHABETS[field.type]
    if field.cells:
        return read_cells(gray, field, engine, alphabet)
    return read_line_field(gray, field, engine, alphabet)


def read_page_fields(
    registered_rgb: np.ndarray, form: FormDef, page: int, engine_name: str | None = None
) -> dict[str, RawField]:
    gray = handwriting(registered_rgb, form.id, page)
    return {
        field.name: read_field(gray, field, engine_name)
        for field in form.fields
        if field.page == page
    }
