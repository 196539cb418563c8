"""Intake: account for every entry given (a file taken, a file skipped with the reason, or a
file refused), check each file in an ordered chain, seal the original, open its 受付 entry
and its pages. A file that fails a check is sealed into quarantine with the reason; a
duplicate is reported and not sealed again; nothing a check raises stops the batch.

The chain is given by the caller (workers/intake.py: the duplicate check here, then the
format check of the pipeline), and so is the reading of a file from disk within the
pipeline's size limit (workers.intake.Arrival), so storage needs no stage of the pipeline."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from schemas.errors import Rejected
from schemas.i18n import _
from schemas.normalise import dated_number
from storage.audit import SERVICE, Actor, append
from storage.crypto import StreamChanged
from storage.models import (
    Batch,
    Document,
    Page,
    ReceiptCounter,
    SourceFile,
    StoredObject,
    new_id,
)
from storage.vault import Vault


@dataclass
class TurnedAway:
    """An entry not read at all: nothing of it is stored, it stays where it was."""

    filename: str
    outcome: Literal["skipped", "refused"]
    code: str
    reason: str
    path: Path | None = None


@dataclass
class Arrival:
    """A file to take in: already in memory, received open and hashed (an upload, held in a
    storage.spool.Spool), or at a path that workers.intake.Arrival opens."""

    filename: str
    data: bytes | None = None
    path: Path | None = None
    sha256: str = ""
    digest: str = ""
    """Its SHA-256 keyed with the index key (Vault.keyed_digest): what the database keeps
    and duplicates are found by; set when the file is taken in."""
    page_count: int = 0
    flags: list[str] = field(default_factory=list)
    earlier: SourceFile | None = None
    """The file this one duplicates, once DuplicateCheck found it."""
    stream: BinaryIO | None = None
    """The file, open, while it is being taken in: checked and sealed from here."""
    size: int = 0
    """Its length when it was opened: it must not change before it is sealed."""

    def open(self) -> BinaryIO:
        """Open the file once and take its SHA-256; a Rejected error refuses the file
        (nothing of it can be kept, it stays where it was)."""
        if self.stream is not None and self.sha256:  # received open, hashed as it came
            self.stream.seek(0)
            return self.stream
        if self.data is None:
            raise Rejected(_("the file was not read"))
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.size = len(self.data)
        self.stream = io.BytesIO(self.data)
        return self.stream


class DuplicateFile(Rejected):
    """The same file (by SHA-256) was taken in before, or is in quarantine."""

    code = "duplicate"


class FileChanged(Rejected):
    """The file changed while it was being taken in (a scanner still writing it)."""

    code = "changed_while_read"


class CheckFailed(Rejected):
    """A check could not finish on the file (a reader failing on strange input): the file
    is quarantined like a damaged one and the batch goes on."""

    code = "damaged_file"


class IntakeCheck(Protocol):
    name: str

    def able_to_run(self, arrival: Arrival) -> bool: ...

    def run(self, session: Session, arrival: Arrival) -> None:
        """Raise a Rejected error to stop the file; may fill in what it learned."""


class DuplicateCheck:
    """First, so that a file already in quarantine is counted there, not sealed again."""

    name = "duplicate"

    def able_to_run(self, arrival: Arrival) -> bool:
        return bool(arrival.digest)

    def run(self, session: Session, arrival: Arrival) -> None:
        earlier = session.scalars(
            select(SourceFile).where(
                SourceFile.sha256 == arrival.digest,
                (SourceFile.status != "rejected") | SourceFile.quarantine_state.in_(
                    ("held", "disposal_requested")),
            ).order_by(SourceFile.received_at)
        ).first()
        if earlier is None:
            return
        arrival.earlier = earlier
        when = earlier.received_at.strftime("%Y-%m-%d %H:%M")
        if earlier.status == "rejected":
            raise DuplicateFile(
                _(
                    "the same file is already in quarantine since {when} ({reject_reason}); "
                    "counted there, not kept again").format(
                        when=when, reject_reason=earlier.reject_reason)
            )
        raise DuplicateFile(
            _(
                "the same file was already received on {when} (batch {batch_id})").format(
                    when=when, batch_id=earlier.batch_id[:8])
        )


@dataclass(frozen=True)
class Answer:
    """What became of one entry: taken, quarantined, skipped or refused."""

    position: int
    filename: str
    outcome: str
    code: str = ""
    reason: str = ""


@dataclass(frozen=True)
class IntakeResult:
    batch_id: str
    page_ids: list[str]
    answers: list[Answer]

    @property
    def rejected(self) -> list[tuple[str, str]]:
        """(file name, reason) of each quarantined file."""
        return [(a.filename, a.reason) for a in self.answers if a.outcome == "quarantined"]


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
        select(Document.receipt_number).where(Document.received_date.between(start, end),
                                              Document.municipality == municipality)
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
        municipality=municipality,
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
    arrivals: Sequence[Arrival | TurnedAway],
    channel: str,
    checks: tuple[IntakeCheck, ...],
    actor: Actor | None = None,
    municipality: str = "000000",
) -> IntakeResult:
    """Take files in as `actor` (the signed-in clerk; default the service identity, as for
    the hot folder). The batch and every entry, quarantined and refused ones too, are audit
    entries that commit with the intake: ids and codes only, never a file name or content.
    Whatever a check raises is that file's answer: it never rolls back the others."""
    actor = actor or SERVICE
    batch = Batch(channel=channel)
    session.add(batch)
    session.flush()
    entries: list[tuple[list[str], str, dict[str, object]]] = []
    page_ids: list[str] = []
    answers: list[Answer] = []
    for position, arrival in enumerate(arrivals):
        if isinstance(arrival, TurnedAway):
            answers.append(Answer(position, arrival.filename, arrival.outcome, arrival.code,
                                  arrival.reason))
            entries.append(([batch.id], arrival.outcome,
                            {"position": position, "code": arrival.code}))
            continue
        try:
            stream = arrival.open()
        except Rejected as error:  # nothing of it can be kept: it stays where it was
            answers.append(Answer(position, arrival.filename, "refused", error.code, str(error)))
            entries.append(([batch.id], "refused", {"position": position, "code": error.code}))
            continue
        arrival.digest = vault.keyed_digest(arrival.sha256)
        with stream:
            answer, entry, pages = _take_one(session, vault, batch, position, arrival, checks,
                                             channel, municipality)
        arrival.stream = arrival.data = None  # one file open at a time
        answers.append(answer)
        entries.append(entry)
        page_ids.extend(pages)
    counts = {outcome: sum(a.outcome == outcome for a in answers)
              for outcome in ("quarantined", "refused", "skipped")}
    append(session, actor, "intake.batch", [batch.id], result="ok",
           detail={"channel": channel, "files": len(arrivals), **counts,
                   "pages": len(page_ids)})
    for object_ids, result, detail in entries:
        append(session, actor, "intake.file", object_ids, result=result, detail=detail)
    return IntakeResult(batch.id, page_ids, answers)


_Entry = tuple[list[str], str, dict[str, object]]


def _take_one(session: Session, vault: Vault, batch: Batch, position: int, arrival: Arrival,
              checks: tuple[IntakeCheck, ...], channel: str,
              municipality: str) -> tuple[Answer, _Entry, list[str]]:
    """One opened file through the checks into the store: its answer, its audit entry and
    its pages."""
    try:
        for check in checks:
            if check.able_to_run(arrival):
                check.run(session, arrival)
    except Exception as failure:
        reason = failure if isinstance(failure, Rejected) else CheckFailed(
            f"the file could not be checked ({type(failure).__name__})")
        try:
            return _quarantined(session, vault, batch, position, arrival, reason)
        except StreamChanged:
            return _changed(batch, position, arrival)
    assert arrival.stream is not None
    try:
        original = vault.put_object(session, "original", arrival.stream, arrival.size)
    except StreamChanged:
        return _changed(batch, position, arrival)
    if original.sha256 != arrival.digest:  # checked as one file, sealed as another
        original.kind = "quarantine"
        changed = FileChanged(_("the file changed while it was taken in: kept in quarantine"))
        return _quarantined(session, vault, batch, position, arrival, changed, original)
    source = SourceFile(
        batch_id=batch.id,
        position=position,
        filename=file_label(position, arrival.filename),
        sha256=arrival.digest,
        object_id=original.id,
        page_count=arrival.page_count,
        flags=list(arrival.flags),
    )
    session.add(source)
    session.flush()
    document = open_receipt(session, vault, source, channel, municipality)
    page_ids = []
    for number in range(1, arrival.page_count + 1):
        page = Page(source_file_id=source.id, document_id=document.id, number=number)
        session.add(page)
        session.flush()
        page_ids.append(page.id)
    return (Answer(position, arrival.filename, "taken"),
            ([batch.id, source.id, original.id, document.id], "accepted",
             {"position": position, "pages": arrival.page_count,
              "flags": list(arrival.flags)}),
            page_ids)


def _changed(batch: Batch, position: int,
             arrival: Arrival) -> tuple[Answer, _Entry, list[str]]:
    """Refused: the file was cut short or grew while it was sealed; nothing was stored."""
    changed = FileChanged(_("the file changed while it was taken in: left where it is"))
    return (Answer(position, arrival.filename, "refused", changed.code, str(changed)),
            ([batch.id], "refused", {"position": position, "code": changed.code}), [])


def _quarantined(session: Session, vault: Vault, batch: Batch, position: int,
                 arrival: Arrival, reason: Rejected,
                 sealed: StoredObject | None = None) -> tuple[Answer, _Entry, list[str]]:
    kept = _quarantine(session, vault, batch, position, arrival, reason, sealed)
    return (Answer(position, arrival.filename, "quarantined", reason.code, str(reason)),
            ([batch.id, kept.id, kept.object_id], "quarantined",
             {"position": position, "reject_code": reason.code}),
            [])


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
    sealed: StoredObject | None = None,
) -> SourceFile:
    """Keep a rejected file sealed in quarantine with its reason. A duplicate is not sealed
    again: its line names the earlier file's sealed object, and a duplicate of a file in
    quarantine is counted there."""
    earlier = arrival.earlier if isinstance(error, DuplicateFile) else None
    if earlier is not None:
        object_id = earlier.object_id
        if earlier.status == "rejected":
            earlier.times_received += 1
    else:
        if sealed is None:
            assert arrival.stream is not None
            sealed = vault.put_object(session, "quarantine", arrival.stream, arrival.size)
        object_id = sealed.id
    source = SourceFile(
        batch_id=batch.id,
        position=position,
        filename=file_label(position, arrival.filename),
        sha256=sealed.sha256 if sealed is not None else arrival.digest,
        object_id=object_id,
        status="rejected",
        reject_code=error.code,
        reject_reason=str(error),
        quarantine_state=None if earlier is not None else "held",
    )
    session.add(source)
    session.flush()
    return source
