"""The 処理結果一覧表 read as a table: its definition, its cells' canonical values, a printed and
scanned list through `kura extract --json`, and bad lists (a page missing, twice, of another
list; a 基礎年金番号 that fails its format) that say why and lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from kura.bench.synth.lists import FACES, LIST_FORM, PRINTERS, render_list, to_half_width
from kura.bench.train_kana import HELD_FACES, TRAINED_FACES
from kura.cli import app
from pipeline import halfkana
from pipeline.fonts import PRINTED_FONT
from pipeline.ingest import PageImage
from pipeline.listcells import municipality_code_reasons, parse_date, parse_period
from pipeline.listchecks import check_list
from pipeline.listgeometry import printed_lines
from pipeline.listheader import PAGE_NUMBER
from pipeline.listkana import CELL_SURE, UNSURE_VOICING, _cell_vote, _counted, compose_voicing
from pipeline.listverdicts import decide_cell
from pipeline.listvocabulary import ctc_log_likelihood
from pipeline.ocr import Reading
from pipeline.page import assemble, process_page
from schemas.contracts import FieldResult, PageResult
from schemas.forms import get_form

runner = CliRunner()


# --- The definition -------------------------------------------------------------------------

def test_the_list_is_published_as_a_table_with_its_columns_and_header_block() -> None:
    result = runner.invoke(app, ["forms", "list", "--json"])
    assert result.exit_code == 0, result.output
    table = next(f for f in json.loads(result.output) if f["id"] == LIST_FORM)
    assert table["kind"] == "table"
    headers = {c["header"] for c in table["columns"]}
    assert {"番号", "基礎年金番号", "氏名（カナ）", "生年月日", "届書区分", "受付年月日",
            "処理年月日", "処理結果", "免除区分", "免除期間", "備考"} <= headers
    assert all({"name", "header", "type"} <= set(c) for c in table["columns"])
    labels = {h["label"] for h in table["header"]}
    assert {"市区町村コード", "市区町村名", "作成年月日", "対象期間", "頁"} <= labels


# --- Cells ----------------------------------------------------------------------------------

@pytest.mark.parametrize("printed", [
    "令和7年6月1日", "R07.06.01", "R7.6.1", "9070601", "2025/06/01", "７．６．１",
    "令和 7年 6月 1日",
])
def test_every_printed_date_form_is_one_iso_date(printed: str) -> None:
    assert parse_date(printed, "令和").value == "2025-06-01"


def test_dates_that_cannot_be_trusted_say_why() -> None:
    assert parse_date("7.6.1").reasons == ("era_missing",)  # a birth date needs its era
    assert parse_date("H31.05.01").reasons == ("date_outside_era",)
    assert parse_date("R07.02.30").reasons == ("date_invalid",)
    assert parse_date("令和七年").reasons == ("date_format",)
    assert parse_date("令和元年5月1日").value == "2019-05-01"


def test_periods_of_months_and_days() -> None:
    assert parse_period("令和7年7月～令和8年6月").value == "2025-07/2026-06"
    assert parse_period("R07.07〜R08.06").value == "2025-07/2026-06"
    assert parse_period("7.7～8.6", "令和").value == "2025-07/2026-06"
    assert parse_period("R07.06.02～R07.06.06").value == "2025-06-02/2025-06-06"
    assert parse_period("R08.06～R07.07").reasons == ("period_reversed",)


def test_municipality_code_check_digit() -> None:
    assert municipality_code_reasons("041009") == []
    assert municipality_code_reasons("041008") == ["check_digit"]
    assert municipality_code_reasons("04100") == ["municipality_code_format"]


def test_half_width_kana_and_their_separate_voicing_marks() -> None:
    assert to_half_width("ヤマダ　タロウ") == "ﾔﾏﾀﾞ\u3000ﾀﾛｳ"
    assert compose_voicing("タカキ”シュンスケ") == "タカギシュンスケ"
    assert compose_voicing("ハ°ク") == "パク"
    assert compose_voicing("ギ”") == "ギ"  # read both the voiced kana and its mark


def test_ctc_likelihood_prefers_the_printed_value() -> None:
    # three outputs: blank, A, B; frames that say "A A blank B"
    frames = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    logs = np.log(frames)
    assert ctc_log_likelihood(logs, [1, 2]) > ctc_log_likelihood(logs, [2, 1])
    assert ctc_log_likelihood(logs, [1, 2]) > ctc_log_likelihood(logs, [1])


# --- Page and row checks (pure) ---------------------------------------------------------------

def _cell(value: str) -> FieldResult:
    return FieldResult(value=value, raw=value, confidence=1.0, status="accepted")


def _page(number: int, printed: int | None, of: int, rows: list[int], *,
          created: str = "2025-06-10", total: int | None = None) -> PageResult:
    return PageResult(
        number=number, kind="table", form=LIST_FORM, list_page=printed, list_pages=of,
        printed_total=total,
        fields={"municipality_code": _cell("041009"), "created_date": _cell(created),
                "period": _cell("2025-06-02/2025-06-06")},
        rows=[{"number": _cell(str(n))} for n in rows])


def test_a_complete_list_assembles_into_one_document_without_reasons() -> None:
    pages = [_page(1, 1, 2, [1, 2]), _page(2, 2, 2, [3], total=3)]
    documents = assemble("list.tif", pages)
    assert len(documents) == 1
    assert documents[0].pages == [1, 2] and documents[0].reasons == []
    assert [r["number"].value for r in documents[0].rows or []] == ["1", "2", "3"]
    assert not documents[0].needs_review


def test_missing_duplicated_and_foreign_pages_are_reported_and_kept() -> None:
    pages = [
        _page(1, 1, 3, [1, 2]),
        _page(2, 3, 3, [5, 6], total=6),
        _page(3, 1, 1, [1], created="2025-06-17"),  # a page of another list
        _page(4, 3, 3, [5, 6], total=6),  # page 3 scanned twice
    ]
    documents = assemble("list.tif", pages)
    assert [d.pages for d in documents] == [[1, 2, 4], [3]]
    first = documents[0]
    assert "list_page_missing:2" in first.reasons
    assert "list_page_duplicate:3" in first.reasons
    assert "list_page_of_another_list:3" in first.reasons
    assert "list_row_number_gap:2" in first.reasons
    assert "list_row_number_repeated:5" not in first.reasons  # pages repeat, not rows
    assert len(first.rows or []) == 6  # nothing dropped: the person sees every row
    assert first.row_pages == [1, 1, 2, 2, 4, 4]
    assert first.needs_review


def test_a_page_number_misread_as_1_stays_with_its_list_where_the_rows_run_on() -> None:
    pages = [_page(1, 1, 3, [1, 2]), _page(2, 2, 3, [3, 4]),
             _page(3, 1, 3, [5, 6], total=6)]  # 3/3 printed faint, read 1/3
    documents = assemble("list.tif", pages)
    assert [d.pages for d in documents] == [[1, 2, 3]]
    assert "list_page_number_against_rows:3" in documents[0].reasons
    assert documents[0].needs_review
    # a second list of the same week starts again at row 1: a list of its own
    pages = [_page(1, 1, 1, [1, 2]), _page(2, 1, 1, [1, 2])]
    assert [d.pages for d in assemble("lists.tif", pages)] == [[1], [2]]


def test_a_lone_character_in_hairline_print_is_a_line_of_its_own() -> None:
    text = np.zeros((200, 400), bool)
    text[10:40, 20:380] = np.random.default_rng(1).random((30, 360)) < 0.3  # a row of print
    text[60, 300:320] = text[61, 300:320] = True  # a wrapped 下: its bar, then a one-pixel stem
    text[62:90, 310] = True
    text[120, 50] = True  # a speck
    text[150:180, 20:380] = np.random.default_rng(2).random((30, 360)) < 0.3
    assert [(line.top, line.bottom) for line in printed_lines(text)] == [
        (10, 40), (60, 90), (150, 180)]


def test_a_total_that_disagrees_with_the_rows_read() -> None:
    document = assemble("list.tif", [_page(1, 1, 1, [1, 2], total=3)])[0]
    assert "list_row_count:2/3" in document.reasons
    assert document.needs_review


def test_a_row_number_printed_twice() -> None:
    document = assemble("list.tif", [_page(1, 1, 1, [1, 2, 2, 3], total=4)])[0]
    assert document.reasons == ["list_row_number_repeated:2"]
    again = document.model_copy(update={"reasons": []})
    check_list(again, [_page(1, 1, 1, [1, 2, 2, 3], total=4)], [])
    assert again.reasons == document.reasons


def test_a_row_number_out_of_sequence_goes_to_a_person_with_the_number_its_neighbours_say(
) -> None:
    document = assemble("list.tif", [_page(1, 1, 1, [75, 76, 7, 78, 79], total=5)])[0]
    misread = (document.rows or [])[2]["number"]
    assert misread.status == "review" and "row_number_out_of_sequence" in misread.reasons
    assert misread.value == "77" and misread.raw == "7"  # proposed; a person confirms
    assert all(row["number"].status == "accepted"
               for i, row in enumerate(document.rows or []) if i != 2)
    # a page missing is a gap between pages, not a misread number
    gap = assemble("list.tif", [_page(1, 1, 2, [1, 2]), _page(2, 2, 2, [5, 6], total=6)])[0]
    assert all(row["number"].status == "accepted" for row in gap.rows or [])


def test_two_row_numbers_misread_alike_go_to_a_person_with_the_numbers_around_them() -> None:
    # a faint 4 read 1 twice running: 18 and 19 follow each other, not the rows around them
    document = assemble("list.tif", [_page(1, 1, 1, [46, 47, 18, 19, 50, 51], total=6)])[0]
    cells = [row["number"] for row in document.rows or []]
    assert [c.value for c in cells] == ["46", "47", "48", "49", "50", "51"]
    assert [c.status for c in cells] == ["accepted"] * 2 + ["review"] * 2 + ["accepted"] * 2
    # the same numbers as a page of their own are a page out of place, not misread
    pages = [_page(1, 1, 3, [46, 47]), _page(2, 2, 3, [18, 19]), _page(3, 3, 3, [50, 51])]
    document = assemble("list.tif", pages)[0]
    assert [row["number"].value for row in document.rows or []] == ["46", "47", "18", "19",
                                                                     "50", "51"]


def test_a_word_whose_width_holds_another_count_of_characters_is_unsure() -> None:
    """Printed on a fixed pitch, a word of n characters is about n pitches wide: a reading
    that lost a character no longer fits its width."""
    crops, readings = [], []
    rng = np.random.default_rng(1)
    for n in [3, 4, 5, 6, 3, 4, 5, 6, 4, 5]:
        crop = rng.integers(220, 256, (30, 20 * n + 20)).astype(np.uint8)  # paper
        for k in range(n):
            crop[6:24, 10 + 20 * k : 10 + 20 * k + 14] = rng.integers(10, 60, (18, 14))
        crops.append(crop)
        readings.append(Reading("ア" * n, 0.99, "ppocr"))
    readings[3] = Reading("ア" * 5, 0.99, "ppocr")  # six printed, five read
    checked = _counted(crops, readings, [len(r.text) for r in readings])
    assert checked[3].confidence == UNSURE_VOICING
    assert all(r.confidence == 0.99 for i, r in enumerate(checked) if i != 3)


# --- Half-width kana read cell by cell -----------------------------------------------------

MINCHO = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")


def _printed_word(text: str, face: Path, px: int, dpi: int = 300) -> np.ndarray:
    """`text` printed at `px` (300 dpi) and scanned at `dpi`: grey, dark on paper."""
    from PIL import Image, ImageDraw, ImageFont

    ink = Image.new("L", (int(px * (len(text) * 0.5 + 2)), int(px * 1.8)), 255)
    ImageDraw.Draw(ink).text((px, px // 3), text, font=ImageFont.truetype(str(face), px),
                             fill=25)
    page = np.asarray(ink, np.float32)
    page = cv2.resize(page, None, fx=dpi / 300, fy=dpi / 300, interpolation=cv2.INTER_AREA)
    return np.clip(cv2.GaussianBlur(page, (0, 0), 0.6), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("printed", "face", "px", "dpi", "canonical"), [
    ("ﾔﾏﾀﾞ ﾀﾛｳ", PRINTED_FONT, 30, 300, "ヤマダタロウ"),
    ("ｼﾞｮｳｼﾞ ｷｮｳｺ", MINCHO, 30, 240, "ジョウジキョウコ"),  # small kana, voicing marks
    ("ﾊﾟｸ ﾋﾞｮﾝﾎ", PRINTED_FONT, 26, 200, "パクビョンホ"),  # handakuten, 6 pt at 200 dpi
    ("ﾜﾀﾅﾍﾞ ﾘｭｳｲﾁ", MINCHO, 26, 300, "ワタナベリュウイチ"),  # ﾜ/ﾘ, small ｭ
])
def test_half_width_kana_are_read_cell_by_cell(
        printed: str, face: Path, px: int, dpi: int, canonical: str) -> None:
    read = halfkana.read_word(_printed_word(printed, face, px, dpi))
    assert read is not None and read.text == canonical


def test_a_cell_with_no_print_is_no_word() -> None:
    assert halfkana.read_word(np.full((30, 80), 245, np.uint8)) is None


def test_voicing_marks_join_the_kana_before_them() -> None:
    assert halfkana.full_width("ﾀﾞﾊﾟｳﾞｧｰ") == "ダパヴァー"


def test_the_line_and_the_cell_readers_vote_and_disagreement_goes_to_a_person() -> None:
    """Both read the same: the line reading stands. They differ: the cell reader's kana
    are proposed where it is sure (it reads half-width print better), PP-OCR's where it is
    not; either way the name waits for a person."""
    column = get_form(LIST_FORM).column("name_kana")
    cells = halfkana.read_word(_printed_word("ﾔﾏﾀﾞ", PRINTED_FONT, 28, 240))
    assert cells is not None and cells.confidence > 0.9
    agreed = _cell_vote(cells, Reading("ﾔﾏﾀﾞ", 0.95, "ppocr"))
    assert agreed == Reading("ﾔﾏﾀﾞ", 0.95, "ppocr")
    assert decide_cell(column, agreed).status == "accepted"
    unsure = _cell_vote(cells, Reading("ﾔﾏﾀﾞ", 0.8, "ppocr"))  # agreeing does not make it sure
    assert decide_cell(column, unsure).status == "review"
    disputed = _cell_vote(cells, Reading("ﾔﾏﾀ", 0.95, "ppocr"))  # the line reader lost ﾞ
    assert disputed.text == "ヤマダ" and disputed.confidence <= UNSURE_VOICING
    cell = decide_cell(column, disputed)
    assert cell.value == "ヤマダ" and cell.status == "review"
    # a face the cell reader never saw: unsure of a cell, it does not overrule PP-OCR
    unsure_cells = halfkana.KanaReading("ヤマグ", CELL_SURE - 0.2)
    kept = decide_cell(column, _cell_vote(unsure_cells, Reading("ﾔﾏﾀﾞ", 0.95, "ppocr")))
    assert kept.value == "ヤマダ" and kept.status == "review"


@pytest.mark.parametrize(("printed", "page"), [
    ("1/3頁", (1, 3)), ("-2/3-", (2, 3)), ("頁:3/3", (3, 3)), ("頁:3:3", (3, 3)),
])
def test_printed_page_numbers(printed: str, page: tuple[int, int]) -> None:
    match = next(m for pattern in PAGE_NUMBER if (m := pattern.match(printed)))
    assert (int(match[1]), int(match[2])) == page


# --- A printed, scanned list ---------------------------------------------------------------

def _as_tiff(images: list, path: Path) -> Path:
    images[0].save(path, save_all=True, append_images=images[1:],
                   dpi=images[0].info.get("dpi", (300, 300)))
    return path


def test_a_scanned_list_reads_through_kura_extract(tmp_path: Path) -> None:
    """Columns in another order under other headers, half-width names, a ruled list, and a
    row whose 基礎年金番号 is a digit short: that cell waits for a person with its reason."""
    images, truth = render_list(
        7, pages=1, rows_per_page=6, strength=0.5, short_bpn_row=2, half_width_names=True,
        ruled=True, face="gothic", impact=False,
        columns=("number", "name_kana", "basic_pension_number", "birth_date",
                 "notification_type", "received_date", "processed_date", "result",
                 "exemption_type", "exemption_period", "remarks"),
        headers=("番号", "氏名カナ", "基礎年金番号", "生年月日", "届出区分", "受付日", "処理日",
                 "処理結果", "免除区分", "免除期間", "備考"))
    path = _as_tiff(images, tmp_path / "list.tif")
    result = runner.invoke(app, ["extract", str(path), "--json"])
    assert result.exit_code == 0, result.output
    documents = json.loads(result.output)["documents"]
    assert len(documents) == 1
    document = documents[0]
    assert document["form"] == LIST_FORM
    rows = document["rows"]
    assert len(rows) == len(truth["rows"]) == 6
    exact = sum(all(row[k]["value"] == v for k, v in want.items())
                for row, want in zip(rows, truth["rows"], strict=True))
    assert exact >= 5
    short = rows[2]["basic_pension_number"]
    assert short["value"] == truth["rows"][2]["basic_pension_number"]
    assert short["status"] == "review" and short["reasons"] == ["length_9_of_10"]
    assert all({"value", "confidence", "status"} <= set(cell) for row in rows
               for cell in row.values())
    # every cell links back to its page and box; rows lie one below the other
    assert {cell["page"] for row in rows for cell in row.values()} == {1}
    tops = [row["number"]["box"][1] for row in rows]
    assert tops == sorted(tops) and all(row["number"]["box"][3] > 0 for row in rows)
    assert document["fields"]["municipality_code"]["value"] == truth["header"][
        "municipality_code"]


def test_a_seed_prints_the_same_list_in_each_pool_of_printers_only_its_face_changes() -> None:
    """The IPAex pool prints as the generator always printed (old seeds keep their lists);
    the trained and held pools draw a face of the list's kind from faces the kana reader was
    trained on, or never saw."""
    lists = {pool: render_list(5, pages=1, rows_per_page=2, strength=0.2, printers=pool)
             for pool in ("ipaex", "trained", "held")}
    truths = {pool: truth for pool, (_, truth) in lists.items()}
    assert truths["ipaex"]["rows"] == truths["trained"]["rows"] == truths["held"]["rows"]
    face = truths["ipaex"]["style"]["face"]
    assert truths["ipaex"]["style"]["font"] == PRINTERS["ipaex"][face][0]
    assert truths["trained"]["style"]["font"] in PRINTERS["trained"][face]
    assert truths["held"]["style"]["font"] in PRINTERS["held"][face]
    trained = {name for names in PRINTERS["trained"].values() for name in names}
    held = {name for names in PRINTERS["held"].values() for name in names}
    assert set(TRAINED_FACES) == {FACES[name] for name in trained}  # what train-kana draws
    assert set(HELD_FACES) == {FACES[name] for name in held} and not trained & held
    assert all(face.path.exists() for face in FACES.values())
    ipaex, held = (np.asarray(lists[pool][0][0]) for pool in ("ipaex", "held"))
    assert ipaex.shape == held.shape and (ipaex != held).any()


def test_a_list_page_is_classified_as_a_table_either_way_up() -> None:
    images, truth = render_list(3, pages=1, rows_per_page=4, strength=0.3)
    page = np.asarray(images[0].convert("RGB"))[::-1, ::-1].copy()
    result = process_page(PageImage(1, page, 300))
    assert result.kind == "table" and result.form == LIST_FORM
    assert result.rotation == (0 if truth["effects"]["upside_down"] else 180)
    assert len(result.rows) == 4
    assert get_form(LIST_FORM).kind == "table"


def test_a_list_has_no_blank_form(tmp_path: Path) -> None:
    result = runner.invoke(app, ["forms", "blank", LIST_FORM, "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "kind: table" in result.output
    assert not (tmp_path / "x.png").exists()


def test_the_header_block_and_page_numbers_are_read_and_a_missing_page_is_reported() -> None:
    """市区町村コード, 市区町村名, 作成年月日, 対象期間 and the printed n/m of each page of a
    scanned three-page list; the same list scanned without its second page and with its
    first twice says so, and keeps every row it read."""
    images, truth = render_list(11, pages=3, rows_per_page=3, strength=0.4, impact=False,
                                face="gothic", page_label="n/m頁")
    pages = [process_page(PageImage(n, np.asarray(image.convert("RGB")), 300))
             for n, image in enumerate(images, start=1)]
    assert [(p.list_page, p.list_pages) for p in pages] == [(1, 3), (2, 3), (3, 3)]
    for page in pages:
        assert {name: page.fields[name].value for name in truth["header"]} == truth["header"]
        assert all(page.fields[name].status == "accepted" for name in truth["header"])
    whole = assemble("list.tif", pages)
    assert len(whole) == 1 and whole[0].reasons == [] and len(whole[0].rows or []) == 9

    first, _, third = pages
    again = first.model_copy(update={"number": 4})
    broken = assemble("list.tif", [first, third.model_copy(update={"number": 2}), again])
    reasons = [r for d in broken for r in d.reasons]
    assert "list_page_missing:2" in reasons
    assert sum(len(d.rows or []) for d in broken) == 9  # nothing dropped
    assert all(d.needs_review for d in broken)
