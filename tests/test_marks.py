"""Corrections on choices and checkboxes: a mark struck through — one line, two (二重線), one
that stops at the label's or box's edges (also across one character, 男 or 女), a steep stroke
across a box or a slash kept inside it, or a scribble over it or inside the box, over a circle
or a tick — goes to a person as `struck_through`, with the mark left standing proposed; a box
filled in or a tick beside a box goes to a person with its reason; clean marks (a circle, a
tick, a cross, a dot, a lone slash in a box) are still accepted."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw

from kura.bench.synth import marks as drawn
from kura.bench.synth.handwriting import HandStyle, _fill_field, _Pen, fill_form
from kura.bench.synth.values import Value
from pipeline import choices, handwriting
from pipeline.page import decide
from pipeline.template import render_blank
from schemas.contracts import FieldResult
from schemas.forms import FieldDef, get_form

FORM = get_form("kokunen_menjo_shinsei")
CHOICE = FORM.field("exemption_level")
CHECKBOX = FORM.field("unemployment")
PEN = (20, 24, 60)
Box = tuple[int, int, int, int]


def _label(index: int) -> Box:
    """The printed label of an option of 審査希望, where the reader finds it."""
    from pipeline.marks import label_boxes

    return label_boxes(FORM.id, 1, CHOICE)[index]


def _circle(draw: ImageDraw.ImageDraw, index: int) -> None:
    lx, ly, lw, lh = _label(index)
    draw.ellipse((lx - 30, ly - 22, lx + lw + 30, ly + lh + 22), outline=PEN, width=5)


def _tick(draw: ImageDraw.ImageDraw, cx: float, cy: float) -> None:
    draw.line((cx - 25, cy, cx - 5, cy + 22, cx + 35, cy - 30), fill=PEN, width=5, joint="curve")


def _line(draw: ImageDraw.ImageDraw, box: Box) -> None:
    x, y, w, h = box
    middle = y + h // 2
    draw.line((x - 35, middle - 3, x + w + 35, middle + 4), fill=PEN, width=5)


def _double(draw: ImageDraw.ImageDraw, box: Box) -> None:
    x, y, w, h = box
    middle = y + h // 2
    for dy in (-7, 6):
        draw.line((x - 30, middle + dy, x + w + 32, middle + dy + 3), fill=PEN, width=4)


def _scribble(draw: ImageDraw.ImageDraw, box: Box) -> None:
    """Up and down, a pen's width or two apart, over the box and past its ends."""
    x, y, w, h = box
    points = [
        (float(px), float(y - 12 if k % 2 else y + h + 12))
        for k, px in enumerate(range(x - 25, x + w + 25, 11))
    ]
    draw.line(points, fill=PEN, width=4, joint="curve")


def _short(draw: ImageDraw.ImageDraw, box: Box) -> None:
    """One line that stops at the label's or box's edges (a few pixels short of them)."""
    x, y, w, h = box
    middle = y + h // 2
    draw.line((x + 4, middle - 2, x + w - 4, middle + 3), fill=PEN, width=5)


STRIKES: dict[str, Callable[[ImageDraw.ImageDraw, Box], None]] = {
    "line": _line,
    "double": _double,
    "scribble": _scribble,
    "short": _short,
}


def _read_choice(page: Image.Image) -> FieldResult:
    marked = handwriting.marks(np.asarray(page.convert("RGB")), FORM, 1)
    return decide(CHOICE, choices.read_choice(marked, CHOICE, FORM.id))


def _read_checkbox(page: Image.Image) -> FieldResult:
    marked = handwriting.marks(np.asarray(page.convert("RGB")), FORM, 1)
    return decide(CHECKBOX, choices.read_checkbox(marked, CHECKBOX, FORM.id))


def test_a_clean_circle_is_accepted() -> None:
    page = render_blank(FORM)
    _circle(ImageDraw.Draw(page), 2)
    read_as = _read_choice(page)
    assert (read_as.value, read_as.status, read_as.reasons) == ("half", "accepted", [])


@pytest.mark.parametrize("strike", STRIKES)
@pytest.mark.parametrize("struck_mark", ["circle", "tick"])
def test_a_struck_mark_and_another_made_go_to_a_person_with_the_other_proposed(
    strike: str, struck_mark: str
) -> None:
    page = render_blank(FORM)
    draw = ImageDraw.Draw(page)
    if struck_mark == "circle":
        _circle(draw, 0)
    else:
        lx, ly, _, lh = _label(0)
        _tick(draw, lx + 30, ly + lh / 2)  # over the label's first characters
    STRIKES[strike](draw, _label(0))
    _circle(draw, 3)
    read_as = _read_choice(page)
    assert (read_as.value, read_as.status, read_as.reasons) == (
        "quarter",
        "review",
        ["struck_through"],
    )


def test_a_struck_mark_with_nothing_left_standing_proposes_nothing() -> None:
    page = render_blank(FORM)
    draw = ImageDraw.Draw(page)
    _circle(draw, 1)
    _double(draw, _label(1))
    read_as = _read_choice(page)
    assert read_as.status == "review" and read_as.value == ""
    assert read_as.reasons[0] == "struck_through"


def test_a_line_under_a_label_or_a_cross_on_it_is_no_strike() -> None:
    page = render_blank(FORM)
    draw = ImageDraw.Draw(page)
    lx, ly, lw, lh = _label(4)
    draw.line((lx - 10, ly + lh + 14, lx + lw + 10, ly + lh + 18), fill=PEN, width=5)  # underline
    assert _read_choice(page).reasons == []
    page = render_blank(FORM)
    draw = ImageDraw.Draw(page)
    cx, cy = lx + 40, ly + lh // 2
    for dx in (-30, 30):  # a × drawn flat, its arms at about 35°
        draw.line((cx - dx, cy - 21, cx + dx, cy + 21), fill=PEN, width=6)
    assert (_read_choice(page).value, _read_choice(page).reasons) == ("deferment", [])


def _ticked_box(page: Image.Image) -> ImageDraw.ImageDraw:
    draw = ImageDraw.Draw(page)
    x, y, w, h = CHECKBOX.box
    _tick(draw, x + w / 2, y + h / 2)
    return draw


def _diagonal(draw: ImageDraw.ImageDraw, box: Box) -> None:
    """One steep stroke from past the box's lower left corner to past its upper right."""
    x, y, w, h = box
    draw.line((x - 20, y + h + 28, x + w + 14, y - 24), fill=PEN, width=5)


def _blot(draw: ImageDraw.ImageDraw, box: Box) -> None:
    """A scribble kept inside the box: up and down, moving right, within its lines."""
    x, y, w, h = box
    points = [
        (float(px), float(y + 8 if k % 2 else y + h - 8))
        for k, px in enumerate(range(x + 8, x + w - 6, 10))
    ]
    draw.line(points, fill=PEN, width=5, joint="curve")


BOX_STRIKES: dict[str, Callable[[ImageDraw.ImageDraw, Box], None]] = {
    **STRIKES,
    "diagonal": _diagonal,
    "blot": _blot,
}


@pytest.mark.parametrize("strike", BOX_STRIKES)
def test_a_struck_tick_in_a_checkbox_goes_to_a_person(strike: str) -> None:
    page = render_blank(FORM)
    BOX_STRIKES[strike](_ticked_box(page), CHECKBOX.box)
    read_as = _read_checkbox(page)
    assert (read_as.value, read_as.status, read_as.reasons) == (
        "false",
        "review",
        ["struck_through"],
    )


def test_a_filled_box_goes_to_a_person_proposed_clear() -> None:
    x, y, w, h = CHECKBOX.box
    page = render_blank(FORM)
    ImageDraw.Draw(page).rectangle((x + 6, y + 6, x + w - 6, y + h - 6), fill=PEN)
    read_as = _read_checkbox(page)
    assert (read_as.value, read_as.status, read_as.reasons) == ("false", "review", ["filled_box"])


def test_a_tick_a_cross_or_a_dot_in_a_box_is_accepted_as_ticked() -> None:
    x, y, w, h = CHECKBOX.box
    ticked = render_blank(FORM)
    _ticked_box(ticked)
    crossed = render_blank(FORM)  # arms to the corners and a little past them
    ImageDraw.Draw(crossed).line((x + 2, y + 2, x + w - 2, y + h - 2), fill=PEN, width=6)
    ImageDraw.Draw(crossed).line((x + w + 3, y - 3, x - 3, y + h + 3), fill=PEN, width=6)
    dotted = render_blank(FORM)
    ImageDraw.Draw(dotted).ellipse((x + 22, y + 22, x + w - 22, y + h - 22), fill=PEN)
    overshooting = render_blank(FORM)  # the tick's long arm runs far out of the box
    cx, cy = x + w / 2 - 10, y + h / 2 + 5
    ImageDraw.Draw(overshooting).line(
        (cx - 25, cy, cx - 5, cy + 22, cx + 60, cy - 70), fill=PEN, width=5, joint="curve"
    )
    for page in (ticked, crossed, dotted, overshooting):
        read_as = _read_checkbox(page)
        assert (read_as.value, read_as.status) == ("true", "accepted")


def test_a_tick_or_a_cross_beside_a_box_goes_to_a_person_proposed_ticked() -> None:
    x, y, w, h = CHECKBOX.box
    ticked = render_blank(FORM)
    _tick(ImageDraw.Draw(ticked), x + w + 32, y + h / 2)
    crossed = render_blank(FORM)
    cx, cy = x + w + 40, y + h / 2
    for dx in (-22, 22):
        ImageDraw.Draw(crossed).line((cx - dx, cy - 22, cx + dx, cy + 22), fill=PEN, width=5)
    for page in (ticked, crossed):
        read_as = _read_checkbox(page)
        assert (read_as.value, read_as.status, read_as.reasons) == (
            "true",
            "review",
            ["mark_beside"],
        )


def test_a_loose_circle_on_the_choice_above_is_no_mark_beside_the_box() -> None:
    page = render_blank(FORM)
    lx, ly, lw, lh = _label(0)  # 全額免除, right above the checkbox
    ImageDraw.Draw(page).ellipse(
        (lx - 110, ly - 40, lx + lw + 90, ly + lh + 45), outline=PEN, width=5
    )
    read_as = _read_checkbox(page)
    assert (read_as.value, read_as.status) == ("false", "accepted")
    assert _read_choice(page).value == "full"


def _generated_choice(seed: int, style: HandStyle, field: FieldDef) -> tuple[str, FieldResult]:
    rng = random.Random(seed)
    pen = _Pen(style.resolve(rng), rng)
    page = render_blank(FORM)
    value = rng.choice(field.options or []).value
    _fill_field(page, field, value, pen)
    return value, _read_choice(page)


def test_the_generators_corrections_are_read_as_corrections_and_clean_marks_are_not() -> None:
    struck = [_generated_choice(seed, HandStyle(correction_rate=1.0), CHOICE) for seed in range(8)]
    for _, read_as in struck:
        assert read_as.status == "review" and read_as.reasons[0] == "struck_through"
    assert sum(value == read_as.value for value, read_as in struck) >= 6
    for seed in range(8):
        value, read_as = _generated_choice(100 + seed, HandStyle(correction_rate=0.0), CHOICE)
        assert "struck_through" not in read_as.reasons
        assert read_as.status == "review" or read_as.value == value


def _generated_checkbox(ticked: bool, style: HandStyle, seed: int) -> FieldResult:
    values: dict[str, Value] = {"unemployment": ticked}
    return _read_checkbox(fill_form(FORM, values, random.Random(seed), style)[0])


@pytest.mark.parametrize("kind", [kind for kind, _ in HandStyle().checkbox_strike_styles])
def test_each_way_the_generator_takes_a_tick_back_goes_to_a_person(kind: str) -> None:
    style = HandStyle(checkbox_correction_rate=1.0, checkbox_strike_styles=((kind, 1.0),))
    for seed in range(4):
        read_as = _generated_checkbox(False, style, seed)
        assert read_as.value == "false" and read_as.status == "review"
        assert read_as.reasons == ["filled_box" if kind == "fill" else "struck_through"] or (
            kind == "blot" and read_as.reasons == ["filled_box"]
        )


def test_the_generators_ticks_crosses_and_clear_boxes_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(drawn, "CIRCLE_BOX_RATE", 0.0)  # a circle round the box: to a person
    for seed in range(6):
        ticked = _generated_checkbox(
            True, HandStyle(beside_rate=0.0, checkbox_cross_rate=0.0), seed
        )
        crossed = _generated_checkbox(
            True, HandStyle(beside_rate=0.0, checkbox_cross_rate=1.0), seed
        )
        clear = _generated_checkbox(False, HandStyle(checkbox_correction_rate=0.0), seed)
        assert [(r.value, r.status) for r in (ticked, crossed, clear)] == [
            ("true", "accepted"),
            ("true", "accepted"),
            ("false", "accepted"),
        ]


def test_the_generators_tick_beside_a_box_goes_to_a_person() -> None:
    for seed in range(4):
        read_as = _generated_checkbox(True, HandStyle(beside_rate=1.0), seed)
        assert (read_as.value, read_as.reasons) == ("true", ["mark_beside"])


def test_the_generators_short_strikes_on_choices_are_read_as_corrections() -> None:
    style = HandStyle(correction_rate=1.0, strike_styles=(("short", 1.0),))
    struck = [_generated_choice(seed, style, CHOICE) for seed in range(8)]
    for _, read_as in struck:
        assert read_as.status == "review" and read_as.reasons[0] == "struck_through"
    assert sum(value == read_as.value for value, read_as in struck) >= 6


def _slash(draw: ImageDraw.ImageDraw, box: Box, way: str) -> None:
    """One straight stroke kept inside the box: corner to corner, or top to bottom."""
    x, y, w, h = box
    line = {
        "/": (x + 8, y + h - 8, x + w - 8, y + 8),
        "\\": (x + 8, y + 8, x + w - 8, y + h - 8),
        "|": (x + w / 2 + 4, y + 6, x + w / 2 - 2, y + h - 6),
    }[way]
    draw.line(line, fill=PEN, width=5)


@pytest.mark.parametrize("way", ["/", "\\", "|"])
def test_a_tick_struck_with_a_slash_kept_inside_the_box_goes_to_a_person(way: str) -> None:
    page = render_blank(FORM)
    _slash(_ticked_box(page), CHECKBOX.box, way)
    read_as = _read_checkbox(page)
    assert (read_as.value, read_as.status, read_as.reasons) == (
        "false",
        "review",
        ["struck_through"],
    )


@pytest.mark.parametrize("way", ["/", "\\", "|"])
def test_a_lone_slash_in_a_box_is_a_tick(way: str) -> None:
    page = render_blank(FORM)
    _slash(ImageDraw.Draw(page), CHECKBOX.box, way)
    read_as = _read_checkbox(page)
    assert (read_as.value, read_as.status) == ("true", "accepted")


def test_the_generators_lone_slashes_are_ticks_and_its_slashes_over_ticks_are_not() -> None:
    blank = render_blank(FORM)
    for seed in range(6):
        rng = random.Random(seed)
        pen = _Pen(HandStyle().resolve(rng), rng)
        lone, struck = blank.copy(), blank.copy()
        drawn.slash(lone, CHECKBOX.box, pen)
        drawn.tick(struck, CHECKBOX.box, pen, inside=True)
        drawn.slash(struck, CHECKBOX.box, pen)
        assert (_read_checkbox(lone).value, _read_checkbox(lone).status) == ("true", "accepted")
        assert (_read_checkbox(struck).value, _read_checkbox(struck).reasons) == (
            "false",
            ["struck_through"],
        )


SEX_FORM = get_form("kokunen_hihokensha_todoke")
SEX = SEX_FORM.field("sex")


def _read_sex(page: Image.Image) -> FieldResult:
    marked = handwriting.marks(np.asarray(page.convert("RGB")), SEX_FORM, 1)
    return decide(SEX, choices.read_choice(marked, SEX, SEX_FORM.id))


def test_a_strike_across_one_character_and_another_mark_go_to_a_person_as_struck() -> None:
    from pipeline.marks import label_boxes

    man, woman = label_boxes(SEX_FORM.id, 1, SEX)
    page = render_blank(SEX_FORM)
    draw = ImageDraw.Draw(page)
    for lx, ly, lw, lh in (man, woman):
        draw.ellipse((lx - 45, ly - 25, lx + lw + 45, ly + lh + 25), outline=PEN, width=5)
    x, y, w, h = man  # 男 taken back with a line from one edge of the character to the other
    draw.line((x - 1, y + h // 2 - 2, x + w + 1, y + h // 2 + 2), fill=PEN, width=5)
    read_as = _read_sex(page)
    assert (read_as.value, read_as.status, read_as.reasons) == ("2", "review", ["struck_through"])


def test_the_generators_short_strikes_on_one_character_are_read_as_corrections() -> None:
    style = HandStyle(correction_rate=1.0, strike_styles=(("short", 1.0),))
    blank = render_blank(SEX_FORM)
    results = []
    for seed in range(8):
        rng = random.Random(seed)
        pen = _Pen(style.resolve(rng), rng)
        page = blank.copy()
        value = rng.choice(SEX.options or []).value
        _fill_field(page, SEX, value, pen)
        results.append((value, _read_sex(page)))
    assert all(read_as.status == "review" for _, read_as in results)
    struck = [(value, r) for value, r in results if r.reasons == ["struck_through"]]
    assert len(struck) >= 6 and all(value == read_as.value for value, read_as in struck)


def test_a_circle_round_a_box_goes_to_a_person_proposed_ticked() -> None:
    x, y, w, h = CHECKBOX.box
    for margin in (12, 30, 45):
        page = render_blank(FORM)
        ImageDraw.Draw(page).ellipse(
            (x - margin - 10, y - margin, x + w + margin + 10, y + h + margin), outline=PEN, width=5
        )
        read_as = _read_checkbox(page)
        assert (read_as.value, read_as.status, read_as.reasons) == (
            "true",
            "review",
            ["mark_beside"],
        )


def test_the_generators_circles_round_a_box_are_never_read_clear() -> None:
    blank = render_blank(FORM)
    for seed in range(6):
        rng = random.Random(seed)
        page = blank.copy()
        drawn.circle_round_box(page, CHECKBOX.box, _Pen(HandStyle().resolve(rng), rng))
        read_as = _read_checkbox(page)
        assert read_as.status == "review" or read_as.value == "true"
