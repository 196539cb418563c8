"""Find the choices of a blank form: rows of printed options to circle, and rows of □ each
followed by its label; each row is proposed as one choice, its labels read from the print."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.blankboxes import ALIGN_PX, Box, PrintedCell, ProposedField
from pipeline.captions import as_printed, caption_match, read_caption, tight_text

WORD_GAP_PX = 24
"""Printed characters closer than this are one word; options of a choice stand further apart."""
OPTION_GAP_PX = 60
"""Options of one row stand at least this far apart."""
CAPTION_COLUMN_PX = 40
"""A choice row's caption starts this close to the page's left text edge, where the other
captions start (a title or a legend further in is no caption)."""


def printed_words(ink: np.ndarray, ruling: np.ndarray, boxes: list[Box]) -> list[Box]:
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
class ChoiceRow:
    page: int
    options: list[Box]
    """Each option's box: where a mark on that option falls."""
    labels: list[Box]
    note: str
    cell: Box | None = None
    """The ruled cell the row is printed in, whose caption cell stands beside or above it."""
    squares: tuple[Box, ...] = ()
    """The printed □ of the options, where the row is one of □ printed as text."""


def label_rows(words: list[Box], boxes: list[Box], page: int) -> list[ChoiceRow]:
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
            ChoiceRow(page, _option_boxes(options, height), options, "TODO options to circle: "
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


def checkbox_rows(
    fields: list[ProposedField], words: list[Box]
) -> tuple[list[ProposedField], list[ChoiceRow]]:
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
        ChoiceRow(
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


def proposed_choice(row: ChoiceRow, gray: np.ndarray, caption: str | None = None) -> ProposedField:
    """A proposed choice: its options' labels read from the print, its caption from the left
    (unless the caption cell of a ruled form gave it)."""
    from pipeline.ocr import get_engine

    engine = get_engine("ppocr")
    labels = []
    for x, y, w, h in row.labels:
        line = tight_text(gray[y : y + h, x : x + w])
        read = engine.read_line(line).text if line is not None else ""
        read = as_printed(read)
        labels.append(read or "TODO")
    box = row.options[0]
    for option in row.options[1:]:
        box = _union(box, option)
    if caption is None:
        caption = read_caption(gray, box, engine)
    match = caption_match(caption, ("choice",))
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


SQUARE_MIN_PX = 20
"""Smallest printed □ taken for a box to tick, per side (a □ in 9 pt print at 200 dpi)."""
LONE_GAP = 0.6
"""A □ printed alone (a checkbox) stands this share of its side or more before its label
(□　郵送を希望する): in print 口 and □ are the same square, and 口座 has no such gap."""
SQUARE_SHARE = 0.7
"""A printed □ is at least this share of the tallest print beside it high: a 口 inside a
character (号, 合) is smaller."""


def square_rows(print_: np.ndarray, cells: list[PrintedCell], page: int) -> list[ChoiceRow]:
    """Rows of □ printed as text in a ruled cell, each followed by its label (□男 □女,
    □厚生年金 □共済組合 …): a row of two or more is one choice's options; a □ alone with
    its label (□　郵送を希望する) is a checkbox (`single_checkbox`)."""
    rows = []
    for cell in cells:
        found = printed_squares(print_, cell.interior)
        if not found:
            continue
        # a "square" with nothing printed between it and the □ before it is the 口 that
        # starts that □'s label (□口座振替)
        squares = [
            sq for k, sq in enumerate(found) if k == 0 or _label(print_, found[k - 1], sq[0])
        ]
        x, _, w, _ = cell.interior
        ends = [sq[0] for sq in squares[1:]] + [x + w - 4]
        labels = [_label(print_, sq, end) for sq, end in zip(squares, ends, strict=True)]
        kept = [label for label in labels if label is not None]
        if len(kept) < len(labels):
            continue
        lone = squares[0]
        if len(squares) == 1 and kept[0][0] - (lone[0] + lone[2]) < LONE_GAP * lone[2]:
            continue  # a □ alone is set apart from its label; a 口 starting a word is not
        rows.append(
            ChoiceRow(
                page,
                [_union(square, label) for square, label in zip(squares, kept, strict=True)],
                kept,
                "TODO a row of □ options: one answer (choice) or each ticked apart (checkboxes)?",
                cell.box,
                tuple(squares),
            )
        )
    return rows


def _label(print_: np.ndarray, square: Box, end: int) -> Box | None:
    """The print after a □ up to `end` on its line, cut tight, or None where there is none."""
    sx, sy, sw, sh = square
    start, top = sx + sw + 2, sy - sh // 2
    return _tight(print_, (start, top, end - 2 - start, 2 * sh))


def single_checkbox(row: ChoiceRow, gray: np.ndarray) -> ProposedField:
    """A □ printed alone with its label: a checkbox, its box the □ with a margin round it
    (a tick beside the □ is a person's to judge), its label the words after it."""
    from pipeline.ocr import get_engine

    x, y, w, h = row.labels[0]
    line = tight_text(gray[y : y + h, x : x + w])
    label = as_printed(get_engine("ppocr").read_line(line).text) if line is not None else ""
    sx, sy, sw, sh = row.squares[0]
    pad = sw // 4
    return ProposedField(
        row.page,
        (sx - pad, sy - pad, sw + 2 * pad, sh + 2 * pad),
        None,
        "checkbox",
        "TODO a □ with its label: a checkbox?",
        label=label or None,
    )


def printed_squares(print_: np.ndarray, cell: Box) -> list[Box]:
    """The hollow printed squares in a cell, left to right: ink on all four sides, none in
    the middle, about as tall as the characters beside them."""
    x, y, w, h = cell
    region = print_[y : y + h, x : x + w].astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region)
    if count < 2:
        return []
    tallest = int(stats[1:, cv2.CC_STAT_HEIGHT].max())
    squares = []
    for i in range(1, count):
        sx, sy, sw, sh, _ = (int(v) for v in stats[i])
        if min(sw, sh) < SQUARE_MIN_PX or not 0.8 <= sw / sh <= 1.25 or sh < SQUARE_SHARE * tallest:
            continue
        shape = labels[sy : sy + sh, sx : sx + sw] == i
        rim = max(3, sw // 6)
        # any print in the middle, not only this stroke's: 囗 round 玉 is 国, not a □
        middle = region[sy + rim + 2 : sy + sh - rim - 2, sx + rim + 2 : sx + sw - rim - 2]
        sides = (
            shape[:rim].any(axis=0).mean(),
            shape[-rim:].any(axis=0).mean(),
            shape[:, :rim].any(axis=1).mean(),
            shape[:, -rim:].any(axis=1).mean(),
        )
        if middle.size and middle.mean() < 0.03 and min(sides) >= 0.9:
            squares.append((x + sx, y + sy, sw, sh))
    return sorted(squares)


def _tight(print_: np.ndarray, box: Box) -> Box | None:
    """The print inside a box cut tight, or None where there is none."""
    x, y, w, h = box
    x, y = max(x, 0), max(y, 0)
    region = print_[y : y + h, x : x + w]
    rows, cols = np.where(region.any(axis=1))[0], np.where(region.any(axis=0))[0]
    if rows.size == 0 or w <= 0 or h <= 0:
        return None
    left, top = x + int(cols[0]), y + int(rows[0])
    return (left, top, int(cols[-1] - cols[0]) + 1, int(rows[-1] - rows[0]) + 1)
