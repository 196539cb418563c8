"""A corpus of bad files, each with the exact answer Kura must give for it (issue 12).

`write_corpus(folder)` writes the files into a folder (with the FIFO, symbolic links,
hidden and temporary files and the sparse giant a folder may also hold) and returns what
each entry must produce through `kura ingest` and `kura extract --json`."""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image

from kura.bench.synth.corpus import Plan, render_document
from schemas.reasons import describe

NO_DOCUMENT = describe("no_document_pages")
NOT_A_SCAN = "not a PDF, TIFF, JPEG or PNG file"
A4_150 = (1240, 1754)


@dataclass(frozen=True)
class Expected:
    name: str
    outcome: str
    """taken | quarantined | refused | skipped"""
    reason: str | None
    """The exact reason shown (None: read into a 受付 entry with no reason)."""
    code: str | None = None
    """What `kura extract --json` gives as the entry's error code (None: a document)."""
    flags: tuple[str, ...] = ()
    form: str | None = None
    """The form `kura extract` must find (for the pages that hold one)."""


def _image(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _white(mode: str = "RGB", size: tuple[int, int] = A4_150) -> Image.Image:
    return Image.new(mode, size, "white" if mode != "CMYK" else (0, 0, 0, 0))


def _pdf(pages: int = 1, inches: tuple[float, float] = (8.27, 11.69)) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(inches[0] * 72, inches[1] * 72))
    return pdf


def _saved(pdf: pikepdf.Pdf, **options: object) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def _png_bomb(side: int) -> bytes:
    """A PNG that declares side × side pixels and holds a few bytes of them."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    pixels = zlib.compress(b"\x00" * (side // 8 + 1) * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(
        b"IEND", b"")


def _pdf_with_huge_image() -> bytes:
    pdf = _pdf()
    side = 12_000
    image = pikepdf.Stream(pdf, zlib.compress(bytes(side * side // 8), 9),
                           Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=side,
                           Height=side, BitsPerComponent=1,
                           ColorSpace=pikepdf.Name.DeviceGray, Filter=pikepdf.Name.FlateDecode)
    page = pdf.pages[0]
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.obj.Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    return _saved(pdf)


def _pdf_with_script() -> bytes:
    pdf = _pdf()
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                             JS=pikepdf.String("app.alert('hi')"))
    return _saved(pdf)


def _pdf_with_attachment() -> bytes:
    pdf = _pdf()
    pdf.attachments["setup.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00 not really")
    return _saved(pdf)


def _broken_tiff() -> bytes:
    frames = [Image.new("L", A4_150, shade) for shade in (250, 200, 150)]
    data = bytearray(_image(frames[0], "TIFF", save_all=True, append_images=frames[1:],
                            compression="tiff_lzw", dpi=(150, 150)))
    with Image.open(io.BytesIO(bytes(data))) as tiff:
        tiff.seek(1)
        offsets = tiff.tag_v2[273]
    for offset in offsets:  # page 2's strips: garbage where LZW codes should be
        data[offset:offset + 40] = b"\xff\x00" * 20
    return bytes(data)


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("scan.pdf", b"%PDF-1.4 inside a zip")
    return out.getvalue()


def _no_form() -> bytes:
    """A page with writing on it and no form: bars of a made-up chart."""
    page = np.full((A4_150[1], A4_150[0]), 255, np.uint8)
    for index in range(8):
        page[300 + index * 150: 380 + index * 150, 200: 300 + index * 100] = 0
    return _image(Image.fromarray(page), "PNG", dpi=(150, 150))


def _upside_down() -> tuple[bytes, str]:
    pages, truth = render_document("kokunen_sanzen_sango", 7, quick=True,
                                   plan=Plan(format="png", blank_back=False,
                                             upside_down=True))
    return _image(pages[0], "PNG", dpi=(200, 200)), truth["form"]


def write_corpus(folder: Path) -> list[Expected]:
    folder.mkdir(parents=True, exist_ok=True)
    cut = _saved(_pdf(2))
    page_png = _image(_white(), "PNG", dpi=(150, 150))
    page_jpg = _image(_white(), "JPEG", dpi=(150, 150))
    upside_down, form = _upside_down()
    sixteen = Image.fromarray(np.full(A4_150[::-1], 65000, np.uint16))
    transparent = Image.new("RGBA", A4_150, (0, 0, 0, 0))
    files: list[tuple[str, bytes, Expected]] = [
        ("empty.pdf", b"", Expected("", "quarantined", "the file is empty (0 bytes)",
                                   "empty_file")),
        ("cut.pdf", cut[: len(cut) // 2], Expected(
            "", "quarantined", "the PDF is truncated (it ends before its end-of-file marker)",
            "damaged_file")),
        ("locked.pdf", _saved(_pdf(), encryption=pikepdf.Encryption(owner="o", user="u")),
         Expected("", "quarantined", "the PDF is encrypted (it needs a password to open)",
                  "encrypted_pdf")),
        ("owner-only.pdf", _saved(_pdf(), encryption=pikepdf.Encryption(owner="o", user="")),
         Expected("", "taken", NO_DOCUMENT, "no_document_pages")),
        ("script.pdf", _pdf_with_script(), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages", ("pdf_scripts",))),
        ("attachment.pdf", _pdf_with_attachment(), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages", ("pdf_attachments",))),
        ("201-pages.pdf", _saved(_pdf(201)), Expected(
            "", "quarantined", "the PDF has 201 pages, limit 200", "too_many_pages")),
        ("bomb.png", _png_bomb(40_000), Expected(
            "", "quarantined", "image is 40000 px on its long side, limit 20000",
            "image_too_large")),
        ("tiny-huge.png", _image(Image.new("1", (3800, 3800), 1), "PNG", dpi=(50, 50)),
         Expected("", "quarantined", "the image is 76.0 × 76.0 in (3800 × 3800 px at 50 dpi: "
                  "22794 × 22794 px at 300 dpi), limit 17 in on the long side",
                  "image_too_large")),
        ("huge-page.pdf", _saved(_pdf(1, (100, 50))), Expected(
            "", "quarantined", "page 1 is 100.0 × 50.0 in (30000 × 15000 px at 300 dpi), "
            "limit 17 in on the long side", "image_too_large")),
        ("huge-image.pdf", _pdf_with_huge_image(), Expected(
            "", "quarantined", "page 1 holds an image of 12000 × 12000 px, limit 100 million "
            "pixels", "image_too_large")),
        ("one-pixel.png", _image(_white(size=(1, 1)), "PNG"), Expected(
            "", "quarantined", "the image is 1 × 1 px, too small to be a page (at least 600 px "
            "on the short side: a postcard at 150 dpi)", "image_too_small")),
        ("stamp-150dpi.png", _image(_white(size=(400, 500)), "PNG", dpi=(150, 150)), Expected(
            "", "quarantined", "the image is 400 × 500 px, too small to be a page (at least "
            "600 px on the short side: a postcard at 150 dpi)", "image_too_small")),
        ("cmyk.jpg", _image(_white("CMYK"), "JPEG", dpi=(150, 150)), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages")),
        ("16-bit.png", _image(sixteen, "PNG", dpi=(150, 150)), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages")),
        ("alpha.png", _image(transparent, "PNG", dpi=(150, 150)), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages")),
        ("palette.png", _image(_white().convert("P"), "PNG", dpi=(150, 150)), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages")),
        ("broken-page.tif", _broken_tiff(), Expected(
            "", "quarantined", "page 2 of the TIFF is damaged or truncated and cannot be read",
            "damaged_file")),
        ("archive.pdf", _zip(), Expected("", "quarantined", NOT_A_SCAN, "unsupported_format")),
        ("notes.txt", "申請書のメモ\n".encode(), Expected(
            "", "quarantined", NOT_A_SCAN, "unsupported_format")),
        ("cut.jpg", page_jpg[: len(page_jpg) // 2], Expected(
            "", "quarantined", "the image is damaged or truncated and cannot be read",
            "damaged_file")),
        ("cut.png", page_png[: len(page_png) // 2], Expected(
            "", "quarantined", "the image is damaged or truncated and cannot be read",
            "damaged_file")),
        ("..\\..\\etc\\passwd.png", _image(_white(), "PNG", dpi=(151, 151)), Expected(
            "", "skipped", "a hidden file", "hidden_or_temporary")),
        ("c:\\..\\..\\windows\\scan.png", _image(_white(), "PNG", dpi=(154, 154)),
         Expected("", "taken", NO_DOCUMENT, "no_document_pages")),
        ("\x1b[31mred\x07[red]x.png", _image(_white(), "PNG", dpi=(152, 152)), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages")),
        ("山田太郎_届.png", _image(_white(), "PNG", dpi=(153, 153)), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages")),
        ("no-form.png", _no_form(), Expected("", "taken", None, None)),
        ("upside-down.png", upside_down, Expected("", "taken", None, None, form=form)),
        ("blank-page.png", page_png, Expected("", "taken", NO_DOCUMENT, "no_document_pages")),
        ("all-blank.pdf", _saved(_pdf(3, (8.26, 11.69))), Expected(
            "", "taken", NO_DOCUMENT, "no_document_pages")),
    ]
    expected = []
    for name, data, answer in files:
        (folder / name).write_bytes(data)
        expected.append(Expected(name, answer.outcome, answer.reason, answer.code,
                                 answer.flags, answer.form))
    os.mkfifo(folder / "scanner.fifo")
    (folder / "gone.png").symlink_to(folder / "no-such-file.png")
    (folder / "passwd.png").symlink_to("/etc/passwd")
    (folder / "memory.png").symlink_to("/proc/self/mem")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "scan.png.part").write_bytes(page_png[:100])
    with (folder / "giant.pdf").open("wb") as giant:  # 20 GB, sparse: nothing on the disk
        giant.truncate(20 * 1024**3)
    expected += [
        Expected("scanner.fifo", "refused", "not a regular file (a FIFO)", "not_regular"),
        Expected("gone.png", "refused", "a dangling symbolic link (not followed)", "symlink"),
        Expected("passwd.png", "refused", "a symbolic link (not followed)", "symlink"),
        Expected("memory.png", "refused", "a symbolic link (not followed)", "symlink"),
        Expected(".DS_Store", "skipped", "a hidden file", "hidden_or_temporary"),
        Expected("scan.png.part", "skipped", "a temporary file", "hidden_or_temporary"),
        Expected("giant.pdf", "refused", "the file is 21,474,836,480 bytes, limit 209,715,200: "
                 "not stored, left where it is", "file_too_large"),
    ]
    return sorted(expected, key=lambda e: e.name)
