"""The quarantine room: every file intake refused to read, sealed with its reason, for a
records manager to list, look at, release or have disposed of (by two people, like any
disposal). A duplicate of a file in quarantine is counted on it, never sealed again.

A page that fails for good (it cannot be read, or it stopped its worker too often) is set
aside here too, with its reason, while the rest of its file and batch goes on. The records
manager has it read again (the same page task, sent again by the caller: after a fix, or
when what stopped it has passed), or has it disposed of by two people: a disposed page is
closed, never read nor listed again. Its original is the file's, kept under the file's
retention: a page cannot be cut out of a sealed, locked original.

States of a quarantined file: held → released (taken in again by the records manager's
decision) or held → disposal_requested → disposed (approved by another person) or back to
held (refused)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.i18n import _
from schemas.settings import Settings
from storage import intake
from storage.disposal import _destroy_object
from storage.intake import IntakeCheck, IntakeResult
from storage.models import Page, SourceFile, StoredObject, utcnow
from storage.usecases.base import Token, Work, acting

OPEN_STATES = ("held", "disposal_requested")
MIN_REASON = 4


@dataclass(frozen=True)
class QuarantinedFile:
    id: str
    batch_id: str
    label: str
    """What Kura keeps of the file's name (file-007.pdf), never the name as given."""
    received_at: dt.datetime
    code: str
    reason: str
    times_received: int
    state: str
    size: int
    sha256: str
    requested_by: str | None
    decided_by: str | None
    note: str | None


def _line(source: SourceFile, stored: StoredObject) -> QuarantinedFile:
    return QuarantinedFile(
        source.id, source.batch_id, source.filename, source.received_at,
        source.reject_code or "", source.reject_reason or "", source.times_received,
        source.quarantine_state or "", stored.size, source.sha256,
        source.quarantine_requested_by, source.quarantine_decided_by, source.quarantine_note)


def _item(work: Work, ident: str) -> SourceFile:
    """A quarantined file by its id or the first characters of it (as `list` shows)."""
    if len(ident) < 6:
        raise InvalidInput(_("give at least the first 6 characters of the id"))
    found = work.session.scalars(
        select(SourceFile).where(SourceFile.id.startswith(ident.lower(), autoescape=True),
                                 SourceFile.quarantine_state.is_not(None))
    ).all()
    if len(found) != 1:
        raise NotFound(f"no quarantined file {ident}" if not found else
                       f"{ident} names {len(found)} quarantined files: give more of the id")
    return found[0]


def _reason(reason: str) -> str:
    if len(reason.strip()) < MIN_REASON:
        raise InvalidInput(_("say why (a reason and case reference, never a person's name)"))
    return reason.strip()


def _state(work: Work, source: SourceFile, *allowed: str) -> None:
    if source.quarantine_state not in allowed:
        raise Conflict(_(
            "quarantined file {id} is {quarantine_state}, not {value}").format(
                id=source.id[:8], quarantine_state=source.quarantine_state,
                value=' or '.join(allowed)))


def list_quarantine(settings: Settings, token: Token,
                    closed: bool = False) -> list[QuarantinedFile]:
    """Files in quarantine, oldest first (also released and disposed ones with `closed`)."""
    with acting(settings, token, "quarantine.manage", "quarantine.list") as work:
        states = OPEN_STATES if not closed else (*OPEN_STATES, "released", "disposed")
        rows = work.session.execute(
            select(SourceFile, StoredObject)
            .join(StoredObject, StoredObject.id == SourceFile.object_id)
            .where(SourceFile.quarantine_state.in_(states))
            .order_by(SourceFile.received_at)
        ).all()
        lines = [_line(source, stored) for source, stored in rows]
        work.audit("quarantine.list", [line.id for line in lines], result="ok",
                   detail={"files": len(lines)})
        return lines


@dataclass(frozen=True)
class SetAsidePage:
    id: str
    batch_id: str
    label: str
    """Its file's label (file-007.pdf), never the name as given."""
    number: int
    received_at: dt.datetime
    reason: str
    """Why it could not be read: failed: <code>."""
    attempts: int
    state: str = "held"
    """held | reread (sent to be read again) | disposal_requested | disposed"""
    requested_by: str | None = None
    decided_by: str | None = None


def _page_line(page: Page, source: SourceFile) -> SetAsidePage:
    return SetAsidePage(page.id, source.batch_id, source.filename, page.number,
                        source.received_at, "; ".join(page.reasons or []), page.attempts,
                        _page_state(page), page.set_aside_requested_by,
                        page.set_aside_decided_by)


def _page_state(page: Page) -> str:
    if page.status == "pending":
        return "reread"
    return page.set_aside_state or ("held" if page.status == "failed" else page.status)


def set_aside_pages(settings: Settings, token: Token) -> list[SetAsidePage]:
    """Pages that failed for good and are not disposed of, oldest first."""
    with acting(settings, token, "quarantine.manage", "quarantine.pages") as work:
        rows = work.session.execute(
            select(Page, SourceFile).join(SourceFile, Page.source_file_id == SourceFile.id)
            .where(Page.status == "failed",
                   Page.set_aside_state.is_(None) | (Page.set_aside_state != "disposed"))
            .order_by(SourceFile.received_at, SourceFile.position, Page.number)
        ).all()
        lines = [_page_line(page, source) for page, source in rows]
        work.audit("quarantine.pages", [line.id for line in lines], result="ok",
                   detail={"pages": len(lines)})
        return lines


def _set_aside_page(work: Work, ident: str) -> Page:
    """A page that is or was set aside, by its id or the first characters of it."""
    if len(ident) < 6:
        raise InvalidInput(_("give at least the first 6 characters of the id"))
    found = work.session.scalars(
        select(Page).where(Page.id.startswith(ident.lower(), autoescape=True),
                           (Page.status == "failed") | Page.set_aside_note.is_not(None))
    ).all()
    if len(found) != 1:
        raise NotFound(_("no page set aside {id}").format(id=ident) if not found else
                       _("{id} names {count} pages set aside: give more of the id").format(
                           id=ident, count=len(found)))
    work.subject_ids = [found[0].id]
    return found[0]


def _page_state_is(page: Page, *allowed: str) -> None:
    if _page_state(page) not in allowed:
        raise Conflict(_("page {id} is {state}, not {allowed}").format(
            id=page.id[:8], state=_page_state(page), allowed=" or ".join(allowed)))


def reread_page(settings: Settings, token: Token, ident: str, purpose: str) -> SetAsidePage:
    """The records manager's decision that a page set aside is to be read again (what
    stopped it was fixed, or has passed): it is pending again, its attempts counted from
    nought. Sending it is the caller's next step (workers.runner.run_pages: the same page
    task, which reads a page once however often it is sent). Asked again while it waits to
    be read, nothing changes. A page of a file already assembled is assembled on its own
    once read (workers.jobs): the file's documents stay as they are."""
    with acting(settings, token, "quarantine.manage", "quarantine.page.reread") as work:
        page = _set_aside_page(work, ident)
        source = work.session.get_one(SourceFile, page.source_file_id)
        if _page_state(page) == "reread":
            return _page_line(page, source)
        _page_state_is(page, "held")
        note = _reason(purpose)
        page.status, page.attempts, page.reasons = "pending", 0, []
        page.queued_at = utcnow()  # as sent: the sweeper leaves it to the caller a while
        page.set_aside_state = "reread" if source.status == "done" else None
        page.set_aside_note = note
        work.audit("quarantine.page.reread", [page.id, source.id], purpose=note,
                   result="ok", detail={"number": page.number})
        return _page_line(page, source)


def request_page_disposal(settings: Settings, token: Token, ident: str,
                          purpose: str) -> SetAsidePage:
    with acting(settings, token, "disposal.request", "quarantine.page.dispose.request") as work:
        page = _set_aside_page(work, ident)
        _page_state_is(page, "held")
        page.set_aside_state, page.set_aside_note = "disposal_requested", _reason(purpose)
        page.set_aside_requested_by = work.actor.name
        work.audit("quarantine.page.dispose.request", [page.id, page.source_file_id],
                   purpose=page.set_aside_note, result="ok")
        return _page_line(page, work.session.get_one(SourceFile, page.source_file_id))


def decide_page_disposal(settings: Settings, token: Token, ident: str,
                         approve: bool) -> SetAsidePage:
    """The second person's decision: approved, the page is closed for good (never read,
    never listed); refused, it is set aside as it was."""
    with acting(settings, token, "disposal.approve", "quarantine.page.dispose.decide") as work:
        page = _set_aside_page(work, ident)
        _page_state_is(page, "disposal_requested")
        if work.actor.name == page.set_aside_requested_by:
            raise Conflict(_(
                "the person who requested a disposal cannot decide it: a second person must"))
        page.set_aside_decided_by, page.set_aside_decided_at = work.actor.name, utcnow()
        page.set_aside_state = "disposed" if approve else None
        work.audit("quarantine.page.dispose." + ("approve" if approve else "reject"),
                   [page.id, page.source_file_id], result="ok",
                   detail={"requested_by": page.set_aside_requested_by})
        return _page_line(page, work.session.get_one(SourceFile, page.source_file_id))


def show(settings: Settings, token: Token, ident: str) -> QuarantinedFile:
    with acting(settings, token, "quarantine.manage", "quarantine.show") as work:
        source = _item(work, ident)
        work.audit("quarantine.show", [source.id, source.object_id], result="ok")
        return _line(source, work.session.get_one(StoredObject, source.object_id))


def open_file(settings: Settings, token: Token, ident: str,
              purpose: str) -> tuple[QuarantinedFile, bytes]:
    """The quarantined file's bytes, checked against its SHA-256; the reason is recorded."""
    with acting(settings, token, "quarantine.manage", "quarantine.open") as work:
        source = _item(work, ident)
        stored = work.session.get_one(StoredObject, source.object_id)
        if stored.destroyed_at is not None:
            raise Conflict(_("quarantined file {id} was disposed of").format(id=source.id[:8]))
        data = work.vault.get_object(stored)
        work.audit("quarantine.open", [source.id, stored.id], purpose=_reason(purpose),
                   result="ok")
        return _line(source, stored), data


def release(settings: Settings, token: Token, ident: str, purpose: str,
            checks: tuple[IntakeCheck, ...]) -> tuple[QuarantinedFile, IntakeResult]:
    """The records manager's decision that the file is to be read after all (say a limit
    was raised): it leaves quarantine and is taken in again as a new batch, in the same
    transaction, through every check of `checks` (workers.intake.INTAKE_CHECKS) anew.
    Reading its pages is the caller's next step (workers.runner.run_pages)."""
    with acting(settings, token, "quarantine.manage", "quarantine.release") as work:
        source = _item(work, ident)
        _state(work, source, "held")
        stored = work.session.get_one(StoredObject, source.object_id)
        data = work.vault.get_object(stored)
        source.quarantine_state, source.quarantine_note = "released", _reason(purpose)
        source.quarantine_decided_by, source.quarantine_decided_at = work.actor.name, utcnow()
        work.audit("quarantine.release", [source.id, stored.id], purpose=source.quarantine_note,
                   result="ok")
        again = intake.take_in(work.session, work.vault, [intake.Arrival(source.filename, data)],
                               "quarantine", checks, work.actor, settings.municipality_code)
        return _line(source, stored), again


def request_disposal(settings: Settings, token: Token, ident: str,
                     purpose: str) -> QuarantinedFile:
    with acting(settings, token, "disposal.request", "quarantine.dispose.request") as work:
        source = _item(work, ident)
        _state(work, source, "held")
        source.quarantine_state, source.quarantine_note = "disposal_requested", _reason(purpose)
        source.quarantine_requested_by = work.actor.name
        work.audit("quarantine.dispose.request", [source.id, source.object_id],
                   purpose=source.quarantine_note, result="ok")
        return _line(source, work.session.get_one(StoredObject, source.object_id))


def decide_disposal(settings: Settings, token: Token, ident: str,
                    approve: bool) -> QuarantinedFile:
    """The second person's decision: approved, the file's data key is destroyed and its
    sealed bytes removed where the store allows (storage.disposal); refused, it is held."""
    with acting(settings, token, "disposal.approve", "quarantine.dispose.decide") as work:
        source = _item(work, ident)
        _state(work, source, "disposal_requested")
        if work.actor.name == source.quarantine_requested_by:
            raise Conflict(_(
                "the person who requested a disposal cannot decide it: a second person must"))
        stored = work.session.get_one(StoredObject, source.object_id)
        now = utcnow()
        source.quarantine_decided_by, source.quarantine_decided_at = work.actor.name, now
        if approve:
            line = _destroy_object(work.session, work.vault, stored, now)
            source.quarantine_state = "disposed"
            work.audit("quarantine.dispose.approve", [source.id, stored.id], result="ok",
                       detail={"store": line["store"], "requested_by":
                               source.quarantine_requested_by})
        else:
            source.quarantine_state = "held"
            work.audit("quarantine.dispose.reject", [source.id, stored.id], result="ok")
        return _line(source, stored)
