"""Every bad file answered (issue 12): a corpus of bad files through `kura ingest` and
`kura extract --json`, each with the exact answer it must get; no file crashes the command,
rolls back another, disappears from the answer or leaves an original unaccounted for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kura.bench.servers import kura_env, run_kura
from storage.db import session_scope
from storage.models import Page, SourceFile, StoredObject
from tests.bad_files import NO_DOCUMENT, Expected, write_corpus
from tests.helpers import settings_from, sign_in


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Expected]]:
    folder = tmp_path_factory.mktemp("bad") / "scans"
    return folder, write_corpus(folder)


def test_the_corpus_is_big_enough(corpus: tuple[Path, list[Expected]]) -> None:
    folder, expected = corpus
    assert len([e for e in expected if e.outcome in ("taken", "quarantined")]) >= 25
    assert sorted(p.name for p in folder.iterdir()) == [e.name for e in expected]


def _ingest(env: dict[str, str], *paths: Path, as_json: bool = True) -> Any:
    done = run_kura(env, "ingest", *map(str, paths), *(["--json"] if as_json else []),
                    timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout) if as_json else done.stdout


def test_kura_ingest_answers_every_entry(
    tmp_path: Path, corpus: tuple[Path, list[Expected]]
) -> None:
    folder, expected = corpus
    env = kura_env(data_dir=str(tmp_path / "data"))
    sign_in(env)
    answer = _ingest(env, folder)
    entries = {entry["file"]: entry for entry in answer["entries"]}
    assert sorted(entries) == [e.name for e in expected]  # nothing vanished
    for want in expected:
        got = entries[want.name]
        assert (got["outcome"], got["reason"]) == (want.outcome, want.reason), want.name
        assert got["flags"] == list(want.flags), want.name
        if want.outcome == "taken":
            assert got["status"] == "done", want.name
            assert len(got["receipts"]) >= 1, want.name  # a blank file keeps its 受付番号
        else:
            assert got["receipts"] == [], want.name

    settings = settings_from(env)
    with session_scope(settings.sqlalchemy_url) as session:
        files = session.scalars(select(SourceFile)).all()
        stored = set(session.scalars(select(StoredObject.id)).all())
        images = set(session.scalars(select(Page.image_object_id)).all())
        assert len(files) == sum(e.outcome in ("taken", "quarantined") for e in expected)
        # Every sealed object is an original, a quarantined file or a page image: none is
        # orphaned by a file rejected beside it.
        assert stored == {f.object_id for f in files} | (images - {None})
        held = [f for f in files if f.status == "rejected"]
        assert all(f.quarantine_state == "held" and f.times_received == 1 for f in held)
        assert sorted(f.reject_reason or "" for f in held) == sorted(
            e.reason or "" for e in expected if e.outcome == "quarantined")
        stored_before = len(stored)

    # Again: a file already in quarantine is counted there, one already taken in is
    # reported; neither is sealed again. The names print as text, escapes made visible.
    again = tmp_path / "again"
    again.mkdir()
    for name in ("empty.pdf", "blank-page.png", "\x1b[31mred\x07[red]x.png"):
        shutil.copy(folder / name, again / name)
    printed = _ingest(env, again, as_json=False)
    assert "\x1b" not in printed and "\x07" not in printed
    assert "\\x1b[31mred\\x07[red]x.png" in printed
    assert "already in quarantine since" in printed and "counted there" in printed
    with session_scope(settings.sqlalchemy_url) as session:
        empty = session.scalars(
            select(SourceFile).where(SourceFile.reject_code == "empty_file")).one()
        assert empty.times_received == 2
        assert len(session.scalars(select(StoredObject.id)).all()) == stored_before


def test_kura_extract_gives_every_file_an_entry(
    tmp_path: Path, corpus: tuple[Path, list[Expected]]
) -> None:
    folder, expected = corpus
    env = kura_env(data_dir=str(tmp_path / "data"))
    done = run_kura(env, "extract", str(folder), "--json", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    entries: dict[str, list[dict[str, Any]]] = {}
    for entry in json.loads(done.stdout)["documents"]:
        entries.setdefault(Path(entry["source"]).name, []).append(entry)
    assert sorted(entries) == [e.name for e in expected]
    for want in expected:
        got = entries[want.name]
        if want.code is None:
            assert all("error" not in entry for entry in got), want.name
            if want.form:
                assert [entry["form"] for entry in got] == [want.form]
            continue
        [entry] = got
        assert entry["error"] == {"code": want.code, "message": want.reason}, want.name
        assert entry["pages"] == [] and entry["fields"] == {}
        if want.reason == NO_DOCUMENT:
            assert entry["flags"] == list(want.flags), want.name


class _BrokenCheck:
    """A check that fails in a way no rule foresaw (a reader crashing on strange input)."""

    name = "broken"

    def able_to_run(self, arrival: object) -> bool:
        return getattr(arrival, "filename", "") == "odd.png"

    def run(self, session: object, arrival: object) -> None:
        raise RuntimeError("a reader crashed")


def test_a_check_that_crashes_quarantines_its_file_and_the_batch_goes_on(
        tmp_path: Path) -> None:
    from storage.db import ensure_current
    from storage.intake import take_in
    from storage.runtime import vault_for
    from tests.custody_data import scan_png
    from workers.intake import INTAKE_CHECKS, Arrival

    settings = settings_from(kura_env(data_dir=str(tmp_path / "data")))
    ensure_current(settings.sqlalchemy_url)
    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(session, vault_for(settings),
                         [Arrival("odd.png", scan_png(1)), Arrival("fine.png", scan_png(2))],
                         "cli", (*INTAKE_CHECKS, _BrokenCheck()))
    assert [(a.filename, a.outcome, a.code) for a in result.answers] == [
        ("odd.png", "quarantined", "damaged_file"), ("fine.png", "taken", "")]
    assert "RuntimeError" in result.answers[0].reason and "crashed" not in result.answers[0].reason
    with session_scope(settings.sqlalchemy_url) as session:
        kept = session.scalars(select(SourceFile).order_by(SourceFile.position)).all()
        assert [(s.status, s.quarantine_state) for s in kept] == [
            ("rejected", "held"), ("processing", None)]
