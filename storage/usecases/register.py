"""The register (受付処理簿) as the office reads it: open items by age, items forwarded
without a result for too long, weekly counts per form, a CSV export for Excel, and the
channel (窓口 or 郵送) and office of an item, said at the desk.

The register names documents by 受付番号 and form; it holds no personal value, so its views
and its export show none."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.i18n import _
from schemas.normalise import to_katakana
from schemas.settings import Settings
from storage.blind_index import normalise_for_index
from storage.models import Document
from storage.receipts import document_by_receipt, of_own
from storage.register import IDENTIFYING, form_of, key_identity, sync_entries
from storage.register_models import RegisterEntry, Transmittal
from storage.usecases.base import Token, Work, acting

ROUTES = ("counter", "mail")
"""窓口 (at the counter) or 郵送 (by mail)."""


@dataclass(frozen=True)
class Line:
    """One line of the register, without personal values."""

    receipt_number: str
    """'' for a result of something filed directly at 日本年金機構 (origin jps_direct)."""
    received_date: dt.date
    route: str
    scanned_via: str
    office: str
    form_id: str
    form_title: str
    notification_type: str
    forward_only: bool
    needs_identity: bool
    """A forward-only item whose name kana and birth date nobody keyed yet (`identify`):
    without them its result can only come back as `unconfirmed`."""
    stage: str
    origin: str
    transmittal: str
    forwarded_on: dt.date | None
    result: str
    result_on: dt.date | None
    filed_at: dt.datetime | None
    age_days: int
    """Days since it was received (open items), or since it was forwarded (overdue)."""


@dataclass(frozen=True)
class WeekCount:
    week: dt.date
    """The Monday the week starts on."""
    form_id: str
    received: int
    forwarded: int
    results: int


def _lines(work: Work, entries: list[RegisterEntry], today: dt.date,
           since: Literal["received", "forwarded"] = "received") -> list[Line]:
    numbers = dict(work.session.execute(
        select(Document.id, Document.receipt_number)
        .where(Document.id.in_([e.document_id for e in entries if e.document_id]))).all())
    batches = dict(work.session.execute(
        select(Transmittal.id, Transmittal.number)
        .where(Transmittal.id.in_([e.transmittal_id for e in entries if e.transmittal_id]))
    ).all())
    lines = []
    for entry in entries:
        form = form_of(entry.form_id)
        start = entry.forwarded_on if since == "forwarded" and entry.forwarded_on else \
            entry.received_date
        lines.append(Line(
            receipt_number=numbers.get(entry.document_id or "", ""),
            received_date=entry.received_date, route=entry.route,
            scanned_via=entry.scanned_via, office=entry.office, form_id=entry.form_id,
            form_title=form.title if form else "", notification_type=entry.notification_type,
            forward_only=entry.forward_only, needs_identity=_needs_identity(entry),
            stage=entry.stage, origin=entry.origin,
            transmittal=batches.get(entry.transmittal_id or "", ""),
            forwarded_on=entry.forwarded_on, result=entry.result, result_on=entry.result_on,
            filed_at=entry.filed_at, age_days=(today - start).days))
    return lines


def _needs_identity(entry: RegisterEntry) -> bool:
    return (entry.forward_only and entry.origin == "office" and entry.stage != "filed"
            and not set(IDENTIFYING) <= set(entry.identity_digests or {}))


def _entries(work: Work) -> list[RegisterEntry]:
    sync_entries(work.session, work.vault, work.settings)
    return list(work.session.scalars(select(RegisterEntry).where(
        RegisterEntry.municipality == work.municipality).order_by(
        RegisterEntry.received_date, RegisterEntry.created_at)))


def open_items(settings: Settings, token: Token, today: dt.date | None = None
               ) -> list[Line]:
    """Entries not yet filed, the oldest first."""
    today = today or dt.date.today()
    with acting(settings, token, "register.read", "register.open") as work:
        lines = _lines(work, [e for e in _entries(work) if e.stage != "filed"], today)
        lines.sort(key=lambda line: (-line.age_days, line.receipt_number))
        work.audit("register.open", result="ok", detail={"lines": len(lines)})
        return lines


def overdue(settings: Settings, token: Token, days: int | None = None,
            today: dt.date | None = None) -> list[Line]:
    """Entries forwarded more than `days` ago (the setting, default 60) without a result."""
    today = today or dt.date.today()
    days = settings.result_overdue_days if days is None else days
    with acting(settings, token, "register.read", "register.overdue") as work:
        late = [e for e in _entries(work) if e.stage == "forwarded" and e.forwarded_on
                and (today - e.forwarded_on).days > days]
        lines = _lines(work, late, today, since="forwarded")
        lines.sort(key=lambda line: (-line.age_days, line.receipt_number))
        work.audit("register.overdue", result="ok", detail={"days": days, "lines": len(lines)})
        return lines


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly(settings: Settings, token: Token, weeks: int = 8,
           today: dt.date | None = None) -> list[WeekCount]:
    """Per week (the last `weeks`, Monday first) and form: items received, forwarded, and
    results recorded."""
    today = today or dt.date.today()
    first = _monday(today) - dt.timedelta(weeks=weeks - 1)
    with acting(settings, token, "register.read", "register.weekly") as work:
        counts: dict[str, Counter[tuple[dt.date, str]]] = {
            "received": Counter(), "forwarded": Counter(), "results": Counter()}
        for entry in _entries(work):
            for kind, day in (("received", entry.received_date),
                              ("forwarded", entry.forwarded_on),
                              ("results", entry.result_on)):
                if day is not None and day >= first:
                    counts[kind][(_monday(day), entry.form_id)] += 1
        keys = sorted({key for counter in counts.values() for key in counter})
        found = [WeekCount(week, form_id, counts["received"][(week, form_id)],
                           counts["forwarded"][(week, form_id)],
                           counts["results"][(week, form_id)]) for week, form_id in keys]
        work.audit("register.weekly", result="ok", detail={"weeks": weeks})
        return found


def export_csv(settings: Settings, token: Token,
               encoding: Literal["utf-8-sig", "cp932"] = "utf-8-sig") -> bytes:
    """The whole register as CSV that Excel opens as it is: UTF-8 with a BOM, or CP932 on
    request (a character CP932 cannot hold is an error, never a silent '?')."""
    if encoding not in ("utf-8-sig", "cp932"):
        raise InvalidInput(_("The export is written in UTF-8 (with BOM) or CP932"))
    with acting(settings, token, "register.read", "register.export") as work:
        lines = _lines(work, _entries(work), dt.date.today())
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([_("Receipt number"), _("Received on"), _("Route"), _("Scanned via"),
                         _("Office"), _("Form"), _("Notification type"), _("Stage"),
                         _("Transmittal"), _("Forwarded on"), _("Result"), _("Result on"),
                         _("Filed at")])
        for line in lines:
            writer.writerow([
                line.receipt_number or _("(filed at 日本年金機構)"),
                line.received_date.isoformat(), route_word(line.route), line.scanned_via,
                line.office, line.form_title, line.notification_type, stage_word(line.stage),
                line.transmittal, _iso(line.forwarded_on), line.result, _iso(line.result_on),
                line.filed_at.strftime("%Y-%m-%d %H:%M") if line.filed_at else ""])
        try:
            data = text.getvalue().encode(encoding, errors="strict")
        except UnicodeEncodeError as error:
            raise InvalidInput(_("A value cannot be written in CP932: export in UTF-8 "
                                 "instead")) from error
        work.audit("register.export", result="ok",
                   detail={"lines": len(lines), "encoding": encoding})
        return data


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def describe(settings: Settings, token: Token, receipt_number: str, route: str,
             office: str = "") -> None:
    """Say how a document came in (窓口 or 郵送) and at which office (at the desk)."""
    if route not in ROUTES:
        raise InvalidInput(_("Say how it came in: counter (窓口) or mail (郵送)"))
    with acting(settings, token, "intake", "register.describe") as work:
        sync_entries(work.session, work.vault, settings)
        document = _own(work, receipt_number)
        entry = None if document is None else work.session.scalars(
            select(RegisterEntry).where(RegisterEntry.document_id == document.id)).one_or_none()
        if entry is None:
            raise NotFound(_("No register entry {receipt}").format(receipt=receipt_number))
        entry.route = route
        entry.office = office.strip() or entry.office or settings.office
        work.audit("register.describe", [entry.document_id or entry.id], result="ok",
                   detail={"route": route})


def _own(work: Work, receipt_number: str) -> Document | None:
    """The document the typed 受付番号 names, if any; another municipality's is refused."""
    document = document_by_receipt(work.session, receipt_number, work.municipality)
    if document is not None:
        work.subject_ids = [document.id]
        of_own(document, work.municipality, receipt_number)
    return document


KATAKANA = re.compile(r"[ァ-ヺーヽヾ]+")


def identify(settings: Settings, token: Token, receipt_number: str, name_kana: str,
             birth_date: str) -> None:
    """Key a forward-only item's name kana and birth date at the counter (from the claim or
    the ID shown): its form does not carry them, and 突合 confirms a list row by two
    attributes, never by the 基礎年金番号 alone (control 30). Kept sealed with the document's
    key, with their blind indexes; keyed again, the new values replace the old."""
    with acting(settings, token, "intake", "register.identify") as work:
        kana = to_katakana(name_kana)
        born = normalise_for_index("birth_date", birth_date)
        if not KATAKANA.fullmatch(kana):
            raise InvalidInput(_("Key the name in katakana (or hiragana), as on the claim"))
        if not born or dt.date.fromisoformat(born) > dt.date.today():
            raise InvalidInput(_("Key the birth date as a date: 1950-04-01, S25.4.1 or "
                                 "昭和25年4月1日"))
        sync_entries(work.session, work.vault, settings)
        document = _own(work, receipt_number)
        entry = None if document is None else work.session.scalars(
            select(RegisterEntry).where(RegisterEntry.document_id == document.id)).one_or_none()
        if document is None or entry is None or document.disposed_at is not None:
            raise NotFound(_("No register entry {receipt}").format(receipt=receipt_number))
        work.subject_ids = [document.id]
        form = form_of(document.form_id)
        if form is not None and not form.forward_only:
            raise Conflict(_("{receipt} is not a forward-only item: its form carries the name "
                             "kana and birth date, verified there").format(
                                 receipt=receipt_number))
        if entry.stage == "filed":
            raise Conflict(_("{receipt} is filed already").format(receipt=receipt_number))
        key_identity(work.vault, work.indexer, entry, document,
                     {"name_kana": kana, "birth_date": born}, work.actor.name)
        work.audit("register.identify", [document.id], result="ok")


def stage_word(stage: str) -> str:
    return {
        "received": _("received"), "verified": _("verified"), "forwarded": _("forwarded"),
        "result_received": _("result received"), "filed": _("filed"),
    }.get(stage, stage)


def route_word(route: str) -> str:
    return {"counter": _("counter"), "mail": _("mail")}.get(route, route)
