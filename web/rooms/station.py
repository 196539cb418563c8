"""The verification station: the queue, a document with its page and each field's crop,
the verifier's keyboard-first steps, the checker's confirmations, group verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from schemas.reasons import REASONS
from storage.usecases import verification as v
from web.rooms.common import back_to, check_csrf, render, settings_of, signed_in, token_of

router = APIRouter(prefix="/station")
Csrf = [Depends(check_csrf)]
QUEUE_SCREEN = 200
"""Lines of the queue on one screen: the oldest; a filter by form or reason finds others."""


@router.get("")
def queue(request: Request, form: str = "", reason: str = "") -> Response:
    me = signed_in(request)
    lines = v.queue(settings_of(request), token_of(request), form, reason, limit=QUEUE_SCREEN)
    return render(request, "station/queue.html", me, lines=lines, form=form, reason=reason,
                  reasons=sorted(REASONS), back="/station", more=len(lines) == QUEUE_SCREEN)


@router.get("/doc/{receipt}")
def document(request: Request, receipt: str) -> Response:
    me = signed_in(request)
    view = v.open_document(settings_of(request), token_of(request), receipt)
    checking = me.may("record.confirm") and not me.may("record.correct")
    todo = [f.name for f in view.fields if _mine_to_do(f, me.username, checking)]
    return render(request, "station/document.html", me, doc=view, checking=checking,
                  todo=todo, first=todo[0] if todo else None,
                  correction_reasons=v.CORRECTION_REASONS, back=f"/station/doc/{receipt}")


def _mine_to_do(field: v.FieldView, username: str, checking: bool) -> bool:
    if checking:
        return field.status == "pending" and field.proposed_by != username
    keyed_by_me = any(s.kind == "key" and s.by == username for s in field.history)
    return field.status in ("review", "keying", "disputed") and not keyed_by_me


@router.get("/doc/{receipt}/page/{number}")
def page(request: Request, receipt: str, number: int) -> Response:
    signed_in(request)
    data = v.page_image(settings_of(request), token_of(request), receipt, number)
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "no-store, private"})


@router.post("/doc/{receipt}/field/{name}", dependencies=Csrf)
def field_step(request: Request, receipt: str, name: str, step: Annotated[str, Form()],
               value: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "misread",
               note: Annotated[str, Form()] = "") -> Response:
    """One step on one field: accept, correct, key (blind), confirm, return."""
    signed_in(request)
    settings, token = settings_of(request), token_of(request)
    if step == "accept":
        v.accept(settings, token, receipt, name)
    elif step == "correct":
        v.correct(settings, token, receipt, name, value, reason, note)
    elif step == "key":
        v.key(settings, token, receipt, name, value)
    elif step == "confirm":
        v.confirm(settings, token, receipt, name)
    elif step == "return":
        v.return_change(settings, token, receipt, name, note)
    else:
        return Response(status_code=400)
    return back_to(f"/station/doc/{receipt}")


@router.post("/doc/{receipt}/step", dependencies=Csrf)
def document_step(request: Request, receipt: str, step: Annotated[str, Form()],
                  note: Annotated[str, Form()] = "",
                  decision: Annotated[str, Form()] = "") -> Response:
    """A step on the whole document: 疑義, rescan, decision, finish."""
    signed_in(request)
    settings, token = settings_of(request), token_of(request)
    if step == "investigate":
        v.investigate(settings, token, receipt, note)
    elif step == "rescan":
        v.rescan(settings, token, receipt, note)
        return back_to("/station")
    elif step == "decide":
        v.decide(settings, token, receipt, decision, note)
    elif step == "finish":
        v.finish(settings, token, receipt)
    else:
        return Response(status_code=400)
    return back_to(f"/station/doc/{receipt}")


@router.get("/group")
def group(request: Request, type: str = "date") -> Response:
    me = signed_in(request)
    found = v.group(settings_of(request), token_of(request), type)
    return render(request, "station/group.html", me, found=found, field_type=type,
                  back=f"/station/group?type={type}")


@router.post("/group/field", dependencies=Csrf)
def group_step(request: Request, receipt: Annotated[str, Form()], name: Annotated[str, Form()],
               step: Annotated[str, Form()], field_type: Annotated[str, Form()],
               value: Annotated[str, Form()] = "") -> Response:
    signed_in(request)
    settings, token = settings_of(request), token_of(request)
    if step == "accept":
        v.accept(settings, token, receipt, name)
    else:
        v.correct(settings, token, receipt, name, value, "misread")
    return back_to(f"/station/group?type={field_type}")
