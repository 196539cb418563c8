"""Rasterising every accepted format, and typed rejections a clerk can read."""

from __future__ import annotations

import io

import numpy as np
import pikepdf
import pytest
from PIL import Image

from pipeline.errors import DamagedFile, EmptyFile, EncryptedPdf, ImageTooLarge, UnsupportedFormat
from pipeline.ingest import as_rgb, count_pages, rasterise, rasterise_page


def _page(shade: int, size: tuple[int, int] = (827, 1169)) -> Image.Image:
    return Image.new("RGB", size, (shade, shade, shade))


def _pdf(pages: list[Image.Image], dpi: int = 100) -> bytes:
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out.getvalue()


def test_a_pdf_is_rasterised_at_300_dpi_page_by_page() -> None:
    data = _pdf([_page(250), _page(10)])
    assert count_pages(data) == 2
    pages = rasterise(data)
    assert [p.number for p in pages] == [1, 2]
    height, width, _ = pages[0].image.shape
    assert abs(height - 3508) <= 2 and abs(width - 2480) <= 2
    assert pages[1].image.mean() < 30
    assert rasterise_page(data, 2).image.mean() < 30


def test_a_multipage_tiff_gives_each_frame_resampled_to_300_dpi() -> None:
    out = io.BytesIO()
    frames = [_page(200, (1654, 2339)), _page(60, (1654, 2339))]
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    pages = rasterise(out.getvalue())
    assert len(pages) == 2
    assert pages[0].source_dpi == 200
    assert pages[1].image.shape[1] == 2481


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_single_images_are_accepted(fmt: str) -> None:
    out = io.BytesIO()
    _page(128, (2480, 3508)).save(out, fmt, dpi=(300, 300))
    (page,) = rasterise(out.getvalue())
    assert page.image.shape == (3508, 2480, 3)
    assert abs(int(np.median(page.image)) - 128) <= 2


def test_rejections_say_what_is_wrong() -> None:
    with pytest.raises(EmptyFile):
        count_pages(b"")
    with pytest.raises(UnsupportedFormat, match="not a PDF, TIFF, JPEG or PNG"):
        count_pages(b"hello, this is a text file")
    with pytest.raises(DamagedFile):
        count_pages(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(DamagedFile):
        count_pages(b"%PDF-1.4\n garbage")


def test_an_encrypted_pdf_is_rejected_as_such() -> None:
    source = pikepdf.open(io.BytesIO(_pdf([_page(250)])))
    out = io.BytesIO()
    source.save(out, encryption=pikepdf.Encryption(owner="o", user="secret"))
    with pytest.raises(EncryptedPdf, match="encrypted"):
        count_pages(out.getvalue())


def test_an_oversized_image_is_rejected_with_its_size() -> None:
    out = io.BytesIO()
    Image.new("1", (20001, 10)).save(out, "PNG")
    with pytest.raises(ImageTooLarge, match="20001 px"):
        count_pages(out.getvalue())


def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    source = pikepdf.open(io.BytesIO(_pdf([_page(10)])))
    out = io.BytesIO()
    source.save(out, encryption=pikepdf.Encryption(owner="owner", user=""))
    (page,) = rasterise(out.getvalue())
    assert page.image.mean() < 30


def test_sixteen_bit_transparent_and_palette_scans_keep_their_greys() -> None:
    grey16 = Image.fromarray(np.full((20, 20), 32768, np.uint16))
    assert abs(int(np.asarray(as_rgb(grey16)).mean()) - 128) <= 1
    clear = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert np.asarray(as_rgb(clear)).min() == 255  # transparent is paper, not black ink
    ink = Image.new("RGBA", (20, 20), (0, 0, 0, 255))
    assert np.asarray(as_rgb(ink)).max() == 0
    palette = Image.new("RGB", (20, 20), (100, 100, 100)).convert("P")
    assert abs(int(np.asarray(as_rgb(palette)).mean()) - 100) <= 2
