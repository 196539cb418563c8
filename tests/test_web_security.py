"""Safe by default: the headers on every answer, the session cookie's flags, CSRF on every
POST, sign-in rate-limited and accounts locked after repeated wrong passwords, and no
personal value in a URL the rooms make."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.helpers import PASSWORD
from tests.verification_data import fresh_settings, open_office
from web.app import create_app


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_headers_cookies_csrf_rate_limit_and_lockout(tmp_path: Path) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    client = TestClient(create_app(office.settings), base_url="https://testserver")
    page = client.get("/signin")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text and " onclick=" not in page.text  # no inline script
    csrf = _csrf(page.text)

    # no CSRF token, no sign-in (and nothing is recorded as a sign-in)
    forged = client.post("/signin", data={"username": "vera", "password": PASSWORD})
    assert forged.status_code == 403 and office.audit("login") == []

    signed = client.post("/signin", data={"csrf": csrf, "username": "vera",
                                          "password": PASSWORD}, follow_redirects=False)
    cookie = signed.headers["set-cookie"].lower()
    assert "kura_session=" in cookie and "httponly" in cookie and "secure" in cookie
    assert "samesite=strict" in cookie
    station = client.get(f"/station/doc/{office.receipts[0]}")
    assert station.headers["cache-control"] == "no-store"
    image = client.get(f"/station/doc/{office.receipts[0]}/page/1")
    assert image.status_code == 200 and "no-store" in image.headers["cache-control"]
    for link in re.findall(r'(?:href|src|action)="([^"]+)"', station.text):
        assert not re.search(r"\d{10,}|山田|ヤマダ", link), link  # no personal value in a URL

    # five wrong passwords lock the account; the right one is then refused too
    other = TestClient(create_app(office.settings), base_url="https://testserver")
    for _ in range(5):
        csrf = _csrf(other.get("/signin").text)
        assert other.post("/signin", data={"csrf": csrf, "username": "vito",
                                           "password": "wrong wrong wrong"}).status_code == 401
    csrf = _csrf(other.get("/signin").text)
    assert other.post("/signin", data={"csrf": csrf, "username": "vito",
                                       "password": PASSWORD}).status_code == 401
    assert [e.result for e in office.audit("login") if e.actor == "vito"][-2:] == [
        "denied:bad_password_locked", "denied:locked"]
    # and more than ten attempts a minute from one address are turned away unread
    for _ in range(5):
        csrf = _csrf(other.get("/signin").text)
        other.post("/signin", data={"csrf": csrf, "username": "nobody", "password": "x"})
    csrf = _csrf(other.get("/signin").text)
    limited = other.post("/signin", data={"csrf": csrf, "username": "vera", "password": PASSWORD})
    assert limited.status_code == 429
