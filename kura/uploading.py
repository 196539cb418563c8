"""`kura ingest` through the server: its files go as one multipart body, streamed.

Each file is opened here as `kura ingest` opens it beside the keys (no symbolic link
followed, nothing but a regular file, refused by its size before a byte is read) and read
in pieces as the request goes out: never whole in memory. What this machine turns away
(skipped, refused, or unreadable half way) is answered in the list part that ends the body,
with the same code and reason as an ingest beside the keys gives, so the batch report is the
same. The server (web/api.py `intake_files`) puts every entry back in its place."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from schemas.errors import Rejected
from schemas.wire import encode
from storage.intake import Arrival, TurnedAway
from web.api import ENTRIES, FILES, Batch, Listed
from workers.intake import open_regular_file, read_in_pieces


class StreamedBatch:
    """The body: iterate it once (httpx sends each piece as it is made)."""

    def __init__(self, arrivals: Sequence[Arrival | TurnedAway], channel: str) -> None:
        self.arrivals, self.channel = arrivals, channel
        # 128 random bits: no file's bytes contain the delimiter but by a chance not worth
        # counting (RFC 2046 asks no more)
        self.boundary = f"kura-{secrets.token_hex(16)}"

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def sent(self) -> int:
        """How many files the body carries (what the server's limit counts)."""
        return sum(not isinstance(entry, TurnedAway) for entry in self.arrivals)

    def __iter__(self) -> Iterator[bytes]:
        listed: list[Listed] = []
        for entry in self.arrivals:
            if isinstance(entry, TurnedAway):  # where it lies stays here
                listed.append(Listed(entry.filename, False, entry.outcome, entry.code,
                                     entry.reason))
                continue
            try:
                stream = _opened(entry)
            except Rejected as error:  # answered as the intake beside the keys answers it
                listed.append(Listed(entry.filename, False, "refused", error.code, str(error)))
                continue
            with stream:
                # the name travels in the list, as given: a part's header would mangle it
                yield self._head(f'name="{FILES}"; filename="file"')
                try:
                    yield from read_in_pieces(stream)
                except Rejected as error:  # cut short: the server throws the part away
                    listed.append(Listed(entry.filename, True, "refused", error.code,
                                         str(error)))
                else:
                    listed.append(Listed(entry.filename, True))
            yield b"\r\n"
        yield self._head(f'name="{ENTRIES}"', "application/json")
        yield json.dumps(encode(Batch(self.channel, listed), Batch),
                         ensure_ascii=True).encode("ascii")
        yield f"\r\n--{self.boundary}--\r\n".encode("ascii")

    def _head(self, disposition: str, kind: str = "application/octet-stream") -> bytes:
        return (f"--{self.boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
                f"Content-Type: {kind}\r\n\r\n").encode("ascii")


def _opened(entry: Arrival) -> BinaryIO:
    """The file, open: from its path (workers.intake.open_regular_file), or the bytes an
    entry already holds."""
    if entry.path is not None:
        return open_regular_file(entry.path)
    return io.BytesIO(entry.data or b"")
