"""突合: the weekly 処理結果一覧表 against the register (DOMAIN.md §5.4; controls 29–30, 48).

The list is taken in like any scan (sealed, locked and retained as an original of its own
class); its rows are kept sealed, each with its page and place (storage/register.py). Here a
person reconciles it: every row is matched to the register by 基礎年金番号 + 届書区分 + a date
window and confirmed by name kana and birth date, all through blind-index digests (never one
attribute alone, pipeline/reconcile.py's rules, applied here to digests), and a report says
what each row became. Only when another person confirms it — not the one who ran it, nor one
who entered an item it settles — does the register record the results and file the documents.

A list with a page missing, a page of another list or rows that do not add up is refused
with the reasons in words; nothing of it is lost, and it can be reconciled once rescanned.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import select

from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.i18n import _
from schemas.settings import Settings
from storage.audit import AuditEntry, AuditObject
from storage.models import Document, SourceFile, VerificationEvent, new_id
from storage.receipts import document_by_receipt, documents_by_receipts, of_own
from storage.reconcile_words import Report, RowLine, problem_words, report_csv
from storage.register import (
    IDENTIFYING,
    LIST_FORM,
    field_digests,
    list_rows,
    move,
    open_identity,
    open_value,
    receipt_numbers,
    row_cells,
    sync_entries,
)
from storage.register_models import ListRow, Reconciliation, RegisterEntry
from storage.retention import sync_original_lock
from storage.usecases.base import Token, Work, acting
from storage.usecases.transmittals import SamePerson

OPEN_STAGES = ("received", "verified", "forwarded")
MISSING = "-"
"""Stands for a digest one side lacks; never equal to the other side's (see _digest)."""


class RowMatch(Protocol):
    @property
    def row_index(self) -> int: ...
    @property
    def outcome(self) -> str: ...
    @property
    def entry_id(self) -> str | None: ...
    @property
    def differences(self) -> tuple[str, ...]: ...
    @property
    def candidates(self) -> tuple[str, ...]: ...


class Matched(Protocol):
    @property
    def rows(self) -> Sequence[RowMatch]: ...
    @property
    def overdue(self) -> Sequence[str]: ...


Match = Callable[[list[dict[str, Any]], list[dict[str, Any]], str, dt.date, int], Matched]
"""pipeline.reconcile.reconcile over plain data: rows and register entries as the keyword
arguments of its ListRow and RegisterEntry, the office's municipality code, today, and the
days after which a forwarded item is overdue (workers/register.py hands it in)."""


class ListNotUsable(Conflict):
    """The list cannot be reconciled as it is (pages missing, another list's page, rows that
    do not add up); it stays stored as it came."""

    code = "list_not_usable"


def _list_document(work: Work, receipt_number: str) -> Document:
    document = document_by_receipt(work.session, receipt_number,
                                   work.municipality)
    if document is None or document.disposed_at is not None:
        raise NotFound(_("No document {receipt}").format(receipt=receipt_number))
    work.subject_ids = [document.id]
    of_own(document, work.municipality, receipt_number)
    if document.form_id != LIST_FORM:
        raise InvalidInput(_("{receipt} is not a 処理結果一覧表").format(receipt=receipt_number))
    if document.status == "processing":
        raise Conflict(_("{receipt} is still being read").format(receipt=receipt_number))
    return document


def _problems(work: Work, document: Document) -> tuple[list[str], str]:
    problems = [w for r in document.reasons if (w := problem_words(r))]
    code = next((f for f in document.fields if f.name == "municipality_code"), None)
    municipality = (open_value(work.vault, document, "municipality_code")
                    if code is not None else "")
    # read with low confidence is still usable: a misread code only makes every row
    # "another municipality's", which files nothing
    doubtful = code is None or set(code.reasons) - {"low_confidence"}
    if doubtful or not (len(municipality) == 6 and municipality.isdigit()):
        problems.append(_("the list's 市区町村コード could not be read"))
    return problems, municipality


def reconcile(settings: Settings, token: Token, receipt_number: str, match: Match,
              today: dt.date | None = None) -> Report:
    """Match every row of the list to the register and report; records nothing in the
    register yet (that is `confirm`, by another person). Run again, it starts over."""
    today = today or dt.date.today()
    with acting(settings, token, "reconcile.run", "reconcile.run") as work:
        started = time.perf_counter()
        document = _list_document(work, receipt_number)
        problems, municipality = _problems(work, document)
        if problems:
            raise ListNotUsable(
                _("{receipt} cannot be reconciled: {problems}").format(
                    receipt=receipt_number, problems="; ".join(problems)),
                hint=_("scan the whole list again (every page, in order) and reconcile the "
                       "new 受付番号; this one stays stored as it came"))
        done = work.session.scalars(select(Reconciliation).where(
            Reconciliation.document_id == document.id)).one_or_none()
        if done is not None and done.status == "confirmed":
            raise Conflict(_("{receipt} was reconciled and confirmed already").format(
                receipt=receipt_number))
        sync_entries(work.session, work.vault, settings)
        entries = list(work.session.execute(
            select(RegisterEntry, Document).join(Document, Document.id == RegisterEntry.document_id)
            .where(RegisterEntry.stage.in_(OPEN_STAGES), RegisterEntry.origin == "office",
                   RegisterEntry.municipality == work.municipality,
                   Document.disposed_at.is_(None))).all())
        digests = field_digests(work.session, [d.id for _e, d in entries])
        rows = list_rows(work.session, document)
        facts = [_row_facts(work, document, row, municipality) for row in rows]
        readable = [f for f in facts if f is not None]
        matches = match(
            readable,
            [{"entry_id": e.id, "municipality_code": e.municipality,
              "basic_pension_number": _digest(digests, d.id, "basic_pension_number", e.id),
              "notification_type": e.notification_type, "received_date": e.received_date,
              "name_kana_digest": _confirming(digests, d.id, e, "name_kana"),
              "birth_date_digest": _confirming(digests, d.id, e, "birth_date"),
              "forwarded_date": e.forwarded_on} for e, d in entries],
            work.municipality, today, settings.result_overdue_days)
        numbers = receipt_numbers(work.session, [e.id for e, _d in entries])
        found = {m.row_index: m for m in matches.rows}
        for row in rows:
            result = found.get(row.position)
            row.outcome = result.outcome if result else "unreadable"
            row.entry_id = result.entry_id if result else None
            row.differences = list(result.differences) if result else []
            row.candidates = [numbers[c] for c in result.candidates] if result else []
            row.accepted = False
        counts = {o: sum(r.outcome == o for r in rows) for o in sorted({r.outcome or ""
                                                                      for r in rows})}
        if done is None:
            done = Reconciliation(document_id=document.id, run_by=work.actor.name,
                                  municipality_code=municipality)
            work.session.add(done)
        done.status, done.run_by, done.run_at = "reconciled", work.actor.name, \
            dt.datetime.now(dt.UTC)
        done.counts, done.overdue = counts, sorted(numbers[i] for i in matches.overdue)
        done.seconds = round(time.perf_counter() - started, 3)
        work.session.flush()
        work.audit("reconcile.run", [document.id], result="ok", detail=counts)
        return _report(work, document, done)


def _digest(digests: dict[str, dict[str, str]], document_id: str, name: str,
            owner: str) -> str:
    """A blind-index digest, or a stand-in no other side has (a value missing on both
    sides must never count as agreeing)."""
    return digests.get(document_id, {}).get(name) or f"{MISSING}{owner}"


def _confirming(digests: dict[str, dict[str, str]], document_id: str, entry: RegisterEntry,
                name: str) -> str:
    """The digest of a confirming attribute: read from the form, or keyed at the counter
    for a forward-only item; '' when the register holds neither (the matching rules then
    never count it as agreeing, and say it was missing)."""
    return (digests.get(document_id, {}).get(name)
            or (entry.identity_digests or {}).get(name, ""))


def _row_facts(work: Work, document: Document, row: ListRow, municipality: str
               ) -> dict[str, Any] | None:
    """What matching needs of a row; None for a row whose 基礎年金番号 fails its format or
    whose 届書区分 is not printed (it is reported as unreadable, for a person)."""
    cells = row_cells(work.vault, document, row)
    bpn = str(cells.get("basic_pension_number", {}).get("value", ""))
    kind = str(cells.get("notification_type", {}).get("value", ""))
    if not (len(bpn) == 10 and bpn.isascii() and bpn.isdigit()) or not kind:
        return None
    owner = f"row{row.position}"
    return {"row_index": row.position,
            "basic_pension_number": row.digests.get("basic_pension_number") or MISSING + owner,
            "notification_type": kind, "received_date": _date(cells, "received_date"),
            "name_kana_digest": row.digests.get("name_kana", ""),
            "birth_date_digest": row.digests.get("birth_date", ""),
            "municipality_code": municipality,
            "result": str(cells.get("result", {}).get("value", ""))}


def _reconciled(work: Work, receipt_number: str) -> tuple[Document, Report]:
    document = _list_document(work, receipt_number)
    done = work.session.scalars(select(Reconciliation).where(
        Reconciliation.document_id == document.id)).one_or_none()
    if done is None:
        raise Conflict(_("{receipt} was not reconciled yet").format(receipt=receipt_number))
    return document, _report(work, document, done)


def report(settings: Settings, token: Token, receipt_number: str) -> Report:
    with acting(settings, token, "reconcile.run", "reconcile.report") as work:
        document, view = _reconciled(work, receipt_number)
        work.audit("reconcile.report", [document.id], result="ok")
        return view


Printer = Callable[[Report], bytes]
"""The report printed on A4 (workers.register.report_pdf: the pipeline draws it, and
storage may not import the pipeline; the server hands in its own)."""


def report_file(settings: Settings, token: Token, receipt_number: str,
                file_format: Literal["csv", "pdf"], printer: Printer) -> bytes:
    """The report as a file for the office: CSV that Excel opens as it is, or PDF. It
    holds personal values, so every file made is an audit entry of its own, saying which."""
    if file_format not in ("csv", "pdf"):
        raise InvalidInput(_("The report is written as CSV or PDF"))
    with acting(settings, token, "reconcile.run", "reconcile.report.file") as work:
        document, view = _reconciled(work, receipt_number)
        data = report_csv(view) if file_format == "csv" else printer(view)
        work.audit("reconcile.report.file", [document.id], result="ok",
                   detail={"format": file_format, "rows": len(view.rows)})
        return data


def _report(work: Work, document: Document, done: Reconciliation) -> Report:
    rows = list_rows(work.session, document)
    numbers = receipt_numbers(work.session, [r.entry_id for r in rows if r.entry_id])
    lines = []
    for row in rows:
        cells = row_cells(work.vault, document, row)
        shown = {name: str(cells.get(name, {}).get("value", "")) for name in (
            "basic_pension_number", "name_kana", "birth_date", "notification_type",
            "received_date", "processed_date", "result")}
        theirs: dict[str, str] = {}
        if row.differences and row.entry_id:
            entry = work.session.get_one(RegisterEntry, row.entry_id)
            mine = work.session.get_one(Document, entry.document_id)
            keyed = open_identity(work.vault, mine, entry)
            theirs = {name: open_value(work.vault, mine, name) or keyed.get(name, "")
                      for name in IDENTIFYING}
        lines.append(RowLine(row.position + 1, row.page_number, row.box, row.outcome or "",
                             numbers.get(row.entry_id or "", ""), list(row.differences),
                             list(row.candidates), shown, theirs, list(row.review),
                             row.accepted))
    _lacking(work, rows, lines)
    header = {f.name: open_value(work.vault, document, f.name) for f in document.fields}
    return Report(document.receipt_number, done.municipality_code, header, done.status,
                  dict(done.counts), lines, list(done.overdue), done.run_by,
                  done.confirmed_by, done.seconds)


def _lacking(work: Work, rows: list[ListRow], lines: list[RowLine]) -> None:
    """Fill in what each unconfirmed line lacks, on the list's side and the register's."""
    unconfirmed = [(row, line) for row, line in zip(rows, lines, strict=True)
                   if line.outcome == "unconfirmed"]
    documents = documents_by_receipts(work.session, [c for _r, line in unconfirmed
                                                     for c in line.candidates],
                                      work.municipality)
    digests = field_digests(work.session, [d.id for d in documents.values()])
    keyed = {e.document_id: e.identity_digests or {} for e in work.session.scalars(
        select(RegisterEntry).where(RegisterEntry.document_id.in_(
            [d.id for d in documents.values()])))}
    for row, line in unconfirmed:
        line.list_lacks.extend(n for n in IDENTIFYING if not row.digests.get(n))
        for receipt, found in documents.items():
            if receipt in line.candidates:
                held = {**digests.get(found.id, {}), **keyed.get(found.id, {})}
                line.register_lacks[receipt] = [n for n in IDENTIFYING if not held.get(n)]


def _entered_by(work: Work, document_ids: list[str]) -> dict[str, set[str]]:
    """document id → the people who entered it: took it in, keyed its name kana and birth
    date at the counter, or corrected or keyed a field."""
    people: dict[str, set[str]] = {}
    for document_id, actor in work.session.execute(
            select(AuditObject.object_id, AuditEntry.actor).join(
                AuditEntry, AuditEntry.seq == AuditObject.seq)
            .where(AuditObject.object_id.in_(document_ids),
                   AuditEntry.action.in_(("intake.file", "register.identify")))).all():
        people.setdefault(document_id, set()).add(actor)
    for document_id, by in work.session.execute(
            select(VerificationEvent.document_id, VerificationEvent.by)
            .where(VerificationEvent.document_id.in_(document_ids),
                   VerificationEvent.kind.in_(("correct", "accept", "key")))).all():
        people.setdefault(document_id, set()).add(by)
    return people


def confirm(settings: Settings, token: Token, receipt_number: str,
            accept: Sequence[int] = ()) -> Report:
    """Another person confirms a reconciled list: matched rows (and the rows with
    differences they accept, by printed number) are recorded in the register and their
    documents filed; a result for something never received becomes a register entry of its
    own, flagged as filed directly at 日本年金機構. Other rows stay in the report."""
    with acting(settings, token, "reconcile.confirm", "reconcile.confirm") as work:
        document = _list_document(work, receipt_number)
        done = work.session.scalars(select(Reconciliation).where(
            Reconciliation.document_id == document.id)).one_or_none()
        if done is None or done.status != "reconciled":
            raise Conflict(_("{receipt} waits for no confirmation").format(
                receipt=receipt_number))
        if done.run_by == work.actor.name:
            raise SamePerson(_("You reconciled {receipt}: another person confirms it").format(
                receipt=receipt_number))
        rows = list_rows(work.session, document)
        by_number = {row.position + 1: row for row in rows}
        for number in accept:
            row = by_number.get(number)
            if row is None or row.outcome != "matched_with_differences":
                raise InvalidInput(_("Row {number} has no differences to accept").format(
                    number=number))
            row.accepted = True
        settled = [r for r in rows if r.entry_id and (
            r.outcome == "matched" or (r.outcome == "matched_with_differences" and r.accepted))]
        loaded = {e.id: e for e in work.session.scalars(select(RegisterEntry).where(
            RegisterEntry.id.in_([r.entry_id for r in settled])))}
        entries = {r.id: loaded[r.entry_id or ""] for r in settled}
        documents = {d.id: d for d in work.session.scalars(select(Document).where(
            Document.id.in_([e.document_id for e in loaded.values()])))}
        entered = _entered_by(work, list(documents))
        mine = [d.receipt_number for d in documents.values()
                if work.actor.name in entered.get(d.id, set())]
        if mine:
            raise SamePerson(_("You entered {receipts}: another person confirms their "
                               "results").format(receipts=", ".join(sorted(mine))))
        now = dt.datetime.now(dt.UTC)
        filed, sources = [], {document.source_file_id}
        for row in settled:
            entry = entries[row.id]
            _record_result(work, document, row, entry)
            move(entry, "filed")
            entry.filed_at = now
            filed_document = documents[entry.document_id or ""]
            sources.add(filed_document.source_file_id)
            filed.append(filed_document.id)
        direct = []
        for row in rows:
            if row.outcome == "result_without_entry":
                cells = row_cells(work.vault, document, row)
                received = _date(cells, "received_date") or document.received_date
                entry = RegisterEntry(id=new_id(), origin="jps_direct", form_id="",
                                      municipality=done.municipality_code,
                                      notification_type=str(cells.get(
                                          "notification_type", {}).get("value", ""))[:40],
                                      stage="received", received_date=received)
                work.session.add(entry)
                _record_result(work, document, row, entry)
                row.entry_id = entry.id
                direct.append(entry.id)
        for source_id in sorted(sources):  # filed: each original locked as its class keeps it
            sync_original_lock(work.session, work.vault,
                               work.session.get_one(SourceFile, source_id))
        done.status, done.confirmed_by, done.confirmed_at = "confirmed", work.actor.name, now
        work.audit("reconcile.confirm", [document.id, *filed, *direct], result="ok",
                   detail={"filed": len(filed), "jps_direct": len(direct),
                           "accepted": len(accept)})
        return _report(work, document, done)


def _date(cells: dict[str, dict[str, object]], name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(cells.get(name, {}).get("value", "")))
    except ValueError:
        return None


def _record_result(work: Work, document: Document, row: ListRow, entry: RegisterEntry) -> None:
    cells = row_cells(work.vault, document, row)
    entry.list_row_id = row.id
    entry.result = str(cells.get("result", {}).get("value", ""))[:20]
    entry.result_on = _date(cells, "processed_date") or dt.date.today()
    move(entry, "result_received")


@dataclass(frozen=True)
class ListTaken:
    """A list as it was taken in: its 受付番号, pages, rows, and what stops its 突合."""

    receipt_number: str
    status: str
    pages: int
    rows: int
    unsure_rows: int
    problems: list[str]


def lists_of_batch(settings: Settings, token: Token, batch_id: str) -> list[ListTaken]:
    """The 処理結果一覧表 a batch of scans held (kura totsugo take)."""
    with acting(settings, token, "register.read", "reconcile.lists") as work:
        documents = work.session.scalars(
            select(Document).join(SourceFile, SourceFile.id == Document.source_file_id)
            .where(SourceFile.batch_id == batch_id, Document.form_id == LIST_FORM)
            .order_by(Document.receipt_number)).all()
        found = []
        for document in documents:
            rows = list_rows(work.session, document)
            problems, _code = _problems(work, document)
            found.append(ListTaken(document.receipt_number, document.status,
                                   len(document.pages), len(rows),
                                   sum(bool(r.review) for r in rows), problems))
        work.audit("reconcile.lists", [d.id for d in documents], result="ok")
        return found


@dataclass(frozen=True)
class ListState:
    """A 処理結果一覧表 as the register room lists it: where its 突合 stands, no row."""

    receipt_number: str
    received_date: dt.date
    pages: int
    status: str
    """not_reconciled, reconciled (waits for confirmation) or confirmed."""
    counts: dict[str, int]
    run_by: str | None
    confirmed_by: str | None


def reconciliations(settings: Settings, token: Token) -> list[ListState]:
    """Every list the office took in, the newest first, with the state of its 突合."""
    with acting(settings, token, "register.read", "reconcile.overview") as work:
        documents = work.session.scalars(
            select(Document).where(Document.form_id == LIST_FORM,
                                   Document.municipality == work.municipality,
                                   Document.disposed_at.is_(None))
            .order_by(Document.received_date.desc(), Document.receipt_number.desc())).all()
        done = {d.document_id: d for d in work.session.scalars(select(Reconciliation).where(
            Reconciliation.document_id.in_([d.id for d in documents])))}
        found = []
        for document in documents:
            run = done.get(document.id)
            found.append(ListState(
                document.receipt_number, document.received_date, len(document.pages),
                run.status if run else "not_reconciled", dict(run.counts) if run else {},
                run.run_by if run else None, run.confirmed_by if run else None))
        work.audit("reconcile.overview", result="ok", detail={"lists": len(found)})
        return found
