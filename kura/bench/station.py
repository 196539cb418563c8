"""The verification station's numbers (`kura bench station`): server time to open a document
and to save a correction, on a database holding many documents, and the keystrokes verifying
the documents costs the verifiers and checkers, counted in Chromium (kura/bench/keystrokes.py).

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
from typing import TYPE_CHECKING, Any

from PIL import Image

from schemas.forms import get_form
from schemas.settings import Settings
from storage.accounts import add_person, sign_in
from storage.audit import Actor
from storage.db import session_scope, upgrade
from storage.models import Batch, Document, FieldValue, Page, SourceFile, new_id
from storage.queries import document_count, receipts_in_review
from storage.runtime import vault_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser

FORM = "kokunen_hihokensha_todoke"
PASSWORD = "bench station passphrase"
VALUES = {
    "notification_type": "acquisition", "basic_pension_number": "1234567890",
    "my_number": "123456789018", "name_kana": "ヤマダタロウ", "name": "山田 太郎",
    "birth_date": "1965-01-02", "sex": "male", "postal_code": "9800803",
    "address": "仙台市青葉区国分町3-7-1", "phone": "0222612111", "filed_date": "2026-11-20",
}
REVIEW = {"name_kana": ["doubt:ダ/タ"], "birth_date": ["date_invalid"]}
MISREAD = {"name_kana": "ヤマタタロウ", "birth_date": "1965-02-30", "my_number": "123456789019"}
"""What the machine read where it was wrong: the flagged date always (no such day), the
doubtful kana in every other document, the 個人番号 whenever it is flagged."""
FIRST_DAY = dt.date(2026, 1, 1)
BLIND_EVERY = 5
"""One document in five has its 個人番号 flagged (keyed blind by two verifiers)."""
QUEUE_SAMPLES = 5
PEOPLE = {"bench-verifier": "verifier", "bench-keyer": "verifier", "bench-checker": "checker"}


@dataclass(frozen=True)
class StationNumbers:
    documents: int
    database: str
    queue_median_ms: float
    """Showing the station's queue: its first screen of the oldest documents."""
    open_median_ms: float
    open_p95_ms: float
    correct_median_ms: float
    correct_p95_ms: float
    samples: int
    verifier_keys_per_100: int
    checker_keys_per_100: int
    keystroke_documents: int
    """Documents verified in Chromium with the keyboard to count the keys (per 100 is scaled
    from these)."""

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
        for username, role in PEOPLE.items():
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
            for position, (name, truth) in enumerate(VALUES.items()):
                reasons = REVIEW.get(name, [])
                if name == "my_number" and n % BLIND_EVERY == 0:
                    reasons = ["check_digit"]
                wrong = reasons and (name != "name_kana" or n % 2 == 1)
                value = MISREAD[name] if wrong else truth
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


def measure(settings: Settings, samples: int = 200, seed: int = 1,
            keystroke_documents: int = 20, browser: Browser | None = None) -> StationNumbers:
    """Count the keys of verifying the first `keystroke_documents` documents in Chromium, then
    open `samples` others and save one correction in each, through the web app."""
    from fastapi.testclient import TestClient

    from kura.bench.keystrokes import count_keys
    from web.app import create_app

    with session_scope(settings.sqlalchemy_url) as session:
        receipts = sorted(receipts_in_review(session, FORM))
        total = document_count(session)
    keyed, receipts = receipts[:keystroke_documents], receipts[keystroke_documents:]
    counted = count_keys(settings, keyed, VALUES, {
        "verifier": "bench-verifier", "keyer": "bench-keyer", "checker": "bench-checker",
        "password": PASSWORD}, browser)
    with session_scope(settings.sqlalchemy_url) as session:
        token = sign_in(session, "bench-verifier", PASSWORD, 60).token
    client = TestClient(create_app(settings), base_url="https://testserver")
    client.cookies.set("kura_session", token)
    queued = []
    for _ in range(QUEUE_SAMPLES):
        started = time.perf_counter()
        screen = client.get("/station")
        queued.append(time.perf_counter() - started)
        assert screen.status_code == 200, screen.status_code
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
    verifier, checker = counted.per_100()
    return StationNumbers(
        documents=total, database=settings.sqlalchemy_url.split(":", 1)[0],
        queue_median_ms=_ms(statistics.median(queued)),
        open_median_ms=_ms(statistics.median(opened)), open_p95_ms=_ms(_p95(opened)),
        correct_median_ms=_ms(statistics.median(corrected)), correct_p95_ms=_ms(_p95(corrected)),
        samples=len(chosen), verifier_keys_per_100=verifier, checker_keys_per_100=checker,
        keystroke_documents=counted.documents)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
