"""Read the caption printed beside or above a box of a blank form (氏名, 生年月日 …) and
propose from it the field's name, type and label."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.blankboxes import INSET_PX, SPECK_PX, Box, PrintedCell, ProposedField, ruling_lines
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
LOOKALIKES = str.maketrans("别请话备奋亏產个", "別請話番番号産個")
"""Characters PP-OCR's Chinese model reads for the Japanese ones of a caption (simplified
and old forms, near shapes, seen on 200 dpi scans): 性别 is 性別, 個人备号 is 個人番号,
出產 is 出産, 个人 is 個人. None of them is written in a Japanese form, so every caption read is put
right with this."""
POSTAL_MARK_READS = ("T", "干", "丁")
"""What a 〒 printed alone in a caption cell is read as."""
CAPTION_REACH_PX = 700
"""How far left of a box its caption is looked for (the caption column of a form)."""


def named_by_caption(
    fields: list[ProposedField], gray: np.ndarray, caption_cells: CaptionCells | None = None
) -> list[ProposedField]:
    """Each box with the caption printed left of it (or just above it) read, and a name,
    type and label proposed from that caption; names made unique by a number. On a ruled
    form the caption is the printed cell beside or above the box (`caption_cells`)."""
    from pipeline.ocr import get_engine

    engine = get_engine("ppocr")
    out: list[ProposedField] = []
    taken: dict[str, int] = {}
    for field in fields:
        in_cell = None
        if caption_cells is not None:
            in_cell = (caption_cells.read(field.caption_at) if field.caption_at
                       else caption_cells.caption(field.box))
        caption = in_cell if in_cell is not None else read_caption(gray, field.box, engine)
        if any(word in caption for word in OFFICE_USE):
            continue  # the office's box (受付印 …): nothing a person fills in
        match = caption_match(caption)
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


OFFICE_USE = ("受付", "処理欄", "決裁", "整理番号", "職員")
"""Captions of the boxes an office fills in, not the person: never proposed as fields."""
SHARED_BORDER_PX = 14
"""Two ruled cells side by side share their border: their edges lie this close."""


class CaptionCells:
    """The printed cells of a ruled form and their text, read once each: a box's caption is
    the cell that shares its left border (a caption column) or its top border (a row of
    captions over the row a person writes in)."""

    def __init__(self, cells: list[PrintedCell], gray: np.ndarray) -> None:
        from pipeline.ocr import get_engine

        self.cells = cells
        self._gray = gray
        self._engine = get_engine("ppocr")
        self._read: dict[Box, str] = {}

    def caption(self, box: Box) -> str | None:
        """The caption of the box, or None where no printed cell borders it. Of the cell on
        the left and the one above, the one that names a field wins (a date's era legend may
        stand left of its cells, the caption above them)."""
        x, y, w, h = box
        outer = [cell.box for cell in self.cells]
        left = [c for c in outer if abs(c[0] + c[2] - x) <= SHARED_BORDER_PX
                and _overlap(c[1], c[3], y, h) >= 0.5 * min(c[3], h)]
        above = [c for c in outer if abs(c[1] + c[3] - y) <= SHARED_BORDER_PX
                 and _overlap(c[0], c[2], x, w) >= 0.5 * min(c[2], w)]
        texts = [self._text(c) for c in left[:1] + above[:1]]
        texts = [t for t in texts if t]
        if not texts:
            return None
        return next((t for t in texts if caption_match(t)), texts[0])

    def _text(self, cell: Box) -> str:
        if cell not in self._read:
            x, y, w, h = next(c.interior for c in self.cells if c.box == cell)
            inset = INSET_PX  # the ruling's blurred rim is no print
            self._read[cell] = self.read((x + inset, y + inset, w - 2 * inset, h - 2 * inset))
        return self._read[cell]

    def read(self, box: Box) -> str:
        """The print inside a box, read as one line."""
        x, y, w, h = box
        line = tight_text(self._gray[y : y + h, x : x + w])
        return as_printed(self._engine.read_line(line).text if line is not None else "")


def _overlap(start: int, length: int, other: int, other_length: int) -> int:
    return max(0, min(start + length, other + other_length) - max(start, other))


def as_printed(text: str) -> str:
    """A caption as read, put right: spaces out, lookalike characters replaced, a lone 〒
    read as a letter made 〒 again."""
    text = text.replace(" ", "").strip().translate(LOOKALIKES)
    return "〒" if text in POSTAL_MARK_READS else text


def caption_match(
    caption: str | None, kinds: tuple[FieldType, ...] | None = None
) -> tuple[str, str, FieldType, str | None, int | None] | None:
    """The first of `CAPTIONS` the caption as read holds, its lookalike characters put
    right; a caption of four characters or more also where one of them was misread."""
    if not caption:
        return None
    read = caption.translate(LOOKALIKES)
    for entry in CAPTIONS:
        if kinds is not None and entry[2] not in kinds:
            continue
        if entry[0] in read or (len(entry[0]) >= 4 and _all_but_one(entry[0], read)):
            return entry
    return None


def _all_but_one(word: str, text: str) -> bool:
    """Whether `text` holds `word` with at most one of its characters read as another."""
    return any(
        sum(a == b for a, b in zip(word, text[i : i + len(word)], strict=False)) >= len(word) - 1
        for i in range(max(len(text) - len(word) + 1, 1))
    )


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
                return as_printed(text)
    return ""


def tight_text(region: np.ndarray) -> np.ndarray | None:
    """The printed text of a region cut tight (long ruling lines and specks of paper noise
    taken out), or None."""
    if region.size == 0:
        return None
    ink = (region < 170).astype(np.uint8)
    ink &= ~(ruling_lines(ink.astype(bool)).astype(np.uint8))
    _count, labels, stats, _centres = cv2.connectedComponentsWithStats(ink)
    ink = ((stats[:, cv2.CC_STAT_AREA] >= SPECK_PX)[labels] & (labels > 0)).astype(np.uint8)
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size < 10 or cols.size < 10:
        return None
    cut = region[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cv2.copyMakeBorder(cut, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
