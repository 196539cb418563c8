"""The intake desk: many files dropped or picked at once go into the same intake chain as
`kura ingest` (workers/intake.py take_in, then the page workers); the batch is followed live.
Clerks see counts and states, never the content of records."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from storage.usecases import desk, intake
from storage.usecases.base import signed_in as may_take_in
from web import i18n
from web.rooms.common import (
    check_csrf_header,
    lang_of,
    render,
    settings_of,
    signed_in,
    token_of,
)
from web.uploads import uploaded_files
from workers.intake import INTAKE_CHECKS, TurnedAway, shown_name
from workers.runner import run_pages

router = APIRouter(prefix="/desk")


@router.get("")
def desk_page(request: Request) -> Response:
    me = signed_in(request)
    return render(request, "desk/desk.html", me, back="/desk")


@router.post("/upload", dependencies=[Depends(check_csrf_header)])
async def upload(request: Request, background: BackgroundTasks) -> Response:
    """Files as multipart form parts named `files`, streamed: each is sealed into a spool as
    it arrives (web/uploads.py), never whole in memory nor in clear on the disk, and taken
    in once the upload is complete. The answer names the batch to follow, and each file
    refused before it could be kept (over the size limit) with the reason: nothing of such a
    file is stored, so the batch's progress does not list it."""
    signed_in(request)
    settings = settings_of(request)
    may_take_in(settings, token_of(request), "intake")  # refused before the body is read
    with ExitStack() as cleanup:
        arrivals = await uploaded_files(request, "files", None, cleanup)
        if not arrivals:
            return JSONResponse({"error": "no_files"}, status_code=400)
        result = await run_in_threadpool(intake.take_in_batch, settings, token_of(request),
                                         arrivals, "upload", INTAKE_CHECKS)
    background.add_task(run_pages, settings, result.page_ids)
    refused = [(shown_name(a.filename), a.reason) for a in arrivals
               if isinstance(a, TurnedAway)]
    return JSONResponse({"batch": result.batch_id, "files": len(arrivals),
                         "taken": sum(a.outcome == "taken" for a in result.answers),
                         "refused": refused})


@router.get("/batch/{batch_id}")
def batch(request: Request, batch_id: str) -> Response:
    signed_in(request)
    progress = desk.progress(settings_of(request), token_of(request), batch_id)
    lang = lang_of(request)
    body: dict[str, Any] = {**progress.__dict__, "finished": progress.finished,
                            "quarantined": [(label, i18n.gettext(lang, code))
                                            for label, code in progress.quarantined]}
    return JSONResponse(body)
