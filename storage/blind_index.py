"""Blind indexes: exact-match search without any value in clear.

HMAC-SHA256, keyed with a key of its own (never a KEK), over the normalised value of
基礎年金番号, 個人番号, name kana and birth date: equal values give equal digests, so
``find_documents`` finds exact matches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from schemas.i18n import _
from schemas.normalise import ERA_BY_MARK, to_katakana
from schemas.settings import Settings
from storage.custody import UnsearchableField
from storage.keys import Keyring, decode_key, embedded_key, index_key_file, load_keyring
from storage.models import BlindIndex, Document
from storage.vault import Vault

INDEXED_FIELDS: dict[str, str] = {
    "basic_pension_number": "digits",
    "my_number": "digits",
    "name_kana": "kana",
    "birth_date": "date",
}
"""Field name → how its value is normalised before it is indexed."""

FIELD_ALIASES: dict[str, str] = {
    "bpn": "basic_pension_number",
    "pension_number": "basic_pension_number",
    "基礎年金番号": "basic_pension_number",
    "個人番号": "my_number",
    "mynumber": "my_number",
    "kana": "name_kana",
    "フリガナ": "name_kana",
    "氏名フリガナ": "name_kana",
    "birth": "birth_date",
    "生年月日": "birth_date",
}

def index_field(name: str) -> str:
    field_name = FIELD_ALIASES.get(name, name)
    if field_name not in INDEXED_FIELDS:
        raise UnsearchableField(
            _(
                "no blind index on {name}: searchable are {value}").format(
                    name=name, value=', '.join(INDEXED_FIELDS))
        )
    return field_name


def normalise_for_index(field_name: str, value: str) -> str:
    """The canonical form a value is indexed (and searched) under; '' when unusable."""
    text_value = unicodedata.normalize("NFKC", value).strip()
    kind = INDEXED_FIELDS[index_field(field_name)]
    if kind == "digits":
        return re.sub(r"\D", "", text_value)
    if kind == "kana":
        return to_katakana(text_value)
    return _normalise_date(text_value)


def _normalise_date(text_value: str) -> str:
    """ISO date from 1965-01-02, 1965/1/2, 19650102, S40.1.2, 昭和40年1月2日 or the form's
    7-digit code (era digit + YYMMDD); '' when it is not a date."""
    parts = [
        p
        for p in re.split(
            r"[^0-9A-Z明治大正昭和平成令和]+|(?<=[A-Z])(?=\d)|"
            r"(?<=[治正和成])(?=\d)",
            text_value.upper(),
        )
        if p
    ]
    try:
        if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) == 8:
            day = dt.date(int(parts[0][:4]), int(parts[0][4:6]), int(parts[0][6:]))
        elif len(parts) == 1 and parts[0].isdigit() and len(parts[0]) == 7:
            era, code = ERA_BY_MARK[parts[0][0]].start.year, parts[0]
            day = dt.date(era + int(code[1:3]) - 1, int(code[3:5]), int(code[5:]))
        elif len(parts) == 3 and all(p.isdigit() for p in parts):
            day = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
        elif len(parts) == 4 and parts[0] in ERA_BY_MARK and all(p.isdigit() for p in parts[1:]):
            year = ERA_BY_MARK[parts[0]].start.year + int(parts[1]) - 1
            day = dt.date(year, int(parts[2]), int(parts[3]))
        else:
            return ""
    except (ValueError, KeyError):
        return ""
    return day.isoformat()


@dataclass(frozen=True)
class BlindIndexer:
    key: bytes = field(repr=False)

    @property
    def id(self) -> str:
        return hashlib.sha256(b"kura-index-id" + self.key).hexdigest()[:16]

    def digest(self, field_name: str, value: str) -> str | None:
        field_name = index_field(field_name)
        normalised = normalise_for_index(field_name, value)
        if not normalised:
            return None
        message = f"kura-blind-index/v1/{field_name}/{normalised}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def content_digest(self, sha256_hex: str) -> str:
        """What the database keeps of an original's SHA-256: keyed with the index key, so the
        database alone cannot confirm that a file someone holds is in Kura."""
        message = b"kura-content-sha256/v1/" + bytes.fromhex(sha256_hex)
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def index_document(
        self, session: Session, document: Document, values: Mapping[str, str]
    ) -> int:
        """Replace the document's blind indexes with those of ``values`` (clear values of
        its fields, as saved). Call again whenever a verifier changes an indexed field."""
        session.execute(delete(BlindIndex).where(BlindIndex.document_id == document.id))
        written = 0
        for name, value in values.items():
            if name not in INDEXED_FIELDS:
                continue
            digest = self.digest(name, value)
            if digest:
                session.add(
                    BlindIndex(document_id=document.id, field=name, digest=digest, key_id=self.id)
                )
                written += 1
        return written


def load_indexer(settings: Settings, keyring: Keyring | None = None) -> BlindIndexer:
    key = (
        decode_key(settings.index_key, "KURA_INDEX_KEY")
        if settings.index_key
        else embedded_key(settings, index_key_file)
    )
    keyring = keyring or load_keyring(settings)
    if any(hmac.compare_digest(key, kek.key) for kek in (keyring.current, *keyring.previous)):
        raise ValueError("KURA_INDEX_KEY must not be a key-encryption key: use a key of its own")
    return BlindIndexer(key)


def find_documents(
    session: Session, indexer: BlindIndexer, field_name: str, value: str
) -> list[Document]:
    """Documents whose ``field_name`` has exactly ``value`` (after normalisation)."""
    field_name = index_field(field_name)
    digest = indexer.digest(field_name, value)
    if digest is None:
        return []
    return list(
        session.scalars(
            select(Document)
            .join(BlindIndex, BlindIndex.document_id == Document.id)
            .where(
                BlindIndex.field == field_name,
                BlindIndex.digest == digest,
                BlindIndex.key_id == indexer.id,
            )
            .order_by(Document.receipt_number)
        )
    )


def reindex_all(session: Session, vault: Vault, indexer: BlindIndexer) -> int:
    """Recompute every blind index (after a new index key): opens the sealed values. The
    keyed digests of the objects are keyed again too (the vault keys with the new key)."""
    vault.rekey_digests(session)
    count = 0
    documents = session.scalars(select(Document).where(Document.wrapped_key != b""))
    for document in documents:
        values = {
            f.name: vault.open_value(document, f"field:{f.name}:value", f.value_sealed)
            for f in document.fields
            if f.name in INDEXED_FIELDS
        }
        count += indexer.index_document(session, document, values)
    return count


