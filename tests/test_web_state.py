"""What the rooms remember between requests lives in the database, so two web processes (and
a restart) agree: the sign-in rate limit, the lockout, a sign-in waiting for its TOTP code,
the idle lock, the originals a session opened, and the language a person chose. Each test
works one person through two app instances over the same installation."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
from fastapi.testclient import TestClient

from tests.helpers import PASSWORD
from tests.verification_data import Office, draw_pages, fresh_settings, open_office
from web.app import create_app


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _two_apps(office: Office) -> tuple[TestClient, TestClient]:
    return (TestClient(create_app(office.settings), base_url="https://testserver"),
            TestClient(create_app(office.settings), base_url="https://testserver"))


def _password(client: TestClient, username: str, password: str = PASSWORD) -> int:
    csrf = _csrf(client.get("/signin").text)
    return client.post("/signin", data={"csrf": csrf, "username": username,
                                        "password": password}).status_code


def _move_cookies(source: TestClient, target: TestClient) -> None:
    """The same browser talking to another web process (behind one load balancer)."""
    for name, value in source.cookies.items():
        target.cookies.set(name, value)


def test_the_rate_limit_and_the_lockout_hold_across_processes(tmp_path: Path) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    first, second = _two_apps(office)
    for _ in range(5):
        assert _password(first, "vito", "wrong wrong wrong") == 401
    assert _password(second, "vito") == 401  # locked, whichever process is asked
    assert [e.result for e in office.audit("login")][-1] == "denied:locked"
    for _ in range(4):
        _password(first, "nobody", "x")
    assert _password(second, "vera") == 429  # the 11th attempt this minute, counted together
    assert [e.actor for e in office.audit("login")].count("vera") == 0  # turned away unread


def test_a_code_typed_to_another_process_and_a_pending_sign_in_opens_nothing(
    tmp_path: Path
) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    first, second = _two_apps(office)
    csrf = _csrf(first.get("/signin").text)
    answer = first.post("/signin", data={"csrf": csrf, "username": "sam",
                                         "password": PASSWORD}, follow_redirects=False)
    assert answer.headers["location"] == "/signin/second"
    pending = first.cookies["kura_pending"]
    # the token waiting for its code is no session: as a session cookie it opens nothing
    sneaky = TestClient(create_app(office.settings), base_url="https://testserver")
    sneaky.cookies.set("kura_session", pending)
    assert sneaky.get("/admin", follow_redirects=False).headers["location"] == "/signin"

    page = first.get("/signin/second").text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret is not None
    _move_cookies(first, second)
    again = second.get("/signin/second").text  # the same secret, whichever process shows it
    assert secret.group(1) in again
    typed = second.post("/signin/second", data={"csrf": _csrf(again),
                                                 "code": pyotp.TOTP(secret.group(1)).now()},
                        follow_redirects=False)
    assert typed.headers["location"] == "/admin"
    _move_cookies(second, first)
    assert first.get("/admin").status_code == 200
    assert [e.result for e in office.audit("login.second_factor")] == ["ok"]


def test_an_idle_session_is_locked_by_any_process_after_a_restart(tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path).model_copy(update={"idle_minutes": 0.03})  # 1.8 s
    office = open_office(settings, documents=1)
    first, second = _two_apps(office)
    assert _password(first, "vera") == 200
    assert first.get("/station").status_code == 200
    _move_cookies(first, second)
    assert second.get("/station").status_code == 200  # busy: the other process agrees
    first.close()  # the first process goes away
    time.sleep(2.5)
    restarted = TestClient(create_app(office.settings), base_url="https://testserver")
    _move_cookies(second, restarted)
    locked = restarted.get("/station", follow_redirects=False)
    assert locked.headers["location"] == "/signin"
    assert [(e.actor, e.result) for e in office.audit("logout")] == [("vera", "idle")]
    assert second.get("/station", follow_redirects=False).headers["location"] == "/signin"


def test_an_opened_original_is_shown_by_any_process_to_that_session_only(
    tmp_path: Path
) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    draw_pages(office)
    receipt = office.receipts[0]
    first, second = _two_apps(office)
    first.cookies.set("kura_session", office.token("rima"))  # signed in (code typed)
    page = first.get(f"/records/doc/{receipt}").text
    opened = first.post(f"/records/doc/{receipt}/open", data={
        "csrf": _csrf(page), "purpose": "inquiry", "why": "年金事務所からの照会 第3号"})
    assert opened.status_code == 200 and "/page/1" in opened.text
    _move_cookies(first, second)
    image = second.get(f"/records/doc/{receipt}/page/1")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    [viewed] = office.audit("original.view")
    assert viewed.actor == "rima" and viewed.purpose == "inquiry: 年金事務所からの照会 第3号"
    # the same person in another session has stated no purpose there
    other = TestClient(create_app(office.settings), base_url="https://testserver")
    other.cookies.set("kura_session", office.token("rima"))
    assert other.get(f"/records/doc/{receipt}/page/1").status_code == 403
    assert office.audit("original.view")[-1].result == "refused:NotOpened"


def test_the_language_a_person_chose_follows_them(tmp_path: Path) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    first, second = _two_apps(office)
    first.cookies.set("kura_session", office.token("vera"))
    queue = first.get("/station").text
    assert "照合待ちの受付" in queue
    first.post("/lang", data={"csrf": _csrf(queue), "lang": "en", "back": "/station"})
    [chosen] = office.audit("user.language")
    assert chosen.actor == "vera" and chosen.detail == {"lang": "en"}
    # another machine, no cookie of this browser: vera's pages are in English all the same
    second.cookies.set("kura_session", office.token("vera"))
    assert "Documents waiting for verification" in second.get("/station").text
    assert '<html lang="en">' in second.get(f"/station/doc/{office.receipts[0]}").text
    # and the installation's default (Japanese) stays for everyone else
    vito = TestClient(create_app(office.settings), base_url="https://testserver")
    vito.cookies.set("kura_session", office.token("vito"))
    assert "照合待ちの受付" in vito.get("/station").text


def test_an_idle_screen_locks_after_five_minutes_unless_configured(tmp_path: Path) -> None:
    """Control 58's default: the page tells its script 300 s; KURA_IDLE_MINUTES changes it."""
    for settings, seconds in ((fresh_settings(tmp_path / "default"), "300"),
                              (fresh_settings(tmp_path / "set").model_copy(
                                  update={"idle_minutes": 2}), "120")):
        office = open_office(settings, documents=1)
        client = TestClient(create_app(office.settings), base_url="https://testserver")
        assert _password(client, "vera") == 200
        page = client.get("/station").text
        assert f'data-idle-seconds="{seconds}"' in page
