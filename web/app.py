"""The web rooms. For now: health, and the masked verification queue."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from kura.settings import get_settings
from storage.db import session_scope
from storage.queries import waiting_queue
from storage.runtime import vault_for


def create_app() -> FastAPI:
    app = FastAPI(title="Kura")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/queue", response_class=HTMLResponse)
    def queue() -> str:
        settings = get_settings()
        with session_scope(settings.sqlalchemy_url) as session:
            lines = waiting_queue(session, vault_for(settings))
        rows = "".join(
            f"<tr><td>{line.receipt_number}</td><td>{line.received_date}</td>"
            f"<td>{line.form_id or '?'}</td><td>{line.name_masked}</td>"
            f"<td>{line.fields_review}/{line.fields_total}</td></tr>"
            for line in lines
        )
        return (
            "<!doctype html><html lang=ja><meta charset=utf-8><title>Kura queue</title>"
            "<h1>Verification queue</h1><table><tr><th>受付番号</th><th>received</th>"
            f"<th>form</th><th>name</th><th>to review</th></tr>{rows}</table></html>"
        )

    return app
