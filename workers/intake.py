"""Intake as the workers and front ends run it: every entry of the files and folders given
gathered with what is to become of it, each file opened once and read in pieces within the
pipeline's size limit (hashed, then checked and sealed from the open file), and the ordered
chain of checks (the duplicate check of storage, then the format check of the pipeline) in
front of storage/intake.py."""

from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from pipeline.errors import FileTooLarge, RejectedFile
from pipeline.triage import MAX_FILE_BYTES, triage
from schemas.i18n import N_, _
from storage import intake
from storage.audit import Actor
from storage.intake import (
    Answer,
    DuplicateCheck,
    IntakeCheck,
    IntakeResult,
    TurnedAway,
)
from storage.spool import Spool
from storage.vault import Vault

__all__ = ["INTAKE_CHECKS", "Answer", "Arrival", "FormatCheck", "Incoming", "IntakeResult",
           "TurnedAway", "gather", "kind_of", "open_regular_file", "read_in_pieces",
           "read_regular_file", "shown_name", "take_in", "why_not_taken"]

TEMPORARY_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download",
                      ".swp", "~")
TEMPORARY_PREFIXES = ("~$", ".~")


class NotTaken(RejectedFile):
    """An entry that is not a file to read: skipped (hidden, temporary) or refused (a
    symbolic link, a FIFO, a device, unreadable, too large to keep)."""

    code = "not_taken"


class Arrival(intake.Arrival):
    """A file to take in: from a path (opened once, never through a symbolic link, its size
    checked before it is read, then read in pieces: hashed now, checked and sealed from the
    open file, never whole in memory) or already in memory (an upload)."""

    def open(self) -> BinaryIO:
        """Raises FileTooLarge or NotTaken (refused: nothing of it can be kept)."""
        if self.path is None:
            if self.data is not None and len(self.data) > MAX_FILE_BYTES:
                raise FileTooLarge(_("the file is {count:,} bytes, limit {max_file_bytes:,}")
                                   .format(count=len(self.data), max_file_bytes=MAX_FILE_BYTES))
            return super().open()
        stream = open_regular_file(self.path)
        try:
            self.sha256, self.size = _digest(stream)
        except BaseException:
            stream.close()
            raise
        self.stream = stream
        return stream

    def load(self) -> bytes:
        """The file's bytes, read once (for `kura extract`, which keeps nothing)."""
        if self.data is None:
            assert self.path is not None
            self.data = read_regular_file(self.path)
        if len(self.data) > MAX_FILE_BYTES:
            raise FileTooLarge(_("the file is {count:,} bytes, limit {max_file_bytes:,}").format(
                count=len(self.data), max_file_bytes=MAX_FILE_BYTES))
        return self.data


class Incoming:
    """A file arriving in pieces over the network (the intake desk's upload): sealed into a
    spool as it comes (storage.spool), and refused as soon as it passes the size limit: what
    came of it is thrown away and the rest of it is let pass, so the upload goes on."""

    def __init__(self, filename: str, folder: Path | None = None) -> None:
        self.filename = filename
        self._spool: Spool | None = Spool(folder)
        self._size = 0

    def write(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._spool is None:
            return
        if self._size > MAX_FILE_BYTES:
            self.close()
            return
        self._spool.write(piece)

    def arrived(self) -> Arrival | TurnedAway:
        """The whole file, to take in; or refused by its size."""
        if self._spool is None:
            refused = FileTooLarge(_(
                "the file is over the limit of {max_file_bytes:,} bytes: not stored").format(
                    max_file_bytes=MAX_FILE_BYTES))
            return TurnedAway(self.filename, "refused", refused.code, str(refused))
        stream, sha256 = self._spool.received()
        self._spool = None  # the stream holds the spool's file now, and closes it
        return Arrival(self.filename, stream=stream, sha256=sha256, size=self._size)

    def close(self) -> None:
        """Throw away what came (a file refused, or an upload cut short)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None


READ_PIECE = 1 << 20


def _digest(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 and length of a file read in pieces, never past the size limit."""
    digest, size = hashlib.sha256(), 0
    for piece in read_in_pieces(stream):
        size += len(piece)
        digest.update(piece)
    stream.seek(0)
    return digest.hexdigest(), size


def read_in_pieces(stream: BinaryIO) -> Iterator[bytes]:
    """An open file from where it stands, piece by piece; raises FileTooLarge once it passes
    the size limit (it grew since it was opened) and NotTaken when it cannot be read."""
    size = 0
    try:
        while piece := stream.read(READ_PIECE):
            size += len(piece)
            if size > MAX_FILE_BYTES:
                raise FileTooLarge(_(
                    "the file grew past the limit of {max_file_bytes:,} bytes").format(
                        max_file_bytes=MAX_FILE_BYTES))
            yield piece
    except OSError as error:
        raise NotTaken(_("cannot be read ({value})").format(
            value=error.strerror or _("I/O error"))) from None


def open_regular_file(path: Path) -> BinaryIO:
    """A regular file opened for reading, without following a symbolic link and without
    blocking on a FIFO; refused by its size before anything of it is read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if os.path.islink(path):
            raise NotTaken(_("a symbolic link (not followed)")) from None
        raise NotTaken(_("cannot be opened ({value})").format(
            value=error.strerror or _("I/O error"))) from None
    stream = os.fdopen(descriptor, "rb")
    facts = os.fstat(stream.fileno())
    if not stat.S_ISREG(facts.st_mode):
        stream.close()
        raise NotTaken(_("not a regular file ({value})").format(value=_(kind_of(facts.st_mode))))
    if facts.st_size > MAX_FILE_BYTES:
        stream.close()
        raise FileTooLarge(_(
            "the file is {st_size:,} bytes, limit {max_file_bytes:,}: not stored, left where it "
            "is").format(st_size=facts.st_size, max_file_bytes=MAX_FILE_BYTES))
    return stream


def read_regular_file(path: Path) -> bytes:
    """A regular file's bytes (open_regular_file), nothing past the size limit read."""
    with open_regular_file(path) as stream:
        try:
            data = stream.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise NotTaken(_("cannot be read ({value})").format(
                value=error.strerror or _("I/O error"))) from None
    if len(data) > MAX_FILE_BYTES:
        raise FileTooLarge(_(
            "the file grew past the limit of {max_file_bytes:,} bytes").format(
                max_file_bytes=MAX_FILE_BYTES))
    return data


def kind_of(mode: int) -> str:
    """What a path that is not a regular file is, in English: words a person reads go through
    `_()` where they are said."""
    for test, name in ((stat.S_ISFIFO, N_("a FIFO")), (stat.S_ISSOCK, N_("a socket")),
                       (stat.S_ISCHR, N_("a character device")),
                       (stat.S_ISBLK, N_("a block device")),
                       (stat.S_ISDIR, N_("a folder")), (stat.S_ISLNK, N_("a symbolic link"))):
        if test(mode):
            return name
    return N_("not a file")


def why_not_taken(name: str) -> str | None:
    """Why a name is passed over in a folder: hidden files and a scanner's or an editor's
    files still being written."""
    if name.startswith(TEMPORARY_PREFIXES) or name.lower().endswith(TEMPORARY_SUFFIXES):
        return "a temporary file"
    if name.startswith("."):
        return "a hidden file"
    return None


def gather(paths: Sequence[Path]) -> list[Arrival | TurnedAway]:
    """Every entry of the paths given, each with what is to become of it; folders are walked
    without following a symbolic link, so no path leads out of them. Names are shown
    relative to the folder given."""
    entries: list[Arrival | TurnedAway] = []
    for path in paths:
        entries.extend(_entries(path, path.name or str(path), "", top=True))
    return entries


def _entries(path: Path, name: str, prefix: str,
             top: bool = False) -> Iterator[Arrival | TurnedAway]:
    shown = prefix + name
    try:
        facts = path.lstat()
    except OSError as error:
        yield TurnedAway(shown, "refused", "not_found", error.strerror or _("cannot be read"), path)
        return
    if stat.S_ISLNK(facts.st_mode):
        dangling = "a symbolic link" if path.exists() else "a dangling symbolic link"
        yield TurnedAway(shown, "refused", "symlink", f"{dangling} (not followed)", path)
    elif not top and (why := why_not_taken(name)):
        yield TurnedAway(shown, "skipped", "hidden_or_temporary", why, path)
    elif stat.S_ISDIR(facts.st_mode):
        try:
            children = sorted(entry.name for entry in os.scandir(path))
        except OSError as error:
            yield TurnedAway(shown, "refused", "unreadable", error.strerror or _("cannot be read"),
                             path)
            return
        inside = "" if top else f"{shown}/"
        for child in children:
            yield from _entries(path / child, child, inside)
    elif stat.S_ISREG(facts.st_mode):
        yield Arrival(shown, path=path)
    else:
        yield TurnedAway(shown, "refused", "not_regular",
                         _("not a regular file ({value})").format(
                             value=_(kind_of(facts.st_mode))), path)


def shown_name(name: str) -> str:
    """A file name as it may be printed: control and format characters (escape sequences,
    right-to-left overrides) written as \\x.. / \\u.... The name is text, never markup:
    print it with markup off."""
    return "".join(
        char if unicodedata.category(char)[0] != "C" else
        (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in name
    )


class FormatCheck:
    name = "format"

    def able_to_run(self, arrival: intake.Arrival) -> bool:
        return True

    def run(self, session: Session, arrival: intake.Arrival) -> None:
        assert arrival.stream is not None
        found = triage(arrival.stream)
        arrival.page_count, arrival.flags = found.pages, found.flags


INTAKE_CHECKS: tuple[IntakeCheck, ...] = (DuplicateCheck(), FormatCheck())


def take_in(
    session: Session,
    vault: Vault,
    arrivals: Sequence[intake.Arrival | TurnedAway],
    channel: str,
    actor: Actor | None = None,
    municipality: str = "000000",
) -> IntakeResult:
    """Take files in through the whole chain (storage.intake.take_in)."""
    return intake.take_in(session, vault, arrivals, channel, INTAKE_CHECKS, actor,
                          municipality)
