"""Fill a blank form like a resident with a ballpoint pen.

`fill_form(form, values, rng, style)` draws canonical values (see `values.py`) onto
`render_blank` pages: handwriting fonts with per-character jitter in size, rotation, slant,
baseline and spacing; one digit per cell; freehand text left-aligned in its box; a hand-drawn
○ or tick on the chosen option; a red personal seal (印) beside the name. Everything random comes
from the `rng` passed in.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from kura.bench.synth.marks import mark_checkbox, mark_option, take_back_checkbox
from kura.bench.synth.mnist import (
    NUMBER_JOINS,
    number_gap,
    written_digit,
    written_smaller,
)
from kura.bench.synth.people import NAME_SEPARATOR, split_kana
from kura.bench.synth.places import format_phone
from kura.bench.synth.values import Value, era_cells
from pipeline.fonts import HANDWRITING_FONTS, PRINTED_FONT, font
from pipeline.template import cell_boxes, render_blank
from schemas.forms import FieldDef, FormDef

Color = tuple[int, int, int]
Box = tuple[int, int, int, int]
"""x, y, width, height in page pixels."""

INKS: dict[str, Color] = {
    "black": (28, 28, 34),
    "blue": (28, 40, 118),
}
SEAL_RED: Color = (214, 42, 48)
SEAL_FONT = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")


@dataclass(frozen=True)
class HandStyle:
    """How a resident writes; strengths are standard deviations unless said otherwise.

    `None` means "drawn per form from the rng" (see `resolve`)."""

    font: str | None = None
    """Handwriting font file; one per form, as one person fills it."""
    ink: str | None = None
    """"black" or "blue" ballpoint."""
    size: float = 1.0
    """Overall writing size relative to the box."""
    size_jitter: float = 0.07
    rotation_jitter: float = 3.0
    """Degrees, per character."""
    slant: float | None = None
    """Shear of every character (+ leans right); drawn in [-0.12, 0.22] when None."""
    baseline_jitter: float = 0.05
    """Fraction of the character size."""
    drift: float = 0.015
    """Slope of a freehand line (右上がり when positive), standard deviation."""
    spacing_jitter: float = 0.10
    """Fraction of the character advance."""
    cell_jitter: float = 0.08
    """Offset of a digit inside its cell, fraction of the cell size."""
    overflow_rate: float = 0.08
    """Chance per field that the writing touches or crosses a box line."""
    pressure: tuple[float, float] = (0.80, 1.0)
    """Range of ink opacity per character."""
    weight: int | None = None
    """Extra stroke width in px (0–2): pen thickness; drawn per form when None."""
    tick_rate: float = 0.3
    """Choices: chance of a tick instead of a circle."""
    cross_rate: float = 0.06
    """Choices: chance of a cross (×) on the label instead of a circle."""
    loose_rate: float = 0.4
    """Choices: chance that a circle is drawn loose — large, off-centre, often left open —
    running into the neighbouring options."""
    correction_rate: float = 0.05
    """Choices: chance that another option was marked first (a circle or a tick) and struck
    through (`strike_styles`)."""
    checkbox_correction_rate: float = 0.08
    """Checkboxes left clear: chance that the box was ticked and the tick taken back
    (`checkbox_strike_styles`)."""
    checkbox_cross_rate: float = 0.1
    """Checkboxes ticked: chance of a cross (×) in the box instead of a tick."""
    beside_rate: float = 0.03
    """Checkboxes ticked: chance that the tick is drawn beside the box, not in it."""
    strike_styles: tuple[tuple[str, float], ...] = (
        ("line", 0.35),
        ("double", 0.3),
        ("short", 0.15),
        ("scribble", 0.2),
    )
    """How a mark on a choice is taken back, with the share of each: one line across it, two
    (二重線), one that stops at the label's edges, or a scribble over it
    (`kura.bench.synth.marks.strike`)."""
    checkbox_strike_styles: tuple[tuple[str, float], ...] = (
        ("line", 0.2),
        ("double", 0.15),
        ("short", 0.15),
        ("diagonal", 0.1),
        ("slash", 0.1),
        ("scribble", 0.1),
        ("blot", 0.1),
        ("fill", 0.1),
    )
    """How a tick in a checkbox is taken back: as a choice's mark, or with one steep stroke
    across the box and on past it ("diagonal") or kept inside it ("slash"), a scribble kept
    inside the box ("blot"), or the box filled in ("fill", 塗りつぶし)."""
    digits: str = "font"
    """What writes the digits: "font" (the handwriting font) or "mnist" (real handwritten
    samples of the MNIST part kept for measuring, `kura.bench.synth.mnist`)."""
    seal_rate: float = 0.6
    seal_overlap_rate: float = 0.35
    """Chance that the seal overlaps the end of the name box."""

    def resolve(self, rng: random.Random) -> HandStyle:
        """This style with every per-form choice made (no randomness used when none is left)."""
        chosen_font = self.font or str(rng.choice(HANDWRITING_FONTS))
        weight = self.weight
        if weight is None:
            weight = rng.choice((0, 1, 1, 2))
            if Path(chosen_font).name == "KleeOne-Regular.ttf":
                weight = max(1, weight)  # Klee Regular alone is thinner than any ballpoint
        return replace(
            self,
            font=chosen_font,
            ink=self.ink or ("black" if rng.random() < 0.6 else "blue"),
            slant=self.slant if self.slant is not None else rng.uniform(-0.12, 0.22),
            weight=weight,
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def fill_form(
    form: FormDef,
    values: dict[str, Value],
    rng: random.Random,
    style: HandStyle | None = None,
) -> list[Image.Image]:
    """One RGB page per form page, at the template's 300 dpi, with `values` handwritten."""
    style = (style or HandStyle()).resolve(rng)
    pages = [render_blank(form, page) for page in range(1, form.pages + 1)]
    pen = _Pen(style, rng)
    sealed = False
    for field in form.fields:
        page = pages[field.page - 1]
        value = values.get(field.name, "")
        if value is False and field.type == "checkbox":
            if rng.random() < style.checkbox_correction_rate:  # ticked, then taken back
                take_back_checkbox(page, field.box, pen)
            continue
        if value == "" or value is False or value is None:
            continue
        pen.overflow = rng.random() < style.overflow_rate
        _fill_field(page, field, value, pen)
        if (
            not sealed
            and field.type == "text"
            and field.charset == "name"
            and isinstance(value, str)
            and rng.random() < style.seal_rate
        ):
            _stamp_seal(page, field, value.split(NAME_SEPARATOR)[0], rng, style)
            sealed = True
    return pages


# --- The pen ----------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _codepoints(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as ttf:
        return frozenset(ttf.getBestCmap())


def _font_for(ch: str, preferred: str) -> str:
    """The preferred handwriting font if it has `ch`, else another that does, else printed."""
    for path in (preferred, *map(str, HANDWRITING_FONTS), str(PRINTED_FONT)):
        if ord(ch) in _codepoints(path):
            return path
    return str(PRINTED_FONT)


class _Pen:
    def __init__(self, style: HandStyle, rng: random.Random) -> None:
        self.style = style
        self.rng = rng
        self.ink = INKS[style.ink or "black"]
        self.overflow = False

    def gauss(self, sd: float) -> float:
        return self.rng.gauss(0.0, sd)

    def glyph(self, ch: str, size: float) -> tuple[Image.Image, ImageFont.FreeTypeFont]:
        """The character's ink mask on a square tile, anchored (middle, middle) at its centre,
        rotated and slanted by the style."""
        st = self.style
        path = _font_for(ch, st.font or str(HANDWRITING_FONTS[0]))
        face = font(Path(path), max(8, round(size / 2) * 2))
        tile = int(size * 2)
        mask = Image.new("L", (tile, tile), 0)
        ImageDraw.Draw(mask).text(
            (tile / 2, tile / 2),
            ch,
            font=face,
            fill=255,
            anchor="mm",
            stroke_width=st.weight or 0,
            stroke_fill=255,
        )
        angle = math.radians(self.gauss(st.rotation_jitter))
        shear = (st.slant or 0.0) + self.gauss(0.03)
        # forward: rotate(angle) · shear; PIL wants output → input, about the tile centre
        cos, sin = math.cos(angle), math.sin(angle)
        a, b, c, d = cos, cos * -shear - sin, sin, sin * -shear + cos
        det = a * d - b * c
        ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
        half = tile / 2
        coeffs = (ia, ib, half - ia * half - ib * half, ic, id_, half - ic * half - id_ * half)
        mask = mask.transform(mask.size, Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
        return mask, face

    def put(self, page: Image.Image, mask: Image.Image, left: float, top: float) -> Box:
        """Ink `mask` onto the page at (left, top); where the ink went, as a box."""
        low, high = self.style.pressure
        alpha = self.rng.uniform(low, high)
        mask = mask.point([int(v * alpha) for v in range(256)])
        x, y = round(left), round(top)
        page.paste(self.ink, (x, y, x + mask.width, y + mask.height), mask)
        a, b, c, d = mask.getbbox() or (0, 0, mask.width, mask.height)
        return (x + a, y + b, c - a, d - b)

    def char_centered(self, page: Image.Image, ch: str, size: float, cx: float, cy: float) -> None:
        """Draw `ch` with its ink box centred on (cx, cy): digits in cells."""
        if self.style.digits == "mnist" and ch.isdigit():
            mask = written_digit(ch, size, self.rng)
        else:
            mask, _ = self.glyph(ch, size)
        box = mask.getbbox()
        if box is None:
            return
        ink_cx, ink_cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        self.put(page, mask, cx - ink_cx, cy - ink_cy)

    def line(
        self,
        page: Image.Image,
        text: str,
        x: float,
        cy: float,
        size: float,
        *,
        draw: bool = True,
        right: float | None = None,
    ) -> float:
        """Write `text` freehand from x with its middle line at cy; returns the end x.
        With draw=False only measures (consuming no randomness), at the font's advances.
        Real digits (`digits="mnist"`) are written at their own width and kept left of
        `right` (`real_digit_line`)."""
        st = self.style
        if draw and st.digits == "mnist" and any(ch.isdigit() for ch in text):
            slope = self.gauss(st.drift)
            placed, end = self.real_digit_line(text, size, None if right is None else right - x)
            for mask, left, dy in placed:
                middle = left + mask.width / 2
                self.put(page, mask, x + left, cy - slope * middle + dy - mask.height / 2)
            return x + end
        slope = self.gauss(st.drift) if draw else 0.0
        start = x
        for ch in text:
            jitter = 1 + (self.gauss(st.size_jitter) if draw else 0.0)
            s = size * max(0.7, jitter)
            if ch in (" ", NAME_SEPARATOR):
                x += size * (0.5 if ch == " " else 0.8) * (1 + (self.gauss(0.2) if draw else 0))
                continue
            path = _font_for(ch, st.font or str(HANDWRITING_FONTS[0]))
            advance = font(Path(path), max(8, round(size / 2) * 2)).getlength(ch)
            advance *= 0.96 + (self.gauss(st.spacing_jitter) if draw else 0.0)
            if draw:
                mask, _ = self.glyph(ch, s)
                y = cy - slope * (x - start) + self.gauss(st.baseline_jitter) * size
                self.put(page, mask, x + advance / 2 - mask.width / 2, y - mask.height / 2)
            x += advance
        return x

    def real_digit_line(
        self, text: str, size: float, room: float | None
    ) -> tuple[list[tuple[Image.Image, float, float]], float]:
        """Lay out `text` with real handwritten digits: each digit and each hyphen between
        them follows the ink of the one before by a gap a person leaves (`mnist.number_gap`),
        other characters keep the font's advance. Where the line would run past `room`, the
        whole of it is written smaller to fit, as a person does near the box's edge.
        Returns (ink mask, its left from the line's start, its middle below the line's) per
        character, and the line's width."""
        st = self.style
        placed: list[tuple[Image.Image, float, float]] = []
        cursor, previous = 0.0, ""  # previous: the last character written, "" after a space
        for ch in text:
            s = size * max(0.7, 1 + self.gauss(st.size_jitter))
            if ch in (" ", NAME_SEPARATOR):
                cursor += size * (0.5 if ch == " " else 0.8) * (1 + self.gauss(0.2))
                previous = ""
                continue
            mask = written_digit(ch, s, self.rng) if ch.isdigit() else self.glyph(ch, s)[0]
            dy = self.gauss(st.baseline_jitter) * size
            ink = mask.getbbox() or (0, 0, mask.width, mask.height)
            if ch.isdigit() or ch in NUMBER_JOINS:
                between_digits = ch.isdigit() and previous.isdigit()
                gap = number_gap(size, between_digits, self.rng) if placed else 0.0
                left = cursor + gap - ink[0]
                cursor = left + ink[2]
            else:
                path = _font_for(ch, st.font or str(HANDWRITING_FONTS[0]))
                advance = font(Path(path), max(8, round(size / 2) * 2)).getlength(ch)
                advance *= 0.96 + self.gauss(st.spacing_jitter)
                left = cursor + advance / 2 - mask.width / 2
                cursor += advance
            placed.append((mask, left, dy))
            previous = ch
        if room is None or cursor <= room or not placed:
            return placed, cursor
        return written_smaller(placed, room / cursor), room


# --- Fields -----------------------------------------------------------------------------


def _cell_text(field: FieldDef, value: Value) -> str | None:
    """What goes into a cell field's cells (one character per cell), or None if freehand."""
    if not field.cells or not isinstance(value, str):
        return None
    if field.type == "date":
        text = era_cells(dt.date.fromisoformat(value))
        if field.cells == 8:
            return value.replace("-", "")
        return text if field.cells == 7 else text[1:]
    if field.type == "amount":
        return value.rjust(field.cells)  # amounts are right-aligned
    return value


def _freehand_text(field: FieldDef, value: Value) -> str:
    assert isinstance(value, str)
    kind = field.type
    if kind == "phone":
        return format_phone(value)
    if kind == "postal":
        return f"{value[:3]}-{value[3:]}"
    if kind == "bpn":
        return f"{value[:4]}-{value[4:]}"
    if kind == "kana":
        split = split_kana(value)
        return f"{split[0]} {split[1]}" if split else value
    if kind == "amount":
        return f"{int(value):,}"
    if kind == "date":
        date = dt.date.fromisoformat(value)
        code = era_cells(date)[0]
        era = {"1": "明治", "3": "大正", "5": "昭和", "7": "平成", "9": "令和"}[code]
        year = int(era_cells(date)[1:3])
        return f"{era}{'元' if year == 1 else year}年{date.month}月{date.day}日"
    return value


def _fill_field(page: Image.Image, field: FieldDef, value: Value, pen: _Pen) -> None:
    if field.type == "choice":
        option = next((o for o in field.options or [] if o.value == value), None)
        if option is not None:
            others = [(o.box, o.label) for o in field.options or [] if o is not option]
            mark_option(page, option.box, option.label, pen, others)
        return
    if field.type == "checkbox":
        if value is True:
            mark_checkbox(page, field.box, pen)
        return
    cells = _cell_text(field, value)
    if cells is not None:
        _fill_cells(page, field, cells, pen)
    else:
        _fill_freehand(page, field, _freehand_text(field, value), pen)


def _fill_cells(page: Image.Image, field: FieldDef, text: str, pen: _Pen) -> None:
    st, rng = pen.style, pen.rng
    boxes = cell_boxes(field)
    base = min(field.box[3] * 0.62, boxes[0][2] * 0.95) * st.size
    wild = rng.randrange(len(boxes)) if pen.overflow else -1
    for index, (ch, (x, y, w, h)) in enumerate(zip(text, boxes, strict=False)):
        if ch == " ":
            continue
        size = base * (1 + pen.gauss(st.size_jitter))
        dx, dy = pen.gauss(st.cell_jitter) * w, pen.gauss(st.cell_jitter) * h
        if index == wild:  # this digit strays onto a line
            size *= rng.uniform(1.0, 1.25)
            dx = rng.choice((-1, 1)) * rng.uniform(0.25, 0.45) * w
            dy = rng.uniform(-0.1, 0.35) * h
        pen.char_centered(page, ch, size, x + w / 2 + dx, y + h / 2 + dy)


def _fill_freehand(page: Image.Image, field: FieldDef, text: str, pen: _Pen) -> None:
    st, rng = pen.style, pen.rng
    x, y, w, h = field.box
    relative = {"text": 0.6 if field.charset == "name" else 0.44, "kana": 0.56}.get(
        field.type, 0.56
    )
    size = h * relative * st.size * rng.uniform(0.9, 1.08)
    left = x + w * rng.uniform(0.015, 0.05)
    room = x + w - left - w * 0.02
    width = pen.line(page, text, 0, 0, size, draw=False)
    lines = [text]
    if width > room:
        shrink = room / width
        if shrink < 0.72 and h >= 2.1 * size * 0.62:
            lines = _wrap(text)
            size = min(size, h * 0.36)
            widest = max(pen.line(page, part, 0, 0, size, draw=False) for part in lines)
            size *= min(1.0, room / widest)
        else:
            size *= shrink
    cy = y + h / 2 + pen.gauss(0.05) * h
    if pen.overflow:  # writes low enough to cross the bottom line, and big if there is room
        if len(lines) == 1 and width * 1.2 < room:
            size *= rng.uniform(1.05, 1.2)
        cy += rng.uniform(0.12, 0.3) * h
    step = h / (len(lines) + 0.3)
    for index, part in enumerate(lines):
        line_cy = cy if len(lines) == 1 else y + step * (index + 0.65)
        pen.line(page, part, left + (index * size * 0.6), line_cy, size, right=left + room)


def _wrap(text: str) -> list[str]:
    """Two lines: at the building name if there is one, else near the middle."""
    if NAME_SEPARATOR in text:
        head, _, tail = text.partition(NAME_SEPARATOR)
        return [head, tail]
    cut = len(text) // 2
    for offset in range(len(text) // 4):  # prefer breaking after 丁目/番地/区/市
        for at in (cut + offset, cut - offset):
            if 0 < at < len(text) and text[at - 1] in "目地区市町村郡":
                return [text[:at], text[at:]]
    return [text[:cut], text[cut:]]


# --- Seal -----------------------------------------------------------------------------


def _stamp_seal(
    page: Image.Image, field: FieldDef, family: str, rng: random.Random, style: HandStyle
) -> None:
    """A red round 認印 with the family name, right of the name box."""
    x, y, w, h = field.box
    diameter = int(rng.uniform(118, 150))
    if rng.random() < style.seal_overlap_rate:
        cx = x + w - rng.uniform(-10, 0.45 * diameter)
    else:
        cx = x + w + diameter * 0.5 + rng.uniform(15, 70)
    cx = min(cx, page.width - 60 - diameter / 2)
    cy = y + h / 2 + rng.gauss(0, h * 0.08)
    chars = family if len(family) <= 3 and rng.random() < 0.6 else family[:1]
    tile = diameter + 8
    mask = Image.new("L", (tile, tile), 0)
    draw = ImageDraw.Draw(mask)
    ring = max(5, int(diameter * rng.uniform(0.045, 0.065)))
    draw.ellipse((4, 4, 4 + diameter, 4 + diameter), outline=255, width=ring)
    seal_font_path = SEAL_FONT if SEAL_FONT.exists() else PRINTED_FONT
    inner = diameter - 2 * ring
    centre = tile / 2
    bold = max(1, diameter // 45)
    if len(chars) == 1:
        face = font(seal_font_path, int(inner * 0.78))
        draw.text(
            (centre, centre),
            chars,
            font=face,
            fill=255,
            anchor="mm",
            stroke_width=bold,
            stroke_fill=255,
        )
    else:
        step = inner * 0.88 / len(chars)
        face = font(seal_font_path, int(step * 1.02))
        top = centre - step * (len(chars) - 1) / 2
        for index, ch in enumerate(chars):
            draw.text(
                (centre, top + index * step),
                ch,
                font=face,
                fill=255,
                anchor="mm",
                stroke_width=bold,
                stroke_fill=255,
            )
    mask = mask.rotate(rng.gauss(0, 10), resample=Image.Resampling.BILINEAR)
    # Uneven stamp pressure: a smooth field plus speckle where the ink did not take.
    gen = np.random.default_rng(rng.getrandbits(32))
    smooth = Image.fromarray((gen.uniform(0.7, 1.0, (4, 4)) * 255).astype(np.uint8), mode="L")
    smooth = smooth.resize(mask.size, Image.Resampling.BICUBIC)
    speckle = Image.fromarray(((gen.random((tile, tile)) > 0.08) * 255).astype(np.uint8), mode="L")
    speckle = speckle.filter(ImageFilter.GaussianBlur(0.7))
    mask = ImageChops.multiply(ImageChops.multiply(mask, smooth), speckle)
    strength = rng.uniform(0.9, 1.0)
    mask = mask.point([min(255, int(v * strength * 1.15)) for v in range(256)])
    # Stamp ink is translucent: multiply, so the handwriting under it stays dark.
    left, top = int(cx - tile / 2), int(cy - tile / 2)
    region = page.crop((left, top, left + tile, top + tile))
    red = Image.composite(
        Image.new("RGB", mask.size, SEAL_RED), Image.new("RGB", mask.size, "white"), mask
    )
    page.paste(ImageChops.multiply(region, red), (left, top))
