"""The records room: search (by blind index), an original opened for a stated purpose and
shown with a watermark of the viewer and the time, download, legal hold, disposal."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from PIL import Image, ImageDraw, ImageFont
from starlette.responses import Response

from storage.usecases import disposal, holds
from storage.usecases import records_room as r
from web.rooms.common import back_to, check_csrf, render, settings_of, signed_in, token_of

router = APIRouter(prefix="/records")
Csrf = [Depends(check_csrf)]


@router.get("")
def search_page(request: Request) -> Response:
    me = signed_in(request)
    return render(request, "records/search.html", me, fields=r.SEARCHABLE,
                  purposes=r.PURPOSES, back="/records")


@router.post("/search", dependencies=Csrf)
def search(request: Request, field: Annotated[str, Form()], value: Annotated[str, Form()],
           purpose: Annotated[str, Form()] = "", form: Annotated[str, Form()] = "",
           received_from: Annotated[str, Form()] = "",
           received_to: Annotated[str, Form()] = "") -> Response:
    """A POST: what is searched for (a 個人番号, a name) never appears in a URL."""
    me = signed_in(request)
    found = r.search(settings_of(request), token_of(request), field, value, purpose, form,
                     _day(received_from), _day(received_to))
    return render(request, "records/search.html", me, fields=r.SEARCHABLE, found=found,
                  field=field, searched=True, back="/records")


@router.post("/person", dependencies=Csrf)
def person_file(request: Request, field: Annotated[str, Form()], value: Annotated[str, Form()],
                purpose: Annotated[str, Form()]) -> Response:
    """A person's whole file for a disclosure request (開示請求)."""
    me = signed_in(request)
    filed = r.person_file(settings_of(request), token_of(request), field, value, purpose)
    return render(request, "records/person.html", me, filed=filed, purpose=purpose,
                  back="/records")


def _day(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text.strip() else None


@router.get("/doc/{receipt}")
def document(request: Request, receipt: str) -> Response:
    me = signed_in(request)
    found = r.search(settings_of(request), token_of(request), "receipt_number", receipt)
    return render(request, "records/document.html", me, found=found[0] if found else None,
                  receipt=receipt, purposes=r.PURPOSES, back=f"/records/doc/{receipt}")


@router.post("/doc/{receipt}/open", dependencies=Csrf)
def open_original(request: Request, receipt: str, purpose: Annotated[str, Form()],
                  why: Annotated[str, Form()]) -> Response:
    me = signed_in(request)
    opened = r.open_original(settings_of(request), token_of(request), receipt, purpose, why)
    return render(request, "records/original.html", me, opened=opened,
                  back=f"/records/doc/{receipt}")


@router.get("/doc/{receipt}/page/{number}")
def original_page(request: Request, receipt: str, number: int) -> Response:
    signed_in(request)
    data, viewer = r.original_page(settings_of(request), token_of(request), receipt, number)
    return Response(_watermarked(data, viewer), media_type="image/jpeg",
                    headers={"Cache-Control": "no-store, private"})


def _watermarked(jpeg: bytes, viewer: str) -> bytes:
    """The page with the viewer and the time written across it, so a photo of the screen
    says who looked and when."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    text = f"{viewer}  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(image.width // 24, 12))
    step = max(image.height // 6, 40)
    for y in range(step // 2, image.height, step):
        draw.text((image.width // 12, y), text, fill=(200, 30, 30, 90), font=font)
    merged = Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")
    out = io.BytesIO()
    merged.save(out, "JPEG", quality=85)
    return out.getvalue()


@router.post("/doc/{receipt}/download", dependencies=Csrf)
def download(request: Request, receipt: str, purpose: Annotated[str, Form()],
             why: Annotated[str, Form()]) -> Response:
    signed_in(request)
    data = r.download_original(settings_of(request), token_of(request), receipt, purpose, why)
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{receipt}.original"',
        "Cache-Control": "no-store, private"})


@router.post("/doc/{receipt}/hold", dependencies=Csrf)
def hold(request: Request, receipt: str, on: Annotated[int, Form()],
         reason: Annotated[str, Form()]) -> Response:
    signed_in(request)
    change = holds.set_hold if on else holds.release_hold
    change(settings_of(request), token_of(request), receipt, reason)
    return back_to(f"/records/doc/{receipt}")


@router.get("/disposal")
def disposals(request: Request) -> Response:
    me = signed_in(request)
    lines = disposal.list_disposals(settings_of(request), token_of(request))
    return render(request, "records/disposal.html", me, lines=lines, back="/records/disposal")


@router.post("/disposal/request", dependencies=Csrf)
def request_disposal(request: Request, receipts: Annotated[str, Form()],
                     reason: Annotated[str, Form()],
                     unverified_why: Annotated[str, Form()] = "") -> Response:
    signed_in(request)
    r.request_disposal(settings_of(request), token_of(request), receipts.split(), reason,
                       unverified_why)
    return back_to("/records/disposal")


@router.post("/disposal/{number}", dependencies=Csrf)
def decide_disposal(request: Request, number: str,
                    decision: Annotated[str, Form()]) -> Response:
    signed_in(request)
    if decision == "approve":
        disposal.approve_disposal(settings_of(request), token_of(request), number)
    else:
        disposal.reject_disposal(settings_of(request), token_of(request), number)
    return back_to("/records/disposal")
