"""The web rooms. For now only the health check the services are watched by: the rooms for
people (intake desk, verification station, records room) come with sign-in and auditing."""

from __future__ import annotations

from fastapi import FastAPI

from storage import logmask
from web import metrics


def create_app() -> FastAPI:
    logmask.install()
    app = FastAPI(title="Kura")
    app.include_router(metrics.router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
