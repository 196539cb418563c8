"""The register (受付処理簿) kept beside the documents, and the rows of a 処理結果一覧表.

Every document the office receives has one register entry; the entry follows the document
(its form, whether it is verified) until it is forwarded (進達), and then only moves forward by
the use cases of storage/usecases/transmittals.py and reconciliation.py:

    received → verified → forwarded → result_received → filed

A forward-only class (年金生活者支援給付金, `forward_only: true` in its form) is not verified
by content: it is ready to forward once read. Its form carries no name kana or birth date, so
the clerk keys them at the counter (`key_identity`): sealed with the document's key, with
their blind-index digests, they let 突合 confirm a list row by two attributes as the fields of
any other form do. The rows of a list are kept sealed with the list document's key; what
reconciliation compares are their blind-index digests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from schemas.contracts import DocumentResult
from schemas.forms import FormDef, get_form
from schemas.normalise import canonical_json
from schemas.settings import Settings
from storage.blind_index import BlindIndexer
from storage.models import BlindIndex, Document
from storage.register_models import STAGES, ListRow, RegisterEntry
from storage.vault import Vault

LIST_FORM = "shori_kekka_ichiranhyo"

NOTIFICATION_TYPES: dict[str, str] = {
    "kokunen_menjo_shinsei": "免除申請",
    "kokunen_sanzen_sango": "産前産後免除届",
    "shienkyufu_seikyusho": "年金生活者支援給付金請求",
}
"""The 届書区分 a list prints for a document of each form; a form whose own
`notification_type` choice says it (被保険者関係届書: 資格取得, 資格喪失 …) is read from that."""

READABLE = ("review", "ready", "in_verification", "verified")
"""Document states in which a forward-only document may be forwarded (it was read)."""

ROW_INDEXED = ("basic_pension_number", "name_kana", "birth_date")
IDENTIFYING = ("name_kana", "birth_date")
"""What confirms a row besides the 基礎年金番号 (control 30: never one attribute alone)."""
IDENTITY = "register:identity"
"""The purpose a keyed identity is sealed under."""


def form_of(form_id: str | None) -> FormDef | None:
    if not form_id:
        return None
    try:
        return get_form(form_id)
    except Exception:  # a form definition removed since
        return None


def notification_type(vault: Vault, document: Document, form: FormDef) -> str:
    """The 届書区分 of a document as 日本年金機構 prints it."""
    chosen = next((f for f in document.fields if f.name == "notification_type"), None)
    definition = next((f for f in form.fields if f.name == "notification_type"), None)
    if chosen is not None and definition is not None and definition.options:
        value = vault.open_value(document, "field:notification_type:value", chosen.value_sealed)
        return next((o.label for o in definition.options if o.value == value), value)
    return NOTIFICATION_TYPES.get(form.id, form.title)


def stage_of(document: Document, form: FormDef | None) -> str:
    """Where a document not yet forwarded stands."""
    if document.status == "verified":
        return "verified"
    if form is not None and form.forward_only and document.status in READABLE:
        return "verified"  # forward-only: custody and 進達, no content verification
    return "received"


def sync_entries(session: Session, vault: Vault, settings: Settings) -> None:
    """Open the entry of every document that has none, and bring the entries not yet
    forwarded in line with their documents (form known, verified). Lists are not entries."""
    entered = exists().where(RegisterEntry.document_id == Document.id)
    for document in session.scalars(select(Document).where(
            ~entered, Document.form_id.is_distinct_from(LIST_FORM),
            Document.disposed_at.is_(None))).all():
        session.add(RegisterEntry(
            document_id=document.id, municipality=document.municipality,
            scanned_via=document.channel,
            office=settings.office_of(document.municipality) or settings.office,
            received_date=document.received_date, stage="received"))
    session.flush()
    waiting = session.scalars(select(RegisterEntry).where(
        RegisterEntry.stage.in_(("received", "verified")),
        RegisterEntry.document_id.is_not(None))).all()
    for entry in waiting:
        document = session.get_one(Document, entry.document_id)
        form = form_of(document.form_id)
        if form is not None and form.kind == "table":
            session.delete(entry)  # a list after all, once its pages were read
            continue
        if form is not None and entry.form_id != form.id:
            entry.form_id, entry.forward_only = form.id, form.forward_only
        if form is not None and not entry.notification_type and document.fields:
            entry.notification_type = notification_type(vault, document, form)
        if entry.transmittal_id is None:
            entry.stage = stage_of(document, form)
    session.flush()


def move(entry: RegisterEntry, stage: str) -> None:
    """Forward only: an entry never goes back to an earlier stage."""
    if STAGES.index(stage) < STAGES.index(entry.stage):
        raise ValueError(f"register entry {entry.id} cannot go back from {entry.stage}")
    entry.stage = stage


def receipt_numbers(session: Session, entry_ids: Iterable[str]) -> dict[str, str]:
    """entry id → 受付番号 (empty for an entry of no document of ours)."""
    ids = list(entry_ids)
    rows = session.execute(
        select(RegisterEntry.id, Document.receipt_number)
        .join(Document, Document.id == RegisterEntry.document_id)
        .where(RegisterEntry.id.in_(ids))).all()
    found = dict(rows)
    return {i: found.get(i, "") for i in ids}


def open_value(vault: Vault, document: Document, name: str) -> str:
    """A field's current value in clear ('' when the document has no such field)."""
    field = next((f for f in document.fields if f.name == name), None)
    if field is None:
        return ""
    return vault.open_value(document, f"field:{name}:value", field.value_sealed)


def field_digests(session: Session, document_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """document id → {field: blind-index digest} for the fields rows are compared on."""
    found: dict[str, dict[str, str]] = {}
    for row in session.scalars(select(BlindIndex).where(
            BlindIndex.document_id.in_(list(document_ids)), BlindIndex.field.in_(ROW_INDEXED))):
        found.setdefault(row.document_id, {})[row.field] = row.digest
    return found


# --- A forward-only item's identity, keyed at the counter ----------------------------------


def key_identity(vault: Vault, indexer: BlindIndexer, entry: RegisterEntry,
                 document: Document, values: dict[str, str], by: str) -> None:
    """Keep `values` (canonical name kana and ISO birth date) sealed on the entry, with
    their digests."""
    entry.identity_sealed = vault.seal_value(document, IDENTITY, canonical_json(values))
    entry.identity_digests = _identity_digests(indexer, values)
    entry.identity_key_id, entry.identified_by = indexer.id, by


def _identity_digests(indexer: BlindIndexer, values: dict[str, str]) -> dict[str, str]:
    return {name: digest for name in IDENTIFYING
            if (digest := indexer.digest(name, values.get(name, "")))}


def open_identity(vault: Vault, document: Document, entry: RegisterEntry) -> dict[str, str]:
    """The keyed name kana and birth date in clear ({} when none were keyed)."""
    if entry.identity_sealed is None:
        return {}
    values: dict[str, str] = json.loads(
        vault.open_value(document, IDENTITY, entry.identity_sealed))
    return values


def reindex_identities(session: Session, vault: Vault, indexer: BlindIndexer) -> int:
    """Key the digests of every keyed identity again (after a new index key)."""
    count = 0
    for entry, document in session.execute(
            select(RegisterEntry, Document).join(Document, Document.id == RegisterEntry.document_id)
            .where(RegisterEntry.identity_sealed.is_not(None),
                   Document.disposed_at.is_(None))).all():
        entry.identity_digests = _identity_digests(indexer, open_identity(vault, document, entry))
        entry.identity_key_id = indexer.id
        count += len(entry.identity_digests)
    return count


# --- A list's rows -------------------------------------------------------------------------


def save_list_rows(session: Session, vault: Vault, indexer: BlindIndexer, document: Document,
                   found: DocumentResult) -> int:
    """Keep the rows of a list document as read, in printed order: each sealed with the
    document's key, with its page and place on it, and the digests 突合 compares."""
    pages = found.row_pages or []
    for position, row in enumerate(found.rows or []):
        cells = {name: {"value": c.value, "confidence": c.confidence, "status": c.status,
                        "reasons": list(c.reasons)} for name, c in row.items()}
        boxes = [c.box for c in row.values() if c.box]
        box = None
        if boxes:
            left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
            right = max(b[0] + b[2] for b in boxes)
            bottom = max(b[1] + b[3] for b in boxes)
            box = [left, top, right - left, bottom - top]
        digests = {name: digest for name in ROW_INDEXED if name in row
                   and (digest := indexer.digest(name, row[name].value))}
        session.add(ListRow(
            document_id=document.id, position=position,
            page_number=pages[position] if position < len(pages) else 0, box=box,
            cells_sealed=vault.seal_value(document, f"row:{position}",
                                          json.dumps(cells, ensure_ascii=False)),
            review=[name for name, c in row.items() if c.status == "review"],
            digests=digests, differences=[], candidates=[]))
    session.flush()
    return len(found.rows or [])


def row_cells(vault: Vault, document: Document, row: ListRow) -> dict[str, dict[str, object]]:
    cells: dict[str, dict[str, object]] = json.loads(
        vault.open_value(document, f"row:{row.position}", row.cells_sealed))
    return cells


def list_rows(session: Session, document: Document) -> list[ListRow]:
    return list(session.scalars(select(ListRow).where(ListRow.document_id == document.id)
                                .order_by(ListRow.position)))

