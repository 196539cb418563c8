"""The intake desk: many files dropped or picked at once go into the same intake chain as
`kura ingest` (workers/intake.py take_in, then the page workers); the batch is followed live.
Clerks see counts and states, never the content of records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from storage.usecases import desk, intake
from web import i18n
from web.rooms.common import check_csrf, lang_of, render, settings_of, signed_in, token_of
from workers.intake import INTAKE_CHECKS, Arrival
from workers.runner import run_pages

router = APIRouter(prefix="/desk")


@router.get("")
def desk_page(request: Request) -> Response:
    me = signed_in(request)
    return render(request, "desk/desk.html", me, back="/desk")


@router.post("/upload", dependencies=[Depends(check_csrf)])
async def upload(request: Request, background: BackgroundTasks) -> Response:
    """Files as multipart form parts named `files`; the answer names the batch to follow."""
    signed_in(request)
    form = await request.form(max_files=1000)
    arrivals = [Arrival(part.filename or "upload", await part.read())
                for part in form.getlist("files") if isinstance(part, UploadFile)]
    if not arrivals:
        return JSONResponse({"error": "no_files"}, status_code=400)
    settings = settings_of(request)
    result = intake.take_in_batch(settings, token_of(request), arrivals, "upload",
                                  INTAKE_CHECKS)
    background.add_task(run_pages, settings, result.page_ids)
    return JSONResponse({"batch": result.batch_id, "files": len(arrivals)})


@router.get("/batch/{batch_id}")
def batch(request: Request, batch_id: str) -> Response:
    signed_in(request)
    progress = desk.progress(settings_of(request), token_of(request), batch_id)
    lang = lang_of(request)
    body: dict[str, Any] = {**progress.__dict__, "finished": progress.finished,
                            "quarantined": [(label, i18n.gettext(lang, code))
                                            for label, code in progress.quarantined]}
    return JSONResponse(body)
