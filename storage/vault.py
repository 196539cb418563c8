"""The storehouse: seals what Kura keeps and opens it again, checking it is unchanged.

Objects (originals, page images, quarantined files) are sealed with their own data key and
stored under an opaque id; personal field values are sealed with their document's key.
Data keys are wrapped by the current key-encryption key; a key wrapped by an earlier one
(before `kura keys rotate` re-wrapped it) is unwrapped with that one, found by its id.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from schemas.errors import Damaged, ExitCode
from schemas.i18n import _
from schemas.reasons import without_personal_detail
from storage.crypto import (
    OBJECT_CHUNK,
    DecryptionError,
    Kek,
    SealedReader,
    StreamChanged,
    new_data_key,
    open_sealed,
    open_sealed_stream,
    seal,
    seal_stream,
    sealed_size,
    unwrap,
    wrap,
)
from storage.models import Document, FieldValue, SourceFile, StoredObject, new_id
from storage.objects import Lock, ObjectStore

LOCKED_KINDS = ("original", "quarantine")
"""Objects written under the retention policy's lock: what arrived, as it arrived."""


class IntegrityError(Damaged):
    """What was read back is not what was stored."""

    code = "integrity"


class KeyUnavailable(DecryptionError):
    """The data key cannot be unwrapped: its KEK is not configured, or it was destroyed."""

    code = "key_unavailable"
    exit_code = ExitCode.unavailable


@dataclass
class Vault:
    store: ObjectStore
    kek: Kek
    """The current key-encryption key: every new data key is wrapped by it."""
    previous: tuple[Kek, ...] = ()
    """Earlier KEKs, for data keys not yet re-wrapped by `kura keys rotate`."""
    intake_lock: Callable[[], Lock] | None = None
    """The lock an original gets on arrival (storage.retention.RetentionPolicy.intake_lock);
    None: objects are written without one."""
    keyed: Callable[[str], str] | None = None
    """Keys a plaintext SHA-256 (hex) for the database (BlindIndexer.content_digest): the
    digest kept of every object and file, so the database alone confirms no content."""

    def digest(self, data: bytes) -> str:
        """The keyed digest of `data`, as the database keeps it."""
        return self.keyed_digest(hashlib.sha256(data).hexdigest())

    def keyed_digest(self, sha256_hex: str) -> str:
        if self.keyed is None:
            raise KeyUnavailable(_("no index key to key content digests with"))
        return self.keyed(sha256_hex)

    def kek_for(self, kek_id: str) -> Kek:
        if kek_id == self.kek.id:
            return self.kek
        for kek in self.previous:
            if kek.id == kek_id:
                return kek
        raise KeyUnavailable(
            _(
                "key-encryption key {value} is not available: retired, not configured, or the "
                "data key was destroyed").format(value=kek_id or _("(none)"))
        )

    def _unwrap(self, kek_id: str, wrapped: bytes, owner_id: str) -> bytes:
        if not wrapped:
            raise KeyUnavailable(_(
                "the data key of {owner_id} was destroyed (disposed)").format(owner_id=owner_id))
        return unwrap(self.kek_for(kek_id), wrapped, owner_id)

    def put_object(self, session: Session, kind: str, data: bytes | IO[bytes],
                   size: int | None = None) -> StoredObject:
        """Seal and store bytes, or a file read from its start piece by piece (hashed and
        sealed as it is read: a large original is never whole in memory). A file said to
        be `size` bytes must be exactly that long: crypto.StreamChanged if it is not, or
        cannot be read to its end."""
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        if size is None:
            size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        digest = hashlib.sha256()

        def read(want: int) -> bytes:
            try:
                piece = stream.read(want)
            except OSError as error:
                raise StreamChanged(_("cannot be read ({value})").format(
                    value=error.strerror or _("I/O error"))) from None
            digest.update(piece)
            return piece

        object_id = new_id()
        data_key = new_data_key()
        lock = (
            self.intake_lock() if self.intake_lock is not None and kind in LOCKED_KINDS else None
        )
        self.store.put_pieces(object_id, seal_stream(data_key, read, size, object_id.encode()),
                              sealed_size(size), lock)
        stored = StoredObject(
            id=object_id,
            kind=kind,
            sha256=self.keyed_digest(digest.hexdigest()),
            size=size,
            wrapped_key=wrap(self.kek, data_key, object_id),
            kek_id=self.kek.id,
            lock_mode=lock.mode if lock else None,
            retain_until=lock.retain_until if lock else None,
            legal_hold=bool(lock and lock.legal_hold),
        )
        session.add(stored)
        session.flush()  # rows that name this object by id may follow in the same flush
        return stored

    def get_object(self, stored: StoredObject) -> bytes:
        data = self._open_object(stored)
        if self.digest(data) != stored.sha256:
            raise IntegrityError(_(
                "object {id} does not match its recorded SHA-256").format(id=stored.id))
        return data

    def open_object(self, stored: StoredObject) -> BinaryIO:
        """The object as a file to read at random, opened piece by piece as it is read: a
        large original is never whole in memory (a worker drawing its pages). Each piece
        proves itself as it is opened (AES-GCM, bound to the object, its place and whether it
        is the last), which a whole-file SHA-256 could only do once everything was read;
        DecryptionError at the first piece that is not as sealed. The caller closes it."""
        data_key = self._unwrap(stored.kek_id, stored.wrapped_key, stored.id)
        sealed = self.store.open(stored.id)
        try:
            return cast(BinaryIO, SealedReader(data_key, sealed, stored.size, stored.id.encode()))
        except BaseException:
            sealed.close()
            raise

    def _open_object(self, stored: StoredObject) -> bytes:
        data_key = self._unwrap(stored.kek_id, stored.wrapped_key, stored.id)
        return open_sealed_stream(data_key, self.store.get(stored.id), stored.size,
                                  stored.id.encode())

    def rekey_digests(self, session: Session) -> int:
        """Key every readable object's digest again with this vault's index key (after a new
        one: `kura keys reindex`). The sealed bytes prove themselves (AES-GCM); disposed
        objects keep theirs, nothing can be read to recompute it. Returns how many."""
        count = 0
        for stored in session.scalars(select(StoredObject).where(
                StoredObject.wrapped_key != b"")):
            whole = hashlib.sha256()
            with self.open_object(stored) as reader:  # piece by piece: never whole in memory
                while piece := reader.read(OBJECT_CHUNK):
                    whole.update(piece)
            digest = self.keyed_digest(whole.hexdigest())
            stored.sha256 = digest
            session.execute(update(SourceFile).where(SourceFile.object_id == stored.id)
                            .values(sha256=digest))
            count += 1
        return count

    def new_document_key(self, document_id: str) -> bytes:
        """A wrapped data key for a new document's sealed field values."""
        return wrap(self.kek, new_data_key(), document_id)

    def seal_value(self, document: Document, purpose: str, value: str) -> bytes:
        key = self._unwrap(document.kek_id, document.wrapped_key, document.id)
        return seal(key, value.encode(), f"{document.id}:{purpose}".encode())

    def open_value(self, document: Document, purpose: str, sealed: bytes) -> str:
        key = self._unwrap(document.kek_id, document.wrapped_key, document.id)
        return open_sealed(key, sealed, f"{document.id}:{purpose}".encode()).decode()

    def seal_reasons(self, document: Document, field_name: str,
                     reasons: list[str]) -> tuple[list[str], bytes | None]:
        """A field's reasons as the database keeps them: in clear without a personal detail,
        and all of them sealed when one had such a detail."""
        clear = without_personal_detail(reasons)
        if clear == reasons:
            return clear, None
        text = json.dumps(reasons, ensure_ascii=False)
        return clear, self.seal_value(document, f"field:{field_name}:reasons", text)

    def open_reasons(self, document: Document, field: FieldValue) -> list[str]:
        """A field's reasons with their details, for the person who verifies it."""
        if field.reasons_sealed is None:
            return list(field.reasons)
        text = self.open_value(document, f"field:{field.name}:reasons", field.reasons_sealed)
        return [str(reason) for reason in json.loads(text)]

    def seal_for_object(self, stored: StoredObject, purpose: str, value: str) -> bytes:
        """A value derived from an object (a page's readings, from its original), sealed
        with that object's data key: it does not depend on which document it ends in."""
        key = self._unwrap(stored.kek_id, stored.wrapped_key, stored.id)
        return seal(key, value.encode(), f"{stored.id}:{purpose}".encode())

    def open_for_object(self, stored: StoredObject, purpose: str, sealed: bytes) -> str:
        key = self._unwrap(stored.kek_id, stored.wrapped_key, stored.id)
        return open_sealed(key, sealed, f"{stored.id}:{purpose}".encode()).decode()
