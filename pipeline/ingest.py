"""Rasterise: turn an incoming file into page images at 300 dpi (PDF, TIFF, JPEG, PNG)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from pdf2image import convert_from_bytes, pdfinfo_from_bytes
from pdf2image.exceptions import PDFPageCountError, PDFSyntaxError
from PIL import Image, UnidentifiedImageError

from pipeline.errors import (
    DamagedFile,
    EmptyFile,
    EncryptedPdf,
    ImageTooLarge,
    UnsupportedFormat,
)

TARGET_DPI = 300
MAX_SIDE_PX = 20000
MAX_PAGES = 200
A4_WIDTH_INCHES = 8.27

MAGIC = {
    b"%PDF": "application/pdf",
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"II*\x00": "image/tiff",
    b"MM\x00*": "image/tiff",
}


@dataclass(frozen=True)
class PageImage:
    number: int
    """1-based page number within the file."""
    image: np.ndarray
    """RGB, uint8, resampled to TARGET_DPI."""
    source_dpi: float


def sniff_media_type(data: bytes) -> str:
    """The media type from the file's first bytes; the file name is not trusted."""
    if not data:
        raise EmptyFile("the file is empty (0 bytes)")
    for magic, media_type in MAGIC.items():
        if data.startswith(magic):
            return media_type
    raise UnsupportedFormat("not a PDF, TIFF, JPEG or PNG file")


def count_pages(data: bytes) -> int:
    if sniff_media_type(data) == "application/pdf":
        return int(str(_pdf_info(data)["Pages"]))
    with _open_image(data) as image:
        return getattr(image, "n_frames", 1)


def rasterise(data: bytes) -> list[PageImage]:
    return [rasterise_page(data, number) for number in range(1, count_pages(data) + 1)]


def rasterise_page(data: bytes, number: int) -> PageImage:
    """One page of a file, so that each page is its own unit of work."""
    count = count_pages(data)
    if count > MAX_PAGES:
        raise DamagedFile(f"the file has {count} pages, limit {MAX_PAGES}")
    if not 1 <= number <= count:
        raise ValueError(f"page {number} of a {count}-page file")
    if sniff_media_type(data) == "application/pdf":
        images = convert_from_bytes(
            data, dpi=TARGET_DPI, first_page=number, last_page=number, thread_count=1
        )
        return PageImage(number, np.asarray(images[0].convert("RGB")), TARGET_DPI)
    with _open_image(data) as image:
        image.seek(number - 1)
        return _to_page(number, image)


def _pdf_info(data: bytes) -> dict[str, object]:
    try:
        info: dict[str, object] = pdfinfo_from_bytes(data)
    except (PDFPageCountError, PDFSyntaxError) as error:
        if "Incorrect password" in str(error) or "encrypted" in str(error).lower():
            raise EncryptedPdf("the PDF is encrypted (it needs a password to open)") from None
        raise DamagedFile("the PDF is damaged and cannot be read") from None
    # "Encrypted: yes" with only an owner password still opens: it is read.
    return info


def _open_image(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError):
        raise DamagedFile("the image is damaged and cannot be read") from None
    width, height = image.size
    if max(width, height) > MAX_SIDE_PX:
        raise ImageTooLarge(
            f"image is {max(width, height)} px on its long side, limit {MAX_SIDE_PX}"
        )
    return image


def _to_page(number: int, frame: Image.Image) -> PageImage:
    try:
        rgb = as_rgb(frame)
    except OSError:
        raise DamagedFile(f"page {number} is damaged and cannot be read") from None
    dpi = dpi_of(frame)
    if abs(dpi - TARGET_DPI) > 1:
        scale = TARGET_DPI / dpi
        rgb = rgb.resize(
            (round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS
        )
    return PageImage(number, np.asarray(rgb), dpi)


def as_rgb(frame: Image.Image) -> Image.Image:
    """8-bit RGB of any scan: 16-bit samples scaled down (not clipped to white), transparent
    parts laid on white paper (not black), palette and CMYK converted."""
    if frame.mode in ("I;16", "I;16B", "I;16L", "I"):
        frame = frame.convert("I").point(lambda value: value / 256).convert("L")
    if frame.mode == "P" and "transparency" in frame.info:
        frame = frame.convert("RGBA")
    if frame.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        paper = Image.new("RGB", frame.size, (255, 255, 255))
        paper.paste(frame.convert("RGBA"), mask=frame.convert("RGBA").getchannel("A"))
        return paper
    return frame.convert("RGB")


def dpi_of(frame: Image.Image) -> float:
    """The scan's resolution: as recorded, else inferred from an A4 page's short side."""
    recorded = frame.info.get("dpi")
    if recorded and float(recorded[0]) >= 50:
        return float(recorded[0])
    return min(frame.size) / A4_WIDTH_INCHES
