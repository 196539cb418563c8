"""Propose a draft form definition from a blank form: find the printed boxes and the rows of
per-character cells, guess each field's type from its shape, and write YAML for an
administrator to finish (names, labels, types marked TODO, choices).

The method: the form's dark print is split into long horizontal and long vertical strokes by
morphological opening (text strokes are too short to survive), the two are joined into a
ruling mask, and every white region that the ruling closes in on all sides and that fills its
bounding rectangle is one box interior. Interiors of equal height that sit side by side,
separated only by a ruling line, are the cells of one cell field. Each box is grown back out
over its ruling lines to the outer edge, which is where a definition's `box` lies.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from pipeline.cleanup import deskew, to_gray
from pipeline.ingest import TARGET_DPI, rasterise
from schemas.forms import FieldType, FormDef

Box = tuple[int, int, int, int]

LINE_MIN_PX = 60
"""Shortest ruling stroke kept at 300 dpi (0.2 inch); printed text strokes are shorter."""
MIN_INTERIOR_PX = 40
"""Smallest box interior taken for a box, per side."""
RECT_FILL = 0.9
"""A box interior must fill this share of its bounding rectangle."""
ALIGN_PX = 8
"""Tolerance for the top and bottom edges of cells in one row."""
CELL_GAP_PX = 14
"""Widest ruling line between two cells of one field."""
FURIGANA_GAP_PX = 60
"""Widest gap between a kana box and the name box under it."""
LEGEND_REACH_PX = 120
"""A date's era legend starts within this distance right of its cells."""

PAPER_MM = {
    "A3": (297, 420),
    "B4": (257, 364),
    "A4": (210, 297),
    "B5": (182, 257),
    "A5": (148, 210),
}
"""Paper sizes (JIS B) a Japanese form is printed on; a scan's size is snapped to them."""
PAPER_SNAP = 0.01

TYPE_BY_CELLS: dict[int, FieldType] = {12: "my_number", 10: "bpn", 7: "date"}


@dataclass(frozen=True)
class ProposedField:
    page: int
    box: Box
    cells: int | None
    type: FieldType
    note: str | None = None
    """Why the administrator must look at this field, written as a YAML comment."""
    charset: str | None = None
    label: str | None = None
    """The printed caption beside or above the box, as read."""
    name: str | None = None
    options: tuple[tuple[str, Box], ...] = ()
    """A choice's options: each printed label as read and the box a mark on it falls in."""


def propose_fields(rgb: np.ndarray, page: int = 1) -> list[ProposedField]:
    """The boxes and cell rows of one blank page, top to bottom, then left to right."""
    ink = _ink(to_gray(rgb))
    ruling = _ruling(ink)
    interiors = _interiors(ruling)
    fields: list[ProposedField] = []
    for group in _group_cells(interiors):
        box = _outer_box(ruling, group)
        if len(group) > 1:
            fields.append(_cell_field(page, box, len(group), ink))
        else:
            fields.append(_box_field(page, box))
    gray = to_gray(rgb)
    boxes = [f.box for f in fields]
    fields, choices = _checkbox_rows(fields, _words(ink, ruling, boxes))
    choices += _label_rows(_words(ink, ruling, boxes), boxes, page)
    ordered = _furigana(sorted(fields, key=lambda f: (f.page, f.box[1], f.box[0])))
    named = _named(ordered, gray) + [_choice(c, gray) for c in choices]
    return sorted(named, key=lambda f: (f.page, f.box[1], f.box[0]))


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


def _named(fields: list[ProposedField], gray: np.ndarray) -> list[ProposedField]:
    """Each box with the caption printed left of it (or just above it) read, and a name,
    type and label proposed from that caption; names made unique by a number."""
    from pipeline.ocr import get_engine

    engine = get_engine("ppocr")
    out: list[ProposedField] = []
    taken: dict[str, int] = {}
    for field in fields:
        caption = _caption(gray, field.box, engine)
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


WORD_GAP_PX = 24
"""Printed characters closer than this are one word; options of a choice stand further apart."""
OPTION_GAP_PX = 60
"""Options of one row stand at least this far apart."""
CAPTION_COLUMN_PX = 40
"""A choice row's caption starts this close to the page's left text edge, where the other
captions start (a title or a legend further in is no caption)."""


def _words(ink: np.ndarray, ruling: np.ndarray, boxes: list[Box]) -> list[Box]:
    """Printed words outside every box: runs of characters closer than a word gap."""
    text = (ink & ~ruling).astype(np.uint8)
    for x, y, w, h in boxes:
        text[max(y - 4, 0) : y + h + 4, max(x - 4, 0) : x + w + 4] = 0
    joined = cv2.dilate(text, np.ones((9, WORD_GAP_PX), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined)
    words = []
    for i in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[i])
        if h >= 24:  # shrink back by the dilation
            words.append((x + WORD_GAP_PX // 2, y + 4, max(w - WORD_GAP_PX, 1), max(h - 8, 1)))
    return sorted(words, key=lambda b: (b[1], b[0]))


def _rows(words: list[Box]) -> list[list[Box]]:
    """Words whose middles lie on one line, left to right."""
    rows: list[list[Box]] = []
    for word in sorted(words, key=lambda b: b[1] + b[3] / 2):
        middle = word[1] + word[3] / 2
        if rows and abs(middle - (rows[-1][0][1] + rows[-1][0][3] / 2)) <= rows[-1][0][3] / 2:
            rows[-1].append(word)
        else:
            rows.append([word])
    return [sorted(row) for row in rows]


@dataclass(frozen=True)
class _ChoiceRow:
    page: int
    options: list[Box]
    """Each option's box: where a mark on that option falls."""
    labels: list[Box]
    note: str


def _label_rows(words: list[Box], boxes: list[Box], page: int) -> list[_ChoiceRow]:
    """Rows of printed options after a caption, in a line with no box on it (選択肢 to
    circle): at least two short words, set well apart, right of a caption at the left."""
    if not words:
        return []
    text_left = min(w[0] for w in words)
    found = []
    for row in _rows(words):
        top = min(w[1] for w in row)
        bottom = max(w[1] + w[3] for w in row)
        if any(b[1] < bottom and top < b[1] + b[3] for b in boxes):
            continue  # a box's line: captions and legends, not options
        caption, options = row[0], row[1:]
        if caption[0] > text_left + CAPTION_COLUMN_PX or len(options) < 2:
            continue
        gaps = [b[0] - (a[0] + a[2]) for a, b in itertools.pairwise(row)]
        height = max(w[3] for w in row)
        if min(gaps) < OPTION_GAP_PX or any(w[2] > 8 * height for w in options):
            continue
        found.append(
            _ChoiceRow(page, _option_boxes(options, height), options, "TODO options to circle: "
                       "one answer (choice); give each option its value")
        )
    return found


def _option_boxes(labels: list[Box], height: int) -> list[Box]:
    """Each label's box widened halfway to its neighbours and to twice the text's height,
    where a circle round it or a tick beside it is drawn."""
    gaps = [b[0] - (a[0] + a[2]) for a, b in itertools.pairwise(labels)]
    boxes = []
    for k, (x, y, w, h) in enumerate(labels):
        nearest = min(gaps[max(k - 1, 0) : k + 1])
        pad = min(nearest // 2 - 4, 2 * height)
        boxes.append((x - pad, y + h // 2 - height, w + 2 * pad, 2 * height))
    return boxes


def _checkbox_rows(
    fields: list[ProposedField], words: list[Box]
) -> tuple[list[ProposedField], list[_ChoiceRow]]:
    """Rows of □ each followed by its printed label (□ 資格取得 □ 種別変更 …): the squares
    become one choice's options, their labels read from the print beside them."""
    squares = [f for f in fields if f.type == "checkbox"]
    labelled: list[tuple[ProposedField, Box]] = []
    for square in squares:
        x, y, w, h = square.box
        label = next(
            (
                word
                for word in sorted(words)
                if 0 <= word[0] - (x + w) <= w
                and abs((word[1] + word[3] / 2) - (y + h / 2)) <= h / 2
            ),
            None,
        )
        if label is not None:
            labelled.append((square, label))
    rows: list[list[tuple[ProposedField, Box]]] = []
    for pair in sorted(labelled, key=lambda p: (p[0].box[1], p[0].box[0])):
        if rows and abs(pair[0].box[1] - rows[-1][0][0].box[1]) <= ALIGN_PX:
            rows[-1].append(pair)
        else:
            rows.append([pair])
    rows = [row for row in rows if len(row) >= 2]
    used = {id(square) for row in rows for square, _ in row}
    choices = [
        _ChoiceRow(
            row[0][0].page,
            [_union(square.box, label) for square, label in row],
            [label for _, label in row],
            "TODO a row of □ options: one answer (choice) or each ticked apart (checkboxes)?",
        )
        for row in rows
    ]
    return [f for f in fields if id(f) not in used], choices


def _union(a: Box, b: Box) -> Box:
    left, top = min(a[0], b[0]), min(a[1], b[1])
    right, bottom = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (left, top, right - left, bottom - top)


def _choice(row: _ChoiceRow, gray: np.ndarray) -> ProposedField:
    """A proposed choice: its options' labels read from the print, its caption from the left."""
    from pipeline.ocr import get_engine

    engine = get_engine("ppocr")
    labels = []
    for x, y, w, h in row.labels:
        line = _tight_text(gray[y : y + h, x : x + w])
        read = engine.read_line(line).text.replace(" ", "") if line is not None else ""
        labels.append(read or "TODO")
    box = row.options[0]
    for option in row.options[1:]:
        box = _union(box, option)
    caption = _caption(gray, box, engine)
    match = next((c for c in CAPTIONS if caption and c[0] in caption and c[2] == "choice"), None)
    return ProposedField(
        row.page,
        box,
        None,
        "choice",
        row.note,
        label=caption or None,
        name=match[1] if match else None,
        options=tuple(zip(labels, row.options, strict=True)),
    )


def _replace(field: ProposedField, **changes: object) -> ProposedField:
    from dataclasses import replace

    return replace(field, **changes)  # type: ignore[arg-type]


def _caption(gray: np.ndarray, box: Box, engine: object) -> str:
    x, y, w, h = box
    left = gray[y + 4 : y + h - 4, max(x - CAPTION_REACH_PX, 0) : max(x - 12, 0)]
    for region in (left, gray[max(y - 70, 0) : max(y - 6, 0), x : x + w]):
        line = _tight_text(region)
        if line is not None:
            text = engine.read_line(line).text.strip()  # type: ignore[attr-defined]
            if text:
                return text.replace(" ", "")
    return ""


def _tight_text(region: np.ndarray) -> np.ndarray | None:
    """The printed text of a region cut tight (long ruling lines taken out), or None."""
    if region.size == 0:
        return None
    ink = (region < 170).astype(np.uint8)
    ink &= ~(_ruling(ink.astype(bool)).astype(np.uint8))
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size < 10 or cols.size < 10:
        return None
    cut = region[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cv2.copyMakeBorder(cut, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)


def _furigana(fields: list[ProposedField]) -> list[ProposedField]:
    """A low box right above a taller one of the same width is a name's kana reading."""
    out = list(fields)
    for i, upper in enumerate(out):
        if upper.type != "text":
            continue
        x, y, w, h = upper.box
        below = next(
            (
                j
                for j, lower in enumerate(out)
                if lower.type == "text"
                and lower.page == upper.page
                and abs(lower.box[0] - x) <= ALIGN_PX
                and abs(lower.box[2] - w) <= ALIGN_PX
                and 0 <= lower.box[1] - (y + h) <= FURIGANA_GAP_PX
                and lower.box[3] > 1.15 * h
            ),
            None,
        )
        if below is None:
            continue
        out[i] = ProposedField(
            upper.page, upper.box, None, "kana", "TODO a low box above a name: its kana reading?"
        )
        lower = out[below]
        out[below] = ProposedField(
            lower.page, lower.box, None, "text", "TODO under a kana box: a name?", "name"
        )
    return out


def _ink(gray: np.ndarray) -> np.ndarray:
    _, dark = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    # Otsu on a nearly empty page can pick a threshold in the paper's noise; print is dark.
    return (dark > 0) & (gray < 200)


def _ruling(ink: np.ndarray) -> np.ndarray:
    mask = ink.astype(np.uint8)
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, LINE_MIN_PX), np.uint8))
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((LINE_MIN_PX, 1), np.uint8))
    ruling = cv2.bitwise_or(horizontal, vertical)
    # Close pinholes where a scan broke a line; a corner gap would open a box to the outside.
    return cv2.morphologyEx(ruling, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0


def _interiors(ruling: np.ndarray) -> list[Box]:
    """White regions closed in by ruling lines on all sides, as rectangles."""
    white = (~ruling).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(white, connectivity=4)
    height, width = ruling.shape
    boxes: list[Box] = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue  # the page's open background
        if w < MIN_INTERIOR_PX or h < MIN_INTERIOR_PX or area < RECT_FILL * w * h:
            continue
        boxes.append((x, y, w, h))
    return boxes


def _group_cells(interiors: list[Box]) -> list[list[Box]]:
    """Runs of interiors in one row, of equal height, separated only by a ruling line."""
    remaining = sorted(interiors, key=lambda b: (b[0], b[1]))
    groups: list[list[Box]] = []
    used: set[int] = set()
    for start, box in enumerate(remaining):
        if start in used:
            continue
        used.add(start)
        group = [box]
        while True:
            last = group[-1]
            follower = next(
                (
                    i
                    for i, other in enumerate(remaining)
                    if i not in used and _next_cell(last, other)
                ),
                None,
            )
            if follower is None:
                break
            used.add(follower)
            group.append(remaining[follower])
        groups.append(group)
    return groups


def _next_cell(cell: Box, other: Box) -> bool:
    x, y, w, h = cell
    ox, oy, ow, oh = other
    gap = ox - (x + w)
    return (
        0 <= gap <= CELL_GAP_PX
        and abs(oy - y) <= ALIGN_PX
        and abs((oy + oh) - (y + h)) <= ALIGN_PX
        and 0.6 <= ow / w <= 1.6
    )


def _outer_box(ruling: np.ndarray, group: list[Box]) -> Box:
    """The box of a run of interiors, grown over the ruling lines around it."""
    left = min(b[0] for b in group)
    top = min(b[1] for b in group)
    right = max(b[0] + b[2] for b in group)  # exclusive
    bottom = max(b[1] + b[3] for b in group)
    mid_y = (top + bottom) // 2
    mid_x = group[0][0] + group[0][2] // 2  # inside a cell, clear of the lines between cells
    height, width = ruling.shape
    while left > 0 and ruling[mid_y, left - 1]:
        left -= 1
    while right < width and ruling[mid_y, right]:
        right += 1
    while top > 0 and ruling[top - 1, mid_x]:
        top -= 1
    while bottom < height and ruling[bottom, mid_x]:
        bottom += 1
    # The outer edge is the last ruling pixel, as a definition's x + w is.
    return (left, top, right - 1 - left, bottom - 1 - top)


def _cell_field(page: int, box: Box, cells: int, ink: np.ndarray) -> ProposedField:
    guessed = TYPE_BY_CELLS.get(cells, "digits")
    if guessed != "date":
        note = None if cells in TYPE_BY_CELLS else f"TODO {cells} cells: digits, amount or other"
        return ProposedField(page, box, cells, guessed, note)
    x, y, w, h = box
    legend = ink[y : y + h, x + w + 10 : x + w + LEGEND_REACH_PX]
    if legend.size and legend.mean() > 0.005:
        return ProposedField(
            page,
            box,
            cells,
            "date",
            "TODO 7 cells with a legend beside them: date (era code + YYMMDD)?",
        )
    return ProposedField(
        page, box, cells, "postal", "TODO 7 cells: postal code, or a date (era code + YYMMDD)?"
    )


def _box_field(page: int, box: Box) -> ProposedField:
    _, _, w, h = box
    if w <= 2 * MIN_INTERIOR_PX + 80 and h <= 2 * MIN_INTERIOR_PX + 80 and 0.7 <= w / h <= 1.4:
        return ProposedField(page, box, None, "checkbox", "TODO a small square: checkbox?")
    if w >= 3 * h:
        return ProposedField(
            page,
            box,
            None,
            "text",
            "TODO text: kana, name (charset: name), address (charset: address) or phone?",
        )
    return ProposedField(page, box, None, "text", "TODO a box: text, or something else?")


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


SPECK_PX = 12
"""Ink blobs smaller than this (pixels) are paper noise, not print."""


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
        ink = _ink(gray).astype(np.uint8)
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
