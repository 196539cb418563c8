"""Intake: check each arriving file in an ordered chain, seal the original, open its 受付
entry and its pages. A file that fails a check is sealed into quarantine with the reason.

The chain is given by the caller (workers/intake.py: the format check of the pipeline,
then the duplicate check here), so storage needs no stage of the pipeline."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from schemas.errors import Rejected
from schemas.normalise import dated_number
from storage.audit import SERVICE, Actor, append
from storage.models import Batch, Document, Page, ReceiptCounter, SourceFile, new_id
from storage.vault import Vault


@dataclass
class Arrival:
    filename: str
    data: bytes
    sha256: str = ""
    page_count: int = 0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sha256 = self.sha256 or hashlib.sha256(self.data).hexdigest()


class DuplicateFile(Rejected):
    """The same file (by SHA-256) was taken in before."""

    code = "duplicate"


class IntakeCheck(Protocol):
    name: str

    def able_to_run(self, arrival: Arrival) -> bool: ...

    def run(self, session: Session, arrival: Arrival) -> None:
        """Raise a Rejected error to stop the file; may fill in what it learned."""


class DuplicateCheck:
    name = "duplicate"

    def able_to_run(self, arrival: Arrival) -> bool:
        return bool(arrival.sha256)

    def run(self, session: Session, arrival: Arrival) -> None:
        earlier = session.scalars(
            select(SourceFile).where(
                SourceFile.sha256 == arrival.sha256, SourceFile.status != "rejected"
            )
        ).first()
        if earlier is not None:
            when = earlier.received_at.strftime("%Y-%m-%d %H:%M")
            raise DuplicateFile(
                f"the same file was already received on {when} (batch {earlier.batch_id[:8]})"
            )



@dataclass(frozen=True)
class IntakeResult:
    batch_id: str
    page_ids: list[str]
    rejected: list[tuple[str, str]]
    """(file name, reason) of each quarantined file."""


def fiscal_year(day: dt.date) -> int:
    """年度: the fiscal year runs from 1 April to 31 March."""
    return day.year if day.month >= 4 else day.year - 1


def next_receipt_number(session: Session, day: dt.date, municipality: str = "000000") -> str:
    """The next 受付番号 of the municipality's fiscal year, dated `day`. The counter row is
    moved on by one UPDATE, which locks it until this transaction ends: an intake running at
    the same time waits for it and takes the next number (PostgreSQL locks the row, SQLite
    the database)."""
    year = fiscal_year(day)
    number = _advance(session, municipality, year)
    if number is None:
        _create_counter(session, municipality, year)
        number = _advance(session, municipality, year)
        assert number is not None
    return dated_number("R", day, number - 1, 6)


def _advance(session: Session, municipality: str, year: int) -> int | None:
    moved: int | None = session.execute(
        update(ReceiptCounter)
        .where(ReceiptCounter.municipality == municipality, ReceiptCounter.fiscal_year == year)
        .values(last=ReceiptCounter.last + 1)
        .returning(ReceiptCounter.last)
    ).scalar_one_or_none()
    return moved


def _create_counter(session: Session, municipality: str, year: int) -> None:
    """The fiscal year's first number: the counter starts after every number already given
    in that year (a database numbered before the counter existed)."""
    start, end = dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
    given = session.scalars(
        select(Document.receipt_number).where(Document.received_date.between(start, end))
    ).all()
    last = max((int(number.rsplit("-", 1)[1]) for number in given), default=0)
    try:
        with session.begin_nested():
            session.add(ReceiptCounter(municipality=municipality, fiscal_year=year, last=last))
    except IntegrityError:
        pass  # another intake created it first: take a number from theirs


def open_receipt(session: Session, vault: Vault, source: SourceFile, channel: str,
                 municipality: str = "000000") -> Document:
    """A new 受付 entry for (part of) a file, with its own data key."""
    document_id = new_id()
    today = dt.date.today()
    document = Document(
        id=document_id,
        receipt_number=next_receipt_number(session, today, municipality),
        received_date=today,
        channel=channel,
        source_file_id=source.id,
        wrapped_key=vault.new_document_key(document_id),
        kek_id=vault.kek.id,
    )
    session.add(document)
    session.flush()
    return document


def take_in(
    session: Session,
    vault: Vault,
    arrivals: list[Arrival],
    channel: str,
    checks: tuple[IntakeCheck, ...],
    actor: Actor | None = None,
    municipality: str = "000000",
) -> IntakeResult:
    """Take files in as `actor` (the signed-in clerk; default the service identity, as for
    the hot folder). The batch and every file, quarantined ones too, are audit entries that
    commit with the intake: ids and codes only, never a file name or content."""
    actor = actor or SERVICE
    batch = Batch(channel=channel)
    session.add(batch)
    session.flush()
    entries: list[tuple[list[str], str, dict[str, object]]] = []
    page_ids: list[str] = []
    rejected: list[tuple[str, str]] = []
    for position, arrival in enumerate(arrivals):
        try:
            for check in checks:
                if check.able_to_run(arrival):
                    check.run(session, arrival)
        except Rejected as error:
            kept = _quarantine(session, vault, batch, position, arrival, error)
            rejected.append((arrival.filename, str(error)))
            entries.append(([batch.id, kept.id, kept.object_id], "quarantined",
                             {"position": position, "reject_code": error.code}))
            continue
        original = vault.put_object(session, "original", arrival.data)
        source = SourceFile(
            batch_id=batch.id,
            position=position,
            filename=file_label(position, arrival.filename),
            sha256=arrival.sha256,
            object_id=original.id,
            page_count=arrival.page_count,
        )
        session.add(source)
        session.flush()
        document = open_receipt(session, vault, source, channel, municipality)
        for number in range(1, arrival.page_count + 1):
            page = Page(source_file_id=source.id, document_id=document.id, number=number)
            session.add(page)
            session.flush()
            page_ids.append(page.id)
        entries.append(([batch.id, source.id, original.id, document.id], "accepted",
                         {"position": position, "pages": arrival.page_count}))
    append(session, actor, "intake.batch", [batch.id], result="ok",
           detail={"channel": channel, "files": len(arrivals), "quarantined": len(rejected),
                   "pages": len(page_ids)})
    for object_ids, result, detail in entries:
        append(session, actor, "intake.file", object_ids, result=result, detail=detail)
    return IntakeResult(batch.id, page_ids, rejected)


def file_label(position: int, filename: str) -> str:
    """What Kura keeps of a file's name: its place in the batch and its kind. A name as a
    scanner or a clerk gave it may name the person (山田太郎_届.pdf), so it is shown to the
    clerk at intake and not kept."""
    suffix = Path(filename).suffix.lower()
    kind = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
    return f"file-{position + 1:03d}{kind}"


def _quarantine(
    session: Session,
    vault: Vault,
    batch: Batch,
    position: int,
    arrival: Arrival,
    error: Rejected,
) -> SourceFile:
    kept = vault.put_object(session, "quarantine", arrival.data)
    source = SourceFile(
        batch_id=batch.id,
        position=position,
        filename=file_label(position, arrival.filename),
        sha256=arrival.sha256,
        object_id=kept.id,
        status="rejected",
        reject_code=error.code,
        reject_reason=str(error),
    )
    session.add(source)
    session.flush()
    return source
