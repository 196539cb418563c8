"""The storehouse's lock holds against the findings of issue 14 that need no server: the demo
door, files another local user could read, a missing key answered with a new one, and
identifiers on the command line."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from kura.bench.servers import KURA, kura_env
from kura.bench.synth import make_sample_scans
from schemas.errors import ExitCode
from schemas.settings import Settings
from storage.audit import AuditEntry, AuditHead, compute_hash, head
from storage.audit_verify import verify
from storage.checkpoints import checkpoint_name, checkpoint_store
from storage.crypto import MissingKey
from storage.db import get_engine, session_scope, upgrade
from storage.keys import kek_file
from storage.runtime import vault_for
from storage.usecases import audit, people
from storage.usecases.base import acting
from tests.helpers import PASSWORD, login, run_kura, settings_from, sign_in


@pytest.fixture(scope="module")
def sample_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_scans(tmp_path_factory.mktemp("scan"), 1, seed=14)[0]


def _kura(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KURA, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=300, check=False)


def _first_admin(env: dict[str, str]) -> None:
    run_kura(env, "users", "add", "sato", "--role", "security_admin", "--role", "auditor",
             "--password-stdin", input=PASSWORD + "\n")


def test_kura_demo_refuses_an_installation_with_people_of_its_own(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    _first_admin(env)

    done = _kura(env, "demo", "--count", "1")

    assert done.returncode == ExitCode.failed, done.stdout + done.stderr
    assert "kura demo runs only on a new installation" in done.stderr
    login(env, "sato")
    users = run_kura(env, "users", "list", "--json")
    assert "demo-" not in users
    audit = run_kura(env, "audit", "search", "--action", "user.add")
    assert "kura-demo" not in audit


def test_kura_demo_refuses_a_configured_database(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"),
                   database_url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    done = _kura(env, "demo", "--count", "1")
    assert done.returncode == ExitCode.failed
    assert "never on a configured installation" in done.stderr


def test_another_local_user_reads_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = kura_env(data_dir=str(data))
    _first_admin(env)  # its audit entry is anchored: the installation's keys are made
    settings = settings_from(env)

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.keys_dir.stat().st_mode) == 0o700
    for path in [*data.rglob("*"), *settings.keys_dir.rglob("*")]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    # and as another user, for real: tmp_path itself is traversable, the data folder is not
    tmp_path.chmod(0o755)
    for target in (data / "kura.db", kek_file(settings.keys_dir)):
        read = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat",
             str(target)], capture_output=True, text=True, check=False)
        assert read.returncode != 0 and "Permission denied" in read.stderr, target


def test_an_older_readable_data_folder_is_closed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    run_kura(kura_env(data_dir=str(data)), "forms", "list", "--json")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_a_missing_key_is_an_error_never_a_new_key(tmp_path: Path, sample_scan: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    sign_in(env)
    run_kura(env, "ingest", str(sample_scan))
    settings = settings_from(env)
    kek = kek_file(settings.keys_dir)
    shutil.move(kek, tmp_path / "kek.away")
    vault_for.cache_clear()

    with pytest.raises(MissingKey, match="no key at"):
        vault_for(settings)
    done = _kura(env, "ingest", str(sample_scan))
    assert done.returncode == ExitCode.unavailable, done.stdout + done.stderr
    assert f"no key at {kek}" in done.stderr
    assert not kek.exists()
    refused = _kura(env, "keys", "init")
    assert refused.returncode != 0 and "only for a new installation" in refused.stderr
    assert not kek.exists()


def test_keys_live_apart_from_the_data(tmp_path: Path) -> None:
    keys = tmp_path / "disk2" / "kura-keys"
    settings = Settings(data_dir=tmp_path / "data", key_dir=keys)
    vault_for(settings)
    assert kek_file(keys).exists()
    assert not any(p.suffix == ".b64" for p in (tmp_path / "data").rglob("*"))


def test_identifiers_are_never_command_line_arguments(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    done = _kura(env, "find", "my_number", "968798962676")
    assert done.returncode == ExitCode.bad_input
    assert "unexpected extra argument" in done.stderr
    assert "968798962676" not in done.stderr  # not even said back


def _office(tmp_path: Path) -> tuple[Settings, str]:
    """An embedded installation where a security administrator has done a few things."""
    settings = Settings(data_dir=tmp_path / "data")
    people.add_account(settings, None, "admin", ["security_admin", "auditor"], PASSWORD,
                       os_user="tester")
    token = people.sign_in(settings, "admin", PASSWORD).token
    people.add_account(settings, token, "records", ["records_manager"], PASSWORD)
    people.list_accounts(settings, token)
    return settings, token


def _head(settings: Settings) -> int:
    with session_scope(settings.sqlalchemy_url) as session:
        return head(session)[0]


def test_every_operation_of_a_person_is_anchored_at_once(tmp_path: Path) -> None:
    settings, _ = _office(tmp_path)
    seq = _head(settings)
    assert seq < settings.audit_checkpoint_every
    assert checkpoint_name(seq) in checkpoint_store(settings).names()
    assert str(settings.keys_dir) in checkpoint_store(settings).location


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_tail_cannot_be_cut_with_the_head_rolled_back(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        settings, _ = _office(tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
        settings = Settings(data_dir=tmp_path / "data", database_url=url)
        upgrade(url)
        people.add_account(settings, None, "admin", ["security_admin", "auditor"], PASSWORD,
                           os_user="tester")
        token = people.sign_in(settings, "admin", PASSWORD).token
        people.add_account(settings, token, "records", ["records_manager"], PASSWORD)
    seq = _head(settings)
    kept = seq - 2
    with get_engine(settings.sqlalchemy_url).begin() as connection:
        if database == "sqlite":
            for (name,) in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            for table in ("audit_entry", "audit_object", "audit_head", "audit_checkpoint"):
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        hash_kept = connection.exec_driver_sql(
            f"SELECT entry_hash FROM audit_entry WHERE seq = {kept}").scalar()
        connection.exec_driver_sql(f"DELETE FROM audit_object WHERE seq > {kept}")
        connection.exec_driver_sql(f"DELETE FROM audit_entry WHERE seq > {kept}")
        connection.exec_driver_sql(f"DELETE FROM audit_checkpoint WHERE seq > {kept}")
        connection.exec_driver_sql(
            f"UPDATE audit_head SET seq = {kept}, entry_hash = '{hash_kept}'")

    report = verify(settings)
    assert not report.ok
    assert report.first is not None and report.first.kind == "removed"
    assert {p.seq for p in report.problems if p.kind == "removed"} == {kept + 1, seq}


def test_rewriting_the_newest_entry_is_caught(tmp_path: Path) -> None:
    settings, _ = _office(tmp_path)
    seq = _head(settings)
    with get_engine(settings.sqlalchemy_url).begin() as connection:
        for (name,) in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
    with session_scope(settings.sqlalchemy_url) as session:
        entry = session.get_one(AuditEntry, seq)
        entry.result = "denied:duty"
        entry.entry_hash = compute_hash(entry)
        session.execute(update(AuditHead).values(entry_hash=entry.entry_hash))
    report = verify(settings)
    assert report.first is not None and report.first.kind == "checkpoint_mismatch"


def test_a_deleted_checkpoint_is_caught(tmp_path: Path) -> None:
    settings, _ = _office(tmp_path)
    seq = _head(settings)
    (settings.keys_dir / "audit-checkpoints" / checkpoint_name(seq)).unlink()
    report = verify(settings)
    assert report.first is not None and report.first.kind == "checkpoint_missing"


SPOKEN = "開示請求 鈴木博 様 TEL 090-1234-5678"


def test_a_persons_words_in_the_log_are_sealed_and_can_be_erased(tmp_path: Path) -> None:
    settings, admin = _office(tmp_path)
    records = people.sign_in(settings, "records", PASSWORD).token
    with acting(settings, records, "original.open") as work:
        work.audit("original.open", ["doc-1", "file-1"], purpose=SPOKEN,
                   detail={"note": "本人より電話", "pages": 2})
    with session_scope(settings.sqlalchemy_url) as session:
        stored = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "original.open")).one()
        assert stored.purpose is not None and stored.purpose.startswith("sealed:")
        assert "鈴木" not in stored.purpose and "鈴木" not in json.dumps(stored.detail)
        assert stored.detail is not None and stored.detail["pages"] == 2

    def opened() -> dict[str, Any]:
        found = audit.search_log(settings, admin, record="doc-1", action="original.open")
        assert len(found) == 1
        return found[0]

    entry = opened()
    assert entry["purpose"] == "開示請求 鈴木博 様 TEL 090-1234-5678"
    assert entry["detail"]["note"] == "本人より電話"

    assert audit.erase_words(settings, records, "doc-1", "開示請求 2026-41") == 2
    entry = opened()
    assert entry["purpose"] == "(erased)" and entry["detail"]["note"] == "(erased)"
    assert entry["detail"]["pages"] == 2
    assert verify(settings).ok
