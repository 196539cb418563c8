"""The verification station's numbers (`kura bench station`): server time to open a document
and to save a correction, on a database holding many documents, and the keystrokes a whole
batch costs the verifiers and checkers with the station's keyboard.

The documents are written straight into the tables (sealed like the pipeline seals them, one
shared page image): what is measured is the station, not the reading."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from schemas.forms import get_form
from schemas.settings import Settings
from storage.accounts import add_person, sign_in
from storage.audit import Actor
from storage.db import session_scope, upgrade
from storage.models import Batch, Document, FieldValue, Page, SourceFile, new_id
from storage.queries import document_count, receipts_in_review
from storage.runtime import vault_for

FORM = "kokunen_hihokensha_todoke"
PASSWORD = "bench station passphrase"
VALUES = {
    "notification_type": "acquisition", "basic_pension_number": "1234567890",
    "my_number": "123456789018", "name_kana": "ヤマダタロウ", "name": "山田 太郎",
    "birth_date": "1965-01-02", "sex": "male", "postal_code": "9800803",
    "address": "仙台市青葉区国分町3-7-1", "phone": "0222612111", "filed_date": "2026-11-20",
}
REVIEW = {"name_kana": ["doubt:ダ/タ"], "birth_date": ["date_invalid"]}
FIRST_DAY = dt.date(2026, 1, 1)
BLIND_EVERY = 5
"""One document in five has its 個人番号 flagged (keyed blind by two verifiers)."""


@dataclass(frozen=True)
class StationNumbers:
    documents: int
    database: str
    open_median_ms: float
    open_p95_ms: float
    correct_median_ms: float
    correct_p95_ms: float
    samples: int
    verifier_keys_per_100: int
    checker_keys_per_100: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def fill(settings: Settings, documents: int, progress: Callable[[str], None] = print) -> None:
    """`documents` documents of one form waiting for verification, and the two people."""
    upgrade(settings.sqlalchemy_url)
    vault = vault_for(settings)
    form = get_form(FORM)
    image = io.BytesIO()
    Image.new("L", (620, 877), 255).save(image, "JPEG")
    with session_scope(settings.sqlalchemy_url) as session:
        for username, role in (("bench-verifier", "verifier"), ("bench-checker", "checker")):
            add_person(session, Actor("bench", "-"), username, [role], PASSWORD)
        batch = Batch(channel="cli")
        session.add(batch)
        session.flush()
        original = vault.put_object(session, "page_image", image.getvalue())
        page_image = vault.put_object(session, "page_image", image.getvalue())
        already = document_count(session)
        for n in range(documents):
            source = SourceFile(batch_id=batch.id, position=n, filename=f"file-{n + 1:05d}.png",
                                sha256=f"{n:064d}", object_id=original.id, status="done",
                                page_count=1)
            session.add(source)
            session.flush()
            document_id = new_id()
            document = Document(id=document_id, receipt_number=f"R20260101-{already + n + 1:06d}",
                                received_date=FIRST_DAY + dt.timedelta(days=n % 300),
                                channel="cli", source_file_id=source.id, form_id=FORM,
                                status="review", wrapped_key=vault.new_document_key(document_id),
                                kek_id=vault.kek.id)
            session.add(document)
            session.flush()
            session.add(Page(source_file_id=source.id, document_id=document.id, number=1,
                             status="done", kind="form", form_id=FORM, form_page=1,
                             image_object_id=page_image.id))
            for position, (name, value) in enumerate(VALUES.items()):
                reasons = REVIEW.get(name, [])
                if name == "my_number" and n % BLIND_EVERY == 0:
                    reasons = ["check_digit"]
                session.add(FieldValue(
                    document_id=document.id, position=position, name=name,
                    field_type=form.field(name).type,
                    value_sealed=vault.seal_value(document, f"field:{name}:value", value),
                    raw_sealed=vault.seal_value(document, f"field:{name}:raw", value),
                    confidence=0.5 if reasons else 0.99,
                    status="review" if reasons else "accepted", reasons=reasons,
                    engine="bench", box=list(form.field(name).box), page_number=1))
            if n % 500 == 499:
                session.flush()
                session.commit()
                progress(f"{n + 1} documents")


def measure(settings: Settings, samples: int = 200, seed: int = 1) -> StationNumbers:
    """Open `samples` documents and save one correction in each, through the web app."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        receipts = receipts_in_review(session, FORM)
        total = document_count(session)
        token = sign_in(session, "bench-verifier", PASSWORD, 60).token
    client = TestClient(app, base_url="https://testserver")
    client.cookies.set("kura_session", token)
    chosen = random.Random(seed).sample(receipts, min(samples, len(receipts)))
    opened, corrected = [], []
    for receipt in chosen:
        started = time.perf_counter()
        page = client.get(f"/station/doc/{receipt}")
        opened.append(time.perf_counter() - started)
        assert page.status_code == 200, page.status_code
        csrf = re.search(r'data-csrf="([^"]+)"', page.text)
        assert csrf is not None
        started = time.perf_counter()
        saved = client.post(f"/station/doc/{receipt}/field/birth_date", data={
            "csrf": csrf.group(1), "step": "correct", "value": "1965-01-03",
            "reason": "misread"}, follow_redirects=False)
        corrected.append(time.perf_counter() - started)
        assert saved.status_code == 303, saved.status_code
    verifier, checker = keystrokes()
    return StationNumbers(
        documents=total, database=settings.sqlalchemy_url.split(":", 1)[0],
        open_median_ms=_ms(statistics.median(opened)), open_p95_ms=_ms(_p95(opened)),
        correct_median_ms=_ms(statistics.median(corrected)), correct_p95_ms=_ms(_p95(corrected)),
        samples=len(chosen), verifier_keys_per_100=verifier, checker_keys_per_100=checker)


def keystrokes() -> tuple[int, int]:
    """Keys per 100 forms with the station's keyboard, the machine readings accepted as they
    are (the focus never stops on them) and every field for review retyped: its characters
    and Enter; a blind field by two people; Enter on 'done' once per document. The checker
    presses Enter once per change to confirm."""
    verifier = checker = 0
    for n in range(100):
        for name, value in VALUES.items():
            blind = name == "my_number" and n % BLIND_EVERY == 0
            if blind:
                verifier += 2 * (len(value) + 1)
            elif name in REVIEW:
                verifier += len(value) + 1
                checker += 1
        verifier += 1
    return verifier, checker


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
