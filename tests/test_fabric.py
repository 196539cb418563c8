"""The page path and the fabric without a broker: a file opened once, a scanner's page taken
out as it is, no plaintext on disk even when killed, a page read twice kept once, 受付番号
without races, and a killed `kura ingest` finished by the next command."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image
from sqlalchemy import func, select

from kura.bench.servers import kura_env
from pipeline.ingest import PageImage, ScanFile
from schemas.i18n import speaking
from storage.audit import AuditEntry
from storage.db import session_scope, upgrade
from storage.models import Page, SourceFile, StoredObject
from storage.objects import DirectoryStore
from storage.queries import batch_report
from storage.runtime import vault_for
from tests.fabric_checks import (
    check_every_page_read_once,
    files_finished,
    page_counts,
    paper_pdf,
    wait_for,
)
from tests.helpers import run_kura, services_env, settings_from, sign_in
from workers import jobs
from workers.intake import Arrival, take_in


def _scanner_pdf(page: Image.Image, dpi: int) -> tuple[bytes, bytes]:
    """(the PDF, the JPEG it holds) as a scanner writes a page."""
    pdf = io.BytesIO()
    page.save(pdf, "PDF", resolution=float(dpi), quality=85)
    with pikepdf.open(io.BytesIO(pdf.getvalue())) as opened:
        (stream,) = opened.pages[0].obj.Resources.XObject.values()
        return pdf.getvalue(), stream.read_raw_bytes()


def _rotated(data: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.pages[0].obj["/Rotate"] = 90
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def test_a_scanners_page_can_be_taken_out_as_it_is_and_any_other_page_is_drawn() -> None:
    rng = np.random.default_rng(3)
    page = Image.fromarray(rng.integers(0, 255, (3508, 2480), dtype=np.uint8), "L")
    pdf, jpeg = _scanner_pdf(page, 300)
    with ScanFile(pdf, take_images_out=True) as scan:
        assert scan.page_count == 1
        taken = scan.page(1)
    # exactly the scanner's picture: decoded once, not drawn again by a renderer
    assert np.array_equal(taken.image, np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")))
    assert taken.source_dpi == pytest.approx(300)
    # a page that is not just one picture (here turned by /Rotate) is drawn at 300 dpi
    with ScanFile(_rotated(pdf), take_images_out=True) as scan:
        turned = scan.page(1)
    assert turned.image.shape[:2] == (2480, 3508)
    # taking the picture out is the default; drawing it gives a few other grey levels
    with ScanFile(pdf) as scan:
        assert np.array_equal(scan.page(1).image, taken.image)
    with ScanFile(pdf, take_images_out=False) as scan:
        drawn = scan.page(1)
    assert drawn.image.shape == taken.image.shape
    assert not np.array_equal(drawn.image, taken.image)


DRAW_FOREVER = textwrap.dedent("""
    import sys
    from pipeline.ingest import ScanFile
    data = open(sys.argv[1], "rb").read()
    with ScanFile(data, take_images_out=False) as scan:
        while True:
            print("drawing", flush=True)
            scan.page(1)
""")


def test_no_plaintext_is_left_on_disk_when_rasterising_is_killed(tmp_path: Path) -> None:
    """The decrypted file reaches the renderer through a pipe: a process killed (SIGKILL)
    while it draws a page leaves nothing in its temporary folder."""
    marker = b"KURA-PLAINTEXT-MARKER"
    pdf, _ = _scanner_pdf(Image.new("L", (1240, 1754), 250), 150)
    source = tmp_path / "in.pdf"
    source.write_bytes(_rotated(pdf).replace(b"%%EOF", b"%" + marker + b"\n%%EOF"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", DRAW_FOREVER, str(source)],
        env={**os.environ, "TMPDIR": str(scratch)}, stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    for _ in range(3):  # killed in the middle of its third page
        assert child.stdout.readline().strip() == "drawing"
    time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    time.sleep(1)  # the renderer, left without a reader, ends on its own
    assert list(scratch.iterdir()) == []
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("tmp*")
                 if p.is_file() and marker in p.read_bytes()[-200:]]
    assert leftovers == []


def test_a_page_read_twice_is_kept_once(tmp_path: Path) -> None:
    """Two deliveries of one page task (a redelivered message, a resent one) both read it;
    the second saving changes nothing."""
    settings = settings_from(kura_env(data_dir=str(tmp_path / "data")))
    upgrade(settings.sqlalchemy_url)
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        arrival = Arrival("a.pdf", paper_pdf(tmp_path / "a.pdf", 2, seed=1).read_bytes())
        result = take_in(session, vault, [arrival], "cli")
    first, second = result.page_ids
    claims = [jobs._load(settings, first) for _ in range(2)]  # both loaded while pending
    for claim in claims:
        assert claim is not None and jobs._start(settings, claim)
        with ScanFile(vault.get_object(claim.original)) as scan:
            read, image, failure = jobs._read(claim, scan)
        jobs._save(settings, vault, claim, read, image, failure, 0.1)
    jobs.process_page_job(settings, second)
    jobs.process_page_job(settings, second)  # already read: nothing to do
    with session_scope(settings.sqlalchemy_url) as session:
        assert session.scalar(select(func.count()).select_from(StoredObject)
                              .where(StoredObject.kind == "page_image")) == 2
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "page.read")) == 2
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "document.assemble")) == 1
        assert {p.status for p in session.scalars(select(Page))} == {"done"}


ALLOCATE = textwrap.dedent("""
    import datetime as dt, sys
    from storage.db import session_scope
    from storage.intake import next_receipt_number
    numbers = []
    for _ in range(int(sys.argv[2])):
        with session_scope(sys.argv[1]) as session:
            numbers.append(next_receipt_number(session, dt.date(2026, 11, 29), "131016"))
    print(" ".join(numbers))
""")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_receipt_numbers_taken_at_once_are_all_distinct(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (request.getfixturevalue("postgres_url") if database == "postgresql"
           else f"sqlite:///{tmp_path / 'kura.db'}")
    upgrade(url)
    each = 25
    runs = [subprocess.Popen([sys.executable, "-c", ALLOCATE, url, str(each)],
                             stdout=subprocess.PIPE, text=True) for _ in range(3)]
    numbers = [n for run in runs for n in run.communicate(timeout=120)[0].split()]
    assert all(run.returncode == 0 for run in runs)
    assert sorted(numbers) == [f"R20261129-{n:06d}" for n in range(1, 3 * each + 1)]


def test_two_ingests_at_once_take_distinct_receipts(
    tmp_path: Path, redis_url: str, postgres_url: str, s3: object
) -> None:
    """Two clerks' `kura ingest` into one database at the same moment (the pages go to the
    broker; no worker is needed for the receipts)."""
    env = services_env(tmp_path / "data", redis_url, postgres_url, s3)  # type: ignore[arg-type]
    run_kura(env, "db", "upgrade")
    sign_in(env)
    scans = [[paper_pdf(tmp_path / f"{side}{n}.pdf", 1, seed=10 * i + n) for n in range(4)]
             for i, side in enumerate("ab")]
    from kura.bench.servers import KURA

    runs = [subprocess.Popen([*KURA, "ingest", "--no-wait", *map(str, files)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for files in scans]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    with session_scope(settings_from(env).sqlalchemy_url) as session:
        assert session.scalar(select(func.count()).select_from(SourceFile)) == 8
        from storage.models import Document

        receipts = session.scalars(select(Document.receipt_number)).all()
    assert len(receipts) == 8 and len(set(receipts)) == 8


def test_a_killed_ingest_is_finished_by_the_next_command(tmp_path: Path) -> None:
    """The embedded default: `kura ingest` killed (SIGKILL) in the middle of a file; the next
    command finishes it, every page read exactly once; the same file given again is
    reported as already received, not taken in twice."""
    env = kura_env(data_dir=str(tmp_path / "data"), log_level="WARNING")
    run_kura(env, "db", "upgrade")
    sign_in(env)
    interrupted = paper_pdf(tmp_path / "long.pdf", 5, seed=1)
    later = paper_pdf(tmp_path / "later.pdf", 1, seed=2)
    from kura.bench.servers import KURA

    first = subprocess.Popen([*KURA, "ingest", str(interrupted)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: page_counts(env).get("done", 0) >= 2, 120, "two pages read")
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert page_counts(env).get("pending", 0) >= 1, "killed too late: nothing left to finish"
    output = run_kura(env, "ingest", str(later))
    assert files_finished(env, 2), output
    check_every_page_read_once(env, [interrupted, later])
    again = run_kura(env, "ingest", str(interrupted))
    assert "already received" in again
    status = run_kura(env, "batch", "status")
    assert "quarantined 1" in " ".join(status.split())


def test_a_page_that_fails_for_good_is_set_aside_and_its_file_goes_on(tmp_path: Path) -> None:
    """A page that stopped its worker MAX_ATTEMPTS times is not tried again: it is failed
    with its reason, the file's other pages are read and the file is finished."""
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = settings_from(env)
    upgrade(settings.sqlalchemy_url)
    with session_scope(settings.sqlalchemy_url) as session:
        arrival = Arrival("a.pdf", paper_pdf(tmp_path / "a.pdf", 2, seed=4).read_bytes())
        result = take_in(session, vault_for(settings), [arrival], "cli")
        session.get_one(Page, result.page_ids[0]).attempts = jobs.MAX_ATTEMPTS
    for page_id in result.page_ids:
        jobs.process_page_job(settings, page_id)
    with session_scope(settings.sqlalchemy_url) as session:
        first, second = (session.get_one(Page, page_id) for page_id in result.page_ids)
        assert (first.status, first.reasons) == ("failed", ["failed: too_many_attempts"])
        assert second.status == "done"
        assert session.get_one(SourceFile, first.source_file_id).status == "done"
    sign_in(env)
    status = " ".join(run_kura(env, "batch", "status", result.batch_id[:8]).split())
    assert "read 1, failed 1" in status
    assert "set aside in quarantine: file-001.pdf page 1 — failed: too_many_attempts" in status
    in_japanese = run_kura({**env, "KURA_LANG": "ja"}, "batch", "status", result.batch_id[:8])
    assert "隔離: file-001.pdf 1頁目 — failed: too_many_attempts" in " ".join(in_japanese.split())


def test_a_fault_in_one_page_sets_it_aside_in_quarantine_and_the_rest_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault injected into the reading of page 2 of 3: that page fails for good with its
    reason and is listed in quarantine; pages 1 and 3 are read, the file is assembled, the
    batch's other file is untouched, and the batch report and `kura batch status` say so."""
    env = kura_env(data_dir=str(tmp_path / "data"), lang="en")
    settings = settings_from(env)
    upgrade(settings.sqlalchemy_url)
    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(session, vault_for(settings), [
            Arrival("a.pdf", paper_pdf(tmp_path / "a.pdf", 3, seed=5).read_bytes()),
            Arrival("b.pdf", paper_pdf(tmp_path / "b.pdf", 1, seed=6).read_bytes())], "cli")
        faulty = session.scalars(select(Page.id).join(SourceFile).where(
            SourceFile.position == 0, Page.number == 2)).one()
    read_page = jobs.read_page

    def faulty_read(page: PageImage) -> object:
        if page.number == 2 and reading[0] == faulty:
            raise RuntimeError("injected fault")
        return read_page(page)

    reading = [""]
    monkeypatch.setattr(jobs, "read_page", faulty_read)
    for page_id in result.page_ids:
        reading[0] = page_id
        jobs.process_page_job(settings, page_id)
    with session_scope(settings.sqlalchemy_url) as session:
        pages = {(p.source_file.position, p.number): (p.status, p.reasons)
                 for p in session.scalars(select(Page))}
        assert pages == {(0, 1): ("done", []), (0, 2): ("failed", ["failed: RuntimeError"]),
                         (0, 3): ("done", []), (1, 1): ("done", [])}
        assert {s.status for s in session.scalars(select(SourceFile))} == {"done"}
        with speaking("en"):
            report = batch_report(session, result.batch_id)
    assert report.pages_failed == 1
    assert report.files[0].reason == "page 2 set aside in quarantine (failed: RuntimeError)"
    assert "set aside" not in (report.files[1].reason or "")
    sign_in(env)  # a scanning clerk and records manager
    listed = run_kura(env, "quarantine", "pages", "--json")
    [set_aside] = json.loads(listed)
    assert (set_aside["id"], set_aside["label"], set_aside["number"], set_aside["reason"]) == (
        faulty, "file-001.pdf", 2, "failed: RuntimeError")
    status = " ".join(run_kura(env, "batch", "status", result.batch_id[:8]).split())
    assert "read 3, failed 1" in status
    assert "set aside in quarantine: file-001.pdf page 2 — failed: RuntimeError" in status


def test_an_outage_while_a_page_is_kept_is_not_held_against_the_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The object store refuses the page's image more times than a page may be tried: each
    try is given back, and once the store answers the page is read, not failed for good."""
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = settings_from(env)
    upgrade(settings.sqlalchemy_url)
    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(session, vault_for(settings), [
            Arrival("a.pdf", paper_pdf(tmp_path / "a.pdf", 1, seed=7).read_bytes())], "cli")
    put_pieces = DirectoryStore.put_pieces

    def away(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the store is away")

    monkeypatch.setattr(DirectoryStore, "put_pieces", away)
    for _ in range(jobs.MAX_ATTEMPTS + 2):
        with pytest.raises(ConnectionError):
            jobs.process_page_job(settings, result.page_ids[0])
    monkeypatch.setattr(DirectoryStore, "put_pieces", put_pieces)
    jobs.process_page_job(settings, result.page_ids[0])
    with session_scope(settings.sqlalchemy_url) as session:
        page = session.get_one(Page, result.page_ids[0])
        assert (page.status, page.attempts) == ("done", 1)
