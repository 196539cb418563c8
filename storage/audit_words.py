"""A person's words in the audit log, sealed: every purpose, note and reason typed by a
person is encrypted under a key of its own before it enters the chain.

The chain hashes the ciphertext, so erasing the words (a disclosure request, a disposal)
deletes only their key: the entry, its hash and every checkpoint stay intact, and the log
stays searchable by person, record, action and time, which are not sealed. In an entry the
words read ``sealed:<words id>:<base64 nonce + ciphertext>``.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import DateTime, LargeBinary, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.audit import SEALED, AuditEntry, AuditObject
from storage.crypto import new_data_key, open_sealed, seal, unwrap, wrap
from storage.logmask import mask_numbers
from storage.models import Base, new_id, utcnow
from storage.vault import Vault

ERASED = "(erased)"
FREE_TEXT = frozenset({"reason", "note", "why", "purpose", "notes"})
"""Keys of an entry's detail whose values are a person's own words."""


class AuditWords(Base):
    """The wrapped key of one sealed piece of text; deleting the row erases the words."""

    __tablename__ = "audit_words"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(16), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _associated(words_id: str) -> bytes:
    return b"audit-words:" + words_id.encode()


def seal_words(session: Session, vault: Vault, text: str) -> str:
    words_id = new_id()
    key = new_data_key()
    session.add(AuditWords(id=words_id, kek_id=vault.kek.id,
                           wrapped_key=wrap(vault.kek, key, words_id)))
    sealed = seal(key, mask_numbers(text).encode(), _associated(words_id))
    return f"{SEALED}{words_id}:{base64.b64encode(sealed).decode()}"


def seal_detail(session: Session, vault: Vault,
                detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """`detail` with the person's words among its values sealed."""
    if not detail:
        return detail
    return {key: seal_words(session, vault, value)
            if key in FREE_TEXT and isinstance(value, str) and value else value
            for key, value in detail.items()}


def open_words(session: Session, vault: Vault, value: Any) -> Any:
    """The words as typed; `(erased)` once their key is gone; anything else unchanged."""
    if not isinstance(value, str) or not value.startswith(SEALED):
        return value
    words_id, _, blob = value.removeprefix(SEALED).partition(":")
    row = session.get(AuditWords, words_id)
    if row is None:
        return ERASED
    key = unwrap(vault.kek_for(row.kek_id), row.wrapped_key, words_id)
    return open_sealed(key, base64.b64decode(blob), _associated(words_id)).decode()


def open_entry(session: Session, vault: Vault, row: dict[str, Any]) -> dict[str, Any]:
    """An entry as people read it (`storage.audit_reports.as_row`), its words opened."""
    opened = dict(row, purpose=open_words(session, vault, row.get("purpose")))
    if isinstance(row.get("detail"), dict):
        opened["detail"] = {k: open_words(session, vault, v) for k, v in row["detail"].items()}
    return opened


def words_ids(values: Iterable[Any]) -> set[str]:
    """The ids of the sealed words among `values` (purposes and detail values)."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, dict):
            found |= words_ids(value.values())
        elif isinstance(value, str) and value.startswith(SEALED):
            found.add(value.removeprefix(SEALED).partition(":")[0])
    return found


def erase_words(session: Session, ids: Iterable[str]) -> int:
    """Delete the keys of these words: the text can never be read again."""
    found = list(session.scalars(select(AuditWords.id).where(AuditWords.id.in_(list(ids)))))
    if found:
        session.execute(delete(AuditWords).where(AuditWords.id.in_(found)))
    return len(found)


def erase_words_about(session: Session, object_ids: Iterable[str]) -> int:
    """Erase the words of every entry about these objects (documents, files, pages)."""
    about = select(AuditObject.seq).where(AuditObject.object_id.in_(list(object_ids)))
    entries = session.scalars(select(AuditEntry).where(AuditEntry.seq.in_(about)))
    return erase_words(session, words_ids(v for e in entries for v in (e.purpose, e.detail)))


def words_wrapped_by(session: Session, kek_id: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditWords)
                          .where(AuditWords.kek_id == kek_id)) or 0
