"""`kura extract`: a file through every stage in process, as the extraction contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import RejectedFile
from pipeline.ingest import rasterise
from pipeline.page import assemble, process_page
from schemas.contracts import FieldResult


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
    try:
        pages = rasterise(path.read_bytes())
    except RejectedFile as error:
        return [
            {
                "source": str(path),
                "pages": [],
                "form": None,
                "fields": {},
                "rows": None,
                "error": {"code": error.code, "message": str(error)},
            }
        ]
    results = [process_page(page, engine=engine) for page in pages]
    return [
        {
            "source": str(path),
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
        }
        for document in assemble(str(path), results)
    ]
