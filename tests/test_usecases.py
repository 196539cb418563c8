"""The house: one error family, the audited use cases called in process as a web room would
call them, and the embedded database that upgrades itself once."""

from __future__ import annotations

import inspect
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

import pipeline.errors
import storage.accounts
import storage.backup
import storage.crypto
import storage.custody
import storage.intake
import storage.vault
from kura.bench import servers
from kura.bench.servers import kura_env
from schemas.errors import ExitCode, KuraError, NotAllowed, NotSignedIn
from schemas.settings import Settings
from storage.audit import AuditEntry
from storage.custody import CustodyError
from storage.db import current_revision, ensure_current, head_revision, session_scope
from storage.usecases import holds, keys, people, records
from storage.usecases.people import Account
from tests.helpers import settings_from, sign_in
from tests.test_audit import _sqlite

PASSWORD = "a long enough password 2026"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _actions(settings: Settings) -> list[tuple[str, str, str]]:
    with session_scope(settings.sqlalchemy_url) as session:
        return [(e.actor, e.action, e.result)
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def test_every_error_a_person_meets_is_of_the_one_family() -> None:
    modules = (pipeline.errors, storage.accounts, storage.backup, storage.crypto,
               storage.custody, storage.intake, storage.vault)
    errors = [obj for module in modules for _, obj in inspect.getmembers(module, inspect.isclass)
              if issubclass(obj, Exception) and obj.__module__ == module.__name__]
    assert len(errors) >= 15
    for error in errors:
        assert issubclass(error, KuraError), error
        assert isinstance(error.exit_code, ExitCode) and error.code != "error", error
    assert storage.custody.RetentionError("x").exit_code == ExitCode.refused
    assert storage.vault.KeyUnavailable("x").exit_code == ExitCode.unavailable
    assert storage.backup.BackupCorrupt("x").exit_code == ExitCode.damaged
    assert pipeline.errors.EncryptedPdf("x").exit_code == ExitCode.bad_input


def test_the_embedded_database_creates_and_upgrades_itself_once(settings: Settings) -> None:
    url = settings.sqlalchemy_url
    assert current_revision(url) is None
    ensure_current(url)
    assert current_revision(url) == head_revision()
    ensure_current(url)  # at the head: nothing to do
    assert current_revision(url) == head_revision()


def test_use_cases_check_the_duty_act_audit_and_return_typed_results(settings: Settings) -> None:
    admin = people.add_account(settings, None, "admin", ["security_admin"], PASSWORD,
                               os_user="tester")
    assert isinstance(admin, Account) and admin.state == "active"
    with pytest.raises(NotSignedIn):
        people.list_accounts(settings, None)
    token = people.sign_in(settings, "admin", PASSWORD).token
    listed = people.list_accounts(settings, token)
    assert [a.username for a in listed] == ["admin", "svc-worker"]
    people.add_account(settings, token, "records", ["records_manager"], PASSWORD)
    with pytest.raises(NotAllowed, match="records manager"):
        records.open_original(settings, token, "R20260101-000001", "case 12")
    assert [line.purpose for line in keys.list_keys(settings, token)] == ["kek", "index"]

    clerk = people.sign_in(settings, "records", PASSWORD).token
    assert records.verification_queue(settings, clerk) == []
    with pytest.raises(CustodyError, match="no document"):
        holds.set_hold(settings, clerk, "R20260101-000001", "case 12")
    assert holds.list_holds(settings, clerk) == []

    actions = _actions(settings)
    assert ("bootstrap", "user.add", "ok") in actions
    assert ("anonymous", "access", "denied:not_signed_in") in actions
    assert ("admin", "user.list", "ok") in actions
    assert ("admin", "access", "denied:duty") in actions
    assert ("admin", "keys.list", "ok") in actions
    assert ("records", "queue.list", "ok") in actions
    # a refusal by a custody rule: the work is rolled back, the refusal recorded
    assert ("records", "hold.set", "refused:CustodyError") in actions
    assert ("records", "hold.list", "ok") in actions


def test_the_cli_maps_each_error_to_its_message_hint_and_exit_code(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    sign_in(env, "auditor1", ("auditor", "records_manager"))
    short = servers.run_kura(env, "original", "R20260101-000001", "--out", "x",
                             "--reason", "ab", timeout=120)
    assert short.returncode == ExitCode.bad_input
    assert "error: say why the original is opened" in short.stderr
    assert "--reason: a reason and case reference" in short.stderr
    missing = servers.run_kura(env, "original", "R20260101-000001", "--out", "x",
                               "--reason", "disclosure request 12", timeout=120)
    assert missing.returncode == ExitCode.failed
    assert "no document R20260101-000001" in missing.stderr
    # someone rewrites an entry behind Kura's back: verify says so and exits "damaged"
    with closing(_sqlite(settings_from(env))) as connection:
        connection.execute("UPDATE audit_entry SET result = 'x' WHERE seq = 1")
    broken = servers.run_kura(env, "audit", "verify", timeout=120)
    assert broken.returncode == ExitCode.damaged
    assert "audit chain broken" in broken.stdout
    assert "error: the audit chain does not verify" in broken.stderr
