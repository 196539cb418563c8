"""A file arriving over the network (an upload to the intake desk), held until it is taken in.

It is sealed piece by piece as it comes, under a key that lives only in this process, into
a temporary file that has no name: nothing of it touches the disk in clear, no more than a
piece of it is in memory, and once the process lets go of it (or dies) what is left on the
disk can never be read. It is read back as a seekable file, because the intake chain reads
a file more than once (hashed, checked, then sealed into the store)."""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path
from typing import BinaryIO

from storage.crypto import NONCE_BYTES, OBJECT_CHUNK, TAG_BYTES, new_data_key, open_sealed, seal

PIECE = OBJECT_CHUNK
SEALED_PIECE = PIECE + NONCE_BYTES + TAG_BYTES


class Spool:
    """Written in pieces of any length (`write`), then `received()` once: the file, open.
    `close()` throws away what was written (a file refused half way)."""

    def __init__(self, folder: Path | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed by its reader)
        self._key = new_data_key()
        self._waiting = bytearray()
        self._digest = hashlib.sha256()
        self._pieces = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self._digest.update(data)
        self.size += len(data)
        self._waiting += data
        while len(self._waiting) >= PIECE:
            self._seal(bytes(self._waiting[:PIECE]))
            del self._waiting[:PIECE]

    def received(self) -> tuple[BinaryIO, str]:
        """The whole file, open at its start, and its SHA-256 (hex)."""
        if self._waiting:
            self._seal(bytes(self._waiting))
            self._waiting.clear()
        self._file.flush()
        reader = io.BufferedReader(_SealedPieces(self._file, self._key, self.size), PIECE)
        return reader, self._digest.hexdigest()

    def close(self) -> None:
        self._file.close()

    def _seal(self, piece: bytes) -> None:
        self._file.write(seal(self._key, piece, _place(self._pieces)))
        self._pieces += 1


def _place(index: int) -> bytes:
    """Each piece is bound to its place: none can be moved or swapped unnoticed."""
    return b"spool:" + index.to_bytes(8, "big")


class _SealedPieces(io.RawIOBase):
    """The spool read back: each piece opened when a read reaches it, one kept at a time."""

    def __init__(self, file: BinaryIO, key: bytes, size: int) -> None:
        self._file, self._key, self._size = file, key, size
        self._position = 0
        self._index = -1
        self._piece = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, start + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._position >= self._size:
            return 0
        index, within = divmod(self._position, PIECE)
        if index != self._index:
            self._file.seek(index * SEALED_PIECE)
            self._piece = open_sealed(self._key, self._file.read(SEALED_PIECE), _place(index))
            self._index = index
        count = min(len(buffer), len(self._piece) - within)
        memoryview(buffer)[:count] = self._piece[within:within + count]
        self._position += count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()
