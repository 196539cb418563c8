"""The web rooms people work in: sign-in, the verification station, the records room, the
intake desk, the admin room, the register, and the health check the services are watched by.
Each room is one router (web/rooms/) and one template folder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response

from schemas.errors import InvalidInput, KuraError, NotFound, Refused
from schemas.i18n import speaking
from schemas.settings import Settings, get_settings
from storage import logmask
from storage.accounts import AccountError
from storage.accounts import NotAllowed as DutyMissing
from storage.accounts import NotSignedIn as SessionMissing
from web import api, metrics
from web.rooms import admin, desk, records, register, signin, station
from web.rooms.common import SignInFirst, back_to, lang_of, render
from web.security import HEADERS

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    logmask.install()
    app = FastAPI(title="Kura", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings or get_settings()
    # nothing about people is kept in this process: sign-in attempts, idle sessions, codes
    # awaited and originals opened live in the database (storage/usecases/sessions.py), so
    # any number of web processes, and a restart, agree

    @app.middleware("http")
    async def safe_headers(request: Request,
                           call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        return response

    @app.middleware("http")
    async def in_their_language(request: Request,
                                call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # errors a use case raises for this request are worded in the person's language
        with speaking(lang_of(request)):
            return await call_next(request)

    @app.exception_handler(SignInFirst)
    @app.exception_handler(SessionMissing)
    async def sign_in_first(request: Request, _: Exception) -> Response:
        if request.method == "GET":
            return back_to("/signin")
        return Response(status_code=401)

    @app.exception_handler(DutyMissing)
    @app.exception_handler(KuraError)
    @app.exception_handler(AccountError)
    async def refused(request: Request, error: Exception) -> Response:
        return render(request, "common/error.html", status_code=_status(error),
                      code=getattr(error, "code", "not_allowed"), back="/")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return render(request, "common/error.html", status_code=error.status_code,
                      code=str(error.detail), back="/")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(signin.router)
    app.include_router(station.router)
    app.include_router(records.router)
    app.include_router(desk.router)
    app.include_router(admin.router)
    app.include_router(register.router)
    app.include_router(metrics.router)
    app.include_router(api.router)
    return app


def _status(error: Exception) -> int:
    if isinstance(error, DutyMissing | Refused):
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, InvalidInput):
        return 400
    return 409
