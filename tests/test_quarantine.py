"""The quarantine room (issue 12): each file with its reason, disposal by two people, every
step in the audit chain. The use cases run in process (storage/usecases/quarantine.py);
`kura quarantine` is run for its front end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from kura.bench.servers import kura_env, run_kura
from schemas.errors import Conflict, InvalidInput
from storage.accounts import NotAllowed, sign_in
from storage.audit import AuditEntry
from storage.db import session_scope
from storage.models import StoredObject
from storage.runtime import vault_for
from storage.usecases import quarantine
from tests.helpers import PASSWORD, add_person, settings_from
from tests.helpers import sign_in as cli_sign_in
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
