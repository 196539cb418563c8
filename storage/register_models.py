"""The register's own tables: 受付処理簿 entries, 進達 batches (with their media-ledger
columns), the rows of a 処理結果一覧表 and what 突合 made of them.

Nothing here holds a personal value in clear: a list row's cells are sealed with the list
document's data key, and the values reconciliation compares are blind-index digests.
"""

from __future__ import annotations

import datetime as dt

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
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, new_id, utcnow

STAGES = ("received", "verified", "forwarded", "result_received", "filed")
"""The life of a register entry, in order (a move never goes back)."""


class RegisterEntry(Base):
    """One line of the 受付処理簿: a document the office received, or a result of something
    filed directly at 日本年金機構 (origin jps_direct: no document of ours)."""

    __tablename__ = "register_entry"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("document.id"), unique=True)
    origin: Mapped[str] = mapped_column(String(12), default="office")
    """office | jps_direct"""
    municipality: Mapped[str] = mapped_column(String(6), default="000000", index=True)
    """Whose 受付処理簿 it is a line of (its document's municipality, or the list's for a
    result filed directly at 日本年金機構): each office sees, forwards and reconciles its own."""
    route: Mapped[str] = mapped_column(String(10), default="")
    """counter (窓口) | mail (郵送) | '' (not said yet)"""
    scanned_via: Mapped[str] = mapped_column(String(20), default="")
    """How the paper became a scan: the intake channel (cli | upload | hot_folder)."""
    office: Mapped[str] = mapped_column(String(60), default="")
    form_id: Mapped[str] = mapped_column(String(60), default="")
    notification_type: Mapped[str] = mapped_column(String(40), default="")
    """The 届書区分 as 日本年金機構's lists print it (資格取得, 免除申請 …)."""
    forward_only: Mapped[bool] = mapped_column(Boolean, default=False)
    identity_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """A forward-only item's name kana and birth date as the clerk keyed them at the counter
    (its form does not carry them), canonical JSON sealed with the document's key: 突合
    confirms a list row by them as it does by a form's fields (storage/register.py)."""
    identity_digests: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """Their blind-index digests (name_kana, birth_date), keyed with `identity_key_id`."""
    identity_key_id: Mapped[str | None] = mapped_column(String(16))
    identified_by: Mapped[str | None] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20), default="received", index=True)
    received_date: Mapped[dt.date] = mapped_column(Date)
    transmittal_id: Mapped[str | None] = mapped_column(ForeignKey("transmittal.id"), index=True)
    forwarded_on: Mapped[dt.date | None] = mapped_column(Date)
    list_row_id: Mapped[str | None] = mapped_column(ForeignKey("list_row.id"))
    result: Mapped[str] = mapped_column(String(20), default="")
    """処理結果 as printed (処理済, 承認, 却下, 返戻 …)."""
    result_on: Mapped[dt.date | None] = mapped_column(Date)
    filed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Transmittal(Base):
    """A 進達 batch, and its line in the 記録媒体管理台帳 (media ledger, control 40): who
    prepared it, who checked and released it, when, why, how many items, the archive's
    SHA-256, and the 書留番号 once it is posted."""

    __tablename__ = "transmittal"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    """e.g. S20261129-001"""
    status: Mapped[str] = mapped_column(String(12), default="prepared", index=True)
    """prepared | released"""
    addressee: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(120))
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    prepared_by: Mapped[str] = mapped_column(String(40))
    prepared_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(40))
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    archive_object_id: Mapped[str | None] = mapped_column(ForeignKey("stored_object.id"))
    """The encrypted ZIP as it left, sealed again in the store (its password is not kept)."""
    archive_sha256: Mapped[str | None] = mapped_column(String(64))
    registered_mail_number: Mapped[str | None] = mapped_column(String(30))
    registered_mail_by: Mapped[str | None] = mapped_column(String(40))
    mail_receipt_object_id: Mapped[str | None] = mapped_column(ForeignKey("stored_object.id"))
    """The scan of the 書留の差出票, locked for its own retention (3 years, control 45)."""


class ListRow(Base):
    """One printed row of a 処理結果一覧表 (a document of form shori_kekka_ichiranhyo)."""

    __tablename__ = "list_row"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    """Printed order in the list, 0-based."""
    page_number: Mapped[int] = mapped_column(Integer)
    """The file page it is printed on."""
    box: Mapped[list[int] | None] = mapped_column(JSON)
    """Where the row is on its page (the union of its cells), scan pixels."""
    cells_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """Canonical JSON {column: {value, confidence, status, reasons}}, sealed."""
    review: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Columns whose cell the reader was unsure of (names only)."""
    digests: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """Blind-index digests of basic_pension_number, name_kana, birth_date."""
    outcome: Mapped[str | None] = mapped_column(String(30), index=True)
    """After 突合: matched | matched_with_differences | result_without_entry | ambiguous |
    other_municipality | unreadable"""
    entry_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """The register entry it settles (no foreign key: the entry names its row too)."""
    differences: Mapped[list[str]] = mapped_column(JSON, default=list)
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list)
    """受付番号 of the entries considered (ambiguous and unconfirmed rows)."""
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    """A row with differences a person accepted, to be recorded at confirmation."""


class Reconciliation(Base):
    """One 突合 of one list: who ran it, who confirmed it (never the same person, nor one
    who entered an item it settles), and when."""

    __tablename__ = "reconciliation"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="reconciled", index=True)
    """reconciled | confirmed"""
    municipality_code: Mapped[str] = mapped_column(String(6))
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    overdue: Mapped[list[str]] = mapped_column(JSON, default=list)
    """受付番号 forwarded more than the setting's days ago and still without a result."""
    run_by: Mapped[str] = mapped_column(String(40))
    run_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    confirmed_by: Mapped[str | None] = mapped_column(String(40))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
