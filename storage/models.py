"""The database: batches, files, 受付 entries (documents), pages, field values, objects.

Personal values (what was read from a field) are stored sealed with the document's own data
key; the rest is bookkeeping that names nobody.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    Session,
    mapped_column,
    relationship,
)

from schemas.normalise import dated_number, dated_prefix


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def next_dated_number(
    session: Session, column: InstrumentedAttribute[str], letter: str, day: dt.date, width: int
) -> str:
    """The next number of the day in `column` (disposal request D20261129-001): one more
    than those already issued that day. 受付番号, taken by intakes running at once, come from
    a locked counter instead (storage.intake.next_receipt_number)."""
    issued = (
        session.scalar(
            select(func.count()).where(column.like(f"{dated_prefix(letter, day)}%"))
        )
        or 0
    )
    return dated_number(letter, day, issued, width)


class Base(DeclarativeBase):
    pass


class StoredObject(Base):
    """One sealed blob in the object store; its data key is wrapped here, not beside it."""

    __tablename__ = "stored_object"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    """original | page_image | quarantine"""
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    """Of the plaintext; checked on every read."""
    size: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lock_mode: Mapped[str | None] = mapped_column(String(12))
    """S3 Object Lock mode of the retention below: GOVERNANCE | COMPLIANCE."""
    retain_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """The store refuses to delete the object before this moment."""
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    """The store refuses to delete the object while this is on (indefinite keep, or a hold)."""
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """Set by disposal: the data key is gone (cryptographic erase)."""
    store_removed: Mapped[bool] = mapped_column(Boolean, default=False)
    """Set by disposal once every version of the sealed bytes was removed from the store."""


class Batch(Base):
    __tablename__ = "batch"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(20))
    """cli | upload | hot_folder"""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    files: Mapped[list[SourceFile]] = relationship(back_populates="batch",
                                                   order_by="SourceFile.position")


class SourceFile(Base):
    """One file as it arrived; rejected files stay here too, in quarantine, with the reason."""

    __tablename__ = "source_file"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    object_id: Mapped[str] = mapped_column(ForeignKey("stored_object.id"))
    status: Mapped[str] = mapped_column(String(20), default="processing")
    """processing | done | rejected"""
    reject_code: Mapped[str | None] = mapped_column(String(40))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    """What the file carries besides its pages (pdf_scripts, pdf_attachments): it is kept as
    the original and only its page images are shown."""
    # --- quarantine (storage/usecases/quarantine.py), for a rejected file ---
    times_received: Mapped[int] = mapped_column(Integer, default=1)
    """How often this rejected file arrived: a duplicate of it is counted, not sealed again."""
    quarantine_state: Mapped[str | None] = mapped_column(String(20), index=True)
    """held | released | disposal_requested | disposed (None: not quarantined)"""
    quarantine_note: Mapped[str | None] = mapped_column(Text)
    """Why it was released or is to be disposed of, as the records manager said."""
    quarantine_requested_by: Mapped[str | None] = mapped_column(String(64))
    quarantine_decided_by: Mapped[str | None] = mapped_column(String(64))
    quarantine_decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    batch: Mapped[Batch] = relationship(back_populates="files")
    pages: Mapped[list[Page]] = relationship(back_populates="source_file",
                                             order_by="Page.number")


class Document(Base):
    """A 受付 entry: one filed form, from one or more pages of one file."""

    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("municipality", "receipt_number",
                                       name="uq_document_municipality_receipt"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    municipality: Mapped[str] = mapped_column(String(6), default="000000")
    """The 自治体コード whose 受付処理簿 the number belongs to (settings.municipality_code of
    the intake): offices sharing one installation each count their own numbers."""
    receipt_number: Mapped[str] = mapped_column(String(20), index=True)
    """受付番号, e.g. R20261122-000123: unique within its municipality (storage/receipts.py
    finds a document by it and asks which municipality when two hold the same)."""
    received_date: Mapped[dt.date] = mapped_column()
    channel: Mapped[str] = mapped_column(String(20))
    source_file_id: Mapped[str] = mapped_column(ForeignKey("source_file.id"), index=True)
    form_id: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="processing", index=True)
    """processing | review | ready (no field for review) | verified | disposed"""
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retain_until: Mapped[dt.date | None] = mapped_column(Date)
    """End of the retention period of the document's class; None = keep indefinitely."""
    disposed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disposal_id: Mapped[str | None] = mapped_column(String(32))
    pages: Mapped[list[Page]] = relationship(back_populates="document", order_by="Page.number")
    fields: Mapped[list[FieldValue]] = relationship(back_populates="document",
                                                    order_by="FieldValue.position",
                                                    cascade="all, delete-orphan")


class Page(Base):
    __tablename__ = "page"
    __table_args__ = (UniqueConstraint("source_file_id", "number"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source_file_id: Mapped[str] = mapped_column(ForeignKey("source_file.id"), index=True)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("document.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending | done | failed"""
    kind: Mapped[str | None] = mapped_column(String(20))
    """form | blank | unknown"""
    form_id: Mapped[str | None] = mapped_column(String(60))
    form_page: Mapped[int | None] = mapped_column(Integer)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    residual_px: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    image_object_id: Mapped[str | None] = mapped_column(ForeignKey("stored_object.id"))
    result_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The page's field readings, sealed, until the document is assembled."""
    seconds: Mapped[float | None] = mapped_column(Float)
    queued_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """When the page was last sent to a worker or started; the sweeper sends again a page
    left pending long after this."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Times a worker started reading the page; past a limit it fails for good."""
    set_aside_state: Mapped[str | None] = mapped_column(String(20))
    """A failed page's course in the quarantine room (storage/usecases/quarantine.py): None
    (set aside, or never was) | reread (sent again after its file was assembled: assembled
    on its own once read) | disposal_requested | disposed."""
    set_aside_note: Mapped[str | None] = mapped_column(Text)
    set_aside_requested_by: Mapped[str | None] = mapped_column(String(64))
    set_aside_decided_by: Mapped[str | None] = mapped_column(String(64))
    set_aside_decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    source_file: Mapped[SourceFile] = relationship(back_populates="pages")
    document: Mapped[Document | None] = relationship(back_populates="pages")


class ReceiptCounter(Base):
    """The last 受付番号 given per municipality and fiscal year, locked while it is moved on so
    two intakes at once never take the same number (a row lock on PostgreSQL, the database's
    write lock on SQLite)."""

    __tablename__ = "receipt_counter"
    municipality: Mapped[str] = mapped_column(String(6), primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class FieldValue(Base):
    __tablename__ = "field_value"
    __table_args__ = (UniqueConstraint("document_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(60))
    field_type: Mapped[str] = mapped_column(String(20))
    value_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    raw_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))
    """accepted | review"""
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Why it waits, without a detail that is a character of the person's writing
    (schemas.reasons.PERSONAL_DETAIL): those are in `reasons_sealed`."""
    reasons_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Every reason with its detail (JSON), sealed with the document's key; None when no
    detail is personal (Vault.seal_reasons)."""
    engine: Mapped[str] = mapped_column(String(20))
    box: Mapped[list[int] | None] = mapped_column(JSON)
    page_number: Mapped[int | None] = mapped_column(Integer)
    document: Mapped[Document] = relationship(back_populates="fields")


class StageLatency(Base):
    """How long the pages' stages took, as the buckets of a Prometheus histogram: one row
    per stage and upper bound (seconds; +Inf last), counted by every worker in the page's
    own transaction (workers/metrics.py)."""

    __tablename__ = "stage_latency"
    stage: Mapped[str] = mapped_column(String(30), primary_key=True)
    le: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    total_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    """Only on the +Inf row: the sum of every observation."""


# --- Custody: keys, blind indexes, legal holds, disposal (storage/custody.py) -------------


class KeyRecord(Base):
    """A key Kura has used, by id (never the key itself): its purpose and life."""

    __tablename__ = "key_record"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10))
    """kek | index"""
    state: Mapped[str] = mapped_column(String(10))
    """current | previous | retired"""
    first_used_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retired_by: Mapped[str | None] = mapped_column(String(64))


class BlindIndex(Base):
    """Keyed HMAC of one normalised personal value, for exact-match search without the value."""

    __tablename__ = "blind_index"
    __table_args__ = (UniqueConstraint("document_id", "field"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[str] = mapped_column(String(16))


class LegalHold(Base):
    """A hold on one document: nothing of it may be disposed of until it is released."""

    __tablename__ = "legal_hold"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(Text)


class DisposalRequest(Base):
    """Disposal by two people: one requests (documents + reason), another approves."""

    __tablename__ = "disposal_request"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    """e.g. D20261122-001"""
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="requested", index=True)
    """requested | rejected | done"""
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    certificate: Mapped[str | None] = mapped_column(Text)
    """The disposal certificate, canonical JSON (ids and checksums, no personal values)."""
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    items: Mapped[list[DisposalItem]] = relationship(back_populates="request",
                                                     order_by="DisposalItem.receipt_number")


class DisposalItem(Base):
    __tablename__ = "disposal_item"
    __table_args__ = (UniqueConstraint("request_id", "document_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("disposal_request.id"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    receipt_number: Mapped[str] = mapped_column(String(20))
    request: Mapped[DisposalRequest] = relationship(back_populates="items")


# --- Verification: every value a field ever had, and who said so (storage/usecases/verification.py)


class VerificationEvent(Base):
    """One step in the life of a field or a document under verification. Nothing is ever
    updated or deleted here: the machine reading, each correction, each blind entry, each
    acceptance, confirmation or return, and each 疑義 and its decision are rows of their own."""

    __tablename__ = "verification_event"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    field_id: Mapped[str | None] = mapped_column(ForeignKey("field_value.id"), index=True)
    """None for steps of the whole document (疑義, decision, rescan, verified)."""
    kind: Mapped[str] = mapped_column(String(20))
    """read | correct | accept | key | confirm | return | investigate | decide | rescan |
    verified"""
    value_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The value this step proposes or settles, sealed with the document's key."""
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Why (free text may name a person, so it is sealed too)."""
    reason: Mapped[str | None] = mapped_column(String(40))
    """A code for why: misread, wrong_on_paper, … (no personal data)."""
    answers: Mapped[str | None] = mapped_column(String(32))
    """The event a confirmation or return settles."""
    by: Mapped[str] = mapped_column(String(40))
    duty: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


# --- The admin room: second factors and the monthly access review (storage/usecases/access.py)


class SecondFactor(Base):
    """A person's TOTP secret (RFC 6238), wrapped by the KEK like a data key."""

    __tablename__ = "second_factor"
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), primary_key=True)
    wrapped_secret: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """Set when the first code was typed right; until then the secret is only offered."""
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    """The 30-second step of the last code used: a code is good once (no replay)."""


class AccessReview(Base):
    """One month's access review (control 12), signed off by the security administrator:
    every account, its duties, last sign-in, dormant ones flagged. Kept as it was signed."""

    __tablename__ = "access_review"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    month: Mapped[str] = mapped_column(String(7), unique=True)
    """YYYY-MM"""
    content: Mapped[str] = mapped_column(Text)
    """Canonical JSON of the accounts as reviewed (user names and duties, no personal data)."""
    sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    signed_by: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- What the rooms remember between requests, in the database so that every web process and
# every restart sees the same (storage/usecases/sessions.py, records.py)


class SignInAttempt(Base):
    """One sign-in attempt from one client address (kept as a SHA-256, never the address):
    how the rate limit counts attempts across processes. Rows older than a minute go."""

    __tablename__ = "sign_in_attempt"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_sha256: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class OriginalGrant(Base):
    """An original opened in the records room for a stated purpose: for a while, the session
    that opened it may fetch its pages, each view recorded under that purpose."""

    __tablename__ = "original_grant"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_sha256: Mapped[str] = mapped_column(String(64), index=True)
    """The session's token digest (the session that stated the purpose)."""
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    purpose_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """The purpose as stated (free text: sealed with the document's key)."""
    until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
