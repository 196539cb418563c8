"""The web app answers its health check and shows no records to anyone not signed in."""

from __future__ import annotations

from fastapi.testclient import TestClient

from web.app import create_app


def test_health_check_and_no_open_record_pages() -> None:
    client = TestClient(create_app())
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/queue").status_code == 404
