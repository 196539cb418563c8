"""No printed list cell silently short: print with no character read on it goes to a person
(docs/benchmarks.md, "Printed result lists", listrows)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kura.bench.synth.lists import LIST_FORM
from pipeline.listreading import japanese_alphabet, read_lines
from pipeline.listverdicts import decide_cell, unread_print
from pipeline.ocr import PaddleEngine, Reading, get_engine
from schemas.forms import get_form

MINCHO = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")


def _printed(text: str, px: int = 26, em: float = 0.5) -> np.ndarray:
    """`text` (characters `em` wide) in IPAex Mincho as a 300 dpi printer prints it (a dot or
    none: a hairline under half a dot is lost, as on the tuning lists), scanned a little
    blurred."""
    ink = Image.new("L", (int(px * (len(text) * em + 2)), int(px * 1.8)), 0)
    ImageDraw.Draw(ink).text((px, px // 3), text, font=ImageFont.truetype(str(MINCHO), px),
                             fill=255)
    page = np.where(np.asarray(ink) > 127, 20.0, 245.0).astype(np.float32)
    return np.clip(cv2.GaussianBlur(page, (0, 0), 0.5), 0, 255).astype(np.uint8)


def _engine() -> PaddleEngine:
    engine = get_engine("ppocr")
    assert isinstance(engine, PaddleEngine)
    return engine


def test_print_no_character_was_read_on_goes_to_a_person() -> None:
    """A remark whose last character both recognisers dropped (所得確認中 read 所得確認, the
    scan having taken 中's strokes) is not accepted: the print runs on past what was read."""
    column = get_form(LIST_FORM).column("remarks")
    crop = _printed("所得確認中", 30, em=1.0)
    whole = read_lines(_engine(), [crop], japanese_alphabet())[0]
    assert whole.text == "所得確認中" and not unread_print(crop, whole)
    dropped = Reading(whole.text[:-1], whole.confidence, whole.engine,
                      positions=whole.positions[:-1])
    assert unread_print(crop, dropped)
    cell = decide_cell(column, dropped, unread=unread_print(crop, dropped))
    assert cell.status == "review" and "characters_missing" in cell.reasons
    middle = Reading("所得認中", whole.confidence, whole.engine,
                     positions=(*whole.positions[:2], *whole.positions[3:]))
    assert unread_print(crop, middle)
