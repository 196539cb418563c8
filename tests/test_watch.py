"""The hot folder (issue 12): a real `kura watch` process, real files written slowly, a
restart after a death mid-intake; each file taken in exactly once."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from kura.bench.servers import KURA, kura_env, run_kura
from storage.db import session_scope, upgrade
from storage.models import SourceFile
from storage.runtime import vault_for
from tests.helpers import settings_from
from workers.intake import Arrival, take_in


def _page(shade: int) -> bytes:
    out = io.BytesIO()
    image = Image.new("L", (1240, 1754), 255)
    image.paste(Image.new("L", (40, 40), shade), (0, 0))  # each page its own content
    image.save(out, "PNG", dpi=(150, 150))
    return out.getvalue()


def _until(done: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _watcher(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*KURA, "watch", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _stopped(watcher: subprocess.Popen[str]) -> str:
    watcher.terminate()
    output = watcher.communicate(timeout=60)[0]
    assert watcher.returncode == 0, output
    return output


def _files(env: dict[str, str]) -> list[SourceFile]:
    with session_scope(settings_from(env).sqlalchemy_url) as session:
        files = list(session.scalars(select(SourceFile).order_by(SourceFile.received_at)))
        session.expunge_all()
        return files


def test_a_hot_folder_takes_complete_files_and_sorts_the_rest(tmp_path: Path) -> None:
    inbox, archive, quarantine = (tmp_path / n for n in ("inbox", "archive", "quarantine"))
    inbox.mkdir()
    env = kura_env(data_dir=str(tmp_path / "data"), watch_poll_seconds="0.2", log_json="true")
    (inbox / ".hidden.png").write_bytes(_page(1))
    (inbox / "scan.tmp").write_bytes(_page(2))
    watcher = _watcher(env, str(inbox), "--archive", str(archive), "--quarantine",
                       str(quarantine), "--settle", "1.5", "--events")
    try:
        page = _page(3)
        with (inbox / "slow.png").open("wb") as slow:  # a scanner writing over 3 s
            for start in range(0, len(page), len(page) // 10 + 1):
                slow.write(page[start:start + len(page) // 10 + 1])
                slow.flush()
                time.sleep(0.3)
        (inbox / "notes.txt").write_text("not a scan")
        (inbox / "passwd.png").symlink_to("/etc/passwd")
        _until(lambda: (archive / "slow.png").exists() and len(list(quarantine.iterdir())) == 4,
               "the files to be sorted")
    finally:
        output = _stopped(watcher)
    assert (archive / "slow.png").read_bytes() == page
    assert (quarantine / "notes.txt.reason.txt").read_text().splitlines() == [
        "unsupported_format", "not a PDF, TIFF, JPEG or PNG file"]
    assert (quarantine / "passwd.png").is_symlink()  # moved as a link, never followed
    assert (quarantine / "passwd.png.reason.txt").read_text().startswith("symlink\n")
    assert sorted(p.name for p in inbox.iterdir()) == [".hidden.png", ".kura", "scan.tmp"]
    files = _files(env)
    assert [(f.status, f.sha256) for f in files if f.status != "rejected"] == [
        ("done", vault_for(settings_from(env)).digest(page))], output
    assert [f.reject_code for f in files if f.status == "rejected"] == ["unsupported_format"]
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    messages = [line["message"] for line in logged]
    assert "hot folder: a file was taken in" in messages, output
    assert "hot folder: a file went to quarantine: unsupported_format" in messages
    # File names never reach the log (a scanner's name may name the person).
    assert not any(name in m for m in messages for name in ("slow.png", "notes.txt"))


def test_a_restart_takes_a_half_taken_file_exactly_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    taking = inbox / ".kura" / "taking"
    taking.mkdir(parents=True)
    env = kura_env(data_dir=str(tmp_path / "data"), watch_poll_seconds="0.2")
    settings = settings_from(env)
    upgrade(settings.sqlalchemy_url)
    # Died after the claim, before the intake committed:
    (taking / "before.png").write_bytes(_page(4))
    (taking / "before.png.kura-started").write_text(dt.datetime.now(dt.UTC).isoformat())
    # Died after the intake committed, before the file was moved on:
    after = _page(5)
    (taking / "after.png").write_bytes(after)
    (taking / "after.png.kura-started").write_text(
        (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat())
    with session_scope(settings.sqlalchemy_url) as session:
        take_in(session, vault_for(settings), [Arrival("after.png", after)], "hot_folder")

    done = run_kura(env, "watch", str(inbox), "--archive", str(inbox / "archive"), timeout=60)
    assert done.returncode == 2 and "overlap" in done.stdout + done.stderr

    watcher = _watcher(env, str(inbox), "--quarantine", str(tmp_path / "q"), "--poll")
    try:
        _until(lambda: not list(taking.iterdir()), "the half-taken files")
    finally:
        _stopped(watcher)
    digests = sorted(f.sha256 for f in _files(env))
    assert digests == sorted(vault_for(settings).digest(d) for d in (_page(4), after))
    assert not (tmp_path / "q").exists() or not list((tmp_path / "q").iterdir())
