"""The JSON API `kura` talks to when KURA_SERVER_URL is set: the server boundary.

On a clerk's machine `kura` holds no key and no database credentials; its records commands
call the same use cases as the rooms, here, with the person's session token as a bearer
token. One route serves them all — POST /api/v1/call/<subject>.<function> — for the
use cases named in CALLS and no other; arguments and results cross as JSON by the types of
the use case's own signature (schemas/wire.py). An error of the one family comes back as
its class name, code, message, hint and exit code, and `kura` raises it again (kura/calls.py).
`kura ingest` sends its files to a route of their own, POST /api/v1/intake, streamed as a
multipart body (kura/uploading.py), and gets the intake's result back as from a call.

Signing in is its own route (the password); the TOTP code of the duties that need one is a
call with the session it answered, which opens nothing until the code is right."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from inspect import signature
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from schemas.errors import ExitCode, InvalidInput, KuraError, NotFound, NotSignedIn
from schemas.i18n import _, speaking
from schemas.settings import Settings
from schemas.wire import decode, encode, hints
from storage.accounts import SignedIn, SignInRefused
from storage.intake import Arrival, IntakeResult, TurnedAway
from storage.usecases import (
    access,
    audit,
    batches,
    desk,
    disposal,
    holds,
    intake,
    people,
    quarantine,
    reconciliation,
    records,
    register,
    sessions,
    standing,
    transmittals,
    verification,
)
from storage.usecases.base import signed_in
from web.uploads import MAX_FILES, uploaded_form
from workers.intake import INTAKE_CHECKS
from workers.register import build_transmittal, match, report_pdf
from workers.runner import run_pages

log = logging.getLogger("kura.api")
router = APIRouter(prefix="/api/v1")

def _name(function: Callable[..., Any]) -> str:
    """`<subject>.<function>`: the subject is the module (or package) under storage.usecases."""
    return f"{function.__module__.split('.')[2]}.{function.__name__}"


CALLS: dict[str, Callable[..., Any]] = {_name(function): function for function in (
    access.begin_enrolment, access.check_second_factor,
    standing.standing,
    records.verification_queue, records.open_original, records.find_records,
    holds.set_hold, holds.release_hold, holds.list_holds,
    disposal.request_disposal, disposal.approve_disposal, disposal.reject_disposal,
    disposal.list_disposals, disposal.kept_certificate,
    people.whoami, people.sign_out, people.add_account, people.disable_account,
    people.enable_account, people.set_roles, people.set_expiry, people.set_password,
    people.set_municipality,
    people.list_accounts,
    audit.verify_chain, audit.search_log, audit.review, audit.erase_words,
    audit.checkpoint_now,
    quarantine.list_quarantine, quarantine.show, quarantine.open_file,
    quarantine.request_disposal, quarantine.decide_disposal, quarantine.set_aside_pages,
    quarantine.request_page_disposal, quarantine.decide_page_disposal,
    batches.batch_status,
    verification.queue, verification.open_document, verification.page_image,
    verification.group, verification.accept, verification.correct, verification.key,
    verification.investigate, verification.rescan, verification.finish,
    verification.confirm, verification.return_change, verification.decide,
)}
"""Every use case a person may call through the API. Each takes (settings, token, …): the
server supplies its own settings and the caller's session; nothing here runs unsigned."""

FILES, ENTRIES = "files", "entries"
"""The parts of `kura ingest`'s multipart body (POST /api/v1/intake): each file sent, then
the list of every entry of the batch."""


@dataclass(frozen=True)
class Listed:
    """One entry of the batch `kura ingest` sends, in its place: a file whose bytes are the
    next file part (`sent`), or turned away on the clerk's machine with the reason (a file
    cut short there, unreadable or grown past the limit, was sent in part: that part is
    thrown away). The name is the one the clerk gave, shown back in the batch report."""

    filename: str
    sent: bool
    outcome: Literal["", "skipped", "refused"] = ""
    code: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Batch:
    """The list part of `kura ingest`'s body."""

    channel: str
    entries: list[Listed]


def _read_meanwhile(settings: Settings, page_ids: list[str]) -> None:
    """The pages read while the answer goes back (by the workers, or, embedded, here): the
    clerk's `kura` follows them with `desk.progress`."""
    threading.Thread(target=run_pages, args=(settings, page_ids), daemon=True).start()


def take_in_batch(settings: Settings, token: str | None,
                  arrivals: list[Arrival | TurnedAway], channel: str) -> IntakeResult:
    """`kura ingest` through the server: the intake use case with this server's checks, as
    the intake desk's upload does; the pages are then read by the workers (or, embedded,
    by this process), and the clerk's `kura` follows the batch with `desk.progress`."""
    result = intake.take_in_batch(settings, token, arrivals, channel, INTAKE_CHECKS)
    _read_meanwhile(settings, result.page_ids)
    return result


def release_from_quarantine(settings: Settings, token: str | None, ident: str,
                            purpose: str) -> tuple[quarantine.QuarantinedFile, IntakeResult]:
    """`kura quarantine release` through the server: taken in again through this server's
    checks, its pages read here as an upload's are."""
    line, again = quarantine.release(settings, token, ident, purpose, INTAKE_CHECKS)
    _read_meanwhile(settings, again.page_ids)
    return line, again


def reread_page(settings: Settings, token: str | None, ident: str,
                purpose: str) -> quarantine.SetAsidePage:
    """`kura quarantine pages reread` through the server: the page read here (or sent to
    the workers) as an upload's pages are."""
    line = quarantine.reread_page(settings, token, ident, purpose)
    _read_meanwhile(settings, [line.id])
    return line

CALLS["quarantine.release"] = release_from_quarantine
CALLS["quarantine.reread_page"] = reread_page
CALLS.update({_name(function): function for function in (
    intake.batch_report_of, desk.progress,
    register.open_items, register.overdue, register.weekly, register.export_csv,
    register.describe, register.identify,
    transmittals.prepare, transmittals.show, transmittals.release,
    transmittals.registered_mail, transmittals.ledger,
    reconciliation.lists_of_batch, reconciliation.reconcile, reconciliation.report,
    reconciliation.report_file, reconciliation.confirm)})

SUPPLIED: dict[str, Any] = {"build": build_transmittal, "match": match,
                             "checks": INTAKE_CHECKS, "printer": report_pdf}
"""Parameters the server fills with its own stage functions (the 進達 archive, the 突合
matching, the intake checks, the 突合 report printed): code runs where the keys are, never
sent over the wire."""

SERVER_SIDE = ("settings", "token")
"""The parameters every call begins with, which the server fills in (tests hold CALLS to it)."""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _bearer(request: Request) -> str | None:
    scheme, _sep, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _failure(error: Exception) -> JSONResponse:
    """An error as `kura` raises it again: the family's class, code, message, hint, exit."""
    if not isinstance(error, KuraError):
        log.error("api call failed: %s", type(error).__name__, exc_info=error)
        error = KuraError(_("The server could not do this ({error}).").format(
            error=type(error).__name__))
    status = 401 if isinstance(error, NotSignedIn) else _STATUS.get(error.exit_code, 409)
    if isinstance(error, NotFound):
        status = 404
    return JSONResponse(status_code=status, content={"error": {
        "type": type(error).__name__, "code": error.code, "message": error.message,
        "hint": error.hint, "exit_code": int(error.exit_code)}})


_STATUS = {ExitCode.refused: 403, ExitCode.bad_input: 400, ExitCode.damaged: 409,
           ExitCode.unavailable: 503, ExitCode.timed_out: 504}


@router.post("/call/{name}")
def call(request: Request, name: str,
         arguments: Annotated[dict[str, Any], Body(embed=True)]) -> JSONResponse:
    """Run one use case as the person whose session token is the bearer token."""
    with speaking(request.headers.get("accept-language")):
        try:
            return JSONResponse({"result": _call(request, name, arguments)})
        except Exception as error:  # every failure answers in the family's terms
            return _failure(error)


def _call(request: Request, name: str, arguments: dict[str, Any]) -> Any:
    function = CALLS.get(name)
    if function is None:
        raise NotFound(_("The server offers no {name}.").format(name=name))
    settings, token = _settings(request), _bearer(request)
    if token is None:  # refused (and audited) before any use case: no first-account door
        signed_in(settings, None, name)
    if function is access.check_second_factor:
        _too_many(request)
    types = hints(function)
    parameters = set(signature(function).parameters)
    accepted = parameters - set(SERVER_SIDE) - set(SUPPLIED)
    if not set(arguments) <= accepted:
        raise InvalidInput(_("{name} takes no argument {argument}.").format(
            name=name, argument=sorted(set(arguments) - accepted)[0]))
    values = {key: decode(value, types[key]) for key, value in arguments.items()}
    values.update({key: stage for key, stage in SUPPLIED.items() if key in parameters})
    return encode(function(settings, token, **values), types["return"])


# --- taking files in, streamed ------------------------------------------------------------


@router.post("/intake")
async def intake_files(request: Request) -> JSONResponse:
    """`kura ingest` with its files streamed (kura/uploading.py): a multipart body whose
    file parts are each sealed into a spool as they arrive (web/uploads.py, as the intake
    desk's upload), never whole in memory nor in clear on the disk, and whose last part
    lists every entry of the batch in its place, the ones turned away on the clerk's
    machine too. The batch is then taken in as `take_in_batch`; the answer is the intake's
    result, as a call's would be, or an error of the family."""
    with speaking(request.headers.get("accept-language")):
        try:
            settings, token = _settings(request), _bearer(request)
            # refused (and audited) before the body is read
            await run_in_threadpool(signed_in, settings, token, "intake")
            with ExitStack() as cleanup:
                form = await uploaded_form(request, FILES, None, cleanup, frozenset({ENTRIES}))
                batch = _listed(form.fields.get(ENTRIES))
                arrivals = _in_place(form.files, batch.entries)
                result = await run_in_threadpool(take_in_batch, settings, token, arrivals,
                                                 batch.channel)
            return JSONResponse({"result": encode(result, IntakeResult)})
        except HTTPException as error:  # the body is not the form `kura` sends
            return _failure(too_many_files() if error.detail == "too_many_files" else
                            InvalidInput(_("The files sent could not be read as a form.")))
        except Exception as error:  # every failure answers in the family's terms
            return _failure(error)


def too_many_files() -> InvalidInput:
    """More files than one upload may carry (web.uploads.MAX_FILES); `kura` says so before
    it sends any."""
    return InvalidInput(_("At most {count} files can be sent to the server at once.").format(
        count=MAX_FILES), hint=_("Take them in as several batches, a folder at a time."))


def _listed(sent: bytearray | None) -> Batch:
    if sent is None:
        raise InvalidInput(_("The list of the files sent is missing."))
    try:
        listed = json.loads(sent)
    except ValueError:
        raise InvalidInput(_("The list of the files sent is not JSON.")) from None
    batch: Batch = decode(listed, Batch)
    return batch


def _in_place(files: Sequence[Arrival | TurnedAway],
              entries: list[Listed]) -> list[Arrival | TurnedAway]:
    """Every entry of the batch in its place, under the name the clerk gave: a file part
    for each entry sent (in the order sent), what the clerk's machine turned away for the
    rest. A part of an entry turned away is left to the cleanup, which throws it away."""
    if sum(entry.sent for entry in entries) != len(files):
        raise InvalidInput(_("The files sent do not match their list."))
    parts = iter(files)
    placed: list[Arrival | TurnedAway] = []
    for entry in entries:
        part = next(parts) if entry.sent else None
        if entry.outcome:
            placed.append(TurnedAway(entry.filename, entry.outcome, entry.code, entry.reason))
        elif part is None:
            raise InvalidInput(_("The files sent do not match their list."))
        else:
            part.filename = entry.filename  # the part's own name is a stand-in
            placed.append(part)
    return placed


# --- signing in -------------------------------------------------------------------------


@router.post("/signin")
def signin(request: Request, username: Annotated[str, Body()],
           password: Annotated[str, Body()]) -> JSONResponse:
    """The password: answers the session. For a duty with a second factor the session opens
    nothing until `access.check_second_factor` (a call, with this session) has the code:
    the database keeps that, as for the rooms' sign-in. A duty that needs one and has none
    sets it up first (`access.begin_enrolment`, the same call): no client gets a session
    of such a duty without it."""
    with speaking(request.headers.get("accept-language")):
        try:
            _too_many(request)
            signed = people.sign_in(_settings(request), username.strip(), password,
                                    enrol=True)
            return JSONResponse({"signed_in": encode(signed, SignedIn)})
        except Exception as error:
            return _failure(error)


def _too_many(request: Request) -> None:
    """The rooms' sign-in rate limit, for what guesses a secret: a password, a code."""
    if not sessions.may_try(_settings(request), request.client.host if request.client
                            else "-"):
        raise SignInRefused("rate_limited")
