"""Triage: what an arriving file is, and every limit checked before it is accepted.

Nothing here decodes a page at full size. The checks read the file from disk in pieces
(headers, PDF objects, image structure) and refuse what would be too large to decode, so that
the bound on a page's memory is set here, at intake, and a worker never meets a bomb: a file
may be at most MAX_FILE_BYTES, a page at most MAX_PAGE_INCHES on its long side (so at most
MAX_PAGE_INCHES × 300 px after the rescale to 300 dpi), an image or an image inside a PDF at
most MAX_SOURCE_PIXELS, a file at most MAX_PAGES pages. The model is OCRmyPDF's `triage`
step, which sniffs the file before anything else runs.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pikepdf
from PIL import Image, UnidentifiedImageError

from pipeline.errors import (
    DamagedFile,
    EmptyFile,
    EncryptedPdf,
    FileTooLarge,
    ImageTooLarge,
    ImageTooSmall,
    TooManyPages,
)
from pipeline.ingest import MAX_PAGES, MAX_SIDE_PX, TARGET_DPI, dpi_of, sniff_media_type
from schemas.i18n import _

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_PAGE_INCHES = 17.0
"""A3 is 16.5 in on its long side: the largest sheet an office scanner takes."""
MAX_SOURCE_PIXELS = 100_000_000
"""An A3 page scanned at 600 dpi is 70 million pixels; 100 million decode to 300 MB in RGB."""
MIN_SHORT_SIDE_PX = 600
"""A postcard (A6, 4.1 in) at 150 dpi, the lowest resolution Kura reads."""
PDF_XOBJECT_DEPTH = 4

# Why a PDF is flagged: it is kept as the original, and only its page images are shown.
PDF_SCRIPTS = "pdf_scripts"
PDF_ATTACHMENTS = "pdf_attachments"


@dataclass(frozen=True)
class Triage:
    media_type: str
    pages: int
    flags: list[str] = field(default_factory=list)
    """Reason codes (schemas/reasons.py) of what the file carries besides its pages."""


def triage(source: Path | bytes | BinaryIO) -> Triage:
    """Check a file before it is accepted; raise a RejectedFile that says what is wrong.
    A file given open is read where it is (and left open, at its start)."""
    if not isinstance(source, Path | bytes):
        try:
            return _triage(source)
        finally:
            source.seek(0)
    with _opened(source) as stream:
        return _triage(stream)


def _triage(stream: BinaryIO) -> Triage:
    size = stream.seek(0, io.SEEK_END)
    if size == 0:
        raise EmptyFile(_("the file is empty (0 bytes)"))
    if size > MAX_FILE_BYTES:
        raise FileTooLarge(_("the file is {value}, limit {value2}").format(
            value=_megabytes(size), value2=_megabytes(MAX_FILE_BYTES)))
    stream.seek(0)
    media_type = sniff_media_type(stream.read(8))
    stream.seek(0)
    if media_type == "application/pdf":
        return _triage_pdf(stream, size)
    return _triage_image(stream, media_type)


def _opened(source: Path | bytes) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    try:
        return source.open("rb")
    except OSError as error:
        raise DamagedFile(_(
            "the file cannot be read ({value})").format(
                value=error.strerror or _("I/O error"))) from None


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


# --- PDF ----------------------------------------------------------------------------------


def _triage_pdf(stream: BinaryIO, size: int) -> Triage:
    stream.seek(max(0, size - 1024))
    if b"%%EOF" not in stream.read():
        raise DamagedFile(_("the PDF is truncated (it ends before its end-of-file marker)"))
    stream.seek(0)
    try:
        pdf = pikepdf.open(stream)
    except pikepdf.PasswordError:
        raise EncryptedPdf(_("the PDF is encrypted (it needs a password to open)")) from None
    except (pikepdf.PdfError, ValueError, RecursionError):
        raise DamagedFile(_("the PDF is damaged and cannot be read")) from None
    with pdf:
        count = len(pdf.pages)
        if count == 0:
            raise DamagedFile(_("the PDF has no pages"))
        if count > MAX_PAGES:
            raise TooManyPages(_(
                "the PDF has {count} pages, limit {max_pages}").format(
                    count=count, max_pages=MAX_PAGES))
        for number, page in enumerate(pdf.pages, start=1):
            _check_pdf_page(number, page)
        return Triage("application/pdf", count, _pdf_flags(pdf))


def _check_pdf_page(number: int, page: pikepdf.Page) -> None:
    try:
        x0, y0, x1, y1 = (float(v) for v in page.mediabox)
        unit = float(page.obj.get("/UserUnit", 1))
    except (TypeError, ValueError, pikepdf.PdfError):
        raise DamagedFile(_(
            "page {number} of the PDF has no readable page size").format(number=number)) from None
    width, height = abs(x1 - x0) * unit / 72, abs(y1 - y0) * unit / 72
    if max(width, height) > MAX_PAGE_INCHES:
        raise ImageTooLarge(
            _(
                "page {number} is {width:.1f} × {height:.1f} in ({value} × {value2} px at "
                "{target_dpi} dpi), limit {max_page_inches:g} in on the long side").format(
                    number=number, width=width, height=height, value=round(width * TARGET_DPI),
                    value2=round(height * TARGET_DPI), target_dpi=TARGET_DPI,
                    max_page_inches=MAX_PAGE_INCHES)
        )
    for width_px, height_px in _pdf_images(page.obj.get("/Resources"), PDF_XOBJECT_DEPTH):
        if width_px * height_px > MAX_SOURCE_PIXELS:
            raise ImageTooLarge(
                _(
                    "page {number} holds an image of {width_px} × {height_px} px, limit {value} "
                    "million pixels").format(
                        number=number, width_px=width_px, height_px=height_px,
                        value=MAX_SOURCE_PIXELS // 1000000)
            )


def _pdf_images(resources: object, depth: int) -> Iterator[tuple[int, int]]:
    """(width, height) of every image a page draws, through nested forms."""
    if depth == 0 or not isinstance(resources, pikepdf.Dictionary):
        return
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return
    for xobject in xobjects.as_dict().values():
        if not isinstance(xobject, pikepdf.Stream):
            continue
        if xobject.get("/Subtype") == "/Image":
            yield int(xobject.get("/Width", 0)), int(xobject.get("/Height", 0))
        elif xobject.get("/Subtype") == "/Form":
            yield from _pdf_images(xobject.get("/Resources"), depth - 1)


def _pdf_flags(pdf: pikepdf.Pdf) -> list[str]:
    root = pdf.Root
    names = root.get("/Names")
    scripts = "/AA" in root or _is_script(root.get("/OpenAction"))
    attachments = bool(pdf.attachments)
    if isinstance(names, pikepdf.Dictionary):
        scripts = scripts or "/JavaScript" in names
    for page in pdf.pages:
        scripts = scripts or "/AA" in page.obj
        for annotation in page.obj.get("/Annots", []) or []:
            if not isinstance(annotation, pikepdf.Dictionary):
                continue
            attachments = attachments or annotation.get("/Subtype") == "/FileAttachment"
            scripts = scripts or "/AA" in annotation or _is_script(annotation.get("/A"))
    return [flag for flag, found in ((PDF_SCRIPTS, scripts), (PDF_ATTACHMENTS, attachments))
            if found]


def _is_script(action: object) -> bool:
    return isinstance(action, pikepdf.Dictionary) and (
        "/JS" in action or action.get("/S") in ("/JavaScript", "/Launch")
    )


# --- Images -------------------------------------------------------------------------------


def _triage_image(stream: BinaryIO, media_type: str) -> Triage:
    if media_type == "image/png":
        _check_png_header(stream)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except Image.DecompressionBombError:
        raise ImageTooLarge(
            _(
                "the image declares more than {value} million pixels").format(
                    value=MAX_SOURCE_PIXELS // 1000000)
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DamagedFile(_("the image is damaged and cannot be read")) from None
    with image:
        frames = getattr(image, "n_frames", 1)
        if frames > MAX_PAGES:
            raise TooManyPages(_(
                "the image has {frames} pages, limit {max_pages}").format(
                    frames=frames, max_pages=MAX_PAGES))
        for number in range(1, frames + 1):
            where = (_("page {number} of the TIFF").format(number=number) if frames > 1
                     else _("the image"))
            try:
                image.seek(number - 1)
            except (OSError, EOFError, ValueError):
                raise DamagedFile(_(
                    "{where} is damaged and cannot be read").format(where=where)) from None
            _check_image_size(where, image)
            _check_complete(where, image, stream, media_type)
    return Triage(media_type, frames)


def _check_png_header(stream: BinaryIO) -> None:
    """The size a PNG declares, read before Pillow sees it: a bomb is named by its size."""
    header = stream.read(24)
    stream.seek(0)
    if len(header) == 24 and header[12:16] == b"IHDR":
        width, height = int.from_bytes(header[16:20]), int.from_bytes(header[20:24])
        if max(width, height) > MAX_SIDE_PX:
            raise ImageTooLarge(
                _(
                    "image is {value} px on its long side, limit {max_side_px}").format(
                        value=max(width, height), max_side_px=MAX_SIDE_PX)
            )


def _check_image_size(where: str, image: Image.Image) -> None:
    width, height = image.size
    if max(width, height) > MAX_SIDE_PX:
        raise ImageTooLarge(
            _(
                "image is {value} px on its long side, limit {max_side_px}").format(
                    value=max(width, height), max_side_px=MAX_SIDE_PX)
        )
    if width * height > MAX_SOURCE_PIXELS:
        raise ImageTooLarge(
            _(
                "{where} is {width} × {height} px, limit {value} million pixels").format(
                    where=where, width=width, height=height, value=MAX_SOURCE_PIXELS // 1000000)
        )
    if min(width, height) < MIN_SHORT_SIDE_PX:
        raise ImageTooSmall(
            _(
                "{where} is {width} × {height} px, too small to be a page (at least "
                "{min_short_side_px} px on the short side: a postcard at 150 dpi)").format(
                    where=where, width=width, height=height, min_short_side_px=MIN_SHORT_SIDE_PX)
        )
    dpi = dpi_of(image)
    inches = max(width, height) / dpi
    if inches > MAX_PAGE_INCHES:
        raise ImageTooLarge(
            _(
                "{where} is {value:.1f} × {value2:.1f} in ({width} × {height} px at {dpi:.0f} "
                "dpi: {value3} × {value4} px at {target_dpi} dpi), limit {max_page_inches:g} in "
                "on the long side").format(
                    where=where, value=width / dpi, value2=height / dpi, width=width,
                    height=height, dpi=dpi, value3=round(width * TARGET_DPI / dpi),
                    value4=round(height * TARGET_DPI / dpi), target_dpi=TARGET_DPI,
                    max_page_inches=MAX_PAGE_INCHES)
        )


def _check_complete(where: str, image: Image.Image, stream: BinaryIO, media_type: str) -> None:
    """A truncated or broken image is refused here, not when its page is read. The sizes
    were checked first, so what is decoded here is bounded."""
    stream.seek(0)
    try:
        if media_type == "image/png":
            with Image.open(stream) as again:
                again.verify()  # every chunk's CRC and the closing IEND, without decoding
        elif media_type == "image/jpeg":
            with Image.open(stream) as again:
                again.draft(again.mode, (again.width // 8, again.height // 8))
                again.load()  # the whole entropy-coded stream, at an eighth of the size
        else:
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        raise DamagedFile(_(
            "{where} is damaged or truncated and cannot be read").format(where=where)) from None
    finally:
        stream.seek(0)
