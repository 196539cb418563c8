"""Verification at the command line (`kura verify …`, `kura login` with a TOTP code), on the
same use cases as the rooms: a verifier corrects a field typed at a prompt, a checker
confirms it, one account holding both duties is refused confirming its own change, two
verifiers key a 個人番号 blind, a 疑義 is raised and decided; each step is in the audit
chain. Every command is the real `kura` in a child process."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from kura.bench.servers import kura_env, run_kura
from schemas.errors import ExitCode
from storage.db import session_scope
from storage.models import Document
from storage.usecases import access
from tests.custody_data import PEOPLE
from tests.helpers import PASSWORD, login
from tests.verification_data import Office, fresh_settings, open_office, status_of


def _env(office: Office, who: str) -> dict[str, str]:
    return kura_env(data_dir=str(office.settings.data_dir), lang="ja",
                    session_file=str(office.settings.data_dir.parent / f"{who}.session"))


def _kura(office: Office, who: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    done = run_kura(_env(office, who), *args, timeout=120, stdin=stdin)
    return done.returncode, done.stdout + done.stderr


def _signed_in(office: Office, who: str) -> None:
    code, said = _kura(office, who, "login", who, "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, said


def test_a_verifier_corrects_a_checker_confirms_and_no_one_confirms_their_own(
    tmp_path: Path
) -> None:
    office = open_office(fresh_settings(tmp_path), documents=2)
    first, second = office.receipts
    for who in ("vera", "vito", "chika", "both"):
        _signed_in(office, who)

    code, shown = _kura(office, "vera", "verify", "next")
    assert code == 0 and first in shown
    assert "紛らわしい文字" in shown and "存在しない日付" in shown  # each field's reasons
    assert PEOPLE[0]["name"] not in shown and PEOPLE[0]["my_number"] not in shown  # masked
    code, shown = _kura(office, "vera", "verify", "show", first, "--field", "birth_date")
    assert PEOPLE[0]["birth_date"] in shown and PEOPLE[0]["name"] not in shown

    # the value is typed (here: read from standard input), never given as an argument
    code, said = _kura(office, "vera", "verify", "correct", first, "birth_date",
                       "--value-stdin", stdin="1965-01-03\n")
    assert code == 0 and "点検待ち" in said, said
    code, said = _kura(office, "vera", "verify", "accept", first, "name_kana")
    assert code == 0, said
    # the 個人番号 is keyed blind by two verifiers
    for who, state in (("vera", "1回入力済"), ("vito", "確定")):
        code, said = _kura(office, who, "verify", "key", first, "my_number", "--value-stdin",
                           stdin=PEOPLE[0]["my_number"] + "\n")
        assert code == 0 and state in said, said
    assert [e.result for e in office.audit("field.key")] == ["keying", "confirmed"]

    # a verifier may not confirm; an account holding both duties may not confirm either
    code, said = _kura(office, "vera", "verify", "confirm", first, "birth_date")
    assert code == ExitCode.refused, said
    code, said = _kura(office, "both", "verify", "correct", second, "name_kana",
                       "--value-stdin", stdin="スズキハナコー\n")
    assert code == 0, said
    code, said = _kura(office, "both", "verify", "confirm", second, "name_kana")
    assert code == ExitCode.refused, said
    # the checker confirms: the document is verified, the checker shown
    for name in ("name_kana", "birth_date"):
        code, said = _kura(office, "chika", "verify", "confirm", first, name)
        assert code == 0, said
    assert "照合済" in said
    assert status_of(office, first) == "verified"
    code, shown = _kura(office, "chika", "verify", "show", first, "--field", "birth_date")
    assert "1965-01-03" in shown and "chika" in shown
    assert [(e.actor, e.result) for e in office.audit("field.confirm")] == [
        ("both", "refused:FourEyesRefused"), ("chika", "ok"), ("chika", "ok")]
    assert [e.actor for e in office.audit("field.correct")] == ["vera", "both"]


def test_a_document_goes_to_investigation_and_back_from_the_command_line(
    tmp_path: Path
) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    [receipt] = office.receipts
    for who in ("vera", "chika"):
        _signed_in(office, who)
    code, said = _kura(office, "vera", "verify", "investigate", receipt, "--note",
                       "届出日が2つ書かれている")
    assert code == 0 and status_of(office, receipt) == "investigation", said
    code, said = _kura(office, "vera", "verify", "accept", receipt, "name_kana")
    assert code == ExitCode.failed and "疑義" in said
    code, said = _kura(office, "chika", "verify", "decide", receipt, "resume", "--note",
                       "本人に電話で確認した")
    assert code == 0 and status_of(office, receipt) == "in_verification", said
    assert [e.actor for e in office.audit("record.decide")] == ["chika"]

    # a checker returns a change with a note; a verifier sends the page back to the desk
    code, said = _kura(office, "vera", "verify", "correct", receipt, "birth_date",
                       "--value-stdin", stdin="1965-01-03\n")
    assert code == 0, said
    code, said = _kura(office, "chika", "verify", "return", receipt, "birth_date", "--note",
                       "届書には2日とある")
    assert code == 0, said
    code, shown = _kura(office, "vera", "verify", "show", receipt, "--field", "birth_date",
                        "--json")
    birth = next(f for f in json.loads(shown)["fields"] if f["name"] == "birth_date")
    assert (birth["status"], birth["value"], birth["proposed"]) == ("review", "1965-01-02",
                                                                     None)
    code, said = _kura(office, "vera", "verify", "rescan", receipt, "--note", "頁の下が切れている")
    assert code == 0 and status_of(office, receipt) == "rescan", said
    assert [e.actor for e in office.audit("field.return")] == ["chika"]
    assert [e.actor for e in office.audit("record.rescan")] == ["vera"]


def test_a_session_whose_duties_need_no_second_factor_cannot_set_one_up(tmp_path: Path) -> None:
    """Else whoever holds a verifier's session could set a factor up and lock them out."""
    office = open_office(fresh_settings(tmp_path), documents=1)
    with pytest.raises(access.AccessError, match="without a second factor"):
        access.begin_enrolment(office.settings, office.token("vera"))
    code, said = _kura(office, "vera", "login", "vera", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert code == 0, said  # and the verifier's sign-in asks for no code


def test_kura_login_asks_for_the_code_of_an_account_with_a_second_factor(
    tmp_path: Path
) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    token = office.token("rima")
    secret = access.begin_enrolment(office.settings, token).secret
    assert access.check_second_factor(office.settings, token, pyotp.TOTP(secret).now())

    code, said = _kura(office, "rima", "login", "rima", "--password-stdin",
                       stdin=f"{PASSWORD}\n000000\n")
    assert code == ExitCode.refused, said
    code, said = _kura(office, "rima", "whoami")
    assert code == ExitCode.refused  # nothing was kept: the sign-in never opened
    next_step = pyotp.TOTP(secret).at(time.time() + 30)  # a code not used yet
    code, said = _kura(office, "rima", "login", "rima", "--password-stdin",
                       stdin=f"{PASSWORD}\n{next_step}\n")
    assert code == 0, said
    code, said = _kura(office, "rima", "whoami")
    assert code == 0 and "rima" in said
    assert [e.result for e in office.audit("login.second_factor")] == [
        "ok", "denied:bad_code", "ok"]


def test_kura_login_sets_up_the_second_factor_of_a_duty_that_has_none(tmp_path: Path) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)

    code, said = _kura(office, "rima", "login", "rima", "--password-stdin",
                       stdin=f"{PASSWORD}\n000000\n")
    assert code == ExitCode.refused, said
    shown = re.search(r"otpauth://\S*[?&]secret=([A-Z2-7]+)", said)
    assert shown is not None, said
    assert said.count(shown.group(1)) == 2  # the key as typed, and in the URI
    code, said = _kura(office, "rima", "whoami")
    assert code == ExitCode.refused  # no session until the second factor is set up
    said = login(_env(office, "rima"), "rima")  # reads the key shown and types its code
    assert shown.group(1) in said  # the same key until its first right code
    code, said = _kura(office, "rima", "whoami")
    assert code == 0 and "rima" in said
    assert [e.result for e in office.audit("login.second_factor")] == ["denied:bad_code", "ok"]
    assert shown.group(1) not in login(_env(office, "rima"), "rima")  # set up: the code only


def test_kura_verify_finish_verifies_only_a_document_none_of_whose_fields_waits(
    tmp_path: Path
) -> None:
    """`kura verify finish` for a document the readers settled whole (nothing flagged), and
    refused in effect while a field still waits: the document stays in verification."""
    office = open_office(fresh_settings(tmp_path), documents=2)
    waiting, settled = office.receipts
    with session_scope(office.settings.sqlalchemy_url) as session:
        document = session.scalars(
            select(Document).where(Document.receipt_number == settled)).one()
        for field in document.fields:
            field.status, field.reasons = "accepted", []
    _signed_in(office, "vera")

    code, said = _kura(office, "vera", "verify", "finish", waiting)
    assert code == 0 and status_of(office, waiting) == "in_verification", said
    code, said = _kura(office, "vera", "verify", "finish", settled)
    assert code == 0 and "照合済" in said, said
    assert status_of(office, settled) == "verified"
    assert [e.actor for e in office.audit("record.verified")] == ["vera"]
