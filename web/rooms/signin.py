"""Signing in and out, the person's language, and the page each duty starts on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from schemas.settings import Settings
from storage.accounts import SignInRefused
from storage.usecases import access, people
from web import i18n
from web.i18n import N_
from web.rooms.common import (
    SignInFirst,
    back_to,
    check_csrf,
    render,
    settings_of,
    signed_in,
    token_of,
)
from web.security import (
    LANG_COOKIE,
    PENDING_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    new_pre_value,
    set_cookie,
)

router = APIRouter()
SECOND_FACTOR_SECONDS = 300
"""How long a checked password waits for its TOTP code."""


def start_page(roles: list[str]) -> str:
    if "verifier" in roles or "checker" in roles:
        return "/station"
    if "records_manager" in roles:
        return "/records"
    if "scanning_clerk" in roles:
        return "/desk"
    if "security_admin" in roles or "auditor" in roles:
        return "/admin"
    return "/home"


@router.get("/")
def root(request: Request) -> Response:
    try:
        return back_to(start_page(signed_in(request).roles))
    except SignInFirst:
        return back_to("/signin")


@router.get("/home")
def home(request: Request) -> Response:
    return render(request, "signin/home.html", signed_in(request))


@router.get("/signin")
def signin_page(request: Request, locked: int = 0) -> Response:
    pre = new_pre_value()
    response = render(request, "signin/signin.html", binding=pre, locked=bool(locked))
    set_cookie(response, PRE_COOKIE, pre)
    return response


@router.post("/signin", dependencies=[Depends(check_csrf)])
def signin(request: Request, username: Annotated[str, Form()],
           password: Annotated[str, Form()]) -> Response:
    settings = settings_of(request)
    client = request.client.host if request.client else "-"
    if not request.app.state.guard.may_try(client):
        return _refused(request, N_("Too many attempts. Wait a minute and try again."), 429)
    try:
        signed = people.sign_in(settings, username.strip(), password)
    except SignInRefused:
        return _refused(request, N_("Wrong user name or password, or the account is disabled, "
                        "expired or locked."), 401)
    if access.needs_second_factor(signed.roles):
        # the session is held here until the code is typed: the browser does not have it yet
        waiting = new_pre_value()
        request.app.state.pending[waiting] = Pending(signed.token, signed.roles,
                                                     time.monotonic() + SECOND_FACTOR_SECONDS)
        response = back_to("/signin/second")
        set_cookie(response, PENDING_COOKIE, waiting, SECOND_FACTOR_SECONDS)
        return response
    return _signed_in(response_for=signed.roles, token=signed.token, settings=settings)


def _signed_in(response_for: list[str], token: str, settings: Settings) -> Response:
    response = back_to(start_page(response_for))
    set_cookie(response, SESSION_COOKIE, token, settings.session_minutes * 60)
    response.delete_cookie(PRE_COOKIE, path="/")
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


@dataclass
class Pending:
    """A password checked, a TOTP code not yet: the session token waits on the server."""

    token: str
    roles: list[str]
    until: float
    enrolment: access.Enrolment | None = None


def _pending(request: Request) -> Pending | None:
    waiting: Pending | None = request.app.state.pending.get(
        request.cookies.get(PENDING_COOKIE, ""))
    return waiting if waiting is not None and time.monotonic() < waiting.until else None


@router.get("/signin/second")
def second_factor_page(request: Request) -> Response:
    waiting = _pending(request)
    if waiting is None:
        return back_to("/signin")
    settings = settings_of(request)
    if waiting.enrolment is None and not access.second_factor_enrolled(settings, waiting.token):
        waiting.enrolment = access.begin_enrolment(settings, waiting.token)
    return render(request, "signin/second.html", enrolment=waiting.enrolment)


@router.post("/signin/second", dependencies=[Depends(check_csrf)])
def second_factor(request: Request, code: Annotated[str, Form()]) -> Response:
    waiting = _pending(request)
    if waiting is None:
        return back_to("/signin")
    settings = settings_of(request)
    client = request.client.host if request.client else "-"
    if not request.app.state.guard.may_try(client):
        return render(request, "signin/second.html", status_code=429,
                      enrolment=waiting.enrolment,
                      error=N_("Too many attempts. Wait a minute and try again."))
    if not access.check_second_factor(settings, waiting.token, code):
        return render(request, "signin/second.html", status_code=401,
                      enrolment=waiting.enrolment,
                      error=N_("That code is not right. Type the 6 digits your app shows now."))
    del request.app.state.pending[request.cookies.get(PENDING_COOKIE, "")]
    return _signed_in(response_for=waiting.roles, token=waiting.token, settings=settings)


def _refused(request: Request, message: str, status: int) -> Response:
    pre = new_pre_value()
    response = render(request, "signin/signin.html", binding=pre, status_code=status,
                      error=message)
    set_cookie(response, PRE_COOKIE, pre)
    return response


@router.post("/signout", dependencies=[Depends(check_csrf)])
def signout(request: Request, locked: Annotated[int, Form()] = 0) -> Response:
    token = token_of(request)
    if token:
        people.sign_out(settings_of(request), token)
    response = back_to("/signin?locked=1" if locked else "/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang", dependencies=[Depends(check_csrf)])
def choose_language(request: Request, lang: Annotated[str, Form()],
                    back: Annotated[str, Form()] = "/") -> Response:
    response = back_to(back if back.startswith("/") and not back.startswith("//") else "/")
    set_cookie(response, LANG_COOKIE, i18n.pick(lang), 365 * 24 * 3600)
    return response
