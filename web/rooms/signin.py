"""Signing in and out, the person's language, and the page each duty starts on."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from schemas.errors import NotSignedIn
from schemas.settings import Settings
from storage.accounts import SECOND_FACTOR_SECONDS, SignInRefused
from storage.usecases import access, people, sessions
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
    if not sessions.may_try(settings, _client(request)):
        return _refused(request, N_("Too many attempts. Wait a minute and try again."), 429)
    try:
        signed = people.sign_in(settings, username.strip(), password, enrol=True)
    except SignInRefused:
        return _refused(request, N_("Wrong user name or password, or the account is disabled, "
                        "expired or locked."), 401)
    if signed.second_factor:
        # the session opens nothing until its code is typed (the database keeps that), so
        # the browser may hold it meanwhile, in a cookie of its own that lives 5 minutes
        response = back_to("/signin/second")
        set_cookie(response, PENDING_COOKIE, signed.token, SECOND_FACTOR_SECONDS)
        return response
    return _signed_in(response_for=signed.roles, token=signed.token, settings=settings)


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _signed_in(response_for: list[str], token: str, settings: Settings) -> Response:
    response = back_to(start_page(response_for))
    set_cookie(response, SESSION_COOKIE, token, settings.session_minutes * 60)
    response.delete_cookie(PRE_COOKIE, path="/")
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _enrolment(settings: Settings, waiting: str) -> access.Enrolment | None:
    """The secret to set up, for a person with no second factor yet (the same one on every
    page until its first code); None once set up. NotSignedIn when the sign-in is over."""
    if access.second_factor_enrolled(settings, waiting):
        return None
    return access.begin_enrolment(settings, waiting)


@router.get("/signin/second")
def second_factor_page(request: Request) -> Response:
    waiting = request.cookies.get(PENDING_COOKIE, "")
    try:
        enrolment = _enrolment(settings_of(request), waiting)
    except NotSignedIn:
        return back_to("/signin")
    return render(request, "signin/second.html", enrolment=enrolment)


@router.post("/signin/second", dependencies=[Depends(check_csrf)])
def second_factor(request: Request, code: Annotated[str, Form()]) -> Response:
    waiting = request.cookies.get(PENDING_COOKIE, "")
    settings = settings_of(request)
    try:
        enrolment = _enrolment(settings, waiting)
        if not sessions.may_try(settings, _client(request)):
            return render(request, "signin/second.html", status_code=429, enrolment=enrolment,
                          error=N_("Too many attempts. Wait a minute and try again."))
        if not access.check_second_factor(settings, waiting, code):
            return render(request, "signin/second.html", status_code=401, enrolment=enrolment,
                          error=N_("That code is not right. Type the 6 digits your app shows "
                                   "now."))
        account = people.whoami(settings, waiting)
    except NotSignedIn:
        return back_to("/signin")
    return _signed_in(response_for=account.roles, token=waiting, settings=settings)


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
    chosen = i18n.pick(lang)
    token = token_of(request)
    if token:  # signed in: the choice is the person's, on every page and every machine
        with contextlib.suppress(NotSignedIn):
            sessions.choose_language(settings_of(request), token, chosen)
    set_cookie(response, LANG_COOKIE, chosen, 365 * 24 * 3600)
    return response
