"""`kura forms propose` on dense ruled blanks of other cities (tests/ruled_forms.py): the
caption cells name the cells beside or below them and are never proposed, a caption in a
cell's corner names that cell, an office's 受付印 box is no field, the □ options and the 12
cells of 個人番号 are found, clean at 300 dpi and through four scanners (ruled_forms.SCANS)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from kura.cli import app
from pipeline.blankboxes import PrintedCell, dark_print, printed, ruling_lines
from pipeline.choicerows import printed_squares, square_rows
from pipeline.fonts import PRINTED_FONT, font
from schemas.forms import FormDef
from tests import ruled_forms

BLANKS: dict[str, Callable[[], tuple[Image.Image, list[ruled_forms.Expected]]]] = (
    ruled_forms.BLANKS
)


def _blank(
    name: str, scan: str | None, tmp_path: Path
) -> tuple[Path, list[ruled_forms.Expected]]:
    image, expected = BLANKS[name]()
    path = tmp_path / f"{name}.png"
    if scan is not None:
        image = ruled_forms.scanned(image, scan)
    image.save(path, dpi=image.info.get("dpi", (300, 300)))
    return path, expected


def _propose(blank: Path, out: Path, *args: str) -> FormDef:
    result = CliRunner().invoke(app, ["forms", "propose", str(blank), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return FormDef.model_validate(yaml.safe_load(out.read_text(encoding="utf-8")))


@pytest.mark.parametrize("scan", [None, *ruled_forms.SCANS], ids=["300dpi", *ruled_forms.SCANS])
@pytest.mark.parametrize("name", list(BLANKS))
def test_propose_reads_a_ruled_blank_of_another_city(
    name: str, scan: str | None, tmp_path: Path
) -> None:
    blank, expected = _blank(name, scan, tmp_path)
    draft = _propose(blank, tmp_path / "draft.yaml")
    score = ruled_forms.score(expected, draft)
    assert score.false_fields == 0, [(f.box, f.label) for f in draft.fields]
    assert score.found == score.types_right == len(expected), (score, draft.fields)
    assert score.options_right == len(expected), score
    assert score.labels_right >= len(expected) - 1, score
    for want in expected:  # each field named for its caption
        got = next(f for f in draft.fields if ruled_forms.matches(want, f.box))
        assert got.name == (want.name or got.name), (want, got)
    my_number = next(f for f in draft.fields if f.type == "my_number")
    assert my_number.cells == 12


def test_a_printed_square_is_told_from_a_boxed_character(tmp_path: Path) -> None:
    """□ printed as text is a box to tick; 国 (囗 round 玉) and the 口 in 番号 and 合 are not."""
    page = Image.new("L", (1600, 200), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((10, 10, 1590, 190), outline=0, width=3)
    draw.text((40, 100), "□国民年金　□番号　組合　□回", font=font(PRINTED_FONT, 44), fill=0,
              anchor="lm")
    ink = dark_print(np.asarray(page))
    squares = printed_squares(printed(ink, ruling_lines(ink)), (13, 13, 1574, 174))
    starts = [x for x, _, _, _ in squares]
    assert len(squares) == 3, squares
    assert starts[0] < 60  # the first □, then the two after their gaps
    face = font(PRINTED_FONT, 44)
    for text, x in (("□国民年金　", starts[1]), ("□国民年金　□番号　組合　", starts[2])):
        assert abs(40 + face.getlength(text) - x) <= 8, (text, x)


def _square_rows(text: str) -> list[list[int]]:
    """The rows `square_rows` finds in one ruled cell printed with `text`: each row's
    options as their left edges."""
    page = Image.new("L", (1600, 200), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((10, 10, 1590, 190), outline=0, width=3)
    draw.text((40, 100), text, font=font(PRINTED_FONT, 40), fill=0, anchor="lm")
    ink = dark_print(np.asarray(page))
    cell = PrintedCell((10, 10, 1581, 181), (13, 13, 1575, 175))
    rows = square_rows(printed(ink, ruling_lines(ink)), [cell], 1)
    return [[box[0] for box in row.options] for row in rows]


def test_a_word_starting_with_口_is_no_box_to_tick() -> None:
    """In print 口 and □ are the same square: 口座番号 is a caption, not a checkbox, and in
    □口座振替 the 口 is the first character of the option's label."""
    face = font(PRINTED_FONT, 40)
    assert _square_rows("口座番号") == []
    assert _square_rows("口座振替") == []
    rows = _square_rows("□口座振替　□納付書")
    assert len(rows) == 1 and len(rows[0]) == 2, rows
    assert abs(rows[0][1] - (40 + face.getlength("□口座振替　"))) <= 8
    assert len(_square_rows("□　郵送を希望する")[0]) == 1  # a □ alone, set apart: a checkbox


def test_the_draft_of_a_ruled_blank_is_drawn_over_it(tmp_path: Path) -> None:
    blank, _ = _blank("captions_left", None, tmp_path)
    _propose(blank, tmp_path / "draft.yaml", "--png", str(tmp_path / "draft.png"))
    pixels = np.asarray(Image.open(tmp_path / "draft.png").convert("RGB")).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    blue = (pixels[..., 2] > 180) & (pixels[..., 0] < 80)
    # named fields outlined red, the □ rows (one answer or several?) blue; the caption
    # column is not outlined
    assert red.sum() > 1000 and blue.sum() > 1000
    assert not red[600:1700, 160:500].any() and not blue[600:1700, 160:500].any()
