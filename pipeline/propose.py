"""Propose a draft form definition from a blank form: find the printed boxes and the rows of
per-character cells (`pipeline.blankboxes`), guess each field's type from its shape and its
printed caption (`pipeline.captions`), find the choices (`pipeline.choicerows`), and write
YAML for an administrator to finish (names, labels, types marked TODO, choices)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import yaml

from pipeline.blankboxes import (
    SPECK_PX,
    ProposedField,
    dark_print,
    flat_paper,
    printed,
    ruling_lines,
    shaped_fields,
    with_furigana,
)
from pipeline.captions import CaptionCells, named_by_caption
from pipeline.choicerows import (
    checkbox_rows,
    label_rows,
    printed_words,
    proposed_choice,
    single_checkbox,
    square_rows,
)
from pipeline.cleanup import deskew, to_gray
from pipeline.ingest import TARGET_DPI, rasterise
from schemas.forms import FormDef

PAPER_MM = {
    "A3": (297, 420),
    "B4": (257, 364),
    "A4": (210, 297),
    "B5": (182, 257),
    "A5": (148, 210),
}
"""Paper sizes (JIS B) a Japanese form is printed on; a scan's size is snapped to them."""
PAPER_SNAP = 0.01


def propose_fields(rgb: np.ndarray, page: int = 1) -> list[ProposedField]:
    """The boxes and cell rows of one blank page, top to bottom, then left to right. On a
    ruled form a cell with print in it is a caption (naming the cell beside or below it),
    a legend or a note, or holds □ options (a choice, or a lone □: a checkbox); none is
    proposed as a writing field, unless its print is a caption in its corner."""
    gray = flat_paper(to_gray(rgb))
    ink = dark_print(gray)
    ruling = ruling_lines(ink)
    fields, printed_cells = shaped_fields(ink, ruling, page)
    square_cells = square_rows(printed(ink, ruling), printed_cells, page)
    option_cells = {row.cell for row in square_cells}
    checkboxes = [single_checkbox(row, gray) for row in square_cells if len(row.squares) == 1]
    square_choices = [row for row in square_cells if len(row.squares) > 1]
    captions = CaptionCells([c for c in printed_cells if c.box not in option_cells], gray)
    boxes = [f.box for f in fields] + [c.box for c in printed_cells]
    words = printed_words(ink, ruling, boxes)
    fields, choices = checkbox_rows(fields, words)
    choices += square_choices + label_rows(words, boxes, page)
    ordered = with_furigana(sorted(fields, key=lambda f: (f.page, f.box[1], f.box[0])))
    proposed = named_by_caption(ordered, gray, captions) + checkboxes + [
        proposed_choice(c, gray, captions.caption(c.cell) if c.cell else None) for c in choices
    ]
    return sorted(proposed, key=lambda f: (f.page, f.box[1], f.box[0]))


def propose(
    data: bytes, form_id: str = "draft", title: str = "TODO", source: str = "the blank form"
) -> tuple[str, list[ProposedField]]:
    """The draft YAML for a blank form file (PDF, TIFF, PNG, JPEG), and the fields found."""
    pages = rasterise(data)
    fields: list[ProposedField] = []
    for page in pages:
        upright, _ = deskew(page.image)
        fields.extend(propose_fields(upright, page.number))
    height, width = pages[0].image.shape[:2]
    text = draft_yaml(form_id, title, paper_size((width, height)), len(pages), fields, source)
    FormDef.model_validate(yaml.safe_load(text))  # the draft is a valid definition
    return text, fields


def reference_blanks(data: bytes) -> list[bytes]:
    """Each page of the blank, upright, its print kept and the paper made white, on a page of
    the draft's size, as PNG: kept beside the definition (`pipeline.template.reference_blank`)
    it is what scans of the form are aligned to and what is taken out before reading."""
    out = []
    pages = rasterise(data)
    height, width = pages[0].image.shape[:2]
    size_px = paper_size((width, height))
    for page in pages:
        upright, _ = deskew(page.image)
        gray = to_gray(upright)
        ink = dark_print(gray).astype(np.uint8)
        _count, labels, stats, _centres = cv2.connectedComponentsWithStats(ink)
        print_ = (stats[:, cv2.CC_STAT_AREA] >= SPECK_PX)[labels] & (labels > 0)
        canvas = np.full((size_px[1], size_px[0]), 255, np.uint8)
        height, width = min(gray.shape[0], size_px[1]), min(gray.shape[1], size_px[0])
        kept = np.where(print_, gray, 255)[:height, :width]
        canvas[:height, :width] = kept
        out.append(cv2.imencode(".png", canvas)[1].tobytes())
    return out


def paper_size(size_px: tuple[int, int]) -> tuple[int, int]:
    """The standard portrait paper size a page's pixel size is within 1 % of, at 300 dpi
    (a scan loses or gains a row or two), else the size itself."""
    width, height = size_px
    for short_mm, long_mm in PAPER_MM.values():
        paper = (round(short_mm / 25.4 * TARGET_DPI), round(long_mm / 25.4 * TARGET_DPI))
        if abs(width - paper[0]) <= PAPER_SNAP * paper[0] and (
            abs(height - paper[1]) <= PAPER_SNAP * paper[1]
        ):
            return paper
    return size_px


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def draft_yaml(
    form_id: str,
    title: str,
    size_px: tuple[int, int],
    pages: int,
    fields: list[ProposedField],
    source: str,
) -> str:
    lines = [
        f"# Draft proposed by `kura forms propose` from {source}.",
        "# To finish: give each field a name and its printed label, check every type marked",
        "# TODO, set charset (name | address) on text fields, give each choice's options their",
        "# values (and add any choice whose options were not found), and set document_class and",
        "# form_code.",
        f"id: {_quoted(form_id)}",
        f"title: {_quoted(title)}",
        "kind: form",
        'document_class: "TODO"',
        'form_code: "TODO"',
        f"pages: {pages}",
        f"dpi: {TARGET_DPI}",
        f"size_px: [{size_px[0]}, {size_px[1]}]",
        "fields:" if fields else "fields: []",
    ]
    for number, field in enumerate(fields, start=1):
        x, y, w, h = field.box
        lines.append(f"  - name: {field.name or f'field_{number}'}")
        lines.append(f"    label: {_quoted(field.label or 'TODO')}")
        type_line = f"    type: {field.type}"
        lines.append(f"{type_line}  # {field.note}" if field.note else type_line)
        if field.page != 1:
            lines.append(f"    page: {field.page}")
        if field.charset:
            lines.append(f"    charset: {field.charset}")
        lines.append(f"    box: [{x}, {y}, {w}, {h}]")
        if field.cells:
            lines.append(f"    cells: {field.cells}")
        if field.options:
            lines.append("    options:")
            for k, (label, (ox, oy, ow, oh)) in enumerate(field.options, start=1):
                lines.append(
                    f"      - {{value: option_{k}, label: {_quoted(label)}, "
                    f"box: [{ox}, {oy}, {ow}, {oh}]}}"
                )
    return "\n".join(lines) + "\n"


def draw_draft(data: bytes, fields: list[ProposedField], page: int = 1) -> bytes:
    """The blank page with the draft drawn over it, as PNG, for the administrator to check:
    each box in red (blue where a TODO remains) with its proposed name and type."""
    from PIL import Image, ImageDraw

    from pipeline.fonts import PRINTED_FONT, font

    pages = rasterise(data)
    upright, _ = deskew(pages[page - 1].image)
    image = Image.fromarray(upright).convert("RGB")
    draw = ImageDraw.Draw(image)
    for field in (f for f in fields if f.page == page):
        x, y, w, h = field.box
        colour = (40, 90, 220) if field.note else (220, 30, 30)
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=5)
        caption = f"{field.name or '?'}: {field.type}" + (f" ×{field.cells}" if field.cells else "")
        draw.text((x + 6, y + 4), caption, font=font(PRINTED_FONT, 30), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def propose_file(
    path: Path, form_id: str = "draft", title: str = "TODO"
) -> tuple[str, list[ProposedField]]:
    return propose(path.read_bytes(), form_id, title, path.name)
