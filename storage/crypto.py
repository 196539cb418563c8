"""Envelope encryption: AES-256-GCM, a fresh data key per object or record, wrapped by a
key-encryption key (KEK). What is encrypted is bound to its id as associated data, so a
ciphertext moved to another object fails to decrypt."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import Damaged, Unavailable
from schemas.i18n import _

NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionError(Damaged):
    """Ciphertext, key or associated data do not match; nothing is returned."""

    code = "decryption_failed"


@dataclass(frozen=True)
class Kek:
    id: str
    key: bytes

    @classmethod
    def from_base64(cls, text: str) -> Kek:
        key = base64.b64decode(text.strip())
        if len(key) != KEY_BYTES:
            raise ValueError("KURA_KEK must be 32 bytes, base64 encoded")
        return cls(hashlib.sha256(b"kura-kek-id" + key).hexdigest()[:16], key)

    @classmethod
    def generate(cls) -> Kek:
        return cls.from_base64(base64.b64encode(os.urandom(KEY_BYTES)).decode())

    def to_base64(self) -> str:
        return base64.b64encode(self.key).decode()


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except (InvalidTag, ValueError):
        raise DecryptionError(_("decryption failed: wrong key or tampered data")) from None


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(kek: Kek, data_key: bytes, owner_id: str) -> bytes:
    return seal(kek.key, data_key, b"wrap:" + owner_id.encode())


def unwrap(kek: Kek, wrapped: bytes, owner_id: str) -> bytes:
    return open_sealed(kek.key, wrapped, b"wrap:" + owner_id.encode())


class MissingKey(Unavailable):
    """A key Kura needs is not where it was looked for. Never answered with a new key: data
    sealed under the lost one would be unreadable and new data sealed under another."""

    code = "missing_key"


def key_file_text(path: Path) -> str:
    """The base64 key kept in `path`."""
    try:
        return path.read_text()
    except FileNotFoundError:
        raise MissingKey(
            _("no key at {path}").format(path=path),
            hint=_(
                "restore the key folder from its backup (KURA_KEY_DIR), or configure the key; "
                "only a new installation gets new keys (`kura keys init`)"),
        ) from None
