"""Small scans for the fabric's tests, and the page-by-page check every one of them ends with:
what the database holds against what went in."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pipeline.ingest import count_pages
from storage.audit import AuditEntry, AuditObject
from storage.db import session_scope
from storage.models import Document, Page, SourceFile
from storage.runtime import vault_for
from tests.helpers import settings_from

A4_150_DPI = (1240, 1754)


def paper_pdf(path: Path, pages: int, seed: int) -> Path:
    """A PDF of `pages` nearly white pages as a scanner writes them (one JPEG per page, 150
    dpi): quick to read (they are blank), each file different from the others."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(pages):
        paper = np.full(A4_150_DPI[::-1], 246, np.uint8)
        paper += rng.integers(0, 6, paper.shape, dtype=np.uint8)  # the paper's grain
        images.append(Image.fromarray(paper, "L"))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150.0,
                   quality=80)
    path.write_bytes(out.getvalue())
    return path


def page_counts(env: dict[str, str]) -> dict[str, int]:
    """Pages by status right now; {} while the database does not answer."""
    try:
        with session_scope(settings_from(env).sqlalchemy_url) as session:
            return dict(session.execute(
                select(Page.status, func.count()).group_by(Page.status)).all())
    except OperationalError:
        return {}


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    if not comes_true(condition, timeout_s):
        raise AssertionError(f"waited {timeout_s:.0f} s for {what}")


def comes_true(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def files_finished(env: dict[str, str], files: int) -> bool:
    try:
        with session_scope(settings_from(env).sqlalchemy_url) as session:
            return session.scalar(select(func.count()).select_from(SourceFile).where(
                SourceFile.status.in_(("done", "rejected")))) == files
    except OperationalError:
        return False


def check_every_page_read_once(env: dict[str, str], scans: list[Path],
                               set_aside: dict[tuple[str, int], list[str]] | None = None
                               ) -> None:
    """Each input file is one stored file, finished, with exactly its pages, each read (not
    failed, not pending) and recorded read exactly once; every 受付番号 is distinct. The pages
    of `set_aside` ((file name, page number): reasons) are failed for good instead, with
    those reasons, and recorded once as well."""
    set_aside = set_aside or {}
    with session_scope(settings_from(env).sqlalchemy_url) as session:
        sources = list(session.scalars(select(SourceFile).order_by(SourceFile.received_at,
                                                                   SourceFile.position)))
        assert len(sources) == len(scans)
        for scan in scans:
            source = source_of(session, env, scan)
            assert source.status == "done", (scan.name, source.status)
            pages = list(source.pages)
            assert [p.number for p in pages] == list(range(1, count_pages(scan.read_bytes()) + 1))
            for page in pages:
                reasons = set_aside.get((scan.name, page.number))
                if reasons is None:
                    assert page.status == "done", (scan.name, page.number, page.status,
                                                   page.reasons)
                else:
                    assert (page.status, page.reasons) == ("failed", reasons), (
                        scan.name, page.number, page.status, page.reasons)
                reads = session.scalar(
                    select(func.count()).select_from(AuditObject).join(AuditEntry)
                    .where(AuditObject.object_id == page.id, AuditEntry.action == "page.read"))
                assert reads == 1, (scan.name, page.number, reads)
        receipts = session.scalars(select(Document.receipt_number)).all()
        assert len(receipts) == len(set(receipts))


def source_of(session: Session, env: dict[str, str], scan: Path) -> SourceFile:
    """The stored file `scan` became, found by its content."""
    digest = vault_for(settings_from(env)).digest(scan.read_bytes())
    return session.scalars(select(SourceFile).where(SourceFile.sha256 == digest)).one()
