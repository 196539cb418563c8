"""`kura bench reconcile-register`: the time 突合 takes through its use case (sign-in check,
opening every sealed row, blind-index digests, the matching, the audit entry and its
checkpoint) and the time its confirmation takes, over a list of N rows against a register
of N + 10 % forwarded documents, on the embedded default.

The register and the list are written straight into a new installation (no OCR: the list's
reading is measured by `kura bench lists`), every outcome planted: most rows match, some
differ in name kana, some were never received, some print a 基礎年金番号 that fails its
format."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from schemas.contracts import DocumentResult, FieldResult
from schemas.settings import Settings
from storage.accounts import add_person, sign_in
from storage.audit import Actor
from storage.blind_index import BlindIndexer
from storage.db import session_scope, upgrade
from storage.intake import open_receipt
from storage.models import Batch, Document, FieldValue, SourceFile
from storage.register import LIST_FORM, save_list_rows
from storage.register_models import RegisterEntry
from storage.runtime import indexer_for, vault_for
from storage.vault import Vault

OFFICE = "041009"
FORM = "kokunen_hihokensha_todoke"
PASSWORD = "bench passphrase, long enough"
KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"


def cell(value: str) -> FieldResult:
    """A list cell read sure and accepted."""
    return FieldResult(value=value, raw=value, confidence=0.99, status="accepted")


def file_list_as_read(session: Session, vault: Vault, indexer: BlindIndexer, source: SourceFile,
                      municipality: str, rows: list[dict[str, FieldResult]],
                      row_pages: list[int]) -> Document:
    """A printed list as its reader leaves it (no OCR): its 市区町村コード and its rows,
    sealed, with their digests."""
    listed = open_receipt(session, vault, source, "cli", municipality)
    listed.form_id, listed.status = LIST_FORM, "ready"
    session.add(FieldValue(
        document_id=listed.id, position=0, name="municipality_code",
        field_type="municipality_code", confidence=0.99, status="accepted", engine="bench",
        value_sealed=vault.seal_value(listed, "field:municipality_code:value", municipality),
        raw_sealed=vault.seal_value(listed, "field:municipality_code:raw", municipality)))
    save_list_rows(session, vault, indexer, listed, DocumentResult(
        source=source.filename, pages=[1], form=LIST_FORM, fields={}, rows=rows,
        row_pages=row_pages))
    return listed


def _kana(rng: random.Random) -> str:
    return "".join(rng.choice(KANA) for _ in range(rng.randint(4, 8)))


def _fill(settings: Settings, rows: int, seed: int) -> tuple[Counter[str], str]:
    """The register and the list; returns what was planted and the list's 受付番号."""
    rng = random.Random(seed)
    vault, indexer = vault_for(settings), indexer_for(settings)
    planted: Counter[str] = Counter()
    with session_scope(settings.sqlalchemy_url) as session:
        for name, role in (("bench-run", "checker"), ("bench-confirm", "records_manager")):
            add_person(session, Actor("bench", "-"), name, [role], PASSWORD)
        batch = Batch(channel="cli")
        session.add(batch)
        session.flush()
        source = SourceFile(batch_id=batch.id, position=0, filename="file-001.pdf",
                            sha256="0" * 64, status="done",
                            object_id=vault.put_object(session, "original", b"bench").id)
        session.add(source)
        session.flush()
        people = []
        for _ in range(rows + rows // 10):
            received = dt.date(2025, 6, 1) + dt.timedelta(days=rng.randint(0, 60))
            person = {"notification_type": "acquisition",
                      "basic_pension_number": f"{rng.randint(10**9, 10**10 - 1)}",
                      "name_kana": _kana(rng), "birth_date": f"19{rng.randint(40, 99)}-0"
                      f"{rng.randint(1, 9)}-1{rng.randint(0, 9)}"}
            document = open_receipt(session, vault, source, "cli", OFFICE)
            document.form_id, document.status, document.received_date = FORM, "verified", \
                received
            for position, (name, value) in enumerate(person.items()):
                session.add(FieldValue(
                    document_id=document.id, position=position, name=name, field_type="text",
                    value_sealed=vault.seal_value(document, f"field:{name}:value", value),
                    raw_sealed=vault.seal_value(document, f"field:{name}:raw", value),
                    confidence=0.99, status="accepted", engine="bench"))
            indexer.index_document(session, document, person)
            session.add(RegisterEntry(
                document_id=document.id, municipality=OFFICE, form_id=FORM,
                notification_type="資格取得",
                stage="forwarded", received_date=received,
                forwarded_on=received + dt.timedelta(days=3)))
            people.append((person, received))
        printed = []
        for index in range(rows):
            person, received = people[index]
            roll = rng.random()
            kind = ("matched" if roll < 0.90 else "matched_with_differences" if roll < 0.95
                    else "result_without_entry" if roll < 0.99 else "unreadable")
            planted[kind] += 1
            bpn = person["basic_pension_number"]
            printed.append({
                "number": cell(str(index + 1)),
                "basic_pension_number": cell(
                    bpn[:9] if kind == "unreadable" else bpn if kind != "result_without_entry"
                    else f"{rng.randint(10**9, 10**10 - 1)}"),
                "name_kana": cell(_kana(rng) if kind == "matched_with_differences"
                                   else person["name_kana"]),
                "birth_date": cell(person["birth_date"]),
                "notification_type": cell("資格取得"),
                "received_date": cell((received + dt.timedelta(days=5)).isoformat()),
                "processed_date": cell((received + dt.timedelta(days=20)).isoformat()),
                "result": cell("処理済")})
        listed = file_list_as_read(session, vault, indexer, source, OFFICE, printed,
                                   [1 + i // 40 for i in range(rows)])
        return planted, listed.receipt_number


def time_register_reconciliation(rows: int, data_dir: Path, seed: int = 3) -> dict[str, Any]:
    from storage.usecases.reconciliation import confirm, reconcile
    from workers.register import match

    settings = Settings(data_dir=data_dir, municipality_code=OFFICE)
    upgrade(settings.sqlalchemy_url)
    started = time.perf_counter()
    planted, receipt = _fill(settings, rows, seed)
    filled = time.perf_counter() - started
    with session_scope(settings.sqlalchemy_url) as session:
        runner = sign_in(session, "bench-run", PASSWORD, 60).token
        confirmer = sign_in(session, "bench-confirm", PASSWORD, 60).token
    started = time.perf_counter()
    report = reconcile(settings, runner, receipt, match)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    confirm(settings, confirmer, receipt)
    confirmed = time.perf_counter() - started
    return {"rows": rows, "entries": rows + rows // 10, "setup_seconds": round(filled, 1),
            "reconcile_seconds": round(seconds, 2), "confirm_seconds": round(confirmed, 2),
            "planted": dict(planted),
            "found": report.counts}
