"""The quarantine room (issue 12): each file with its reason, disposal by two people, every
step in the audit chain. The use cases run in process (storage/usecases/quarantine.py);
`kura quarantine` is run for its front end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kura.bench.servers import kura_env, run_kura
from pipeline.ingest import PageImage
from schemas.errors import Conflict, InvalidInput
from storage.accounts import NotAllowed, sign_in
from storage.audit import AuditEntry, AuditObject
from storage.db import session_scope
from storage.models import Page, StoredObject
from storage.runtime import vault_for
from storage.usecases import quarantine
from tests.fabric_checks import paper_pdf
from tests.helpers import PASSWORD, add_person, settings_from
from tests.helpers import sign_in as cli_sign_in
from workers import jobs
from workers.intake import gather, take_in


def test_the_quarantine_room(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = settings_from(env)
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "empty.pdf").write_bytes(b"")
    (scans / "notes.txt").write_bytes("住所のメモ".encode())
    for name, roles in (("clerk", ["scanning_clerk"]), ("keeper", ["records_manager"]),
                        ("second", ["records_manager"])):
        add_person(env, name, *roles)
    with session_scope(settings.sqlalchemy_url) as session:
        tokens = {name: sign_in(session, name, PASSWORD, 60).token
                  for name in ("clerk", "keeper", "second")}
        take_in(session, vault_for(settings), gather([scans]), "cli")

    with pytest.raises(NotAllowed):  # a scanning clerk has no key to this room
        quarantine.list_quarantine(settings, tokens["clerk"])
    held = quarantine.list_quarantine(settings, tokens["keeper"])
    assert sorted((line.code, line.reason, line.state) for line in held) == [
        ("empty_file", "the file is empty (0 bytes)", "held"),
        ("unsupported_format", "not a PDF, TIFF, JPEG or PNG file", "held"),
    ]
    assert all("notes" not in line.label for line in held)  # the name is not kept
    notes = next(line for line in held if line.code == "unsupported_format")
    ident = notes.id[:8]
    with pytest.raises(InvalidInput):
        quarantine.open_file(settings, tokens["keeper"], ident, "")  # no reason given
    _, data = quarantine.open_file(settings, tokens["keeper"], ident, "case Q-1 check")
    assert data == (scans / "notes.txt").read_bytes()

    # The same file again is counted on the one in quarantine, not sealed again.
    with session_scope(settings.sqlalchemy_url) as session:
        take_in(session, vault_for(settings), gather([scans / "notes.txt"]), "cli")
    assert quarantine.show(settings, tokens["keeper"], ident).times_received == 2

    # Disposal by two people.
    quarantine.request_disposal(settings, tokens["keeper"], ident, "not a scan, case Q-2")
    with pytest.raises(Conflict, match="second person"):
        quarantine.decide_disposal(settings, tokens["keeper"], ident, approve=True)
    assert quarantine.decide_disposal(settings, tokens["second"], ident,
                                      approve=True).state == "disposed"
    with pytest.raises(Conflict, match="disposed of"):
        quarantine.open_file(settings, tokens["keeper"], ident, "again")
    with session_scope(settings.sqlalchemy_url) as session:
        disposed = session.scalars(
            select(StoredObject).where(StoredObject.destroyed_at.is_not(None))).one()
        assert disposed.wrapped_key == b""

    # Through the front end: listed as JSON, released and taken in again through every
    # check (an empty file stays refused, and is held again with its reason).
    cli_sign_in(env, "keeper", ("records_manager",))
    listed = run_kura(env, "quarantine", "list", "--json", timeout=120)
    [empty] = json.loads(listed.stdout)
    released = run_kura(env, "quarantine", "release", empty["id"][:8], "--reason",
                        "case Q-3 retry", timeout=120)
    assert released.returncode == 0, released.stderr
    assert "the file is empty (0 bytes)" in released.stdout
    again = quarantine.list_quarantine(settings, tokens["second"], closed=True)
    assert sorted(line.state for line in again) == ["disposed", "held", "released"]

    with session_scope(settings.sqlalchemy_url) as session:
        actions = [(e.action, e.actor) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("quarantine")))]
    for done in (("quarantine.open", "keeper"), ("quarantine.dispose.request", "keeper"),
                 ("quarantine.dispose.approve", "second"), ("quarantine.release", "keeper")):
        assert done in actions


def test_a_page_set_aside_is_read_again_or_disposed_of_by_two_people(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pages fail for good while their files go on. One is read again (asked twice: the
    second asking changes nothing), by `kura quarantine pages reread` and the same page
    task, once; the other is disposed of by two people and leaves the room."""
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = settings_from(env)
    for name, roles in (("clerk", ["scanning_clerk"]), ("keeper", ["records_manager"]),
                        ("second", ["records_manager"])):
        add_person(env, name, *roles)
    with session_scope(settings.sqlalchemy_url) as session:
        tokens = {name: sign_in(session, name, PASSWORD, 60).token
                  for name in ("clerk", "keeper", "second")}
        result = take_in(session, vault_for(settings), gather([
            paper_pdf(tmp_path / "a.pdf", 3, seed=41), paper_pdf(tmp_path / "b.pdf", 2, seed=42)]),
            "cli")
        numbered = {(page.source_file.position, page.number): page.id
                    for page in session.scalars(select(Page))}
    faulty = {numbered[0, 2], numbered[1, 1]}
    read_page = jobs.read_page
    reading = [""]

    def faulty_read(page: PageImage) -> object:
        if reading[0] in faulty:
            raise RuntimeError("injected fault")
        return read_page(page)

    monkeypatch.setattr(jobs, "read_page", faulty_read)
    for page_id in result.page_ids:
        reading[0] = page_id
        jobs.process_page_job(settings, page_id)
    monkeypatch.undo()
    held = quarantine.set_aside_pages(settings, tokens["keeper"])
    assert {(line.id, line.state, line.reason) for line in held} == {
        (page_id, "held", "failed: RuntimeError") for page_id in faulty}

    # Read again: asked twice, sent by the front end, read once, assembled on its own.
    again = numbered[0, 2]
    with pytest.raises(NotAllowed):
        quarantine.reread_page(settings, tokens["clerk"], again[:8], "fixed, case P-1")
    with pytest.raises(InvalidInput):
        quarantine.reread_page(settings, tokens["keeper"], again[:8], "")
    first = quarantine.reread_page(settings, tokens["keeper"], again[:8], "fixed, case P-1")
    assert (first.state, first.attempts) == ("reread", 0)
    assert quarantine.reread_page(settings, tokens["keeper"], again, "again") == first
    cli_sign_in(env, "keeper", ("records_manager",))
    said = run_kura(env, "quarantine", "pages", "reread", again[:8], "--reason",
                    "fixed, case P-1", timeout=120)
    assert said.returncode == 0, said.stderr
    assert f"page {again[:8]} (file-001.pdf page 2) read again" in said.stdout
    with session_scope(settings.sqlalchemy_url) as session:
        page = session.get_one(Page, again)
        assert (page.status, page.reasons, page.set_aside_state) == ("done", [], None)
        assert page.source_file.status == "done"
        assert _audited(session, "page.read", again) == ["failed:RuntimeError", "done"]
        assert _audited(session, "quarantine.page.reread", again) == ["ok"]
        assert _audited(session, "document.assemble", again) == ["ok"]
    with pytest.raises(Conflict, match="is done"):
        quarantine.reread_page(settings, tokens["keeper"], again[:8], "once more")

    # Disposal by two people: requested at the front end, approved by another person.
    gone = numbered[1, 1]
    said = run_kura(env, "quarantine", "pages", "dispose", gone[:8], "--reason",
                    "a torn sheet, case P-2", timeout=120)
    assert said.returncode == 0, said.stderr
    with pytest.raises(Conflict, match="second person"):
        quarantine.decide_page_disposal(settings, tokens["keeper"], gone[:8], approve=True)
    refused = quarantine.decide_page_disposal(settings, tokens["second"], gone[:8],
                                              approve=False)
    assert refused.state == "held"
    quarantine.request_page_disposal(settings, tokens["keeper"], gone[:8], "torn, case P-2")
    with pytest.raises(Conflict, match="disposal_requested"):
        quarantine.reread_page(settings, tokens["keeper"], gone[:8], "not now")
    disposed = quarantine.decide_page_disposal(settings, tokens["second"], gone[:8],
                                               approve=True)
    assert (disposed.state, disposed.requested_by, disposed.decided_by) == (
        "disposed", "keeper", "second")
    assert quarantine.set_aside_pages(settings, tokens["keeper"]) == []
    with pytest.raises(Conflict, match="disposed"):
        quarantine.reread_page(settings, tokens["keeper"], gone[:8], "after all")
    with session_scope(settings.sqlalchemy_url) as session:
        assert _audited(session, "quarantine.page.dispose.request", gone) == ["ok", "ok"]
        assert _audited(session, "quarantine.page.dispose.reject", gone) == ["ok"]
        assert _audited(session, "quarantine.page.dispose.approve", gone) == ["ok"]


def _audited(session: Session, action: str, object_id: str) -> list[str]:
    """The results of the audit entries of `action` naming `object_id`, in order."""
    return list(session.scalars(
        select(AuditEntry.result).join(AuditObject)
        .where(AuditEntry.action == action, AuditObject.object_id == object_id)
        .order_by(AuditEntry.seq)))
