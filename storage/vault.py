"""The storehouse: seals what Kura keeps and opens it again, checking it is unchanged.

Objects (originals, page images, quarantined files) are sealed with their own data key and
stored under an opaque id; personal field values are sealed with their document's key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from storage.crypto import Kek, new_data_key, open_sealed, seal, unwrap, wrap
from storage.models import Document, StoredObject, new_id
from storage.objects import ObjectStore


class IntegrityError(Exception):
    """What was read back is not what was stored."""


@dataclass
class Vault:
    store: ObjectStore
    kek: Kek

    def put_object(self, session: Session, kind: str, data: bytes) -> StoredObject:
        object_id = new_id()
        data_key = new_data_key()
        self.store.put(object_id, seal(data_key, data, object_id.encode()))
        stored = StoredObject(
            id=object_id, kind=kind, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
            wrapped_key=wrap(self.kek, data_key, object_id), kek_id=self.kek.id,
        )
        session.add(stored)
        return stored

    def get_object(self, stored: StoredObject) -> bytes:
        data_key = unwrap(self.kek, stored.wrapped_key, stored.id)
        data = open_sealed(data_key, self.store.get(stored.id), stored.id.encode())
        if hashlib.sha256(data).hexdigest() != stored.sha256:
            raise IntegrityError(f"object {stored.id} does not match its recorded SHA-256")
        return data

    def new_document_key(self, document_id: str) -> bytes:
        """A wrapped data key for a new document's sealed field values."""
        return wrap(self.kek, new_data_key(), document_id)

    def seal_value(self, document: Document, purpose: str, value: str) -> bytes:
        key = unwrap(self.kek, document.wrapped_key, document.id)
        return seal(key, value.encode(), f"{document.id}:{purpose}".encode())

    def open_value(self, document: Document, purpose: str, sealed: bytes) -> str:
        key = unwrap(self.kek, document.wrapped_key, document.id)
        return open_sealed(key, sealed, f"{document.id}:{purpose}".encode()).decode()
