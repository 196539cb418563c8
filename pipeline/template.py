"""Draw a form definition as its blank printed page: the template every scan is aligned to."""

from __future__ import annotations

import itertools
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from pipeline.fonts import PRINTED_FONT, font
from schemas.forms import FORMS_DIR, FieldDef, FormDef, get_form

FORM_INK = (20, 95, 80)
"""Forms are printed in a dark green, like JPS's, so handwriting (black/blue) stands apart."""
MARK_INK = (0, 0, 0)
MARK_SIZE = 60
MARK_MARGIN = 100
ERA_LEGEND = "1明治 3大正 5昭和 7平成 9令和"


def registration_marks(form: FormDef) -> list[tuple[int, int]]:
    """Centres of the four solid corner squares printed on every page."""
    w, h = form.size_px
    near = MARK_MARGIN + MARK_SIZE // 2
    far_x, far_y = w - near, h - near
    return [(near, near), (far_x, near), (near, far_y), (far_x, far_y)]


def render_blank(form: FormDef, page: int = 1) -> Image.Image:
    image = Image.new("RGB", form.size_px, "white")
    draw = ImageDraw.Draw(image)
    for cx, cy in registration_marks(form):
        half = MARK_SIZE // 2
        draw.rectangle((cx - half, cy - half, cx + half, cy + half), fill=MARK_INK)
    if page == 1:
        draw.text((300, 200), form.title, font=font(PRINTED_FONT, 72), fill=FORM_INK)
    draw.text(
        (form.size_px[0] - 500, 210),
        f"様式 {form.form_code}",
        font=font(PRINTED_FONT, 40),
        fill=FORM_INK,
    )
    for field in form.fields:
        if field.page == page:
            _draw_field(draw, field)
    return image


def _draw_field(draw: ImageDraw.ImageDraw, field: FieldDef) -> None:
    x, y, w, h = field.box
    label_font = font(PRINTED_FONT, 44)
    draw.text((170, y + h // 2), field.label, font=label_font, fill=FORM_INK, anchor="lm")
    if field.options:
        for option in field.options:
            ox, oy, ow, oh = option.box
            draw.text(
                (ox + ow // 2, oy + oh // 2),
                option.label,
                font=label_font,
                fill=FORM_INK,
                anchor="mm",
            )
        return
    draw.rectangle((x, y, x + w, y + h), outline=FORM_INK, width=4)
    if field.cells:
        for left in cell_boxes(field)[1:]:
            draw.line((left[0], y, left[0], y + h), fill=FORM_INK, width=3)
    if field.type == "date":
        draw.text(
            (x + w + 30, y + h // 2),
            ERA_LEGEND,
            font=font(PRINTED_FONT, 34),
            fill=FORM_INK,
            anchor="lm",
        )
        caption_font = font(PRINTED_FONT, 28)
        for text, cell in zip(
            ("元号", "年", "", "月", "", "日", ""), cell_boxes(field), strict=True
        ):
            if text:
                draw.text((cell[0] + 8, y + h + 8), text, font=caption_font, fill=FORM_INK)


def cell_boxes(field: FieldDef) -> list[tuple[int, int, int, int]]:
    """The boxes of a cell field's single-character cells, left to right."""
    if not field.cells:
        raise ValueError(f"field {field.name} has no cells")
    x, y, w, h = field.box
    edges = np.linspace(x, x + w, field.cells + 1).round().astype(int)
    return [(int(a), y, int(b - a), h) for a, b in itertools.pairwise(edges)]


def reference_blank(form_id: str, page: int = 1) -> Path:
    """Where the scan of a form's real blank is kept, beside its definition: a form proposed
    from paper (`kura forms propose`) is aligned to that blank, not to a drawing of it."""
    suffix = "" if page == 1 else f"-{page}"
    return FORMS_DIR / f"{form_id}.blank{suffix}.png"


@lru_cache(maxsize=32)
def blank_gray(form_id: str, page: int = 1) -> np.ndarray:
    """The blank page every scan of the form is fitted to, grey, in template pixels: its
    real blank where one is kept (`reference_blank`), else the page drawn from the YAML."""
    form = get_form(form_id)
    path = reference_blank(form_id, page)
    if path.is_file():
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None or gray.shape[::-1] != tuple(form.size_px):
            raise ValueError(f"{path.name} is not a {form.size_px[0]}×{form.size_px[1]} image")
        return np.asarray(gray)
    return np.asarray(render_blank(form, page).convert("L"))


def has_reference_blank(form_id: str, page: int = 1) -> bool:
    return reference_blank(form_id, page).is_file()


@lru_cache(maxsize=32)
def template_ink(form_id: str, page: int = 1) -> np.ndarray:
    """Boolean mask of the printed form (lines and labels) in template space."""
    return blank_gray(form_id, page) < 200
