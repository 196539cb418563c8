"""Searching the audit log and the quarterly log review (DOMAIN §6.3 control 22)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from schemas.i18n import N_, _
from schemas.settings import Settings
from storage.audit import OFFICE_TZ, SERVICE_NAME, AuditEntry, AuditObject, as_utc, entry_fields
from storage.audit_verify import verify
from storage.models import Document, Page, SourceFile, utcnow
from storage.receipts import document_by_receipt


def record_ids(session: Session, record: str, own: str = "000000") -> set[str]:
    """Every object id that stands for one record: a 受付番号 (the office's own, `own`, where
    two municipalities hold it) or any id, with its file, pages and stored objects."""
    ids = {record}
    document = document_by_receipt(session, record, own) or session.get(Document, record)
    if document is not None:
        ids.add(document.id)
        source = session.get(SourceFile, document.source_file_id)
        if source is not None:
            ids |= {source.id, source.object_id}
        for page in session.scalars(select(Page).where(Page.document_id == document.id)):
            ids.add(page.id)
            if page.image_object_id:
                ids.add(page.image_object_id)
    return ids


def search(
    session: Session,
    *,
    person: str | None = None,
    record: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
    own: str = "000000",
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if person:
        query = query.where(AuditEntry.actor == person)
    if action:
        query = query.where(or_(AuditEntry.action == action, AuditEntry.action.like(f"{action}.%")))
    if since:
        query = query.where(AuditEntry.at >= as_utc(since))
    if until:
        query = query.where(AuditEntry.at < as_utc(until))
    if record:
        ids = record_ids(session, record, own)
        query = query.where(
            AuditEntry.seq.in_(select(AuditObject.seq).where(AuditObject.object_id.in_(ids)))
        )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def as_row(entry: AuditEntry) -> dict[str, Any]:
    """An entry as people read it: to the second, without the chain's hash."""
    row = entry_fields(entry)
    del row["prev_hash"]
    return {**row, "at": as_utc(entry.at).isoformat(timespec="seconds")}


def quarter_bounds(quarter: str) -> tuple[dt.datetime, dt.datetime]:
    """'2026Q4' → office-time bounds [2026-10-01, 2027-01-01)."""
    matched = re.fullmatch(r"(\d{4})-?Q([1-4])", quarter.strip().upper())
    if not matched:
        raise ValueError("a quarter looks like 2026Q4")
    year, number = int(matched.group(1)), int(matched.group(2))
    start = dt.datetime(year, 3 * number - 2, 1, tzinfo=OFFICE_TZ)
    end = (
        dt.datetime(year + 1, 1, 1, tzinfo=OFFICE_TZ)
        if number == 4
        else dt.datetime(year, 3 * number + 1, 1, tzinfo=OFFICE_TZ)
    )
    return start, end


def _off_hours(moment: dt.datetime) -> bool:
    local = as_utc(moment).astimezone(OFFICE_TZ)
    return local.weekday() >= 5 or not 8 <= local.hour < 19


def review_report(
    settings: Settings, session: Session, since: dt.datetime, until: dt.datetime,
    reader: Callable[[dict[str, Any]], dict[str, Any]] = lambda row: row,
) -> dict[str, Any]:
    """The quarterly log review (DOMAIN §6.3 control 22): activity per person and duty,
    sign-in failures, refused access, originals opened and why, account changes, work out
    of office hours, and whether the chain verifies."""
    entries = search(session, since=since, until=until)
    verification = verify(settings, session)

    def rows(chosen: Callable[[AuditEntry], bool]) -> list[dict[str, Any]]:
        return [reader(as_row(e)) for e in entries if chosen(e)]

    by_person: dict[str, Counter[str]] = {}
    for entry in entries:
        by_person.setdefault(entry.actor, Counter())[entry.action] += 1
    return {
        "report": "Kura audit log review (DOMAIN §6.3 control 22)",
        "period": {"from": since.isoformat(), "until": until.isoformat()},
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "entries": len(entries),
        "chain": verification.as_dict(),
        "by_action": dict(sorted(Counter(e.action for e in entries).items())),
        "by_person": {p: dict(sorted(c.items())) for p, c in sorted(by_person.items())},
        "sign_in_failures": rows(lambda e: e.action == "login" and e.result != "ok"),
        "refused": rows(lambda e: e.result.startswith("denied") and e.action != "login"),
        "originals_opened": rows(lambda e: e.action == "original.open"),
        "account_changes": rows(lambda e: e.action.startswith("user.") and e.action != "user.list"),
        "off_hours": rows(lambda e: _off_hours(e.at) and e.actor != SERVICE_NAME),
    }


CSV_COLUMNS = (N_("section"), N_("seq"), N_("at"), N_("actor"), N_("role"), N_("action"),
               N_("result"), N_("purpose"), N_("object_ids"), N_("count"))
"""The header of the review CSV, which people open: in the reader's language."""


def report_csv(report: dict[str, Any]) -> str:
    """The same report as one CSV table: a section column, then the entry's columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_(column) for column in CSV_COLUMNS])
    period = report["period"]
    writer.writerow(["period", "", period["from"], "", "", "", period["until"], "", "", ""])
    chain = report["chain"]
    first = chain["first"]
    writer.writerow(
        [
            "chain",
            first["seq"] if first else "",
            "",
            "",
            "",
            "verify",
            "ok" if chain["ok"] else f"{first['kind']}: {first['message']}",
            "",
            "",
            chain["entries"],
        ]
    )
    for action, count in report["by_action"].items():
        writer.writerow(["by_action", "", "", "", "", action, "", "", "", count])
    for person, actions in report["by_person"].items():
        for action, count in actions.items():
            writer.writerow(["by_person", "", "", person, "", action, "", "", "", count])
    for section in (
        "sign_in_failures",
        "refused",
        "originals_opened",
        "account_changes",
        "off_hours",
    ):
        for row in report[section]:
            writer.writerow(
                [
                    section,
                    row["seq"],
                    row["at"],
                    row["actor"],
                    row["role"],
                    row["action"],
                    row["result"],
                    row["purpose"] or "",
                    " ".join(row["object_ids"]),
                    "",
                ]
            )
    return out.getvalue()
