"""Form definitions as data: every YAML is a sound, printable, recognisable form, and
`kura forms propose` finds the boxes and cells of each blank again."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from kura.cli import app
from pipeline.fonts import HANDWRITING_FONTS, PRINTED_FONT, font
from pipeline.ingest import PageImage
from pipeline.page import process_page
from pipeline.template import ERA_LEGEND, cell_boxes, render_blank
from schemas.forms import FORMS_DIR, FieldDef, FormDef, load_forms

Rect = tuple[int, int, int, int]
"""left, top, right, bottom (exclusive)."""

YAML_FILES = sorted(FORMS_DIR.glob("*.yaml"))
FORMS = list(load_forms().values())
FORM_IDS = [f.id for f in FORMS]
PAPER_FORMS = [f for f in FORMS if f.kind == "form"]
CORNER_CLEAR_PX = 200
"""The registration marks' corners: nothing else is printed this close to a corner."""
CELL_COUNTS = {"my_number": 12, "bpn": 10, "postal": 7, "date": 7}
PROPOSE_TOLERANCE_PX = 15


def _rect(box: tuple[int, int, int, int]) -> Rect:
    x, y, w, h = box
    return (x, y, x + w, y + h)


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(inner: Rect, outer: Rect) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def _text(xy: tuple[int, int], text: str, size: int, anchor: str = "la") -> Rect:
    left, top, right, bottom = font(PRINTED_FONT, size).getbbox(text, anchor=anchor)
    return (xy[0] + int(left), xy[1] + int(top), xy[0] + int(right) + 1, xy[1] + int(bottom) + 1)


def _printed(field: FieldDef) -> dict[str, list[Rect]]:
    """What `render_blank` prints for a field: its box (or its options), its label at the
    left margin, and a date's era legend and cell captions — as template.py draws them."""
    x, y, w, h = field.box
    label = _text((170, y + h // 2), field.label, 44, "lm")
    if field.options:
        return {"label": [label], "boxes": [_rect(o.box) for o in field.options]}
    extras = []
    if field.type == "date":
        extras.append(_text((x + w + 30, y + h // 2), ERA_LEGEND, 34, "lm"))
        captions = ("元号", "年", "", "月", "", "日", "")
        for caption, cell in zip(captions, cell_boxes(field), strict=True):
            if caption:
                extras.append(_text((cell[0] + 8, y + h + 8), caption, 28))
    return {"label": [label], "boxes": [_rect(field.box)], "extras": extras}


def _all_printed(field: FieldDef) -> list[Rect]:
    return [r for rects in _printed(field).values() for r in rects]


def _corners(form: FormDef) -> list[Rect]:
    w, h = form.size_px
    c = CORNER_CLEAR_PX
    return [(0, 0, c, c), (w - c, 0, w, c), (0, h - c, c, h), (w - c, h - c, w, h)]


# --- The definitions ------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=[p.stem for p in YAML_FILES])
def test_every_yaml_loads_and_is_named_for_its_id(path: Path) -> None:
    form = FormDef.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert form.id == path.stem
    assert form.fields or form.columns, "a form with nothing to read"


def test_the_issue_s_forms_are_there() -> None:
    forms = load_forms()
    assert {
        "kokunen_hihokensha_todoke",
        "kokunen_menjo_shinsei",
        "kokunen_sanzen_sango",
        "shienkyufu_seikyusho",
    } <= set(forms)
    assert forms["shienkyufu_seikyusho"].forward_only
    assert {f.name for f in forms["shienkyufu_seikyusho"].fields} == {
        "basic_pension_number",
        "name",
        "filed_date",
    }  # minimal extraction, DOMAIN.md §3.4
    assert not any(f.forward_only for f in forms.values() if f.id != "shienkyufu_seikyusho")
    levels = forms["kokunen_menjo_shinsei"].field("exemption_level")
    assert levels.type == "choice" and [o.label for o in levels.options or []] == [
        "全額免除",
        "4分の3免除",
        "半額免除",
        "4分の1免除",
        "納付猶予",
    ]
    names = {f.name for f in forms["kokunen_menjo_shinsei"].fields}
    for owner in ("householder", "spouse"):
        assert {f"{owner}_{n}" for n in ("name", "name_kana", "my_number", "birth_date")} <= names


def test_ids_codes_classes_and_titles_are_unique() -> None:
    raw = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in YAML_FILES]
    for key in ("id", "form_code", "document_class", "title"):
        values = [r[key] for r in raw]
        assert len(values) == len(set(values)), f"duplicate {key}: {values}"


@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_field_names_are_unique(form: FormDef) -> None:
    names = [f.name for f in form.fields]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("form", PAPER_FORMS, ids=[f.id for f in PAPER_FORMS])
def test_everything_printed_is_on_the_page_and_clear_of_the_corner_marks(form: FormDef) -> None:
    page = (0, 0, *form.size_px)
    for field in form.fields:
        assert 1 <= field.page <= form.pages, field.name
        for rect in _all_printed(field):
            assert _inside(rect, page), (field.name, rect)
            for corner in _corners(form):
                assert not _overlap(rect, corner), (field.name, rect, corner)


@pytest.mark.parametrize("form", PAPER_FORMS, ids=[f.id for f in PAPER_FORMS])
def test_no_two_fields_overlap_nor_a_box_its_label(form: FormDef) -> None:
    title = _text((300, 200), form.title, 72)
    code = _text((form.size_px[0] - 500, 210), f"様式 {form.form_code}", 40)
    for field in form.fields:
        printed = _printed(field)
        for rect in _all_printed(field):
            assert not _overlap(rect, title) and not _overlap(rect, code), field.name
        for label in printed["label"]:
            for box in printed["boxes"]:
                assert label[2] + 20 <= box[0], f"{field.name}: label runs into its box"
    for a, b in itertools.combinations(form.fields, 2):
        if a.page != b.page:
            continue
        assert not _overlap(_rect(a.box), _rect(b.box)), (a.name, b.name)
        for ra, rb in itertools.product(_all_printed(a), _all_printed(b)):
            assert not _overlap(ra, rb), (a.name, ra, b.name, rb)


@pytest.mark.parametrize("form", PAPER_FORMS, ids=[f.id for f in PAPER_FORMS])
def test_options_lie_inside_their_field_and_apart(form: FormDef) -> None:
    for field in form.fields:
        assert (field.type == "choice") == bool(field.options), field.name
        if not field.options:
            continue
        assert len({o.value for o in field.options}) == len(field.options), field.name
        boxes = [_rect(o.box) for o in field.options]
        for option, box in zip(field.options, boxes, strict=True):
            assert _inside(box, _rect(field.box)), (field.name, option.value)
            ox, oy, ow, oh = option.box
            label = _text((ox + ow // 2, oy + oh // 2), option.label, 44, "mm")
            assert _inside(label, box), (field.name, option.label)
        for a, b in itertools.combinations(boxes, 2):
            assert not _overlap(a, b), field.name


@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_cell_counts_match_the_types(form: FormDef) -> None:
    for field in form.fields:
        if field.type in CELL_COUNTS:
            assert field.cells == CELL_COUNTS[field.type], field.name
        if field.type in ("kana", "text", "phone", "choice", "checkbox"):
            assert field.cells is None, field.name
        if field.type == "text":
            assert field.charset in (None, "name", "address"), field.name


# --- Recognised as itself ------------------------------------------------------------------


def _filled(form: FormDef) -> Image.Image:
    """The blank with some handwriting in it: a name, and digits in the first cell field."""
    image = render_blank(form)
    draw = ImageDraw.Draw(image)
    pen = font(HANDWRITING_FONTS[0], 80)
    ink = (25, 25, 60)
    name = next(f for f in form.fields if f.type == "text")
    x, y, _, h = name.box
    draw.text((x + 40, y + h // 2), "山田　花子", font=pen, fill=ink, anchor="lm")
    cells = next(f for f in form.fields if f.cells)
    for digit, (cx, cy, cw, ch) in zip("9060401", cell_boxes(cells), strict=False):
        draw.text((cx + cw // 2, cy + ch // 2), digit, font=pen, fill=ink, anchor="mm")
    return image


@pytest.mark.parametrize("upside_down", [False, True], ids=["upright", "upside_down"])
@pytest.mark.parametrize("form", PAPER_FORMS, ids=[f.id for f in PAPER_FORMS])
def test_each_form_is_classified_as_itself(form: FormDef, upside_down: bool) -> None:
    image = _filled(form)
    if upside_down:
        image = image.rotate(180)
    result = process_page(PageImage(1, np.asarray(image), 300.0), FORMS)
    assert result.kind == "form", result.reasons
    assert result.form == form.id
    assert result.form_page == 1
    assert result.rotation == (180 if upside_down else 0)


# --- kura forms propose ----------------------------------------------------------------------


def _blank_file(form: FormDef, tmp_path: Path, kind: str) -> Path:
    image = render_blank(form)
    if kind == "png":
        path = tmp_path / f"{form.id}.png"
        image.save(path, dpi=(300, 300))
    elif kind == "pdf":
        path = tmp_path / f"{form.id}.pdf"
        image.save(path, resolution=300)
    else:  # a desk scan: 200 dpi JPEG, a little turned, blurred and noisy
        path = tmp_path / f"{form.id}.jpg"
        turned = image.rotate(0.6, resample=Image.Resampling.BILINEAR, fillcolor="white")
        pixels = np.asarray(turned).astype(np.float32)
        pixels += np.random.default_rng(7).normal(0, 12, pixels.shape)
        scan = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        scan = scan.resize((scan.width * 2 // 3, scan.height * 2 // 3), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        scan.save(buffer, format="JPEG", quality=80, dpi=(200, 200))
        path.write_bytes(buffer.getvalue())
    return path


def _propose(blank: Path, out: Path, *args: str) -> FormDef:
    result = CliRunner().invoke(app, ["forms", "propose", str(blank), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return FormDef.model_validate(yaml.safe_load(out.read_text(encoding="utf-8")))


def _near(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return all(abs(p - q) <= PROPOSE_TOLERANCE_PX for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("kind", ["png", "pdf", "scan"])
@pytest.mark.parametrize("form", PAPER_FORMS, ids=[f.id for f in PAPER_FORMS])
def test_propose_recovers_the_boxes_and_cells(form: FormDef, kind: str, tmp_path: Path) -> None:
    blank = _blank_file(form, tmp_path, kind)
    draft = _propose(blank, tmp_path / "draft.yaml", "--id", "draft_x", "--title", "草案")
    assert (draft.id, draft.title, draft.size_px) == ("draft_x", "草案", form.size_px)
    assert len({f.name for f in draft.fields}) == len(draft.fields)
    boxed = [f for f in form.fields if f.type != "choice"]  # choices print no boxes
    labels_right = 0
    for field in boxed:
        found = [p for p in draft.fields if _near(p.box, field.box)]
        assert len(found) == 1, (field.name, field.box, [p.box for p in draft.fields])
        assert found[0].cells == field.cells, field.name
        # the type, and for text its charset, proposed from the printed caption
        assert (found[0].type, found[0].charset) == (field.type, field.charset), field.name
        labels_right += found[0].label.replace(" ", "") == field.label.replace(" ", "")
    assert labels_right >= len(boxed) - 1
    # the rows of printed options to circle, each a choice with its options' labels
    choices = [f for f in form.fields if f.type == "choice"]
    proposed = [p for p in draft.fields if p.type == "choice"]
    assert len(proposed) == len(choices)
    for field in choices:
        assert field.options is not None
        found = [p for p in proposed if _inside(_centre(field.options[0].box), p.box)]
        assert len(found) == 1 and found[0].options is not None, field.name
        assert len(found[0].options) == len(field.options), field.name
        for truth, option in zip(field.options, found[0].options, strict=True):
            assert _inside(_centre(truth.box), option.box), (field.name, truth.label)
            assert option.label == truth.label, (field.name, truth.label)
    assert len(draft.fields) == len(boxed) + len(choices), "fields the form does not have"


def _centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2] / 2, box[1] + box[3] / 2)


def _inside(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    return box[0] <= point[0] <= box[0] + box[2] and box[1] <= point[1] <= box[1] + box[3]


def test_propose_makes_a_row_of_squares_with_labels_one_choice(tmp_path: Path) -> None:
    page = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(page)
    face = font(PRINTED_FONT, 44)
    draw.text((170, 600), "届出種別", font=face, fill=0, anchor="lm")
    labels = ["資格取得", "種別変更", "住所変更"]
    for k, label in enumerate(labels):
        x = 700 + 520 * k
        draw.rectangle((x, 558, x + 84, 642), outline=0, width=4)
        draw.text((x + 110, 600), label, font=face, fill=0, anchor="lm")
    blank = tmp_path / "squares.png"
    page.save(blank, dpi=(300, 300))
    draft = _propose(blank, tmp_path / "draft.yaml")
    assert [f.type for f in draft.fields] == ["choice"]
    options = draft.fields[0].options
    assert options is not None and [o.label for o in options] == labels
    assert draft.fields[0].label == "届出種別"
    for k, option in enumerate(options):  # each option covers its square and its label
        assert _inside((700 + 520 * k + 42, 600), option.box)
        assert _inside((700 + 520 * k + 200, 600), option.box)


def test_propose_draws_the_draft_over_the_blank(tmp_path: Path) -> None:
    form = PAPER_FORMS[0]
    blank = _blank_file(form, tmp_path, "png")
    _propose(blank, tmp_path / "draft.yaml", "--png", str(tmp_path / "draft.png"))
    drawn = Image.open(tmp_path / "draft.png")
    assert drawn.size == tuple(form.size_px)
    pixels = np.asarray(drawn.convert("RGB")).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 1000  # the proposed boxes are outlined


def test_a_form_proposed_from_a_scanned_blank_reads_scans_aligned_to_that_blank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No marks of ours anywhere: the blank is a desk scan of paper printed from another PDF,
    the filled page another scan of it, turned and shifted; the draft and the blank kept beside
    it are all the pipeline has."""
    import random

    from kura.bench.synth.corpus import without_marks
    from kura.bench.synth.scanner import ScanEffects, scan
    from pipeline import template

    form = next(f for f in PAPER_FORMS if f.id == "kokunen_hihokensha_todoke")
    paper = without_marks(render_blank(form), form)
    blank = tmp_path / "blank.jpg"
    Image.fromarray(
        np.asarray(scan(paper, ScanEffects(dpi=200, rotation=0.7, noise=4.0), random.Random(2)))
    ).save(blank, quality=85, dpi=(200, 200))
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    for path in YAML_FILES:  # the other forms compete for the page; this one is replaced
        if path.stem != form.id:
            (forms_dir / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr("schemas.forms.FORMS_DIR", forms_dir)
    monkeypatch.setattr(template, "FORMS_DIR", forms_dir)
    load_forms.cache_clear()
    try:
        _read_from_paper(form, paper, blank, forms_dir)
    finally:
        load_forms.cache_clear()


def _read_from_paper(form: FormDef, paper: Image.Image, blank: Path, forms_dir: Path) -> None:
    import random

    from kura.bench.synth.scanner import ScanEffects, scan
    from pipeline import template

    result = CliRunner().invoke(
        app, ["forms", "propose", str(blank), "--out", str(forms_dir / "from_paper.yaml"),
              "--id", "from_paper"]
    )
    assert result.exit_code == 0, result.output
    assert (forms_dir / "from_paper.blank.png").is_file()
    assert template.has_reference_blank("from_paper")

    filled = paper.copy()
    draw = ImageDraw.Draw(filled)
    x, y, _, h = form.field("postal_code").box
    for k, digit in enumerate("1700013"):
        draw.text((x + 110 * k + 30, y + h // 2), digit, font=font(HANDWRITING_FONTS[0], 90),
                  fill=(10, 10, 40), anchor="lm")
    effects = ScanEffects(dpi=200, rotation=-1.5, shift=(30.0, -20.0), color_mode="gray")
    page = np.asarray(scan(filled, effects, random.Random(3)).convert("RGB"))
    read = process_page(PageImage(1, page, 200))
    assert read.form == "from_paper"
    assert read.fields["postal_code"].value == "1700013"
