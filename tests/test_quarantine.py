"""The quarantine room (issue 12): `kura quarantine list|show|release|dispose`, each file
with its reason, disposal by two people, every step in the audit chain."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from kura.bench.servers import kura_env, run_kura
from storage.audit import AuditEntry
from storage.db import session_scope
from storage.models import StoredObject
from tests.helpers import settings_from, sign_in


def _kura(env: dict[str, str], *args: str, status: int = 0) -> str:
    done = run_kura(env, *args, timeout=300)
    assert done.returncode == status, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_quarantine_room(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "empty.pdf").write_bytes(b"")
    (scans / "notes.txt").write_bytes("住所のメモ".encode())
    sign_in(env, "clerk", ("scanning_clerk",))
    _kura(env, "ingest", str(scans), "--json")
    _kura(env, "quarantine", "list", status=4)  # a scanning clerk has no key to this room

    sign_in(env, "keeper", ("records_manager",))
    held = json.loads(_kura(env, "quarantine", "list", "--json"))
    assert sorted((line["code"], line["reason"], line["state"]) for line in held) == [
        ("empty_file", "the file is empty (0 bytes)", "held"),
        ("unsupported_format", "not a PDF, TIFF, JPEG or PNG file", "held"),
    ]
    assert all("notes" not in line["label"] for line in held)  # the name is not kept
    notes = next(line for line in held if line["code"] == "unsupported_format")
    ident = notes["id"][:8]

    out = tmp_path / "fetched"
    _kura(env, "quarantine", "show", ident, "--out", str(out), status=2)  # no reason given
    _kura(env, "quarantine", "show", ident, "--out", str(out), "--reason", "case Q-1 check")
    assert out.read_bytes() == (scans / "notes.txt").read_bytes()

    # The same file again is counted on the one in quarantine, not sealed again.
    sign_in(env, "clerk", ("scanning_clerk",))
    _kura(env, "ingest", str(scans / "notes.txt"))
    sign_in(env, "keeper", ("records_manager",))
    shown = json.loads(_kura(env, "quarantine", "show", ident, "--json"))
    assert shown["times_received"] == 2

    # Disposal by two people.
    _kura(env, "quarantine", "dispose", ident, "--reason", "not a scan, case Q-2")
    refused = _kura(env, "quarantine", "dispose", ident, "--approve", status=1)
    assert "second person" in refused
    sign_in(env, "second", ("records_manager",))
    _kura(env, "quarantine", "dispose", ident, "--approve")
    _kura(env, "quarantine", "show", ident, "--out", str(out), "--reason", "again", status=1)
    left = json.loads(_kura(env, "quarantine", "list", "--json"))
    assert [line["code"] for line in left] == ["empty_file"]

    # Released: it leaves quarantine and is checked anew (an empty file stays refused, and
    # is held again with its reason).
    empty = left[0]["id"][:8]
    released = _kura(env, "quarantine", "release", empty, "--reason", "case Q-3 retry")
    assert "the file is empty (0 bytes)" in released
    again = json.loads(_kura(env, "quarantine", "list", "--all", "--json"))
    assert sorted(line["state"] for line in again) == ["disposed", "held", "released"]

    settings = settings_from(env)
    with session_scope(settings.sqlalchemy_url) as session:
        disposed = session.scalars(
            select(StoredObject).where(StoredObject.destroyed_at.is_not(None))).one()
        assert disposed.wrapped_key == b""
        actions = [(e.action, e.actor) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("quarantine")))]
    assert ("quarantine.dispose.request", "keeper") in actions
    assert ("quarantine.dispose.approve", "second") in actions
    assert ("quarantine.open", "keeper") in actions
    assert ("quarantine.release", "second") in actions
