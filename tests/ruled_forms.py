"""Blank application forms drawn the way other cities draw theirs, not the way Kura does: one
dense ruled table, each caption in a cell of its own left of or above the cell a person
writes in (shared borders), □ options printed as text in a cell, an era legend in a cell
beside a date's digits, a title, notes in small print and a 受付印 box. Drawn here with PIL
and the IPAex font, independent of `pipeline.template`, so `kura forms propose` is measured
on paper it was not made from. Each blank comes with the fields an administrator expects."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from kura.bench.synth.scanner import ScanEffects, scan
from pipeline.fonts import PRINTED_FONT, font
from schemas.forms import FormDef

A4_PX = (2480, 3508)
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Expected:
    """A field the blank has: where a person writes (x, y, w, h at 300 dpi), its type, its
    cells, its printed caption, and a choice's option labels."""

    name: str | None
    type: str
    box: Box
    label: str
    cells: int | None = None
    options: tuple[str, ...] = ()


class _Sheet:
    """A page and the ruling drawn on it; `cell` draws one ruled cell (shared borders)."""

    def __init__(self, line: int) -> None:
        self.image = Image.new("L", A4_PX, 255)
        self.draw = ImageDraw.Draw(self.image)
        self.line = line
        self.expected: list[Expected] = []

    def cell(self, left: int, top: int, right: int, bottom: int, text: str = "",
             size: int = 40, shade: bool = False, anchor: str = "mm") -> None:
        if shade:
            self.draw.rectangle((left, top, right, bottom), fill=225)
        self.draw.rectangle((left, top, right, bottom), outline=0, width=self.line)
        if text:
            at = ((left + right) // 2, (top + bottom) // 2) if anchor == "mm" else (
                left + 20, (top + bottom) // 2)
            self.draw.text(at, text, font=font(PRINTED_FONT, size), fill=0, anchor=anchor)

    def cells(self, left: int, top: int, width: int, bottom: int, count: int) -> Box:
        for k in range(count):
            self.cell(left + k * width, top, left + (k + 1) * width, bottom)
        return (left, top, width * count, bottom - top)

    def text(self, xy: tuple[int, int], text: str, size: int, anchor: str = "la") -> None:
        self.draw.text(xy, text, font=font(PRINTED_FONT, size), fill=0, anchor=anchor)

    def frame(self, box: tuple[int, int, int, int], width: int) -> None:
        self.draw.rectangle(box, outline=0, width=width)

    def expect(self, name: str | None, type_: str, box: Box, label: str,
               cells: int | None = None, options: tuple[str, ...] = ()) -> None:
        self.expected.append(Expected(name, type_, box, label, cells, options))


def _box(left: int, top: int, right: int, bottom: int) -> Box:
    return (left, top, right - left, bottom - top)


def captions_left() -> tuple[Image.Image, list[Expected]]:
    """City A: a caption column on the left, thin inner lines, a thick outer frame."""
    s = _Sheet(line=3)
    s.text((1100, 230), "国民年金 加入申出書", 64, "mm")
    s.text((150, 330), "※太線の枠内をご記入ください。", 28)
    s.cell(1980, 140, 2320, 460, "")
    s.text((2150, 180), "受付印", 28, "mm")
    left, cap, right = 150, 520, 2320
    y = 560
    rows = (("フリガナ", 80), ("氏名", 150), ("生年月日", 130), ("個人番号", 130),
            ("基礎年金番号", 130), ("性別", 110), ("電話番号", 110), ("住所", 200),
            ("加入している年金", 110))
    for caption, height in rows:
        bottom = y + height
        s.cell(left, y, cap, bottom, caption, 40 if len(caption) < 7 else 32, shade=True)
        if caption == "フリガナ":
            s.cell(cap, y, right, bottom)
            s.expect("name_kana", "kana", _box(cap, y, right, bottom), caption)
        elif caption in ("氏名", "住所"):
            s.cell(cap, y, right, bottom)
            s.expect("name" if caption == "氏名" else "address", "text",
                     _box(cap, y, right, bottom), caption)
        elif caption == "生年月日":
            box = s.cells(cap, y, 100, bottom, 7)
            s.cell(cap + 700, y, right, bottom, "1.明治 3.大正 5.昭和 7.平成 9.令和", 30)
            s.expect("birth_date", "date", box, caption, 7)
        elif caption == "個人番号":
            s.expect("my_number", "my_number", s.cells(cap, y, 150, bottom, 12), caption, 12)
        elif caption == "基礎年金番号":
            box = s.cells(cap, y, 150, bottom, 10)
            s.cell(cap + 1500, y, right, bottom, "（4桁-6桁）", 28)
            s.expect("basic_pension_number", "bpn", box, caption, 10)
        elif caption == "性別":
            s.cell(cap, y, right, bottom, "□男　　　□女", 44, anchor="lm")
            s.expect("sex", "choice", _box(cap, y, right, bottom), caption, options=("男", "女"))
        elif caption == "電話番号":
            s.cell(cap, y, 1300, bottom)
            s.expect("phone", "phone", _box(cap, y, 1300, bottom), caption)
            s.cell(1300, y, 1620, bottom, "郵便番号", 40, shade=True)
            s.expect("postal_code", "postal", s.cells(1620, y, 100, bottom, 7), "郵便番号", 7)
        else:
            s.cell(cap, y, right, bottom, "□厚生年金　　□共済組合　　□国民年金", 40, anchor="lm")
            s.expect(None, "choice", _box(cap, y, right, bottom), caption,
                     options=("厚生年金", "共済組合", "国民年金"))
        y = bottom
    s.frame((left - 3, 557, right + 3, y + 3), 8)
    s.text((150, y + 40), "※個人番号を記入した場合は、本人確認書類の写しを添付してください。", 28)
    s.text((150, y + 85), "※記入された個人情報は、国民年金の事務以外には使用しません。", 28)
    return s.image, s.expected


def captions_above() -> tuple[Image.Image, list[Expected]]:
    """City B: each band a shaded row of captions over the row a person writes in; heavier
    inner lines, cells of other widths, the era legend left of the date's cells."""
    s = _Sheet(line=5)
    s.text((150, 200), "国民年金保険料免除・納付猶予申請書", 56)
    s.text((150, 290), "黒のボールペンで記入してください。", 30)
    s.cell(2000, 120, 2330, 420)
    s.text((2165, 160), "受付印", 30, "mm")
    y = 500

    def band(captions: list[tuple[int, int, str]], height: int) -> tuple[int, int]:
        nonlocal y
        for left, right, caption in captions:
            s.cell(left, y, right, y + 64, caption, 34, shade=True)
        top = y + 64
        y = top + height
        return top, y

    top, bottom = band([(150, 1500, "フリガナ"), (1500, 2330, "性別")], 90)
    s.cell(150, top, 1500, bottom)
    s.expect("name_kana", "kana", _box(150, top, 1500, bottom), "フリガナ")
    s.cell(1500, top, 2330, bottom, "□男　　□女", 40, anchor="lm")
    s.expect("sex", "choice", _box(1500, top, 2330, bottom), "性別", options=("男", "女"))
    top, bottom = band([(150, 2330, "氏名")], 150)
    s.cell(150, top, 2330, bottom)
    s.expect("name", "text", _box(150, top, 2330, bottom), "氏名")
    top, bottom = band([(150, 1250, "生年月日"), (1250, 2330, "電話番号")], 120)
    s.cell(150, top, 480, bottom, "1.昭和 2.平成 3.令和", 24)
    s.expect("birth_date", "date", s.cells(480, top, 110, bottom, 7), "生年月日", 7)
    s.cell(1250, top, 2330, bottom)
    s.expect("phone", "phone", _box(1250, top, 2330, bottom), "電話番号")
    top, bottom = band([(150, 2330, "個人番号")], 120)
    s.expect("my_number", "my_number", s.cells(150, top, 160, bottom, 12), "個人番号", 12)
    s.cell(2070, top, 2330, bottom, "（12桁）", 28)
    top, bottom = band([(150, 850, "郵便番号"), (850, 2330, "住所")], 170)
    s.expect("postal_code", "postal", s.cells(150, top, 100, bottom, 7), "郵便番号", 7)
    s.cell(850, top, 2330, bottom)
    s.expect("address", "text", _box(850, top, 2330, bottom), "住所")
    top, bottom = band([(150, 1650, "基礎年金番号"), (1650, 2330, "申請年度")], 120)
    s.expect("basic_pension_number", "bpn", s.cells(150, top, 150, bottom, 10), "基礎年金番号",
             10)
    s.cell(1650, top, 2330, bottom, "令和　　　年度", 36)
    top, bottom = band([(150, 2330, "申請の理由")], 110)
    s.cell(150, top, 2330, bottom, "□失業　　□天災　　□その他", 40, anchor="lm")
    s.expect(None, "choice", _box(150, top, 2330, bottom), "申請の理由",
             options=("失業", "天災", "その他"))
    s.frame((145, 495, 2335, y + 5), 10)
    s.text((150, y + 50), "※失業による申請の場合は、離職票の写しを添付してください。", 26)
    return s.image, s.expected


def captions_in_corner() -> tuple[Image.Image, list[Expected]]:
    """City C: the caption printed small in the top-left corner of the cell a person writes
    in (氏名, 住所, 電話番号), digit cells with their caption on the left, a 受付印 box
    with its caption in the corner too (an office's box, no field), a □ alone with its
    label (a checkbox), medium lines."""
    s = _Sheet(line=4)
    s.text((1240, 180), "年金手帳再交付申請書", 60, "mm")
    s.cell(150, 300, 700, 600)
    s.text((170, 315), "受付印", 26)
    s.text((760, 320), "※該当する□に✓を付けてください。", 28)
    s.text((760, 370), "※太枠内は申請者が記入してください。", 28)

    def corner(left: int, top: int, right: int, bottom: int, caption: str, name: str | None,
               type_: str) -> None:
        s.cell(left, top, right, bottom)
        s.text((left + 14, top + 10), caption, 26)
        s.expect(name, type_, _box(left, top, right, bottom), caption)

    corner(150, 660, 2330, 760, "フリガナ", "name_kana", "kana")
    corner(150, 760, 1500, 940, "氏名", "name", "text")
    corner(1500, 760, 2330, 940, "電話番号", "phone", "phone")
    s.cell(150, 940, 560, 1080, "生年月日", 38, shade=True)
    s.expect("birth_date", "date", s.cells(560, 940, 120, 1080, 7), "生年月日", 7)
    s.cell(1400, 940, 2330, 1080, "3.昭和 5.平成 7.令和", 30)
    s.cell(150, 1080, 560, 1220, "個人番号", 38, shade=True)
    s.expect("my_number", "my_number", s.cells(560, 1080, 147, 1220, 12), "個人番号", 12)
    s.cell(150, 1220, 560, 1360, "〒", 44, shade=True)
    s.expect("postal_code", "postal", s.cells(560, 1220, 110, 1360, 7), "〒", 7)
    corner(1330, 1220, 2330, 1360, "方書", None, "text")
    corner(150, 1360, 2330, 1600, "住所", "address", "text")
    s.cell(150, 1600, 560, 1720, "再交付の理由", 34, shade=True)
    s.cell(560, 1600, 2330, 1720, "□紛失　□き損　□口座振替の書類　□その他", 40, anchor="lm")
    s.expect(None, "choice", _box(560, 1600, 2330, 1720), "再交付の理由",
             options=("紛失", "き損", "口座振替の書類", "その他"))
    s.cell(150, 1720, 560, 1830, "交付方法", 34, shade=True)
    s.cell(560, 1720, 2330, 1830, "□　郵送での交付を希望する", 40, anchor="lm")
    s.expect(None, "checkbox", _box(560, 1720, 2330, 1830), "郵送での交付を希望する")
    s.frame((146, 656, 2334, 1834), 7)
    s.text((150, 1890), "※本人確認書類を提示してください。", 26)
    return s.image, s.expected


SCANS = {
    "desk200": ScanEffects(dpi=200, rotation=0.5, noise=6.0, blur=0.6, paper_tone=0.3,
                           color_mode="gray", jpeg_quality=85),
    "grey150": ScanEffects(dpi=150, rotation=1.5, noise=5.0, color_mode="gray",
                           jpeg_quality=80),
    "bw300": ScanEffects(dpi=300, rotation=-1.0, noise=8.0, color_mode="bw", bw_threshold=150),
    "light240": ScanEffects(dpi=240, rotation=0.3, illumination=0.6, paper_tone=0.6, blur=0.8,
                            noise=4.0, jpeg_quality=75),
}
"""The blank as scanners give it: a desk scan (200 dpi grey, 0.5° turned, noisy, a little
blurred), a coarse grey one turned 1.5°, a 1-bit one, and a colour one under uneven light on
yellowed paper, a fraction of a degree turned."""


def scanned(image: Image.Image, effect: str = "desk200", seed: int = 5) -> Image.Image:
    """The blank through `kura/bench/synth/scanner.py` with one of `SCANS`."""
    return scan(image.convert("RGB"), SCANS[effect], random.Random(seed))


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class Score:
    expected: int
    found: int
    types_right: int
    labels_right: int
    options_right: int
    false_fields: int


def _centre_in(inner: Box, outer: Box, margin: int = 0) -> bool:
    cx, cy = inner[0] + inner[2] / 2, inner[1] + inner[3] / 2
    return (outer[0] - margin <= cx <= outer[0] + outer[2] + margin
            and outer[1] - margin <= cy <= outer[1] + outer[3] + margin)


def matches(expected: Expected, box: Box) -> bool:
    """The proposed box is the expected one: each one's centre inside the other (a choice's
    box covers its options and a checkbox's its □, not the whole cell, so only their centre
    need lie in the cell)."""
    if expected.type in ("choice", "checkbox"):
        return _centre_in(box, expected.box)
    return _centre_in(box, expected.box) and _centre_in(expected.box, box)


def score(expected: list[Expected], draft: FormDef) -> Score:
    """How a draft compares with what the blank has: found, types (and cells) right, labels
    read as printed, options read as printed, and fields proposed the blank does not have."""
    found = types = labels = options = 0
    used: set[int] = set()
    for want in expected:
        hit = next((k for k, got in enumerate(draft.fields)
                    if k not in used and matches(want, got.box)), None)
        if hit is None:
            continue
        used.add(hit)
        got = draft.fields[hit]
        found += 1
        types += (got.type, got.cells) == (want.type, want.cells)
        labels += got.label.replace(" ", "") == want.label
        options += tuple(o.label for o in got.options or []) == want.options
    return Score(len(expected), found, types, labels, options, len(draft.fields) - len(used))


BLANKS = {"captions_left": captions_left, "captions_above": captions_above,
          "captions_in_corner": captions_in_corner}


def main() -> None:
    """Print each blank's score, clean and scanned (`python -m tests.ruled_forms`)."""
    import io

    import yaml

    from pipeline.propose import propose

    for name, draw in BLANKS.items():
        for effect in (None, *SCANS):
            image, expected = draw()
            if effect is not None:
                image = scanned(image, effect)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", dpi=image.info.get("dpi", (300, 300)))
            text, _ = propose(buffer.getvalue())
            draft = FormDef.model_validate(yaml.safe_load(text))
            print(name, effect or "300dpi", score(expected, draft))


if __name__ == "__main__":
    main()
