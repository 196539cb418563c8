"""The work of a page and of a finished file, the same in a Celery worker and in process:
load by id → run the pipeline stage → save. Nothing here knows how it was scheduled."""

from __future__ import annotations

import logging
import time

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from pipeline.errors import KuraError
from pipeline.ingest import rasterise_page
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
from storage.models import Document, FieldValue, Page, SourceFile, StoredObject
from storage.retention import RetentionPolicy, document_saved
from storage.runtime import indexer_for, retention_for, vault_for
from storage.vault import Vault
from workers.metrics import record_stage_seconds

log = logging.getLogger(__name__)


def process_page_job(settings: Settings, page_id: str) -> None:
    """Read one page. Idempotent: a page already done is left as it is. A failure marks the
    page failed with its error class (never its content) and the worker carries on."""
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        page = session.get(Page, page_id)
        if page is None or page.status != "pending":
            return
        source_file_id = page.source_file_id
        started = time.perf_counter()
        outcome = "done"
        try:
            _read_and_save(session, vault, page)
        except Exception as error:  # a bad page must not stop the worker
            code = error.code if isinstance(error, KuraError) else type(error).__name__
            log.warning("page %s failed: %s", page_id, code)
            page.status, page.kind, page.reasons = "failed", "unknown", [f"failed: {code}"]
            outcome = f"failed:{code}"
        page.seconds = round(time.perf_counter() - started, 3)
        append(session, SERVICE, "page.read",
               [page.id, page.document_id or "", page.source_file.object_id,
                page.image_object_id or ""],
               result=outcome, detail={"number": page.number, "kind": page.kind})
    finish_file_job(settings, source_file_id)
    checkpoint_if_due(settings)


def _read_and_save(session: Session, vault: Vault, page: Page) -> None:
    original = session.get_one(StoredObject, page.source_file.object_id)
    image = rasterise_page(vault.get_object(original), page.number)
    result, aligned = read_page(image)
    record_stage_seconds(session, result.timings)
    _remember_personal(result)
    page.image_object_id = vault.put_object(session, "page_image", page_image_jpeg(aligned)).id
    page.kind, page.form_id, page.form_page = result.kind, result.form, result.form_page
    page.rotation, page.residual_px, page.reasons = result.rotation, result.residual_px, \
        result.reasons
    assert page.document is not None
    page.result_sealed = vault.seal_value(page.document, f"page:{page.id}",
                                          result.model_dump_json())
    page.status = "done"


def finish_file_job(settings: Settings, source_file_id: str) -> None:
    """Assemble a file's documents once its last page is read — exactly once, even when
    two workers finish the last pages together (the status change is the lock)."""
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
        _assemble_file(session, vault, source, indexer_for(settings), retention_for(settings))
        source.status = "done"
        documents = session.scalars(select(Document.id).where(
            Document.source_file_id == source_file_id)).all()
        append(session, SERVICE, "document.assemble", [source_file_id, *documents],
               result="ok", detail={"documents": len(documents)})


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


def _assemble_file(session: Session, vault: Vault, source: SourceFile, indexer: BlindIndexer,
                   policy: RetentionPolicy) -> None:
    pages = list(source.pages)
    receipt = pages[0].document
    assert receipt is not None
    results = [_page_result(vault, page, receipt) for page in pages]
    documents = assemble(source.filename, results)
    by_number = {page.number: page for page in pages}
    for page in pages:
        page.document_id = None  # separator sheets and leading blank pages stay unfiled
    if not documents:
        receipt.status, receipt.reasons = "review", ["no_document_pages"]
    for index, found in enumerate(documents):
        document = receipt if index == 0 else open_receipt(session, vault, source, receipt.channel)
        for number in found.pages:
            by_number[number].document_id = document.id
        _save_document(session, vault, document, found, indexer, policy)


def _page_result(vault: Vault, page: Page, receipt: Document) -> PageResult:
    if page.status == "failed" or page.result_sealed is None:
        return PageResult(number=page.number, kind="unknown", reasons=list(page.reasons))
    return PageResult.model_validate_json(
        vault.open_value(receipt, f"page:{page.id}", page.result_sealed))


def _save_document(session: Session, vault: Vault, document: Document,
                   found: DocumentResult, indexer: BlindIndexer, policy: RetentionPolicy) -> None:
    document.form_id = found.form
    document.reasons = list(found.reasons)
    form = get_form(found.form) if found.form else None
    for position, (name, value) in enumerate(found.fields.items()):
        session.add(FieldValue(
            document_id=document.id, position=position, name=name,
            field_type=form.field(name).type if form else "text",
            value_sealed=vault.seal_value(document, f"field:{name}:value", value.value),
            raw_sealed=vault.seal_value(document, f"field:{name}:raw", value.raw),
            confidence=value.confidence, status=value.status, reasons=value.reasons,
            engine=value.engine, box=list(value.box) if value.box else None,
            page_number=form.field(name).page if form else None,
        ))
    document.status = "review" if found.needs_review else "ready"
    document_saved(session, vault, document, {n: v.value for n, v in found.fields.items()},
                   indexer, policy)


def pending_pages(session: Session, batch_id: str) -> list[str]:
    return list(session.scalars(
        select(Page.id).join(SourceFile).where(SourceFile.batch_id == batch_id,
                                               Page.status == "pending")
    ))
