"""The work of a page and of a finished file, the same in a Celery worker and in process:
load by id → run the pipeline stage → save. Nothing here knows how it was scheduled.

A page is read in three steps so that a failure of the services around it (database, object
store) is told apart from a page that cannot be read: loading and saving raise the service's
error (the caller retries later; nothing of the page was kept), reading never does (a page
that cannot be read is marked failed with its reason, and the rest of its file goes on).
Saving claims the page with a conditional update, so a page read twice (a redelivered task, a
resent one) is kept once: the second reading changes nothing."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import sqlalchemy.exc
import urllib3.exceptions
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from pipeline.errors import KuraError
from pipeline.ingest import ScanFile
from pipeline.page import assemble, page_image_jpeg, read_page
from schemas.contracts import DocumentResult, PageResult
from schemas.forms import get_form
from schemas.settings import Settings
from storage import logmask
from storage.audit import SERVICE, append
from storage.blind_index import BlindIndexer
from storage.checkpoints import checkpoint_if_due
from storage.db import session_scope
from storage.intake import open_receipt
from storage.models import Document, FieldValue, Page, SourceFile, StoredObject, utcnow
from storage.register import save_list_rows
from storage.retention import RetentionPolicy, document_saved
from storage.runtime import indexer_for, retention_for, vault_for
from storage.vault import Vault
from workers.metrics import record_stage_seconds

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)
"""A service around the page is down for a moment (database, object store, broker): the page
is tried again later, never marked failed for it."""


@dataclass(frozen=True)
class _Claim:
    """What a page task needs to know before reading, copied out of the loading session."""

    page_id: str
    number: int
    source_file_id: str
    original: StoredObject
    """Detached from its session: its id and wrapped key are all that is read."""
    reread: bool
    """Sent again from quarantine after its file was assembled: assembled on its own."""


class OpenFiles:
    """The file whose pages are being read, opened and measured once for all its pages in
    this process (one slot: pages arrive file by file). It is read from the store as a file
    (Vault.open_object), a piece decrypted when a page needs it: a 200 MB original is never
    whole in memory here, in clear or sealed."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._scan: ScanFile | None = None
        self._stream: BinaryIO | None = None

    def get(self, vault: Vault, original: StoredObject) -> ScanFile:
        if self._key != original.id or self._scan is None:
            self.close()
            self._stream = vault.open_object(original)
            self._scan = ScanFile(self._stream)
            self._key = original.id
        return self._scan

    def close(self) -> None:
        if self._scan is not None:
            self._scan.close()
        if self._stream is not None:
            self._stream.close()
        self._key, self._scan, self._stream = None, None, None


OPEN_FILES = OpenFiles()


def process_page_job(settings: Settings, page_id: str, files: OpenFiles = OPEN_FILES) -> None:
    """Read one page and, if it was its file's last, assemble the file. Idempotent."""
    vault = vault_for(settings)
    claim = _load(settings, page_id)
    if claim is None:
        return
    scan = files.get(vault, claim.original)
    if not _start(settings, claim):
        failure: str | None = "too_many_attempts"
        result = PageResult(number=claim.number, kind="unknown", reasons=[f"failed: {failure}"])
        image: bytes | None = None
        seconds = 0.0
    else:
        _die_here_for_tests(claim.page_id)
        started = time.perf_counter()
        result, image, failure = _read(claim, scan)
        seconds = round(time.perf_counter() - started, 3)
    _remember_personal(result)
    try:
        _save(settings, vault, claim, result, image, failure, seconds)
    except TRANSIENT_ERRORS:
        _give_back_attempt(settings, claim)
        raise
    finish_file_job(settings, claim.source_file_id)
    if claim.reread:
        finish_reread_page_job(settings, claim.page_id)


def _load(settings: Settings, page_id: str) -> _Claim | None:
    with session_scope(settings.sqlalchemy_url) as session:
        page = session.get(Page, page_id)
        if page is None or page.status != "pending":
            return None  # read already (a redelivered or resent task): nothing to do
        original = session.get_one(StoredObject, page.source_file.object_id)
        session.expunge(original)
        return _Claim(page.id, page.number, page.source_file_id, original,
                      page.set_aside_state == "reread")


def _start(settings: Settings, claim: _Claim) -> bool:
    """Count this attempt; a page that killed or stalled its worker MAX_ATTEMPTS times is
    not tried again (it fails for good, and its file goes on). Counted in the database
    itself: two deliveries of one page starting at once count two."""
    with session_scope(settings.sqlalchemy_url) as session:
        attempts = session.execute(
            update(Page).where(Page.id == claim.page_id)
            .values(attempts=Page.attempts + 1,
                    queued_at=utcnow())  # started: the sweeper leaves it alone for a while
            .returning(Page.attempts)
        ).scalar_one()
        return bool(attempts <= MAX_ATTEMPTS)


DIE_ON_PAGE_FOR_TESTS = "KURATEST_SIGKILL_ON_PAGE"
"""A fault for the tests, off unless this variable is set (to a page id): the process that
starts reading that page kills itself outright (SIGKILL), every time, as a worker whose
machine dies mid-page would (tests/test_fabric_faults.py)."""


def _die_here_for_tests(page_id: str) -> None:
    if os.environ.get(DIE_ON_PAGE_FOR_TESTS) == page_id:
        os.kill(os.getpid(), signal.SIGKILL)


def _give_back_attempt(settings: Settings, claim: _Claim) -> None:
    """The page was read but could not be kept (the object store or the database away for
    a while): this attempt is not held against it, so that an outage, however many retries
    it takes, never fails a page for good. Best effort: with the database away too, the
    attempt stays counted."""
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            session.execute(update(Page).where(Page.id == claim.page_id, Page.attempts > 0)
                            .values(attempts=Page.attempts - 1))
    except TRANSIENT_ERRORS:
        log.warning("page %s: its attempt could not be given back", claim.page_id)


def _read(claim: _Claim, scan: ScanFile) -> tuple[PageResult, bytes | None, str | None]:
    """The page's readings and its aligned image, or the code of why it cannot be read."""
    try:
        result, aligned = read_page(scan.page(claim.number))
        return result, page_image_jpeg(aligned), None
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:  # a bad page (or its time limit) must not stop its file
        code = error.code if isinstance(error, KuraError) else type(error).__name__
        log.warning("page %s failed: %s", claim.page_id, code)
        failed = PageResult(number=claim.number, kind="unknown", reasons=[f"failed: {code}"])
        return failed, None, code


def _save(
    settings: Settings,
    vault: Vault,
    claim: _Claim,
    result: PageResult,
    image: bytes | None,
    failure: str | None,
    seconds: float,
) -> None:
    status = "failed" if failure else "done"
    with session_scope(settings.sqlalchemy_url) as session:
        claimed = session.execute(
            update(Page)
            .where(Page.id == claim.page_id, Page.status == "pending")
            .values(status=status, seconds=seconds)
            .returning(Page.id)
        ).all()
        if len(claimed) != 1:
            return  # another worker kept its reading of this page first
        page = session.get_one(Page, claim.page_id)
        page.kind, page.reasons = result.kind, list(result.reasons)
        if failure is None:
            assert image is not None
            page.image_object_id = vault.put_object(session, "page_image", image).id
            page.form_id, page.form_page = result.form, result.form_page
            page.rotation, page.residual_px = result.rotation, result.residual_px
            page.result_sealed = vault.seal_for_object(
                claim.original, f"page:{page.id}", result.model_dump_json())
            record_stage_seconds(session, result.timings)
        append(session, SERVICE, "page.read",
               [page.id, page.document_id or "", claim.original.id,
                page.image_object_id or ""],
               result=f"failed:{failure}" if failure else "done",
               detail={"number": page.number, "kind": page.kind})


def finish_file_job(settings: Settings, source_file_id: str) -> None:
    """Assemble a file's documents once its last page is read — exactly once, even when
    two workers finish the last pages together (the status change is the lock). The audit
    checkpoint is considered here, once per file, not after every page."""
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        pending = exists().where(Page.source_file_id == source_file_id, Page.status == "pending")
        claimed = session.execute(
            update(SourceFile)
            .where(SourceFile.id == source_file_id, SourceFile.status == "processing", ~pending)
            .values(status="assembling")
            .returning(SourceFile.id)
        ).all()
        if len(claimed) != 1:
            return
        source = session.get_one(SourceFile, source_file_id)
        _assemble_file(session, vault, source, indexer_for(settings), retention_for(settings),
                       settings.municipality_code)
        source.status = "done"
        documents = session.scalars(select(Document.id).where(
            Document.source_file_id == source_file_id)).all()
        failed = sum(page.status == "failed" for page in source.pages)
        append(session, SERVICE, "document.assemble", [source_file_id, *documents],
               result="ok", detail={"documents": len(documents), "failed_pages": failed})
    checkpoint_if_due(settings)


def finish_reread_page_job(settings: Settings, page_id: str) -> None:
    """A page read again from quarantine after its file was assembled (set_aside_state
    `reread`, storage/usecases/quarantine.py) is assembled on its own, once: the documents
    it holds get 受付番号 of their own, the file's others stay as they were. Failed again, it
    is simply set aside again."""
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        claimed = session.execute(
            update(Page)
            .where(Page.id == page_id, Page.set_aside_state == "reread",
                   Page.status != "pending")
            .values(set_aside_state=None)
            .returning(Page.status)
        ).scalars().all()
        if claimed != ["done"]:
            return
        page = session.get_one(Page, page_id)
        source = page.source_file
        original = session.get_one(StoredObject, source.object_id)
        channel = session.scalars(select(Document.channel).where(
            Document.source_file_id == source.id)).first() or "quarantine"
        documents = []
        for found in assemble(source.filename, [_page_result(vault, page, original)]):
            document = open_receipt(session, vault, source, channel, settings.municipality_code)
            page.document_id = document.id
            _save_document(session, vault, document, found, indexer_for(settings),
                           retention_for(settings))
            documents.append(document.id)
        append(session, SERVICE, "document.assemble", [source.id, page.id, *documents],
               result="ok", detail={"documents": len(documents), "reread_page": page.number})
    checkpoint_if_due(settings)


NOT_PERSONAL_TYPES = frozenset({"choice", "checkbox"})


def _remember_personal(result: PageResult) -> None:
    """Every value read from a personal field is masked in this process's logs from now on."""
    types = {f.name: f.type for f in get_form(result.form).fields} if result.form else {}
    logmask.register(
        value
        for name, field in result.fields.items()
        if types.get(name) not in NOT_PERSONAL_TYPES
        for value in (field.value, field.raw)
    )
    logmask.register(  # a printed list's rows: every cell may name a person
        value for row in result.rows for cell in row.values() for value in (cell.value, cell.raw)
    )


def _assemble_file(session: Session, vault: Vault, source: SourceFile, indexer: BlindIndexer,
                   policy: RetentionPolicy, municipality: str) -> None:
    pages = list(source.pages)
    receipt = pages[0].document
    assert receipt is not None
    original = session.get_one(StoredObject, source.object_id)
    results = [_page_result(vault, page, original) for page in pages]
    documents = assemble(source.filename, results)
    by_number = {page.number: page for page in pages}
    for page in pages:
        page.document_id = None  # separator sheets and leading blank pages stay unfiled
    if not documents:
        receipt.status, receipt.reasons = "review", ["no_document_pages"]
    for index, found in enumerate(documents):
        document = receipt if index == 0 else open_receipt(
            session, vault, source, receipt.channel, municipality)
        for number in found.pages:
            by_number[number].document_id = document.id
        _save_document(session, vault, document, found, indexer, policy)


def _page_result(vault: Vault, page: Page, original: StoredObject) -> PageResult:
    if page.status == "failed" or page.result_sealed is None:
        return PageResult(number=page.number, kind="unknown", reasons=list(page.reasons))
    return PageResult.model_validate_json(
        vault.open_for_object(original, f"page:{page.id}", page.result_sealed))


def _save_document(session: Session, vault: Vault, document: Document,
                   found: DocumentResult, indexer: BlindIndexer, policy: RetentionPolicy) -> None:
    document.form_id = found.form
    document.reasons = list(found.reasons)
    form = get_form(found.form) if found.form else None
    # a printed list's fields are its header block (市区町村コード …), on every page
    header = {h.name: h.type for h in (form.header or [])} if form else {}
    for position, (name, value) in enumerate(found.fields.items()):
        reasons, reasons_sealed = vault.seal_reasons(document, name, value.reasons)
        session.add(FieldValue(
            document_id=document.id, position=position, name=name,
            field_type=header.get(name) or (form.field(name).type if form else "text"),
            value_sealed=vault.seal_value(document, f"field:{name}:value", value.value),
            raw_sealed=vault.seal_value(document, f"field:{name}:raw", value.raw),
            confidence=value.confidence, status=value.status, reasons=reasons,
            reasons_sealed=reasons_sealed,
            engine=value.engine, box=list(value.box) if value.box else None,
            page_number=form.field(name).page if form and name not in header else None,
        ))
    if found.rows is not None:  # a printed list: its rows, sealed, for 突合
        save_list_rows(session, vault, indexer, document, found)
    document.status = "review" if found.needs_review else "ready"
    document_saved(session, vault, document, {n: v.value for n, v in found.fields.items()},
                   indexer, policy)


# --- The sweeper --------------------------------------------------------------------------


def sweep(settings: Settings, older_than: dt.timedelta,
          send: Callable[[list[str]], None], but_not: str | None = None) -> int:
    """Pages left `pending` longer than `older_than` since they were last sent or started
    (a lost message, a worker that died, a command that was killed) are sent again with
    `send`; files whose pages are all read but which were never assembled are assembled.
    Pages read again from quarantine after their file was assembled are swept as well, and
    assembled on their own if they were read but not yet assembled.
    Returns the number of pages sent again."""
    cutoff = utcnow() - older_than
    with session_scope(settings.sqlalchemy_url) as session:
        stale = list(session.scalars(
            select(Page.id).join(SourceFile)
            .where((SourceFile.status == "processing") | (Page.set_aside_state == "reread"),
                   Page.status == "pending",
                   SourceFile.batch_id != (but_not or ""),
                   (Page.queued_at <= cutoff)
                   | (Page.queued_at.is_(None) & (SourceFile.received_at <= cutoff)))
            .order_by(Page.source_file_id, Page.number)
        ))
        if stale:
            session.execute(update(Page).where(Page.id.in_(stale)).values(queued_at=utcnow()))
        unassembled = list(session.scalars(
            select(SourceFile.id).where(
                SourceFile.status == "processing", SourceFile.batch_id != (but_not or ""),
                ~exists().where(Page.source_file_id == SourceFile.id, Page.status == "pending"),
            )
        ))
        reread = list(session.scalars(select(Page.id).where(
            Page.set_aside_state == "reread", Page.status != "pending")))
    if stale:
        log.warning("sweeper: %d page(s) left pending were sent again", len(stale))
        send(stale)
    for source_file_id in unassembled:
        finish_file_job(settings, source_file_id)
    for page_id in reread:
        finish_reread_page_job(settings, page_id)
    return len(stale)

