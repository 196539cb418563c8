"""The intake desk and the batch path through a real server (issue 12).

The desk's upload is streamed: each file is sealed into a spool as it arrives and taken in
from there, never whole in the server's memory nor in clear on its disk; a file over the
size limit is refused half way with the reason while the files beside it are taken in.
`kura batch status --follow` works through the server: `kura` asks again until the batch is
finished. `kura ingest` through the server streams its files the same way (POST
/api/v1/intake): neither `kura` nor the server grows by the file's size, and every entry is
answered as an ingest beside the keys answers it.

The server is a real `kura web` process; its peak resident memory (VmHWM, reset before the
upload) is read from /proc. Pages go to a Redis broker no worker reads, so the server does
the intake and nothing else while it is measured, and a batch is read only when the test
reads its pages."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pikepdf
import pytest
from sqlalchemy import select

from kura.bench.servers import KURA, kura_env
from pipeline.triage import MAX_FILE_BYTES
from schemas.errors import ExitCode, InvalidInput
from schemas.settings import Settings
from storage.audit import AuditEntry, AuditObject
from storage.db import session_scope
from storage.models import Page, SourceFile, StoredObject
from storage.runtime import vault_for
from storage.spool import PIECE, SEALED_PIECE, Spool
from storage.usecases import people
from tests.custody_data import scan_png
from tests.fabric_checks import paper_pdf
from tests.helpers import PASSWORD, add_person, serving, settings_from
from web.security import SESSION_COOKIE, csrf_token
from workers import jobs

BIG_MB = 96
ALLOWED_GROWTH_MB = 40


@pytest.fixture
def server(tmp_path: Path, redis_url: str) -> Iterator[tuple[dict[str, str], str, int]]:
    """`kura web` for a scanning clerk: its environment, address and process id."""
    env = kura_env(data_dir=str(tmp_path / "data"), broker_url=redis_url)
    add_person(env, "sakura", "scanning_clerk")
    with serving(env, tmp_path / "server.log") as (base, pid):
        yield env, base, pid


def _signed_in_client(tmp_path: Path, base: str) -> dict[str, str]:
    """A clerk's `kura` that knows only the server's address (no key, no database), signed
    in as sakura."""
    client = kura_env(data_dir=str(tmp_path / "client"), server_url=base)
    assert not any(key in client for key in ("KURA_KEK", "KURA_INDEX_KEY",
                                             "KURA_DATABASE_URL", "KURA_KEY_DIR"))
    signed = subprocess.run([*KURA, "login", "sakura", "--password-stdin"], env=client,
                            input=f"{PASSWORD}\n", capture_output=True, text=True,
                            timeout=120, check=False)
    assert signed.returncode == 0, signed.stderr
    return client


def _peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def _reset_peak(pid: int) -> float:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from here
    return _peak_mb(pid)


def _upload(env: dict[str, str], base: str,
            files: list[tuple[str, io.BufferedReader | bytes]]) -> httpx.Response:
    """The files as the desk's page sends them (parts named `files`, the CSRF token in
    the header), each read from its file in pieces by httpx as the request goes."""
    token = people.sign_in(settings_from(env), "sakura", PASSWORD).token
    return httpx.post(f"{base}/desk/upload",
                      files=[("files", (name, body)) for name, body in files],
                      headers={"x-csrf-token": csrf_token(token),
                               "cookie": f"{SESSION_COOKIE}={token}"},
                      timeout=300)


def _big_pdf(folder: Path) -> Path:
    """A real one-page scan carrying BIG_MB of incompressible bytes no page uses: every
    byte is received, hashed and sealed, none needs decoding."""
    path = folder / "big.pdf"
    with pikepdf.open(paper_pdf(folder / "one.pdf", 1, seed=31)) as pdf:
        pdf.Root.Ballast = pikepdf.Stream(pdf, os.urandom(BIG_MB << 20))
        pdf.save(path, compress_streams=False)
    return path


def test_a_large_upload_is_streamed_and_a_file_over_the_limit_is_refused_beside_it(
        tmp_path: Path, server: tuple[dict[str, str], str, int]) -> None:
    env, base, pid = server
    warm = _upload(env, base, [("warm.png", scan_png(30))])  # imports, first allocations
    assert warm.status_code == 200, warm.text
    big = _big_pdf(tmp_path)
    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing on the disk
    before = _reset_peak(pid)
    with huge.open("rb") as over, big.open("rb") as large:
        answer = _upload(env, base, [("huge.pdf", over), ("big.pdf", large),
                                     ("small.png", scan_png(31))])
    growth = _peak_mb(pid) - before
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["files"], body["taken"]) == (3, 2), body
    assert body["refused"] == [
        ["huge.pdf", f"the file is over the limit of {MAX_FILE_BYTES:,} bytes: not stored"]]
    assert big.stat().st_size > BIG_MB << 20
    assert growth < ALLOWED_GROWTH_MB, (
        f"an upload of {(MAX_FILE_BYTES + big.stat().st_size) >> 20} MB grew the server by "
        f"{growth:.0f} MB")

    settings = settings_from(env)
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        kept = session.scalars(select(SourceFile).where(SourceFile.batch_id == body["batch"])
                               .order_by(SourceFile.position)).all()
        assert [(s.position, s.filename, s.status) for s in kept] == [
            (1, "file-002.pdf", "processing"), (2, "file-003.png", "processing")]
        sealed = vault.get_object(session.get_one(StoredObject, kept[0].object_id))
    assert hashlib.sha256(sealed).digest() == hashlib.sha256(big.read_bytes()).digest()


def test_a_spool_keeps_nothing_in_clear_and_reads_back_from_anywhere(tmp_path: Path) -> None:
    data = os.urandom(2 * PIECE + 777)
    spool = Spool(tmp_path)
    for start in range(0, len(data), 65_536):  # as the network gives it
        spool.write(data[start:start + 65_536])
    on_disk = spool._file  # the unnamed temporary file, for this look only
    stream, sha256 = spool.received()
    assert sha256 == hashlib.sha256(data).hexdigest()
    on_disk.seek(0)
    sealed = on_disk.read()
    assert len(sealed) == len(data) + 3 * (SEALED_PIECE - PIECE)
    assert all(data[i:i + 32] not in sealed for i in range(0, len(data), PIECE // 2))
    assert list(tmp_path.iterdir()) == []  # nothing named on the disk
    assert stream.read() == data
    stream.seek(PIECE - 3)
    assert stream.read(6) == data[PIECE - 3:PIECE + 3]
    assert stream.seek(0, io.SEEK_END) == len(data)
    stream.close()
    assert on_disk.closed


def test_a_clerk_follows_a_batch_through_the_server_until_its_pages_are_read(
        tmp_path: Path, server: tuple[dict[str, str], str, int]) -> None:
    env, base, _pid = server
    client = _signed_in_client(tmp_path, base)
    scans = [paper_pdf(tmp_path / "two.pdf", 2, seed=32), paper_pdf(tmp_path / "one.pdf", 1,
                                                                    seed=33)]
    taken = subprocess.run([*KURA, "ingest", *map(str, scans), "--no-wait", "--json"],
                           env=client, capture_output=True, text=True, timeout=120,
                           check=False)
    assert taken.returncode == 0, taken.stderr
    batch_id = json.loads(taken.stdout)["batch"]

    follow = subprocess.Popen([*KURA, "batch", "status", batch_id[:8], "--follow"],
                              env=client, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    settings = settings_from(env)
    with session_scope(settings.sqlalchemy_url) as session:
        pages = session.scalars(select(Page.id).join(SourceFile)
                                .where(SourceFile.batch_id == batch_id)).all()
    assert len(pages) == 3
    deadline = time.monotonic() + 120
    while not _asked(settings, batch_id):  # the server answered it once: nothing read yet
        assert follow.poll() is None, follow.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for page_id in pages:  # a worker reads them, one by one, as the bar moves
        jobs.process_page_job(settings, page_id)
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, out + err
    said = " ".join(out.split())
    assert "files 2 (finished 2, quarantined 0) · pages 3: queued 0, read 3, failed 0" in said
    assert "cannot be done through the Kura server" not in out + err
    assert _asked(settings, batch_id) >= 2, "asked again until the pages were read"
    assert sorted(p.name for p in (tmp_path / "client").rglob("*")) == ["session"]


def _asked(settings: Settings, batch_id: str) -> int:
    """How often the server answered `batch status` about the batch."""
    with session_scope(settings.sqlalchemy_url) as session:
        return len(session.scalars(select(AuditEntry.seq).join(
            AuditObject, AuditObject.seq == AuditEntry.seq).where(
                AuditEntry.action == "batch.status", AuditEntry.actor == "sakura",
                AuditObject.object_id == batch_id)).all())


PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[2:], check=False)
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(done.returncode)
"""
"""Runs a command and writes its peak resident memory (kB). The peak of a child of the
test process itself would not do: Linux carries the parent's peak into a child it spawns
(vfork, then exec), and this test's own peak is past the file's size once it made it."""


def _kura_peak(env: dict[str, str], folder: Path, *args: str) -> tuple[int, str, str, float]:
    """`kura …` in a child process: its exit status, its output (out, err), and its peak
    resident memory in MB."""
    peak = folder / "peak"
    done = subprocess.run([sys.executable, "-c", PEAK, str(peak), *KURA, *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout, done.stderr, int(peak.read_text()) / 1024


def _folder_of_every_kind(folder: Path) -> Path:
    """The big scan beside what `kura ingest` answers without taking: a letter (quarantined),
    a symbolic link, a FIFO, a hidden file and a sparse file over the size limit (refused
    or skipped here, on the clerk's machine, never sent)."""
    made = folder.parent / "made"
    made.mkdir()
    folder.mkdir()
    _big_pdf(made).rename(folder / "big.pdf")
    (folder / "letter.pdf").write_text("a letter, not a scan")
    (folder / "link.pdf").symlink_to(folder / "letter.pdf")
    os.mkfifo(folder / "pipe.pdf")
    (folder / ".hidden.pdf").write_bytes(b"%PDF-")
    with (folder / "huge.pdf").open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    return folder


def test_kura_ingest_streams_its_files_to_the_server_and_answers_as_beside_the_keys(
        tmp_path: Path, server: tuple[dict[str, str], str, int], redis_url: str) -> None:
    env, base, pid = server
    client = _signed_in_client(tmp_path, base)
    warm = tmp_path / "warm.pdf"
    warm.write_text("a note, not a scan")
    status, said, err, small_mb = _kura_peak(client, tmp_path, "ingest", str(warm),
                                             "--no-wait", "--json")
    assert status == 0, said + err
    folder = _folder_of_every_kind(tmp_path / "scans")
    big = folder / "big.pdf"
    # /proc/self/mem is a regular file that fails when read: cut short half way through
    paths = [str(folder), "/proc/self/mem"]

    before = _reset_peak(pid)
    status, said, err, big_mb = _kura_peak(client, tmp_path, "ingest", *paths, "--no-wait",
                                           "--json")
    server_growth = _peak_mb(pid) - before
    assert status == 0, said + err
    through_server = json.loads(said)
    assert big.stat().st_size > BIG_MB << 20
    assert big_mb - small_mb < ALLOWED_GROWTH_MB, (
        f"kura grew by {big_mb - small_mb:.0f} MB sending {BIG_MB} MB")
    assert server_growth < ALLOWED_GROWTH_MB, f"the server grew by {server_growth:.0f} MB"
    assert sorted(p.name for p in (tmp_path / "client").rglob("*")) == ["session"]

    outcomes = [(e["file"], e["outcome"], e["code"]) for e in through_server["entries"]]
    assert outcomes == [
        (".hidden.pdf", "skipped", "hidden_or_temporary"), ("big.pdf", "taken", None),
        ("huge.pdf", "refused", "file_too_large"),
        ("letter.pdf", "quarantined", "unsupported_format"),
        ("link.pdf", "refused", "symlink"), ("pipe.pdf", "refused", "not_regular"),
        ("mem", "refused", "not_taken")], outcomes
    settings = settings_from(env)
    with session_scope(settings.sqlalchemy_url) as session:
        kept = session.scalars(select(SourceFile).where(
            SourceFile.batch_id == through_server["batch"]).order_by(SourceFile.position)).all()
        assert [(s.position, s.status) for s in kept] == [(1, "processing"), (3, "rejected")]
        sealed = vault_for(settings).get_object(session.get_one(StoredObject,
                                                                kept[0].object_id))
    assert hashlib.sha256(sealed).digest() == hashlib.sha256(big.read_bytes()).digest()

    # the same entries beside the keys (a fresh installation, the same broker): the same answers
    local = kura_env(data_dir=str(tmp_path / "local"), broker_url=redis_url)
    add_person(local, "sakura", "scanning_clerk")
    signed = subprocess.run([*KURA, "login", "sakura", "--password-stdin"], env=local,
                            input=f"{PASSWORD}\n", capture_output=True, text=True,
                            timeout=120, check=False)
    assert signed.returncode == 0, signed.stderr
    status, said, err, _mb = _kura_peak(local, tmp_path, "ingest", *paths, "--no-wait",
                                        "--json")
    assert status == 0, said + err
    beside_the_keys = json.loads(said)
    assert through_server["entries"] == beside_the_keys["entries"]


def test_the_intake_route_refuses_an_unsigned_body_and_one_that_does_not_match_its_list(
        server: tuple[dict[str, str], str, int]) -> None:
    env, base, _pid = server
    unsigned = httpx.post(f"{base}/api/v1/intake", files=[("files", ("a.png", scan_png(34)))],
                          timeout=60)
    assert unsigned.status_code == 401, unsigned.text
    assert unsigned.json()["error"]["exit_code"] == ExitCode.refused
    token = people.sign_in(settings_from(env), "sakura", PASSWORD).token
    unlisted = httpx.post(f"{base}/api/v1/intake", files=[("files", ("a.png", scan_png(34)))],
                          data={"entries": json.dumps({"channel": "cli", "entries": []})},
                          headers={"authorization": f"Bearer {token}", "accept-language": "en"},
                          timeout=60)
    assert unlisted.status_code == 400, unlisted.text
    assert unlisted.json()["error"]["message"] == "The files sent do not match their list."
    settings = settings_from(env)
    with session_scope(settings.sqlalchemy_url) as session:
        assert session.scalars(select(SourceFile)).all() == []


def test_kura_refuses_more_files_than_the_server_takes_before_sending_any(
        tmp_path: Path) -> None:
    from kura.calls import Remote
    from storage.usecases import intake
    from web.uploads import MAX_FILES
    from workers.intake import Arrival

    scan = tmp_path / "scan.png"
    scan.write_bytes(scan_png(35))
    nowhere = Remote(intake, "intake", "http://127.0.0.1:9")  # nothing listens: never asked
    with pytest.raises(InvalidInput, match=f"At most {MAX_FILES} files"):
        nowhere.take_in_batch(settings_from(kura_env(data_dir=str(tmp_path))), "token",
                              [Arrival(f"{n}.png", path=scan) for n in range(MAX_FILES + 1)],
                              "cli", ())
