"""Files uploaded as a multipart form, read from the request as it streams in.

Starlette's `request.form()` keeps each file in a temporary file in clear (and small ones
whole in memory); here the body is parsed piece by piece with python-multipart's own
streaming parser, and each file part goes straight into a workers.intake.Incoming: sealed
into a spool as it comes, refused by its size half way without stopping the upload. The
intake desk's page sends files only; `kura ingest` (web/api.py) sends a list of its entries
beside them, a text field kept in memory within its own limit."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from workers.intake import Arrival, Incoming, TurnedAway

MAX_FILES = 1000
"""Files in one upload; more is refused whole (HTTP 400 too_many_files), as before."""
MAX_FIELD_BYTES = 64 * 1024
"""A part that is not a file (a form field) is at most this long; it is not kept."""
MAX_KEPT_FIELD_BYTES = 8 << 20
"""A text field that is kept (`kura ingest`'s list of entries: a name and a reason for each
of up to MAX_FILES files and the entries turned away beside them) is at most this long."""


@dataclass
class Form:
    """What a multipart body held: its files in the order sent, and the text fields asked
    for (their bytes as sent)."""

    files: list[Arrival | TurnedAway] = field(default_factory=list)
    fields: dict[str, bytearray] = field(default_factory=dict)


class _Parts:
    """The parser's callbacks: the headers of each part, then its data, then its end."""

    def __init__(self, field: str, folder: Path | None, cleanup: ExitStack,
                 kept: frozenset[str]) -> None:
        self.field, self.folder, self.cleanup, self.kept = field, folder, cleanup, kept
        self.form = Form()
        self.arrived = self.form.files
        self._header = b""
        self._value = b""
        self._disposition = b""
        self._incoming: Incoming | None = None
        self._field_bytes = 0
        self._kept: bytearray | None = None

    def on_part_begin(self) -> None:
        self._disposition, self._incoming, self._field_bytes = b"", None, 0
        self._kept = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header = self._value = b""

    def on_headers_finished(self) -> None:
        _kind, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name in self.kept and b"filename" not in options:
            self._kept = self.form.fields.setdefault(name, bytearray())
            return
        if name != self.field or b"filename" not in options:
            return  # another field: read past, not kept
        if len(self.arrived) >= MAX_FILES:
            raise HTTPException(400, "too_many_files")
        name = options[b"filename"].decode("utf-8", "replace") or "upload"
        self._incoming = Incoming(name, self.folder)
        self.cleanup.callback(self._incoming.close)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._incoming is not None:
            self._incoming.write(data[start:end])
            return
        if self._kept is not None:
            self._kept += data[start:end]
            if len(self._kept) > MAX_KEPT_FIELD_BYTES:
                raise HTTPException(400, "bad_upload")
            return
        self._field_bytes += end - start
        if self._field_bytes > MAX_FIELD_BYTES:
            raise HTTPException(400, "bad_upload")

    def on_part_end(self) -> None:
        if self._incoming is None:
            return
        arrival = self._incoming.arrived()
        if isinstance(arrival, Arrival) and arrival.stream is not None:
            self.cleanup.callback(arrival.stream.close)
        self.arrived.append(arrival)
        self._incoming = None


async def uploaded_files(request: Request, field: str, folder: Path | None,
                         cleanup: ExitStack) -> list[Arrival | TurnedAway]:
    """Every file of the form field `field`, in the order sent: open and hashed, or refused
    with the reason. What is still open when `cleanup` closes is thrown away (the intake
    closes each file it takes in)."""
    return (await uploaded_form(request, field, folder, cleanup)).files


async def uploaded_form(request: Request, field: str, folder: Path | None,
                        cleanup: ExitStack, kept: frozenset[str] = frozenset()) -> Form:
    """`uploaded_files`, and the text fields named in `kept` (a field sent in two parts is
    kept joined, within the one limit)."""
    _kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "bad_upload")
    parts = _Parts(field, folder, cleanup, kept)
    parser = MultipartParser(boundary, {
        "on_part_begin": parts.on_part_begin, "on_part_data": parts.on_part_data,
        "on_part_end": parts.on_part_end, "on_header_field": parts.on_header_field,
        "on_header_value": parts.on_header_value, "on_header_end": parts.on_header_end,
        "on_headers_finished": parts.on_headers_finished})
    try:
        async for chunk in request.stream():
            if chunk:  # sealing a piece takes a moment: not on the event loop
                await run_in_threadpool(parser.write, chunk)
        parser.finalize()
    except FormParserError:
        raise HTTPException(400, "bad_upload") from None
    return parts.form
