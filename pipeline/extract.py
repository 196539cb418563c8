"""`kura extract`: a file through every stage in process, as the extraction contract.

Every file gets at least one entry: a file refused by triage, a file that cannot be read
and a file with no document on any page (blank, or no known form) each get an entry with
an `error` (code and message) instead of vanishing from the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import KuraError
from pipeline.ingest import rasterise
from pipeline.page import assemble, process_page
from pipeline.triage import triage
from schemas.contracts import FieldResult
from schemas.reasons import describe


def _cell(f: FieldResult) -> dict[str, Any]:
    return {
        "value": f.value,
        "raw": f.raw,
        "confidence": f.confidence,
        "status": f.status,
        "reasons": f.reasons,
    }


def _row(row: dict[str, FieldResult], page: int) -> dict[str, Any]:
    """A list row: its cells, each with where it is printed (file page, box in pixels)."""
    return {name: {**_cell(cell), "page": page, "box": list(cell.box) if cell.box else None}
            for name, cell in row.items()}


def extract_file(path: Path, engine: str | None = None) -> list[dict[str, Any]]:
    return extract_data(str(path), path.read_bytes(), engine)


def refusal(source: str, code: str, message: str, **more: Any) -> dict[str, Any]:
    """The entry of a file that gave no document, with why."""
    return {"source": source, "pages": [], "form": None, "fields": {}, "rows": None,
            "error": {"code": code, "message": message}, **more}


def extract_data(source: str, data: bytes, engine: str | None = None) -> list[dict[str, Any]]:
    try:
        flags = triage(data).flags
        results = [process_page(page, engine=engine) for page in rasterise(data)]
    except KuraError as error:
        return [refusal(source, error.code, error.message)]
    documents = assemble(source, results)
    if not documents:
        return [refusal(source, "no_document_pages", describe("no_document_pages"),
                        reasons=["no_document_pages"], flags=flags,
                        page_kinds=[r.kind for r in results])]
    return [
        {
            "source": source,
            "pages": document.pages,
            "form": document.form,
            "fields": {name: _cell(f) for name, f in document.fields.items()},
            "rows": (
                [_row(row, page) for row, page in
                 zip(document.rows, document.row_pages or [], strict=True)]
                if document.rows is not None
                else None
            ),
            "reasons": document.reasons,
            "flags": flags,
        }
        for document in documents
    ]
