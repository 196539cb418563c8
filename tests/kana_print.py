"""Kana names printed as a list's printer prints them and scanned as the list generator scans
them, then read as a list's name column is read: for the tests of the checks on the ink."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from kura.bench.synth.lists import LIST_FORM, ListStyle, Printer, _on_paper
from kura.bench.synth.scanner import ScanEffects, scan
from pipeline.listkana import read_kana
from pipeline.listreading import column_alphabet
from pipeline.ocr import PaddleEngine, Reading, get_engine
from schemas.forms import get_form

NAME_KANA = get_form(LIST_FORM).column("name_kana")


def scanned_word(word: str, face: str, px: int, dpi: int, mode: str) -> np.ndarray:
    """`word` printed by a list's printer in `face` at `px`, scanned at `dpi` in `mode` (as
    the list generator does), brought back to 300 dpi (as `pipeline.ingest` does) and cut
    to its print with a margin (as a list's cell is)."""
    style = ListStyle(face="gothic", impact=False, ruled=False, half_width_names=False,
                      date_style="short", font_px=px, rows_per_page=10, page_label="n/m頁",
                      columns=(), headers=(), narrow_name=False, font=face)
    printer = Printer(style)
    ink = Image.new("L", (printer.width(word) + 60, px * 3), 0)
    printer.draw(ImageDraw.Draw(ink), (30, px), word)
    effects = ScanEffects(dpi=dpi, color_mode=mode, blur=0.3, noise=3.0,  # type: ignore[arg-type]
                          paper_tone=0.2, bw_threshold=165)
    page = scan(_on_paper(ink, impact=False), effects, np.random.default_rng(3)).convert("RGB")
    if dpi != 300:
        page = page.resize((round(page.width * 300 / dpi), round(page.height * 300 / dpi)),
                           Image.Resampling.LANCZOS)
    gray = np.asarray(page.convert("L"))
    ys, xs = np.nonzero(gray < 128)
    return gray[ys.min() - 4 : ys.max() + 5, xs.min() - 4 : xs.max() + 5]


def read_word(crop: np.ndarray) -> Reading:
    engine = get_engine("ppocr")
    assert isinstance(engine, PaddleEngine)
    return read_kana(engine, [crop], column_alphabet(NAME_KANA))[0]
