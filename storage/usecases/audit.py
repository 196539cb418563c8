"""The audit chain as people use it (auditor, security administrator): verify it, search
it, write the quarterly review, sign a checkpoint now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from schemas.errors import InvalidInput
from schemas.i18n import _
from schemas.settings import Settings
from storage import audit_reports, audit_words
from storage.audit import append
from storage.audit_verify import VerifyReport, verify
from storage.audit_words import open_entry
from storage.checkpoints import Checkpoint, checkpoint_store, write_checkpoint
from storage.db import session_scope
from storage.usecases.base import Token, acting, anchor, signed_in


def verify_chain(settings: Settings, token: Token) -> VerifyReport:
    """Walk the hash chain and the signed checkpoints; the report names the first entry
    that was changed, removed, reordered or inserted."""
    actor, _ = signed_in(settings, token, "audit.verify")
    report = verify(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        first = report.first
        append(session, actor, "audit.verify",
               result="ok" if report.ok else f"problems:{len(report.problems)}",
               detail={"entries": report.entries, "checkpoints": report.checkpoints,
                       "first": f"{first.kind}@{first.seq}" if first else None})
    anchor(settings)
    return report


def search_log(
    settings: Settings,
    token: Token,
    *,
    person: str | None = None,
    record: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Entries by person, record (受付番号 or any id), action and time, as people read
    them. The search itself is an entry naming what was searched for."""
    with acting(settings, token, "audit.read", "audit.search") as work:
        found = [open_entry(work.session, work.vault, audit_reports.as_row(e))
                 for e in audit_reports.search(
            work.session, person=person, record=record, action=action, since=since,
            until=until, limit=limit, own=settings.municipality_code)]
        named = (audit_reports.record_ids(work.session, record, settings.municipality_code)
                 if record else set())
        work.audit("audit.search", sorted(named), result="ok",
                   detail={"person": person, "record": record, "action": action,
                           "since": since.isoformat() if since else None,
                           "until": until.isoformat() if until else None,
                           "found": len(found)})
    return found


def review(settings: Settings, token: Token, start: dt.datetime, end: dt.datetime,
           fmt: str) -> dict[str, Any]:
    """The quarterly log-review report (control 22) for [start, end)."""
    with acting(settings, token, "audit.read", "audit.report") as work:
        report = audit_reports.review_report(
            settings, work.session, start, end,
            reader=lambda row: open_entry(work.session, work.vault, row))
        work.audit("audit.report", result="ok",
                   detail={"from": start.isoformat(), "until": end.isoformat(), "format": fmt,
                           "entries": report["entries"]})
    return report


def erase_words(settings: Settings, token: Token, record: str, why: str) -> int:
    """Erase every purpose, note and reason recorded about a record (a disclosure request
    that asks for it, a disposal): their keys are destroyed, the chain stays intact."""
    if len(why.strip()) < 4:
        raise InvalidInput(_("say why the words are erased"), hint=_("--why: a case reference"))
    with acting(settings, token, "audit.erase") as work:
        ids = audit_reports.record_ids(work.session, record, settings.municipality_code)
        erased = audit_words.erase_words_about(work.session, ids)
        work.audit("audit.erase", sorted(ids), purpose=why.strip(), result="ok",
                   detail={"erased": erased})
    return erased


def checkpoint_now(settings: Settings, token: Token) -> tuple[Checkpoint | None, str]:
    """Sign the head of the chain now; (the checkpoint, or None when the head already is
    checkpointed; where the store is)."""
    actor, _ = signed_in(settings, token, "audit.checkpoint")
    with session_scope(settings.sqlalchemy_url) as session:
        append(session, actor, "audit.checkpoint", result="ok")
    return write_checkpoint(settings, force=True), checkpoint_store(settings).location
