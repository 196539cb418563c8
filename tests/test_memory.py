"""One file cannot take a worker down by its size.

Files are streamed at intake, never read whole into memory: hashed, checked and sealed
from the open file piece by piece, into the directory store and into S3. Measured in a
child process by its peak resident memory (VmHWM, reset before the intake), against a file
far larger than the growth allowed; and a 20 GB (sparse) file is refused by its size before
a byte is read. Decoding a page runs under a memory limit (pipeline.ingest.DECODE_MEMORY_BYTES):
pdftoppm under prlimit, an image measured before it is decoded."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from kura.bench.servers import S3Bucket, kura_env
from pipeline import ingest
from pipeline.errors import DamagedFile, ImageTooLarge
from pipeline.ingest import rasterise_page
from storage.db import session_scope, upgrade
from storage.models import Page
from storage.runtime import vault_for
from tests.fabric_checks import paper_pdf
from tests.helpers import services_env, settings_from
from workers import jobs
from workers.intake import Arrival, take_in

BIG_MB = 120
ALLOWED_GROWTH_MB = 40

CHILD = r"""
import json, sys
from pathlib import Path
from schemas.settings import get_settings
from storage.db import session_scope, upgrade
from storage.models import SourceFile, StoredObject
from storage.runtime import vault_for
from workers.intake import gather, take_in

def peak_mb():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

def now_mb():
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    return peak_mb()

settings = get_settings()
upgrade(settings.sqlalchemy_url)
vault = vault_for(settings)
def ingest(name):
    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(session, vault, gather([Path(name)]), "cli")
        answers = [(a.outcome, a.code, a.reason) for a in result.answers]
        sealed = [vault.get_object(session.get_one(StoredObject, s.object_id))
                  for s in session.query(SourceFile).filter_by(batch_id=result.batch_id)
                  if s.status != "rejected"] if sys.argv[3] == "read-back" else []
        return answers, [len(data) for data in sealed]
ingest(sys.argv[1])  # warm: every import and every first allocation done
before = now_mb()
answers, read_back = ingest(sys.argv[2])
print(json.dumps({"before": before, "after": peak_mb(), "answers": answers,
                  "read_back": read_back}))
"""


def _big_pdf(path: Path, small: Path) -> Path:
    """A real one-page scan carrying ~BIG_MB of incompressible bytes in an object no page
    uses: every byte is hashed and sealed, none needs decoding."""
    with pikepdf.open(small) as pdf:
        pdf.Root.Ballast = pikepdf.Stream(pdf, _noise(BIG_MB << 20))
        pdf.save(path, compress_streams=False)
    return path


def _noise(size: int) -> bytes:
    block = hashlib.sha256(b"kura").digest() * 32768  # 1 MiB, then made unrepeatable
    return b"".join(hashlib.sha256(i.to_bytes(4)).digest()[:1] + block[1:]
                    for i in range(size // len(block)))


def _run_child(env: dict[str, str], warm: Path, big: Path, read_back: bool) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-c", CHILD, str(warm), str(big),
                           "read-back" if read_back else "-"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("streaming")
    warm = paper_pdf(folder / "warm.pdf", 1, seed=21)
    return warm, _big_pdf(folder / "big.pdf", paper_pdf(folder / "one.pdf", 1, seed=22))


def _check(found: dict, big: Path) -> None:  # type: ignore[type-arg]
    assert found["answers"] == [["taken", "", ""]], found["answers"]
    growth = found["after"] - found["before"]
    assert big.stat().st_size > BIG_MB << 20
    assert growth < ALLOWED_GROWTH_MB, f"intake of a {BIG_MB} MB file grew by {growth:.0f} MB"


def test_a_large_file_is_taken_in_without_being_held_in_memory(
        tmp_path: Path, files: tuple[Path, Path]) -> None:
    warm, big = files
    env = kura_env(data_dir=str(tmp_path / "data"))
    _check(_run_child(env, warm, big, read_back=False), big)
    # and what was sealed in pieces reads back whole, its SHA-256 checked
    found = _run_child(kura_env(data_dir=str(tmp_path / "again")), warm, big, read_back=True)
    assert found["read_back"] == [big.stat().st_size]


def test_a_large_file_is_streamed_into_s3(
        tmp_path: Path, files: tuple[Path, Path], s3: S3Bucket) -> None:
    warm, big = files
    env = services_env(tmp_path / "data", "", f"sqlite:///{tmp_path / 'kura.db'}", s3)
    _check(_run_child(env, warm, big, read_back=False), big)
    found = _run_child(env, warm, big, read_back=False)  # the same file again: a duplicate
    assert found["answers"][0][1] == "duplicate", found["answers"]
    env = services_env(tmp_path / "data", "", f"sqlite:///{tmp_path / 'again.db'}", s3)
    assert _run_child(env, warm, big, read_back=True)["read_back"] == [big.stat().st_size]


def test_a_20_gb_file_is_refused_by_its_size_before_it_is_read(
        tmp_path: Path, files: tuple[Path, Path]) -> None:
    warm, _ = files
    giant = tmp_path / "giant.pdf"
    with giant.open("wb") as out:
        out.truncate(20 * 1024**3)  # sparse: nothing on the disk
    found = _run_child(kura_env(data_dir=str(tmp_path / "data")), warm, giant, read_back=False)
    [(outcome, code, reason)] = found["answers"]
    assert (outcome, code) == ("refused", "file_too_large"), found["answers"]
    assert "21,474,836,480 bytes" in reason
    assert found["after"] - found["before"] < 5


# --- A worker draws a large original's pages without holding it ------------------------------

WORKER_CHILD = r"""
import json, sys
from pathlib import Path
from schemas.settings import get_settings
from storage.db import session_scope, upgrade
from storage.models import Page
from storage.runtime import vault_for
from workers import jobs
from workers.intake import gather, take_in

def peak_mb():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

settings = get_settings()
upgrade(settings.sqlalchemy_url)
vault = vault_for(settings)
def take(name):
    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(session, vault, gather([Path(name)]), "cli")
        assert [a.outcome for a in result.answers] == ["taken"], result.answers
        return result.page_ids
def read(page_ids):
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    before = peak_mb()
    for page_id in page_ids:
        jobs.process_page_job(settings, page_id)
    with session_scope(settings.sqlalchemy_url) as session:
        statuses = [session.get_one(Page, page_id).status for page_id in page_ids]
    return peak_mb() - before, statuses
warm, small, big = (take(name) for name in sys.argv[1:4])
read(warm)  # every import, every model and every first allocation of a page
print(json.dumps({"small": read(small), "big": read(big)}))
"""


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A warm-up file, a small one and the same small one carrying ~BIG_MB more, each of two
    pages: one a scan taken out of the PDF, one pdftoppm must draw (from the whole file)."""
    folder = tmp_path_factory.mktemp("originals")
    warm, small = (folder / "warm.pdf", folder / "small.pdf")
    warm.write_bytes(_drawn_pdf(folder, 2, seed=31, page=2))
    small.write_bytes(_drawn_pdf(folder, 2, seed=32, page=2))
    return warm, small, _big_pdf(folder / "big.pdf", small)


def _read_in_child(env: dict[str, str], files: tuple[Path, Path, Path]) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-c", WORKER_CHILD, *map(str, files)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _check_pages(found: dict, big: Path) -> None:  # type: ignore[type-arg]
    (small_mb, small_pages), (big_mb, big_pages) = found["small"], found["big"]
    assert small_pages == big_pages == ["done", "done"], found
    assert big.stat().st_size > BIG_MB << 20
    assert big_mb - small_mb < ALLOWED_GROWTH_MB, (
        f"reading the pages of a {BIG_MB} MB original took {big_mb:.0f} MB, "
        f"of the same pages in a small one {small_mb:.0f} MB")


def test_a_worker_draws_the_pages_of_a_large_original_without_holding_it(
        tmp_path: Path, originals: tuple[Path, Path, Path]) -> None:
    found = _read_in_child(kura_env(data_dir=str(tmp_path / "data")), originals)
    _check_pages(found, originals[2])


def test_a_worker_draws_the_pages_of_a_large_original_from_s3_without_holding_it(
        tmp_path: Path, originals: tuple[Path, Path, Path], s3: S3Bucket) -> None:
    env = services_env(tmp_path / "data", "", f"sqlite:///{tmp_path / 'kura.db'}", s3)
    _check_pages(_read_in_child(env, originals), originals[2])


# --- Decoding under a memory limit ---------------------------------------------------------


def _drawn_pdf(folder: Path, pages: int = 1, seed: int = 23, page: int = 1) -> bytes:
    """Its page `page` is one pdftoppm must draw (turned by /Rotate, it is not taken out as
    it is)."""
    with pikepdf.open(paper_pdf(folder / "scan.pdf", pages, seed=seed)) as pdf:
        pdf.pages[page - 1].Rotate = 180
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def test_a_pdf_page_is_drawn_under_a_memory_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _drawn_pdf(tmp_path)
    assert rasterise_page(data, 1).image.shape == (3508, 2480, 3)  # A4 at 300 dpi
    monkeypatch.setattr(ingest, "DECODE_MEMORY_BYTES", 32 << 20)
    with pytest.raises(DamagedFile, match="drawing it needs more than 32 MB"):
        rasterise_page(data, 1)


def test_an_image_is_measured_before_it_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    Image.new("L", (1240, 1754), 250).save(out, "PNG", dpi=(150, 150))
    assert rasterise_page(out.getvalue(), 1).image.shape == (3508, 2480, 3)
    monkeypatch.setattr(ingest, "DECODE_MEMORY_BYTES", 16 << 20)
    decoded = []
    monkeypatch.setattr(ingest, "as_rgb", lambda frame: decoded.append(frame))
    with pytest.raises(ImageTooLarge, match=r"page 1 would need 33 MB to decode .*limit 16 MB"):
        rasterise_page(out.getvalue(), 1)
    assert decoded == []


def test_a_page_over_the_memory_limit_fails_alone_and_its_worker_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process, as a worker reads pages: the page that would take too much is failed
    with its reason, the next page of the same file is read by the same process."""
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = settings_from(env)
    upgrade(settings.sqlalchemy_url)
    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(session, vault_for(settings),
                         [Arrival("a.pdf", _drawn_pdf(tmp_path, 2, seed=24))], "cli")
    monkeypatch.setattr(ingest, "DECODE_MEMORY_BYTES", 32 << 20)
    jobs.process_page_job(settings, result.page_ids[0])
    monkeypatch.undo()
    jobs.process_page_job(settings, result.page_ids[1])
    with session_scope(settings.sqlalchemy_url) as session:
        first, second = (session.get_one(Page, page_id) for page_id in result.page_ids)
        assert (first.status, first.reasons) == ("failed", ["failed: damaged_file"])
        assert second.status == "done"
