"""People first: accounts with duty roles, argon2id, expiry, lockout, sessions, the service
identity, and the CLI refusing every records command to anyone not signed in with the duty."""

from __future__ import annotations

import datetime as dt
import json
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update

from kura.bench.servers import KURA, kura_env
from schemas.settings import Settings
from storage import accounts
from storage.accounts import (
    AccountError,
    LoginSession,
    NotAllowed,
    NotSignedIn,
    Person,
    SignInRefused,
)
from storage.audit import Actor, AuditEntry
from storage.audit_verify import verify
from storage.db import session_scope, upgrade
from tests.helpers import PASSWORD, add_person, login, run_kura, sign_in

ADMIN = Actor("admin", "security_admin")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    upgrade(settings.sqlalchemy_url)
    return settings


def _add(settings: Settings, username: str, *roles: str, **kwargs: object) -> None:
    with session_scope(settings.sqlalchemy_url) as session:
        accounts.add_person(session, ADMIN, username, list(roles), PASSWORD, **kwargs)  # type: ignore[arg-type]


def _sign_in(
    settings: Settings, username: str, password: str = PASSWORD
) -> accounts.SignedIn | SignInRefused:
    """Sign in, committing the attempt's audit entry whatever the outcome."""
    with session_scope(settings.sqlalchemy_url) as session:
        try:
            return accounts.sign_in(
                session,
                username,
                password,
                settings.session_minutes,
                max_failures=3,
                lockout_minutes=15,
            )
        except SignInRefused as refused:
            return refused


def _last_entry(settings: Settings) -> AuditEntry:
    with session_scope(settings.sqlalchemy_url) as session:
        return session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()  # type: ignore[return-value]


# --- accounts -----------------------------------------------------------------------------


def test_a_password_is_kept_only_as_an_argon2id_hash(settings: Settings) -> None:
    _add(settings, "tanaka", "scanning_clerk")
    with session_scope(settings.sqlalchemy_url) as session:
        person = accounts.find(session, "tanaka")
        assert person is not None and person.password_hash is not None
        assert person.password_hash.startswith("$argon2id$")
        assert PASSWORD not in person.password_hash
        assert person.roles == ["scanning_clerk"] and person.created_by == "admin"
    entry = _last_entry(settings)
    assert (entry.action, entry.actor, entry.result) == ("user.add", "admin", "ok")
    assert PASSWORD not in json.dumps(entry.detail)


@pytest.mark.parametrize(
    ("username", "roles", "password", "message"),
    [
        ("x", ["scanning_clerk"], PASSWORD, "user name"),
        ("svc-scanner", ["scanning_clerk"], PASSWORD, "service identities"),
        ("sato", ["janitor"], PASSWORD, "unknown duty role janitor"),
        ("sato", [], PASSWORD, "at least one duty role"),
        ("sato", ["security_admin", "records_manager"], PASSWORD, "kept apart"),
        ("sato", ["verifier"], "short", "at least 12"),
        ("sato", ["verifier"], "sato-sato-sato-1", "must not contain the user name"),
    ],
)
def test_accounts_that_must_not_exist_are_refused(
    settings: Settings, username: str, roles: list[str], password: str, message: str
) -> None:
    with (
        session_scope(settings.sqlalchemy_url) as session,
        pytest.raises(AccountError, match=message),
    ):
        accounts.add_person(session, ADMIN, username, roles, password)


def test_one_account_per_name(settings: Settings) -> None:
    _add(settings, "tanaka", "verifier")
    with pytest.raises(AccountError, match="already an account"):
        _add(settings, "tanaka", "checker")


def test_signing_in_opens_a_short_session_stored_hashed(settings: Settings) -> None:
    _add(settings, "tanaka", "scanning_clerk", "records_manager")
    signed = _sign_in(settings, "tanaka")
    assert isinstance(signed, accounts.SignedIn)
    assert signed.roles == ["scanning_clerk", "records_manager"]
    lifetime = signed.expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < lifetime <= dt.timedelta(minutes=60)
    with session_scope(settings.sqlalchemy_url) as session:
        stored = session.scalars(select(LoginSession)).one()
        assert stored.token_sha256 == accounts.token_digest(signed.token)
        assert signed.token not in stored.token_sha256
        person = accounts.current(session, signed.token)
        assert person.username == "tanaka"
        assert accounts.duty_for(person, "original.open") == "records_manager"
        assert accounts.duty_for(person, "intake") == "scanning_clerk"
        with pytest.raises(NotAllowed, match="needs the security admin duty"):
            accounts.duty_for(person, "users.manage")
    entry = _last_entry(settings)
    assert (entry.action, entry.actor, entry.result) == ("login", "tanaka", "ok")


def test_an_expired_or_ended_session_is_refused(settings: Settings) -> None:
    _add(settings, "tanaka", "verifier")
    first, second = _sign_in(settings, "tanaka"), _sign_in(settings, "tanaka")
    assert isinstance(first, accounts.SignedIn) and isinstance(second, accounts.SignedIn)
    with session_scope(settings.sqlalchemy_url) as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.token_sha256 == accounts.token_digest(first.token))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    with session_scope(settings.sqlalchemy_url) as session:
        with pytest.raises(NotSignedIn, match="expired"):
            accounts.current(session, first.token)
        with pytest.raises(NotSignedIn, match="not signed in"):
            accounts.current(session, None)
        with pytest.raises(NotSignedIn, match="ended"):
            accounts.current(session, "made-up-token")
        assert accounts.sign_out(session, second.token) is not None
    with (
        session_scope(settings.sqlalchemy_url) as session,
        pytest.raises(NotSignedIn, match="ended"),
    ):
        accounts.current(session, second.token)


def test_wrong_passwords_are_recorded_and_lock_the_account(settings: Settings) -> None:
    _add(settings, "tanaka", "verifier")
    for _ in range(3):
        refused = _sign_in(settings, "tanaka", "not the password at all")
        assert isinstance(refused, SignInRefused)
        assert "wrong user name or password" in str(refused)
    assert _last_entry(settings).result == "denied:bad_password_locked"
    locked = _sign_in(settings, "tanaka")  # the right password, but locked
    assert isinstance(locked, SignInRefused) and locked.reason == "locked"
    with session_scope(settings.sqlalchemy_url) as session:
        accounts.enable(session, ADMIN, "tanaka")
    assert isinstance(_sign_in(settings, "tanaka"), accounts.SignedIn)
    unknown = _sign_in(settings, "nobody")
    assert isinstance(unknown, SignInRefused)
    assert str(unknown) == str(locked)  # the message does not tell which names exist
    entry = _last_entry(settings)
    assert (entry.actor, entry.result) == ("unknown", "denied:no_such_account")


def test_a_disabled_account_loses_its_sessions_and_cannot_sign_in(settings: Settings) -> None:
    _add(settings, "tanaka", "verifier")
    signed = _sign_in(settings, "tanaka")
    assert isinstance(signed, accounts.SignedIn)
    with session_scope(settings.sqlalchemy_url) as session:
        accounts.disable(session, ADMIN, "tanaka")
    with session_scope(settings.sqlalchemy_url) as session, pytest.raises(NotSignedIn):
        accounts.current(session, signed.token)
    refused = _sign_in(settings, "tanaka")
    assert isinstance(refused, SignInRefused) and refused.reason == "disabled"


def test_an_account_past_its_expiry_date_stops_working(settings: Settings) -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    _add(settings, "contractor", "scanning_clerk", expires_on=tomorrow)
    signed = _sign_in(settings, "contractor")
    assert isinstance(signed, accounts.SignedIn)
    with session_scope(settings.sqlalchemy_url) as session:
        session.execute(
            update(Person)
            .where(Person.username == "contractor")
            .values(expires_on=dt.date.today() - dt.timedelta(days=1))
        )
    with (
        session_scope(settings.sqlalchemy_url) as session,
        pytest.raises(NotSignedIn, match="disabled or expired"),
    ):
        accounts.current(session, signed.token)
    refused = _sign_in(settings, "contractor")
    assert isinstance(refused, SignInRefused) and refused.reason == "expired"
    with (
        session_scope(settings.sqlalchemy_url) as session,
        pytest.raises(AccountError, match="in the past"),
    ):
        accounts.add_person(
            session, ADMIN, "late", ["verifier"], PASSWORD, dt.date.today() - dt.timedelta(days=1)
        )


def test_the_service_identity_exists_and_cannot_sign_in(settings: Settings) -> None:
    with session_scope(settings.sqlalchemy_url) as session:
        service = accounts.find(session, accounts.SERVICE_NAME)
        assert service is not None and service.kind == "service"
        assert service.password_hash is None and service.roles == ["service"]
        assert accounts.people(session) == []
    refused = _sign_in(settings, accounts.SERVICE_NAME, "")
    assert isinstance(refused, SignInRefused) and refused.reason == "service_identity"


def test_the_permission_matrix_names_only_known_duties() -> None:
    for permission, roles in accounts.PERMISSIONS.items():
        assert roles and roles <= set(accounts.ROLES), permission
    assert accounts.PERMISSIONS["original.open"] == {"records_manager"}
    assert accounts.PERMISSIONS["audit.read"] == {"auditor"}
    assert accounts.PERMISSIONS["backup"] == {"backup_operator"}


def test_account_changes_keep_the_chain_intact(settings: Settings) -> None:
    _add(settings, "tanaka", "verifier")
    with session_scope(settings.sqlalchemy_url) as session:
        accounts.set_roles(session, ADMIN, "tanaka", ["checker"])
        accounts.set_expiry(session, ADMIN, "tanaka", dt.date.today() + dt.timedelta(days=30))
        accounts.set_password(session, ADMIN, "tanaka", "another long passphrase")
        accounts.disable(session, ADMIN, "tanaka")
    with session_scope(settings.sqlalchemy_url) as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert actions == ["user.add", "user.roles", "user.expiry", "user.password", "user.disable"]
    assert verify(settings).ok


# --- the command line ---------------------------------------------------------------------


def _kura(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KURA, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        input=input,
    )


def test_the_first_account_must_be_a_security_administrator(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    clerk = _kura(
        env,
        "users",
        "add",
        "tanaka",
        "--role",
        "scanning_clerk",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert clerk.returncode == 2 and "must be a security administrator" in clerk.stderr
    admin = run_kura(
        env,
        "users",
        "add",
        "admin",
        "--role",
        "security_admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert "added admin (security_admin)" in admin
    second = _kura(
        env,
        "users",
        "add",
        "tanaka",
        "--role",
        "scanning_clerk",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert second.returncode == 4 and "not signed in" in second.stderr
    login(env, "admin")  # sets up the security administrator's second factor
    created = run_kura(
        env,
        "users",
        "add",
        "tanaka",
        "--role",
        "scanning_clerk",
        "--expires",
        "2099-12-31",
        "--generate-password",
    )
    assert "expires after 2099-12-31" in created and "password (shown once" in created
    listing = json.loads(run_kura(env, "users", "list", "--json"))
    by_name = {row["username"]: row for row in listing}
    assert by_name["tanaka"]["roles"] == ["scanning_clerk"]
    assert by_name["tanaka"]["expires_on"] == "2099-12-31"
    assert by_name["svc-worker"]["kind"] == "service"
    run_kura(env, "users", "disable", "tanaka")
    assert json.loads(run_kura(env, "users", "list", "--json"))[1]["disabled"] is True


def test_records_commands_refuse_without_the_duty(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "a.png").write_bytes(b"not really a png")
    for args in (
        ["ingest", str(scans)],
        ["queue"],
        ["original", "R20260101-000001", "--out", "x", "--reason", "disclosure"],
    ):
        refused = _kura(env, *args)
        assert refused.returncode == 4, refused
        assert "refused: not signed in: run `kura login NAME` first" in refused.stderr
    sign_in(env, "verifier1", ("verifier",))
    for args, duty in (
        (["ingest", str(scans)], "scanning clerk"),
        (["original", "R20260101-000001", "--out", "x", "--reason", "check"], "records manager"),
        (["users", "list"], "security admin or auditor"),
        (["audit", "search"], "auditor"),
    ):
        refused = _kura(env, *args)
        assert refused.returncode == 4, refused
        assert f"it needs the {duty} duty" in refused.stderr.replace("\n", " ")
    assert "0 documents" in run_kura(env, "queue")  # the verifier may read the queue
    no_reason = _kura(env, "original", "R20260101-000001", "--out", "x")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    # every refusal is in the audit chain
    add_person(env, "auditor1", "auditor")
    run_kura(env, "login", "auditor1", "--password-stdin", input=PASSWORD + "\n")
    refusals = json.loads(run_kura(env, "audit", "search", "--action", "access", "--json"))
    assert [r["result"] for r in refusals] == ["denied:not_signed_in"] * 3 + ["denied:duty"] * 4
    assert {r["actor"] for r in refusals} == {"anonymous", "verifier1"}


def test_the_session_file_is_private_and_logout_ends_it(tmp_path: Path) -> None:
    session_file = tmp_path / "home" / "kura-session"
    env = kura_env(data_dir=str(tmp_path / "data"), session_file=str(session_file))
    output = sign_in(env, "tanaka", ("scanning_clerk",))
    assert "signed in as tanaka (scanning clerk)" in output
    assert "recorded in the audit log" in output
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    token = json.loads(session_file.read_text())["token"]
    assert "tanaka" in run_kura(env, "whoami")
    session_file.chmod(0o644)
    leaked = _kura(env, "queue")
    assert leaked.returncode == 4 and "may be read by others" in leaked.stderr
    session_file.chmod(0o600)
    assert "signed out tanaka" in run_kura(env, "logout")
    assert not session_file.exists()
    session_file.write_text(json.dumps({"token": token}))  # a copy kept from before
    session_file.chmod(0o600)
    assert _kura(env, "queue").returncode == 4
    wrong = _kura(env, "login", "tanaka", "--password-stdin", input="wrong password here\n")
    assert wrong.returncode == 4 and "sign-in refused" in wrong.stderr


def test_demo_creates_one_account_per_duty_and_signs_in_the_clerk(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    output = run_kura(env, "demo", "--count", "1", timeout=600)
    for username in (
        "demo-clerk",
        "demo-verifier",
        "demo-checker",
        "demo-records",
        "demo-admin",
        "demo-backup",
        "demo-auditor",
    ):
        assert username in output
    assert "signed in as demo-clerk" in output and "records manager" in output  # duties in words
    assert "documents 1" in output
    assert "demo-clerk (scanning_clerk)" in run_kura(env, "whoami")
    settings = Settings(data_dir=tmp_path / "data")
    with session_scope(settings.sqlalchemy_url) as session:
        intake = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "intake.batch")
        ).one()
        assert (intake.actor, intake.role) == ("demo-clerk", "scanning_clerk")
        reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "page.read"))
        assert {(e.actor, e.role) for e in reads} == {("svc-worker", "service")}
