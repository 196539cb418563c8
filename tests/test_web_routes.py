"""Every route of the rooms, walked with every duty and with no session: each is allowed
exactly to the duties the one permission table (storage/accounts.py PERMISSIONS) gives."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from storage.accounts import PERMISSIONS
from tests.helpers import PASSWORD
from tests.verification_data import STAFF, draw_pages, fresh_settings, open_office
from web.app import create_app

OPEN = None
"""Routes anyone may reach (sign-in, language, health check, the Prometheus endpoint: counts
only, served to the monitoring network)."""
SIGNED_IN = "signed_in"
"""Routes any signed-in person may reach."""

EXPECTED: dict[tuple[str, str], str | None] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/metrics"): OPEN,
    ("GET", "/"): OPEN,
    ("GET", "/signin"): OPEN,
    ("POST", "/signin"): OPEN,
    ("GET", "/signin/second"): OPEN,
    ("POST", "/signin/second"): OPEN,
    ("POST", "/lang"): OPEN,
    ("POST", "/signout"): OPEN,
    ("GET", "/home"): SIGNED_IN,
    ("GET", "/station"): "queue.read",
    ("GET", "/station/doc/{receipt}"): "record.read",
    ("GET", "/station/doc/{receipt}/page/{number}"): "record.read",
    ("POST", "/station/doc/{receipt}/field/{name}"): "record.correct",
    ("POST", "/station/doc/{receipt}/step"): "record.correct",
    ("GET", "/station/group"): "record.read",
    ("POST", "/station/group/field"): "record.correct",
    ("GET", "/records"): SIGNED_IN,
    ("POST", "/records/search"): "record.read",
    ("POST", "/records/person"): "original.open",
    ("GET", "/records/doc/{receipt}"): "record.read",
    ("POST", "/records/doc/{receipt}/open"): "original.open",
    ("GET", "/records/doc/{receipt}/page/{number}"): "original.open",
    ("POST", "/records/doc/{receipt}/download"): "original.download",
    ("POST", "/records/doc/{receipt}/hold"): "retention.manage",
    ("GET", "/records/disposal"): "disposal.approve",
    ("POST", "/records/disposal/request"): "disposal.request",
    ("POST", "/records/disposal/{number}"): "disposal.approve",
    ("GET", "/desk"): SIGNED_IN,
    ("POST", "/desk/upload"): "intake",
    ("GET", "/desk/batch/{batch_id}"): "intake",
    ("GET", "/admin"): "users.read",
    ("POST", "/admin/accounts"): "users.manage",
    ("POST", "/admin/accounts/{username}"): "users.manage",
    ("GET", "/admin/review"): "users.read",
    ("POST", "/admin/review"): "users.manage",
    ("GET", "/register"): "register.read",
    ("GET", "/register/overdue"): "register.read",
    ("GET", "/register/weekly"): "register.read",
    ("POST", "/register/{receipt}/identify"): "intake",
    ("POST", "/register/export"): "register.read",
    ("GET", "/register/shintatsu"): "register.read",
    ("POST", "/register/shintatsu/prepare"): "transmittal.prepare",
    ("GET", "/register/shintatsu/{number}"): "register.read",
    ("POST", "/register/shintatsu/{number}/release"): "transmittal.release",
    ("POST", "/register/shintatsu/{number}/mail"): "transmittal.prepare",
    ("GET", "/register/totsugo"): "register.read",
    ("POST", "/register/totsugo/take"): "intake",
    ("GET", "/register/totsugo/taken/{batch_id}"): "intake",
    ("POST", "/register/totsugo/{receipt}/run"): "reconcile.run",
    ("GET", "/register/totsugo/{receipt}"): "reconcile.run",
    ("POST", "/register/totsugo/{receipt}/confirm"): "reconcile.confirm",
    ("POST", "/register/totsugo/{receipt}/csv"): "reconcile.run",
    ("POST", "/register/totsugo/{receipt}/pdf"): "reconcile.run",
    # the API `kura` calls with KURA_SERVER_URL: each use case checks its own duty
    # (tests/test_server_boundary.py: none runs without a session, a duty missing is refused)
    ("POST", "/api/v1/signin"): OPEN,
    ("POST", "/api/v1/call/{name}"): OPEN,
    # (tests/test_desk_server.py: `kura ingest`'s files, refused without a session)
    ("POST", "/api/v1/intake"): OPEN,
}


def _routes(app: object) -> set[tuple[str, str]]:
    routes = []
    for route in app.routes:  # type: ignore[attr-defined]
        included = getattr(route, "original_router", None)  # an included router
        routes += included.routes if included is not None else [route]
    return {(method, route.path) for route in routes
            if isinstance(route, APIRoute) for method in route.methods}


def _sign_in(client: TestClient, username: str) -> str:
    page = client.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    answer = client.post("/signin", data={"csrf": csrf.group(1), "username": username,
                                          "password": PASSWORD}, follow_redirects=False)
    if answer.headers["location"] == "/signin/second":
        second = client.get("/signin/second").text
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', second)
        assert secret is not None
        client.post("/signin/second", data={"csrf": csrf.group(1),
                                            "code": pyotp.TOTP(secret.group(1)).now()})
    home = client.get("/home").text
    token = re.search(r'data-csrf="([^"]+)"', home)
    assert token is not None
    return token.group(1)


def test_every_route_with_every_duty_and_with_no_session(tmp_path: Path) -> None:
    office = open_office(fresh_settings(tmp_path), documents=1)
    draw_pages(office)
    app = create_app(office.settings)
    assert _routes(app) == set(EXPECTED), "a route without an expectation here"
    receipt = office.receipts[0]
    batch_id = office.batch_id
    people: list[tuple[str | None, tuple[str, ...]]] = [(None, ())]
    people += [(name, roles) for name, roles in STAFF.items() if name != "both"]
    for username, roles in people:
        client = TestClient(app, base_url="https://testserver")
        csrf = _sign_in(client, username) if username else ""
        for (method, path), permission in EXPECTED.items():
            if permission is OPEN or path == "/signout":
                continue
            url = path.format(receipt=receipt, number=1, name="name_kana", batch_id=batch_id,
                              username="vito")
            if path == "/records/doc/{receipt}/page/{number}":
                continue  # served only after an open (checked just below)
            if method == "GET":
                response = client.get(url, follow_redirects=False)
            elif path == "/desk/upload":
                response = client.post(url, headers={"X-CSRF-Token": csrf},
                                       files=[("files", ("walk.txt", b"not a scan"))])
            elif path == "/register/totsugo/take":
                response = client.post(url, data={"csrf": csrf},
                                       files=[("scans", ("walk.txt", b"not a scan"))],
                                       follow_redirects=False)
            else:
                step = "investigate" if path.endswith("/step") else "accept"
                response = client.post(url, data={"csrf": csrf, "step": step, "note": "x",
                                                  "receipt": receipt, "name": "name_kana",
                                                  "field_type": "kana",
                                                  "field": "basic_pension_number",
                                                  "value": "1234567890", "purpose": "audit",
                                                  "why": "route walk", "on": "1",
                                                  "reason": "route walk",
                                                  "receipts": receipt, "decision": "reject",
                                                  "username": "walker", "change": "expiry",
                                                  "month": "2026-11", "items": "1",
                                                  "addressee": "route walk",
                                                  "mail_number": "1234",
                                                  "name_kana": "キタ", "birth_date": "1950-04-01"},
                                       follow_redirects=False)
            if username is None:
                allowed = False
            elif permission == SIGNED_IN:
                allowed = True
            else:
                allowed = bool(PERMISSIONS[permission] & set(roles))
            refused = (response.status_code in (401, 403)
                       or response.headers.get("location", "").startswith("/signin"))
            assert refused != allowed, (username, method, path, response.status_code)
        opened_page = client.get(f"/records/doc/{receipt}/page/1", follow_redirects=False)
        assert (opened_page.status_code == 200) == bool(
            username and PERMISSIONS["original.open"] & set(roles)), username
