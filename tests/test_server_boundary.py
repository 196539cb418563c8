"""The server boundary (issue 14): with KURA_SERVER_URL set, a clerk's `kura` holds no key
and no database credentials; its records commands call the Kura server (web/api.py), which
checks the duty, acts and writes the same audit entries as the rooms.

The server is a real `kura web` process on a free loopback port; every client command is a
real `kura` process whose environment has the server's address and nothing else of Kura's."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from inspect import signature
from pathlib import Path

import httpx
import pytest

from kura.bench.servers import KURA, free_port, kura_env
from kura.bench.synth import make_sample_scans
from kura.calls import again
from schemas.errors import ExitCode, InvalidInput, KuraError, NotAllowed
from schemas.settings import Settings
from schemas.wire import decode, encode, hints
from storage.accounts import SignInRefused
from storage.audit_verify import Problem, VerifyReport
from storage.usecases import records
from tests.custody_data import PEOPLE
from tests.helpers import PASSWORD, login, serving
from tests.verification_data import Office, fresh_settings, open_office
from web.api import CALLS, SERVER_SIDE

REASON = "開示請求 2026-41"

DECRYPT = """
from sqlalchemy import select
from schemas.settings import Settings
from schemas.wire import decode, encode, hints
from storage.accounts import SignInRefused
from storage.audit_verify import Problem, VerifyReport
from storage.db import session_scope
from storage.models import Document
from storage.runtime import vault_for

settings = Settings()
vault = vault_for(settings)
with session_scope(settings.sqlalchemy_url) as session:
    for document in session.scalars(select(Document)):
        for field in document.fields:
            value = vault.open_value(document, f"field:{field.name}:value", field.value_sealed)
            print(field.name, value)
"""
"""The key-less decryption attempt of issue 14: what anyone who can run Python as the
user of a `kura` process tries."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Office, str]]:
    """An office with three filed documents and its staff, served by `kura web`."""
    root = tmp_path_factory.mktemp("server")
    office = open_office(fresh_settings(root))
    env = _server_env(office.settings)
    with serving(env, root / "server.log") as (base, _pid):
        yield office, base


def _server_env(settings: Settings) -> dict[str, str]:
    # every clerk of these tests signs in from 127.0.0.1, more often than 10 a minute
    return kura_env(data_dir=str(settings.data_dir), key_dir=str(settings.keys_dir),
                    signin_per_minute="100")


def _client(tmp_path: Path, base: str) -> dict[str, str]:
    """A clerk's machine: the server's address, a data folder for the session, no key."""
    return kura_env(data_dir=str(tmp_path / "client"), server_url=base)


def _kura(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KURA, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)


def _ok(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = _kura(env, *args, stdin=stdin)
    assert done.returncode == 0, f"kura {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_clerks_kura_works_through_the_server(tmp_path: Path,
                                                server: tuple[Office, str]) -> None:
    office, base = server
    client = _client(tmp_path, base)
    assert not any(key in client for key in ("KURA_KEK", "KURA_INDEX_KEY", "KURA_AUDIT_KEY",
                                             "KURA_DATABASE_URL", "KURA_KEY_DIR"))

    english = {**client, "KURA_LANG": "en"}  # `kura` alone: where things stand, by the server
    assert "Nobody is signed in here" in _ok(english)
    login(client, "vera")  # a verifier: the queue and the search
    said = _ok(english)
    assert "Signed in as vera (verifier)" in said, said
    assert "for verification." in said, said
    queue = _ok(client, "queue", "--json")
    assert all(receipt in queue for receipt in office.receipts)
    found = _ok(client, "find", "my_number", "--stdin", "--json",
                stdin=PEOPLE[1]["my_number"] + "\n")
    assert office.receipts[1] in found and office.receipts[0] not in found

    login(client, "rima")  # a records manager: password and TOTP code (set up at the
    # first sign-in, through the server)
    out = tmp_path / "original.zip"
    shown = _ok(client, "original", office.receipts[0], "--out", str(out), "--reason", REASON)
    password = shown.strip().splitlines()[-1].split()[-1]
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == [f"{office.receipts[0]}.png"]
    import pyzipper

    with pyzipper.AESZipFile(out) as archive:
        archive.setpassword(password.encode())
        data = archive.read(f"{office.receipts[0]}.png")
    assert data.startswith(b"\x89PNG")
    _ok(client, "hold", "set", office.receipts[0], "--reason", "訴訟 2026-7")
    assert office.receipts[0] in _ok(client, "hold", "list")

    # the server wrote every entry, under the person's name, with the purpose sealed
    assert [e.actor for e in office.audit("queue.list")][-1:] == ["vera"]
    assert [e.actor for e in office.audit("record.search")][-1:] == ["vera"]
    opened = office.audit("original.open")[-1]
    assert (opened.actor, opened.result, opened.purpose) == ("rima", "ok", REASON)
    assert office.audit("hold.set")[-1].actor == "rima"
    signed = [e for e in office.audit("login") if e.actor == "rima"]
    assert signed and signed[-1].result == "ok"

    login(client, "audra")  # an auditor: the chain verified and searched on the server
    verified = json.loads(_ok(client, "audit", "verify", "--json"))
    assert verified["problems"] == [] and verified["entries"] > 0
    found = json.loads(_ok(client, "audit", "search", "--action", "original.open",
                           "--since", "2000-01-01", "--json"))
    assert [(row["actor"], row["purpose"]) for row in found][-1:] == [("rima", REASON)]

    # nothing of the installation came to the clerk's machine but the session file
    assert sorted(p.name for p in (tmp_path / "client").rglob("*")) == ["session"]
    assert not (tmp_path / "client-keys").exists()


def test_a_clerk_takes_scans_in_through_the_server(tmp_path: Path,
                                                   server: tuple[Office, str]) -> None:
    office, base = server
    scan = make_sample_scans(tmp_path / "scans", 1, seed=14)[0]
    client = _client(tmp_path, base)
    login(client, "sakura")  # a scanning clerk
    shown = json.loads(_ok(client, "ingest", str(scan), "--json"))
    [entry] = shown["entries"]
    assert (entry["outcome"], entry["status"]) == ("taken", "done"), shown
    assert entry["receipts"] and entry["pages"] == 1
    assert office.audit("intake.batch")[-1].actor == "sakura"
    assert office.audit("batch.report")[-1].actor == "sakura"
    assert sorted(p.name for p in (tmp_path / "client").rglob("*")) == ["session"]
    again = json.loads(_ok(client, "ingest", str(scan), "--json"))  # the server's checks
    assert again["entries"][0]["outcome"] == "quarantined"
    assert again["entries"][0]["code"] == "duplicate"
    bad = tmp_path / "not-a-scan.pdf"
    bad.write_text("a letter, not a scan")
    kept = json.loads(_ok(client, "ingest", str(bad), "--json"))["entries"][0]
    assert kept["outcome"] == "quarantined", kept
    # a records manager takes it in again through the server's checks (still not a scan)
    login(client, "rima")
    held = json.loads(_ok(client, "quarantine", "list", "--json"))
    [line] = [line for line in held if line["state"] == "held"]
    said = _ok(client, "quarantine", "release", line["id"], "--reason", "limit raised")
    assert f"released {line['id'][:8]}" in said and "read by the server as batch" in said
    assert office.audit("quarantine.release")[-1].actor == "rima"
    _ok(client, "quarantine", "pages")  # the pages set aside, listed by the server
    for asked in (("reread", "0f0f0f0f", "--reason", "case P-9"),  # answered by the server
                  ("dispose", "0f0f0f0f", "--reason", "case P-9")):
        missing = _kura(client, "quarantine", "pages", *asked)
        assert missing.returncode != 0 and "no page set aside 0f0f0f0f" in missing.stderr, (
            missing.stdout + missing.stderr)
    assert sorted(p.name for p in (tmp_path / "client").rglob("*")) == ["session"]


def test_the_register_and_its_batches_through_the_server(tmp_path: Path,
                                                         server: tuple[Office, str]) -> None:
    office, base = server
    client = _client(tmp_path, base)
    login(client, "vera")  # a verifier reads the 受付処理簿 and the 進達 ledger
    _ok(client, "register", "list")
    _ok(client, "shintatsu", "ledger")
    assert office.audit("register.open")[-1].actor == "vera"
    assert office.audit("transmittal.ledger")[-1].actor == "vera"
    out = tmp_path / "register.csv"  # bytes from the server, written here
    _ok(client, "register", "export", "--out", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    assert all(receipt.encode() in out.read_bytes() for receipt in office.receipts)
    assert sorted(p.name for p in (tmp_path / "client").rglob("*")) == ["session"]


def test_a_refused_duty_is_refused_by_the_server(tmp_path: Path,
                                                 server: tuple[Office, str]) -> None:
    office, base = server
    client = _client(tmp_path, base)
    login(client, "sakura")  # a scanning clerk may see the queue, never an original
    refused = _kura(client, "original", office.receipts[1], "--out",
                    str(tmp_path / "x.zip"), "--reason", REASON)
    assert refused.returncode == ExitCode.refused, refused.stdout + refused.stderr
    assert not (tmp_path / "x.zip").exists()
    denied = office.audit("access")[-1]
    assert (denied.actor, denied.result) == ("sakura", "denied:duty")

    _ok(client, "logout")
    unsigned = _kura(client, "queue")
    assert unsigned.returncode == ExitCode.refused
    assert office.audit("access")[-1].result == "denied:not_signed_in"


def test_a_records_manager_needs_the_code_and_a_wrong_one_ends_the_sign_in(
        tmp_path: Path, server: tuple[Office, str]) -> None:
    office, base = server
    client = _client(tmp_path, base)
    wrong = _kura(client, "login", "rima", "--password-stdin", stdin=f"{PASSWORD}\n000000\n")
    assert wrong.returncode == ExitCode.refused
    assert not (tmp_path / "client" / "session").exists()
    assert office.audit("login.second_factor")[-1].result == "denied:bad_code"
    bad = _kura(client, "login", "rima", "--password-stdin", stdin="not the password\n")
    assert bad.returncode == ExitCode.refused


def test_a_duty_without_a_second_factor_sets_it_up_through_the_server(
        tmp_path: Path, server: tuple[Office, str]) -> None:
    office, base = server
    client = _client(tmp_path, base)
    # the password alone answers a session that opens nothing, whatever the client asks
    signed = httpx.post(f"{base}/api/v1/signin",
                        json={"username": "sam", "password": PASSWORD}).json()["signed_in"]
    assert signed["second_factor"] == "enrol"
    whoami = httpx.post(f"{base}/api/v1/call/people.whoami", json={"arguments": {}},
                        headers={"authorization": f"Bearer {signed['token']}"})
    assert whoami.status_code == 401

    no_code = _kura(client, "login", "sam", "--password-stdin", stdin=f"{PASSWORD}\n")
    assert no_code.returncode == ExitCode.refused, no_code.stdout + no_code.stderr
    shown = re.search(r"otpauth://\S*[?&]secret=([A-Z2-7]+)", no_code.stdout)
    assert shown is not None, no_code.stdout
    key = shown.group(1)
    assert f"key: {key}" in no_code.stdout
    assert not (tmp_path / "client" / "session").exists()
    wrong = _kura(client, "login", "sam", "--password-stdin", stdin=f"{PASSWORD}\n000000\n")
    assert wrong.returncode == ExitCode.refused
    assert f"secret={key}" in wrong.stdout  # the same key until its first right code
    assert "the second factor is not set up" in wrong.stderr.replace("\n", " ")
    assert _kura(client, "users", "list").returncode == ExitCode.refused

    said = login(client, "sam")  # reads the key shown and types its code
    assert f"secret={key}" in said and "second factor set up" in said
    assert "sam" in _ok(client, "whoami")
    assert "secret=" not in login(client, "sam")  # from now on: the code, no key
    assert [e.result for e in office.audit("login.second_factor") if e.actor == "sam"] == [
        "denied:bad_code", "denied:bad_code", "ok", "ok"]
    assert len([e for e in office.audit("second_factor.offer") if e.actor == "sam"]) == 3


def test_a_call_without_a_session_or_outside_the_list_does_nothing(
        server: tuple[Office, str]) -> None:
    office, base = server
    before = len(office.audit("user.add"))
    first_account = httpx.post(f"{base}/api/v1/call/people.add_account", json={"arguments": {
        "username": "mallory", "roles": ["security_admin"], "password": PASSWORD}})
    assert first_account.status_code == 401
    assert first_account.json()["error"]["exit_code"] == ExitCode.refused
    assert len(office.audit("user.add")) == before
    for name in CALLS:  # no use case runs without a session
        answer = httpx.post(f"{base}/api/v1/call/{name}", json={"arguments": {}})
        assert answer.status_code == 401, name
    token = office.token("sam")
    keys = httpx.post(f"{base}/api/v1/call/keys.rotate_keys", json={"arguments": {}},
                      headers={"authorization": f"Bearer {token}"})
    assert keys.status_code == 404


def test_every_call_takes_the_servers_settings_and_the_callers_session() -> None:
    for name, function in CALLS.items():
        assert tuple(signature(function).parameters)[:2] == SERVER_SIDE, name


def test_the_keyless_decryption_script_fails_on_a_clerks_machine(
        tmp_path: Path, server: tuple[Office, str]) -> None:
    office, base = server
    script = tmp_path / "decrypt.py"
    script.write_text(DECRYPT, encoding="utf-8")
    python = [sys.executable, str(script)]
    beside = subprocess.run(python, env=_server_env(office.settings), capture_output=True,
                            text=True, timeout=120, check=False, cwd=os.getcwd())
    assert PEOPLE[0]["name"] in beside.stdout  # the script works where the keys are

    client = _client(tmp_path, base)
    login(client, "vera")
    tried = subprocess.run(python, env=client, capture_output=True, text=True, timeout=120,
                           check=False, cwd=os.getcwd())
    assert tried.returncode != 0
    assert "MissingKey" in tried.stderr
    for name in PEOPLE:
        assert name["name"] not in tried.stdout + tried.stderr
    assert sorted(p.name for p in (tmp_path / "client").rglob("*")) == ["session"]


def test_an_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    client = _client(tmp_path, f"http://127.0.0.1:{free_port()}")
    done = _kura(client, "login", "vera", "--password-stdin", stdin=f"{PASSWORD}\n")
    assert done.returncode == ExitCode.unavailable
    assert "KURA_SERVER_URL" in done.stderr


def test_an_error_comes_back_as_the_same_member_of_the_family() -> None:
    refused = again({"type": "NotAllowed", "code": "not_allowed", "message": "no duty",
                     "hint": "ask", "exit_code": 4})
    assert isinstance(refused, NotAllowed) and refused.exit_code == ExitCode.refused
    assert (refused.message, refused.hint) == ("no duty", "ask")
    signin = again({"type": "SignInRefused", "message": "sign-in refused", "exit_code": 4})
    assert isinstance(signin, SignInRefused) and signin.exit_code == ExitCode.refused
    unknown = again({"type": "SomethingNew", "code": "new", "message": "m", "exit_code": 6})
    assert isinstance(unknown, KuraError)
    assert (unknown.code, unknown.exit_code) == ("new", ExitCode.unavailable)


def test_results_cross_the_wire_as_their_own_types() -> None:
    types = hints(records.open_original)
    original = records.Original("R20261129-000001", bytes(range(256)), [1, 2], "rima",
                                dt.datetime(2026, 11, 29, 9, 30, tzinfo=dt.UTC), REASON)
    wire = json.loads(json.dumps(encode(original, types["return"])))
    assert decode(wire, types["return"]) == original
    report = VerifyReport(3, 3, 1, 1, [Problem("removed", 3, "entry 3 is gone")])
    assert decode(json.loads(json.dumps(encode(report, VerifyReport))), VerifyReport) == report
    with pytest.raises(InvalidInput):
        decode({"receipt_number": "R1"}, types["return"])  # no data: not an Original
