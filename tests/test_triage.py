"""Triage edge cases beyond the bad-file corpus: what hides inside a PDF, and a folder's
entries as intake gathers them."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pikepdf
import pytest

from pipeline.errors import ImageTooLarge
from pipeline.triage import PDF_SCRIPTS, triage
from workers.intake import Arrival, TurnedAway, gather, shown_name


def _pdf() -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    return pdf


def _bytes(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_an_image_bomb_inside_a_form_inside_a_page_is_found() -> None:
    pdf = _pdf()
    side = 11_000
    image = pdf.make_stream(zlib.compress(bytes(side * side // 8), 9))
    image.update(pikepdf.Dictionary(Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                                    Width=side, Height=side, BitsPerComponent=1,
                                    ColorSpace=pikepdf.Name.DeviceGray,
                                    Filter=pikepdf.Name.FlateDecode))
    form = pdf.make_stream(b"/Im0 Do")
    form.update(pikepdf.Dictionary(Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                                   BBox=[0, 0, 595, 842], Resources=pikepdf.Dictionary(
                                       XObject=pikepdf.Dictionary(Im0=image))))
    pdf.pages[0].obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=form))
    with pytest.raises(ImageTooLarge, match="11000 × 11000 px"):
        triage(_bytes(pdf))


@pytest.mark.parametrize("where", ["annotation", "page", "launch"])
def test_scripts_are_found_wherever_they_hide(where: str) -> None:
    pdf = _pdf()
    page = pdf.pages[0].obj
    if where == "annotation":
        page.Annots = pdf.make_indirect(pikepdf.Array([pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10],
            A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("x")))]))
    elif where == "page":
        page.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                                          JS=pikepdf.String("x")))
    else:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.Launch,
                                                 F=pikepdf.String("cmd.exe"))
    assert triage(_bytes(pdf)).flags == [PDF_SCRIPTS]
    assert triage(_bytes(_pdf())).flags == []


def test_a_folder_is_walked_without_leaving_it(tmp_path: Path) -> None:
    inner = tmp_path / "scans" / "monday"
    inner.mkdir(parents=True)
    (inner / "a.png").write_bytes(b"x")
    (tmp_path / "scans" / "outside").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "scans" / ".cache").mkdir()
    entries = gather([tmp_path / "scans"])
    assert [(type(e).__name__, e.filename) for e in entries] == [
        ("TurnedAway", ".cache"), ("Arrival", "monday/a.png"), ("TurnedAway", "outside")]
    assert isinstance(entries[1], Arrival) and isinstance(entries[2], TurnedAway)
    assert entries[2].reason == "a symbolic link (not followed)"


def test_names_are_printable() -> None:
    assert shown_name("a\x1b[2Jb\u202ec.png") == "a\\x1b[2Jb\\u202ec.png"
    assert shown_name("山田_届.pdf") == "山田_届.pdf"
