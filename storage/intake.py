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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.errors import Rejected
from storage.audit import SERVICE, Actor, append
from storage.models import Batch, Document, Page, SourceFile, new_id, next_dated_number
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
    """A file to take in: already in memory (an upload), or at a path that
    workers.intake.Arrival reads."""

    filename: str
    data: bytes | None = None
    path: Path | None = None
    sha256: str = ""
    page_count: int = 0
    flags: list[str] = field(default_factory=list)
    earlier: SourceFile | None = None
    """The file this one duplicates, once DuplicateCheck found it."""

    def load(self) -> bytes:
        """The file's bytes, read once; a Rejected error refuses the file (nothing of it can
        be kept, it stays where it was)."""
        if self.data is None:
            raise Rejected("the file was not read")
        self.sha256 = self.sha256 or hashlib.sha256(self.data).hexdigest()
        return self.data


class DuplicateFile(Rejected):
    """The same file (by SHA-256) was taken in before, or is in quarantine."""

    code = "duplicate"


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
        return bool(arrival.sha256)

    def run(self, session: Session, arrival: Arrival) -> None:
        earlier = session.scalars(
            select(SourceFile).where(
                SourceFile.sha256 == arrival.sha256,
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
                f"the same file is already in quarantine since {when} "
                f"({earlier.reject_reason}); counted there, not kept again"
            )
        raise DuplicateFile(
            f"the same file was already received on {when} (batch {earlier.batch_id[:8]})"
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


def next_receipt_number(session: Session, day: dt.date) -> str:
    return next_dated_number(session, Document.receipt_number, "R", day, 6)


def open_receipt(session: Session, vault: Vault, source: SourceFile, channel: str) -> Document:
    """A new 受付 entry for (part of) a file, with its own data key."""
    document_id = new_id()
    today = dt.date.today()
    document = Document(
        id=document_id,
        receipt_number=next_receipt_number(session, today),
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
            arrival.load()
        except Rejected as error:  # nothing of it can be kept: it stays where it was
            answers.append(Answer(position, arrival.filename, "refused", error.code, str(error)))
            entries.append(([batch.id], "refused", {"position": position, "code": error.code}))
            continue
        try:
            for check in checks:
                if check.able_to_run(arrival):
                    check.run(session, arrival)
        except Exception as failure:
            reason = failure if isinstance(failure, Rejected) else CheckFailed(
                f"the file could not be checked ({type(failure).__name__})")
            kept = _quarantine(session, vault, batch, position, arrival, reason)
            answers.append(Answer(position, arrival.filename, "quarantined", reason.code,
                                  str(reason)))
            entries.append(([batch.id, kept.id, kept.object_id], "quarantined",
                            {"position": position, "reject_code": reason.code}))
            continue
        finally:
            data_seen = arrival.data
            arrival.data = None  # one file in memory at a time
        assert data_seen is not None
        original = vault.put_object(session, "original", data_seen)
        source = SourceFile(
            batch_id=batch.id,
            position=position,
            filename=file_label(position, arrival.filename),
            sha256=arrival.sha256,
            object_id=original.id,
            page_count=arrival.page_count,
            flags=list(arrival.flags),
        )
        session.add(source)
        session.flush()
        document = open_receipt(session, vault, source, channel)
        for number in range(1, arrival.page_count + 1):
            page = Page(source_file_id=source.id, document_id=document.id, number=number)
            session.add(page)
            session.flush()
            page_ids.append(page.id)
        answers.append(Answer(position, arrival.filename, "taken"))
        entries.append(([batch.id, source.id, original.id, document.id], "accepted",
                         {"position": position, "pages": arrival.page_count,
                          "flags": list(arrival.flags)}))
    counts = {outcome: sum(a.outcome == outcome for a in answers)
              for outcome in ("quarantined", "refused", "skipped")}
    append(session, actor, "intake.batch", [batch.id], result="ok",
           detail={"channel": channel, "files": len(arrivals), **counts,
                   "pages": len(page_ids)})
    for object_ids, result, detail in entries:
        append(session, actor, "intake.file", object_ids, result=result, detail=detail)
    return IntakeResult(batch.id, page_ids, answers)


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
    """Keep a rejected file sealed in quarantine with its reason. A duplicate is not sealed
    again: its line names the earlier file's sealed object, and a duplicate of a file in
    quarantine is counted there."""
    earlier = arrival.earlier if isinstance(error, DuplicateFile) else None
    if earlier is not None:
        object_id = earlier.object_id
        if earlier.status == "rejected":
            earlier.times_received += 1
    else:
        assert arrival.data is not None
        object_id = vault.put_object(session, "quarantine", arrival.data).id
    source = SourceFile(
        batch_id=batch.id,
        position=position,
        filename=file_label(position, arrival.filename),
        sha256=arrival.sha256,
        object_id=object_id,
        status="rejected",
        reject_code=error.code,
        reject_reason=str(error),
        quarantine_state=None if earlier is not None else "held",
    )
    session.add(source)
    session.flush()
    return source
