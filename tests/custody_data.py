"""Filed documents for the custody and backup tests, made without OCR: small scans are
taken in through the real intake, then each document's fields are saved through the same
`_save_document` the workers use (so blind indexes and retention apply as in production)."""

from __future__ import annotations

import io
import random

from PIL import Image
from sqlalchemy.orm import Session

from schemas.contracts import DocumentResult, FieldResult
from schemas.settings import Settings
from storage.blind_index import load_indexer
from storage.models import Document, Page, SourceFile
from storage.retention import RetentionPolicy
from storage.vault import Vault
from workers.intake import Arrival, take_in
from workers.jobs import _save_document

FORM = "kokunen_hihokensha_todoke"

PEOPLE: list[dict[str, str]] = [
    {
        "basic_pension_number": "1234567890",
        "my_number": "123456789018",
        "name_kana": "ヤマダタロウ",
        "name": "山田 太郎",
        "birth_date": "1965-01-02",
        "address": "仙台市青葉区国分町3-7-1",
    },
    {
        "basic_pension_number": "9876543210",
        "my_number": "987654321098",
        "name_kana": "スズキハナコ",
        "name": "鈴木 花子",
        "birth_date": "1990-12-31",
        "address": "豊島区南池袋2-45-1",
    },
    {
        "basic_pension_number": "5555000011",
        "my_number": "111122223333",
        "name_kana": "タナカイチロウ",
        "name": "田中 一郎",
        "birth_date": "1958-07-15",
        "address": "仙台市宮城野区榴岡1-1-1",
    },
]


def scan_png(seed: int) -> bytes:
    """A small, unique PNG the size of a postcard at 150 dpi, the smallest page intake takes
    (the duplicate check compares content)."""
    rng = random.Random(seed)
    noise = Image.new("L", (64, 48), 255)
    noise.putdata([rng.randrange(200, 256) for _ in range(64 * 48)])
    image = Image.new("L", (620, 877), 255)
    image.paste(noise, (0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def file_documents(
    session: Session,
    settings: Settings,
    vault: Vault,
    people: list[dict[str, str]],
    seed: int = 0,
    reasons: dict[str, list[str]] | None = None,
) -> list[tuple[Document, bytes]]:
    """One scan per person, taken in and filed; returns (document, original bytes). Fields
    named in `reasons` wait for review with those reasons."""
    scans = [scan_png(seed * 100 + i) for i in range(len(people))]
    result = take_in(
        session, vault, [Arrival(f"scan{i}.png", data) for i, data in enumerate(scans)], "cli"
    )
    filed = []
    for page_id, person, data in zip(result.page_ids, people, scans, strict=True):
        page = session.get_one(Page, page_id)
        page.image_object_id = vault.put_object(
            session, "page_image", b"\xff\xd8 page image " + data[-32:]
        ).id
        page.status, page.kind, page.form_id, page.form_page = "done", "form", FORM, 1
        document = page.document
        assert document is not None
        found = DocumentResult(
            source=f"scan{page.number}.png",
            pages=[1],
            form=FORM,
            fields={
                name: FieldResult(
                    value=value, raw=value, confidence=0.99, engine="test",
                    status="review" if (reasons or {}).get(name) else "accepted",
                    reasons=(reasons or {}).get(name, []),
                )
                for name, value in person.items()
            },
        )
        _save_document(session, vault, document, found, load_indexer(settings),
                       RetentionPolicy.from_settings(settings))
        session.get_one(SourceFile, page.source_file_id).status = "done"
        filed.append((document, data))
    session.flush()
    return filed
