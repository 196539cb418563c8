"""Separator sheets: a printed page with Kura's QR code starts a new document in a batch.

A clerk puts one between documents that Kura could not tell apart by their first pages
(an attachment without a form, say). The sheet itself belongs to no document.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from pipeline.fonts import PRINTED_FONT, font

SEPARATOR_PAYLOAD = "KURA:SEPARATOR"
A4_PX = (2480, 3508)
SEARCH_SCALE = 0.25


def is_separator(gray: np.ndarray) -> bool:
    small = cv2.resize(gray, None, fx=SEARCH_SCALE, fy=SEARCH_SCALE, interpolation=cv2.INTER_AREA)
    try:
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(small)
    except cv2.error:  # the detector can fail on a page's noise (an assertion in convexHull)
        return False
    return bool(text == SEPARATOR_PAYLOAD)


def render_separator() -> Image.Image:
    """The sheet to print: a large QR code and what it is for, at 300 dpi."""
    code = cv2.QRCodeEncoder.create().encode(SEPARATOR_PAYLOAD)
    module_px = 36
    qr = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    page = Image.new("L", A4_PX, 255)
    page.paste(Image.fromarray(qr), ((A4_PX[0] - qr.shape[1]) // 2, 900))
    draw = ImageDraw.Draw(page)
    draw.text(
        (A4_PX[0] // 2, 500),
        "区切り紙 / Kura separator sheet",
        font=font(PRINTED_FONT, 90),
        fill=0,
        anchor="mm",
    )
    draw.text(
        (A4_PX[0] // 2, 700),
        "この紙の次のページから新しい書類として受け付けます",
        font=font(PRINTED_FONT, 56),
        fill=0,
        anchor="mm",
    )
    return page
