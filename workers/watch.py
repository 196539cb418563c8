"""The hot folder: scanners write files into a folder, Kura takes each in once it is
complete, and moves it out of the way once its sealed original is durably stored.

Lessons from Paperless-ngx's consumer and OCRmyPDF's watcher (ANCHORS §2.1–2.3): a file is
taken only when its size and modification time have stood still for a while (a scanner
writes slowly, over SMB in pieces); change events do not reach across network shares, so
there is a polling mode; and a file must never be lost or taken twice when the watcher
dies. Here:

- Only the folder's own entries are looked at; hidden and temporary files are left alone;
  a symbolic link or anything that is not a regular file is refused (moved to the
  quarantine folder with its reason, never followed).
- A stable file is first renamed into `<inbox>/.kura/taking/` with a note of the moment,
  then taken in (one transaction: sealed original, 受付 entry, audit), then moved to the
  archive folder or removed. A file refused or quarantined by intake goes to the quarantine
  folder with `<name>.reason.txt` beside it.
- On start, what is left in `.kura/taking/` was half taken in when the watcher died: a file
  whose intake committed after its note is only moved on; any other is taken in now. So
  each file is taken in exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from schemas.errors import InvalidInput
from schemas.i18n import _
from schemas.settings import Settings
from storage.db import session_scope
from storage.models import SourceFile
from storage.runtime import vault_for
from workers.intake import (
    Answer,
    Arrival,
    TurnedAway,
    kind_of,
    take_in,
    why_not_taken,
)

log = logging.getLogger(__name__)

WORK_DIR = ".kura"
TAKING = "taking"
HEARTBEAT = "heartbeat"
"""Touched on every look at the folder: a health check reads its age."""
NOTE_SUFFIX = ".kura-started"
REASON_SUFFIX = ".reason.txt"


@dataclass(frozen=True)
class Folders:
    inbox: Path
    archive: Path | None
    """None: a file taken in is removed."""
    quarantine: Path

    @classmethod
    def from_settings(cls, settings: Settings, inbox: Path | None = None) -> Folders:
        folder = inbox or (Path(settings.watch_dir) if settings.watch_dir else None)
        if folder is None:
            raise InvalidInput(_("no hot folder: give one, or set KURA_WATCH_DIR"))
        archive = Path(settings.watch_archive_dir) if settings.watch_archive_dir else None
        quarantine = (Path(settings.watch_quarantine_dir) if settings.watch_quarantine_dir
                      else folder.with_name(folder.name + "-quarantine"))
        return cls(folder, archive, quarantine)

    @property
    def taking(self) -> Path:
        return self.inbox / WORK_DIR / TAKING

    def check(self, create: bool = True) -> Folders:
        """The folders, resolved: the inbox must exist; archive and quarantine are made if
        missing (with `create`); no two may be the same folder or sit inside each other."""
        if not self.inbox.is_dir():
            raise InvalidInput(_("the hot folder {inbox} is not a folder").format(inbox=self.inbox),
                               hint=_("create it, or give the folder the scanners write into"))
        named = {"input": self.inbox, "quarantine": self.quarantine}
        if self.archive is not None:
            named["archive"] = self.archive
        resolved = {name: path.resolve() for name, path in named.items()}
        names = list(resolved)
        for index, first in enumerate(names):
            for second in names[index + 1:]:
                a, b = resolved[first], resolved[second]
                if a == b or a.is_relative_to(b) or b.is_relative_to(a):
                    raise InvalidInput(
                        _("the {first} folder ({a}) and the {second} folder ({b}) overlap")
                        .format(first=first, a=a, second=second, b=b),
                        hint=_(
                            "input, archive and quarantine must be three separate folders, none "
                            "inside another"))
        checked = Folders(resolved["input"], resolved.get("archive"), resolved["quarantine"])
        if create:
            for folder in (checked.archive, checked.quarantine, checked.taking):
                if folder is not None:
                    folder.mkdir(parents=True, exist_ok=True)
        return checked


@dataclass
class HotFolder:
    settings: Settings
    folders: Folders
    settle_seconds: float = 5.0
    on_taken: Callable[[list[str]], None] | None = None
    """Where the pages of a file taken in go (workers.runner.run_pages by default)."""
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    """name → (size, mtime_ns, since when unchanged)."""

    def recover(self) -> None:
        """Finish what a watcher that died left in `.kura/taking/`."""
        for path in sorted(self.folders.taking.iterdir()):
            if path.name.endswith(NOTE_SUFFIX):
                if not path.with_name(path.name.removesuffix(NOTE_SUFFIX)).exists():
                    path.unlink(missing_ok=True)  # died between note and rename: nothing to do
                continue
            note = path.with_name(path.name + NOTE_SUFFIX)
            started = _note_time(note)
            arrival = Arrival(path.name, path=path)
            try:
                arrival.open().close()  # its SHA-256, read in pieces
            except Exception:  # it was checked before; now gone bad: answer it as refused
                self._take(path, note)
                continue
            if started is not None and self._committed_since(arrival.sha256, started):
                log.info("hot folder: a file taken in before a restart is moved on")
                self._finish(path, note, Answer(0, path.name, "taken"))
            else:
                self._take(path, note)

    def scan(self, now: float | None = None) -> int:
        """One look at the folder: take every entry that is ready; the number taken."""
        now = time.monotonic() if now is None else now
        taken = 0
        present = set()
        for entry in sorted(os.scandir(self.folders.inbox), key=lambda e: e.name):
            name = entry.name
            if name == WORK_DIR or why_not_taken(name):
                continue
            present.add(name)
            try:
                facts = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(facts.st_mode):
                continue  # folders inside the hot folder are not walked
            signature = (facts.st_size, facts.st_mtime_ns)
            if not stat.S_ISREG(facts.st_mode):
                self._refuse(Path(entry.path), facts.st_mode)
                taken += 1
                continue
            size, mtime, since = self._seen.get(name, (-1, -1, now))
            if (size, mtime) != signature:
                self._seen[name] = (*signature, now)
                continue
            if now - since < self.settle_seconds:
                continue
            del self._seen[name]
            self._claim(Path(entry.path))
            taken += 1
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return taken

    def run(self, stop: threading.Event, poll: bool, poll_seconds: float) -> None:
        """Watch until `stop` is set: on the system's change events (watchdog) for a local
        disk, or by looking every `poll_seconds` (network shares)."""
        wake = threading.Event()
        observer = None
        if not poll:
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer

            class Wake(FileSystemEventHandler):
                def on_any_event(self, event: FileSystemEvent) -> None:
                    wake.set()

            observer = Observer()
            observer.schedule(Wake(), str(self.folders.inbox), recursive=False)
            observer.start()
        self.recover()
        try:
            while not stop.is_set():
                (self.folders.inbox / WORK_DIR / HEARTBEAT).touch()
                try:
                    if any(self.folders.taking.iterdir()):
                        self.recover()  # a file whose intake failed is tried again
                    self.scan()
                except Exception:  # the database or the store is away: try again soon
                    log.warning("hot folder: a look at the folder failed; trying again",
                                exc_info=True)
                # While a file settles, look again soon; otherwise wait for an event.
                wait = min(poll_seconds, self.settle_seconds / 2) if self._seen or poll \
                    else poll_seconds * 5
                wake.wait(wait)
                wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join()

    # --- one file ---------------------------------------------------------------------

    def _claim(self, path: Path) -> None:
        """Move the file out of the scanners' way, note when, then take it in."""
        target = _free(self.folders.taking / path.name)
        note = target.with_name(target.name + NOTE_SUFFIX)
        note.write_text(dt.datetime.now(dt.UTC).isoformat())
        _sync_dir(note.parent)
        os.rename(path, target)
        _sync_dir(target.parent)
        self._take(target, note)

    def _take(self, path: Path, note: Path) -> None:
        from workers.runner import run_pages

        entry: Arrival | TurnedAway
        try:
            facts = path.lstat()
            entry = (Arrival(path.name, path=path) if stat.S_ISREG(facts.st_mode) else
                     TurnedAway(path.name, "refused", "not_regular",
                                _("not a regular file ({value})").format(
                                    value=_(kind_of(facts.st_mode)))))
        except OSError:
            return
        with session_scope(self.settings.sqlalchemy_url) as session:
            result = take_in(session, vault_for(self.settings), [entry], "hot_folder",
                             municipality=self.settings.municipality_code)
        (self.on_taken or (lambda ids: run_pages(self.settings, ids)))(result.page_ids)
        self._finish(path, note, result.answers[0])

    def _finish(self, path: Path, note: Path, answer: Answer) -> None:
        if answer.outcome == "taken":
            if self.folders.archive is None:
                path.unlink()
            else:
                os.rename(path, _free(self.folders.archive / path.name))
                _sync_dir(self.folders.archive)
            log.info("hot folder: a file was taken in")
        else:
            self._to_quarantine(path, answer.code, answer.reason)
        note.unlink(missing_ok=True)
        _sync_dir(path.parent)

    def _refuse(self, path: Path, mode: int) -> None:
        self._to_quarantine(path, "not_regular" if not stat.S_ISLNK(mode) else "symlink",
                            _("not a regular file ({value})").format(value=_(kind_of(mode)))
                            if not stat.S_ISLNK(mode) else _("a symbolic link (not followed)"))

    def _to_quarantine(self, path: Path, code: str, reason: str) -> None:
        """The file (a link itself, never what it points to) to the quarantine folder, its
        reason beside it."""
        target = _free(self.folders.quarantine / path.name)
        reason_file = target.with_name(target.name + REASON_SUFFIX)
        reason_file.write_text(f"{code}\n{reason}\n", encoding="utf-8")
        os.rename(path, target)
        _sync_dir(self.folders.quarantine)
        log.info("hot folder: a file went to quarantine: %s", code)

    def _committed_since(self, sha256: str, started: dt.datetime) -> bool:
        digest = vault_for(self.settings).keyed_digest(sha256)
        with session_scope(self.settings.sqlalchemy_url) as session:
            received = session.scalars(
                select(SourceFile.received_at).where(SourceFile.sha256 == digest)).all()
        return any(_aware(moment) >= started for moment in received)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _note_time(note: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(note.read_text().strip())
    except (OSError, ValueError):
        return None


def _free(path: Path) -> Path:
    """`path`, or `name-1.ext`, `name-2.ext` … when something is already there."""
    candidate, number = path, 0
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _sync_dir(folder: Path) -> None:
    """A rename is durable once its folder is written to disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
