"""Envelope encryption: AES-256-GCM, a fresh data key per object or record, wrapped by a
key-encryption key (KEK). What is encrypted is bound to its id as associated data, so a
ciphertext moved to another object fails to decrypt."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import Damaged, Rejected, Unavailable
from schemas.i18n import _

NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
OBJECT_CHUNK = 1 << 20
"""Objects are sealed in pieces of this many bytes, so that neither sealing nor storing a
large file ever holds it whole in memory."""


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


class StreamChanged(Rejected):
    """What was being sealed did not have the size it was said to have (a file that grew
    or shrank while it was read)."""

    code = "changed_while_read"


def chunk_count(size: int) -> int:
    return max(1, -(-size // OBJECT_CHUNK))


def sealed_size(size: int) -> int:
    """The length of `size` bytes sealed by seal_stream."""
    return size + chunk_count(size) * (NONCE_BYTES + TAG_BYTES)


def _chunk_associated(associated: bytes, index: int, final: bool) -> bytes:
    return associated + struct.pack(">Q?", index, final)


def seal_stream(key: bytes, read: Callable[[int], bytes], size: int,
                associated: bytes) -> Iterator[bytes]:
    """`size` bytes given by `read`, sealed piece by piece. One piece is sealed exactly as
    `seal` does (objects sealed before pieces existed read the same); more are each bound to
    their place and to whether they are the last, so no piece can be moved, dropped or added
    unnoticed. StreamChanged when `read` gives more or fewer bytes than `size`."""
    count = chunk_count(size)
    for index in range(count):
        want = min(OBJECT_CHUNK, size - index * OBJECT_CHUNK)
        piece = read(want)
        if len(piece) != want:
            raise StreamChanged(_(
                "expected {size:,} bytes, the stream ended early").format(size=size))
        final = index == count - 1
        yield seal(key, piece, associated if count == 1 else
                   _chunk_associated(associated, index, final))
    if read(1):
        raise StreamChanged(_("expected {size:,} bytes, the stream went on").format(size=size))


def open_sealed_stream(key: bytes, sealed: bytes, size: int, associated: bytes) -> bytes:
    """What seal_stream sealed (or `seal`, for one piece); DecryptionError on any change."""
    if len(sealed) == size + NONCE_BYTES + TAG_BYTES:
        return open_sealed(key, sealed, associated)
    if len(sealed) != sealed_size(size):
        raise DecryptionError(_("decryption failed: the sealed object has the wrong length"))
    count, step = chunk_count(size), OBJECT_CHUNK + NONCE_BYTES + TAG_BYTES
    return b"".join(
        open_sealed(key, sealed[index * step:(index + 1) * step],
                    _chunk_associated(associated, index, index == count - 1))
        for index in range(count)
    )


class SealedReader(io.RawIOBase):
    """What seal_stream sealed, read as a file: seekable, each piece opened only when a read
    reaches it (and the last few kept), so a 200 MB original is never whole in memory. Each
    piece is authenticated on its own and bound to its place and to whether it is the last:
    a piece changed, moved, dropped or added fails with DecryptionError when read.
    `sealed` (seekable) is closed with the reader."""

    KEPT = 4
    """Pieces kept opened: a PDF reader goes back and forth between its cross-reference
    table at the end and the objects it names."""

    def __init__(self, key: bytes, sealed: BinaryIO, size: int, associated: bytes) -> None:
        super().__init__()
        self.key, self.sealed, self.size, self.associated = key, sealed, size, associated
        self.count = chunk_count(size)
        self.position = 0
        self.kept: dict[int, bytes] = {}
        length = sealed.seek(0, io.SEEK_END)
        self.whole: bytes | None = None
        if length == size + NONCE_BYTES + TAG_BYTES and self.count > 1:
            # sealed in one piece before pieces existed: it can only be opened whole
            sealed.seek(0)
            self.whole = open_sealed(key, sealed.read(), associated)
        elif length != sealed_size(size):
            raise DecryptionError(_(
                "decryption failed: the sealed object has the wrong length"))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.position = base + offset
        return self.position

    def _piece(self, index: int) -> bytes:
        if self.whole is not None:
            return self.whole[index * OBJECT_CHUNK:(index + 1) * OBJECT_CHUNK]
        piece = self.kept.get(index)
        if piece is None:
            step = OBJECT_CHUNK + NONCE_BYTES + TAG_BYTES
            self.sealed.seek(index * step)
            final = index == self.count - 1
            piece = open_sealed(self.key, self.sealed.read(step), self.associated
                                if self.count == 1 else
                                _chunk_associated(self.associated, index, final))
            if len(self.kept) >= self.KEPT:
                del self.kept[next(iter(self.kept))]  # the oldest opened
            self.kept[index] = piece
        return piece

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """As much as `buffer` holds, across pieces (readers of images take a short read
        for the end of the file)."""
        done = 0
        while done < len(buffer) and self.position < self.size:
            index, within = divmod(self.position, OBJECT_CHUNK)
            taken = self._piece(index)[within:within + len(buffer) - done]
            buffer[done:done + len(taken)] = taken
            self.position += len(taken)
            done += len(taken)
        return done

    def close(self) -> None:
        if not self.closed:
            self.sealed.close()
            self.kept.clear()
        super().close()


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
