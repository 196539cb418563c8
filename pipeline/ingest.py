"""Rasterise: turn an incoming file into page images at 300 dpi (PDF, TIFF, JPEG, PNG)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import threading
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pikepdf
from pikepdf import PdfImage
from PIL import Image, UnidentifiedImageError

from pipeline.errors import (
    DamagedFile,
    EmptyFile,
    EncryptedPdf,
    ImageTooLarge,
    UnsupportedFormat,
)
from schemas.i18n import _

TARGET_DPI = 300
MAX_SIDE_PX = 20000
MAX_PAGES = 200
A4_WIDTH_INCHES = 8.27
RENDER_TIMEOUT_S = 120
DECODE_MEMORY_BYTES = 1 << 30
"""What decoding one page may take. pdftoppm draws under this limit of its address space (a
page that needs more fails with its reason; the worker lives on); an image decoded in the
worker is measured before it is decoded, and refused if its pixels would need more. The
intake limits (pipeline/triage.py: 100 million pixels, 17 in at 300 dpi) keep every page
accepted well inside it."""

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
        raise EmptyFile(_("the file is empty (0 bytes)"))
    for magic, media_type in MAGIC.items():
        if data.startswith(magic):
            return media_type
    raise UnsupportedFormat(_("not a PDF, TIFF, JPEG or PNG file"))


def count_pages(data: bytes) -> int:
    with ScanFile(data) as scan:
        return scan.page_count


def rasterise(data: bytes) -> list[PageImage]:
    with ScanFile(data) as scan:
        return [scan.page(number) for number in range(1, scan.page_count + 1)]


def rasterise_page(data: bytes, number: int) -> PageImage:
    with ScanFile(data) as scan:
        return scan.page(number)


class ScanFile:
    """A file opened and measured once, then drawn page by page: each page is its own unit
    of work, but a batch of a file's pages shares one opening (one decryption, one parse).

    Nothing of it is written to disk, and a file given as a stream (a worker's original,
    opened piece by piece from the store) is never whole in memory: pikepdf and Pillow read
    it at random as they need it; a PDF page is drawn by `pdftoppm` reading the PDF from
    stdin, written to it piece by piece, and writing the picture to stdout. A page that is
    one embedded image (as scanners write them) is taken out of the PDF as it is instead,
    about three times faster than drawing it. Poppler's drawing of a scan differs from the
    scan itself by a few grey levels (1-bit pages are smoothed): on the 40-document
    yardstick, taking the pictures out left fields right (97.1 %) and silent errors (0) as
    they were and sent 2 more of 442 fields to review (docs/benchmarks.md).
    `take_images_out=False` draws every page. The stream stays its giver's to close."""

    def __init__(self, data: bytes | BinaryIO, take_images_out: bool = True) -> None:
        self.stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
        self.take_images_out = take_images_out
        self.stream.seek(0)
        self.media_type = sniff_media_type(self.stream.read(8))
        self.stream.seek(0)
        self._pdf: pikepdf.Pdf | None = None
        self._image: Image.Image | None = None
        if self.media_type == "application/pdf":
            self._pdf = _open_pdf(self.stream)
            self.page_count = len(self._pdf.pages)
        else:
            self._image = _open_image(self.stream)
            self.page_count = getattr(self._image, "n_frames", 1)
        if self.page_count > MAX_PAGES:
            self.close()
            raise DamagedFile(_(
                "the file has {page_count} pages, limit {max_pages}").format(
                    page_count=self.page_count, max_pages=MAX_PAGES))

    def __enter__(self) -> ScanFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
        if self._image is not None:
            self._image.close()

    def page(self, number: int) -> PageImage:
        if not 1 <= number <= self.page_count:
            raise ValueError(f"page {number} of a {self.page_count}-page file")
        if self._pdf is not None:
            page = self._pdf.pages[number - 1]
            embedded = _sole_image(page) if self.take_images_out else None
            if embedded is not None:
                return _to_page(number, embedded)
            return PageImage(number, _render_pdf_page(self.stream, number), TARGET_DPI)
        assert self._image is not None
        self._image.seek(number - 1)
        return _to_page(number, self._image)


def _open_pdf(stream: BinaryIO) -> pikepdf.Pdf:
    try:
        pdf = pikepdf.open(stream)
    except pikepdf.PasswordError:
        raise EncryptedPdf(_("the PDF is encrypted (it needs a password to open)")) from None
    except pikepdf.PdfError:
        raise DamagedFile(_("the PDF is damaged and cannot be read")) from None
    if len(pdf.pages) == 0:
        pdf.close()
        raise DamagedFile(_("the PDF is damaged and cannot be read"))
    return pdf


def _sole_image(page: pikepdf.Page) -> Image.Image | None:
    """The page's picture as the scanner stored it, when the page is exactly one opaque
    image drawn over the whole page, unrotated; else None (the page is drawn instead)."""
    try:
        if int(page.obj.get("/Rotate", 0)) % 360 or "/Annots" in page.obj:
            return None
        resources = page.obj.get("/Resources", pikepdf.Dictionary())
        xobjects = resources.get("/XObject", pikepdf.Dictionary())
        if set(resources.keys()) - {"/XObject", "/ProcSet"} or len(xobjects.keys()) != 1:
            return None  # fonts, patterns, graphics states, a second object: draw the page
        (stream,) = xobjects.values()
        if not isinstance(stream, pikepdf.Stream) or stream.get("/Subtype") != "/Image" or any(
            key in stream for key in ("/SMask", "/Mask", "/Decode", "/ImageMask")
        ):
            return None
        instructions = pikepdf.parse_content_stream(page)
        operators = [str(instruction.operator) for instruction in instructions]
        if sorted(operators) != ["Do", "Q", "cm", "q"]:
            return None
        (matrix,) = [i.operands for i in instructions if str(i.operator) == "cm"]
        if not _covers([float(v) for v in matrix], [float(v) for v in page.mediabox]):
            return None
        if decode_bytes(int(stream.Width), int(stream.Height), 1.0) > DECODE_MEMORY_BYTES:
            return None  # drawn instead, by pdftoppm under the memory limit
        image = PdfImage(stream).as_pil_image()
    except (pikepdf.PdfError, NotImplementedError, ValueError, KeyError, OSError):
        return None
    if image.mode not in ("1", "L", "RGB"):
        return None
    box = [float(v) for v in page.mediabox]
    dpi_x = image.width / ((box[2] - box[0]) / 72)
    dpi_y = image.height / ((box[3] - box[1]) / 72)
    if abs(dpi_x - dpi_y) > 1:
        return None
    image.info["dpi"] = (dpi_x, dpi_x)
    return image


def _covers(matrix: list[float], box: list[float]) -> bool:
    """`cm` places the image (a unit square) exactly over the page box, unrotated."""
    a, b, c, d, e, f = matrix
    near = lambda x, y: abs(x - y) < 0.5  # noqa: E731 - half a point
    return (b == c == 0 and near(a, box[2] - box[0]) and near(d, box[3] - box[1])
            and near(e, box[0]) and near(f, box[1]))


def _render_pdf_page(stream: BinaryIO, number: int) -> np.ndarray:
    """One page drawn at 300 dpi by pdftoppm, the PDF on its stdin, the picture (PPM) on its
    stdout: the decrypted PDF never touches the disk, and is written to pdftoppm a piece at
    a time (pdftoppm keeps it, under its own memory limit; this process never holds it)."""
    command = ["prlimit", f"--as={DECODE_MEMORY_BYTES}", "--",
               "pdftoppm", "-r", str(TARGET_DPI), "-f", str(number), "-l", str(number), "-"]
    where = stream.tell()  # the PDF reader's place: it reads the same stream again after
    reading, writing = os.pipe()
    try:
        drawing = subprocess.Popen(command, stdin=reading, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
    except BaseException:
        os.close(writing)
        raise
    finally:
        os.close(reading)
    failures: list[BaseException] = []
    feeding = threading.Thread(target=_feed, args=(stream, writing, failures), daemon=True)
    feeding.start()
    try:
        stdout, stderr = drawing.communicate(timeout=RENDER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        drawing.kill()
        drawing.communicate()
        raise
    finally:
        feeding.join()
        stream.seek(where)
    if failures:
        raise failures[0]  # the stream could not be read (a piece not as sealed)
    try:
        # out of memory, pdftoppm says so, ends 0 and writes a 1 × 1 picture
        if drawing.returncode != 0 or b"Out of memory" in stderr:
            raise OSError(drawing.returncode)
        with Image.open(io.BytesIO(stdout)) as picture:
            return np.asarray(picture.convert("RGB"))
    except (OSError, ValueError, SyntaxError):
        raise DamagedFile(
            _("page {number} of the PDF cannot be drawn: it is damaged, or drawing it needs "
              "more than {limit} MB").format(number=number, limit=DECODE_MEMORY_BYTES >> 20)
        ) from None


FEED_PIECE = 1 << 20


def _feed(stream: BinaryIO, descriptor: int, failures: list[BaseException]) -> None:
    """The whole stream into a pipe, a piece at a time; a reader that stopped reading (it
    failed, or was stopped) ends it. What went wrong reading the stream is kept in
    `failures`, for the thread that waits."""
    pipe = os.fdopen(descriptor, "wb")
    try:
        stream.seek(0)
        while piece := stream.read(FEED_PIECE):
            pipe.write(piece)
    except BrokenPipeError:
        pass
    except BaseException as error:  # handed to the waiting thread
        failures.append(error)
    finally:
        with contextlib.suppress(BrokenPipeError):
            pipe.close()


def _open_image(stream: BinaryIO) -> Image.Image:
    try:
        image = Image.open(stream)
    except (UnidentifiedImageError, OSError):
        raise DamagedFile(_("the image is damaged and cannot be read")) from None
    width, height = image.size
    if max(width, height) > MAX_SIDE_PX:
        raise ImageTooLarge(
            _(
                "image is {value} px on its long side, limit {max_side_px}").format(
                    value=max(width, height), max_side_px=MAX_SIDE_PX)
        )
    return image


def decode_bytes(width: int, height: int, scale: float) -> int:
    """Memory a page of `width` × `height` px takes decoded: four bytes a pixel at most (an
    alpha channel laid on paper), then the picture at 300 dpi in RGB."""
    return width * height * 4 + round(width * scale) * round(height * scale) * 3


def _to_page(number: int, frame: Image.Image) -> PageImage:
    dpi = dpi_of(frame)
    scale = TARGET_DPI / dpi
    needs = decode_bytes(frame.width, frame.height, scale)
    if needs > DECODE_MEMORY_BYTES:
        raise ImageTooLarge(
            _("page {number} would need {needs} MB to decode ({width} × {height} px at "
              "{dpi:.0f} dpi), limit {limit} MB").format(
                number=number, needs=needs >> 20, width=frame.width, height=frame.height,
                dpi=dpi, limit=DECODE_MEMORY_BYTES >> 20)
        )
    try:
        rgb = as_rgb(frame)
    except OSError:
        raise DamagedFile(_(
            "page {number} is damaged and cannot be read").format(number=number)) from None
    if abs(dpi - TARGET_DPI) > 1:
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
