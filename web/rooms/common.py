"""What every room does for every request: who is signed in, in which language, CSRF, and
rendering a template with both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from schemas.errors import NotSignedIn
from schemas.i18n import choose
from schemas.settings import Settings
from storage.accounts import PERMISSIONS
from storage.usecases import people, sessions
from web import i18n
from web.security import (
    LANG_COOKIE,
    SESSION_COOKIE,
    csrf_binding,
    csrf_ok,
    csrf_token,
)


@dataclass(frozen=True)
class Someone:
    username: str
    roles: list[str]

    def may(self, permission: str) -> bool:
        return bool(PERMISSIONS[permission] & set(self.roles))


class SignInFirst(Exception):
    """No valid session: the room answers with the sign-in page."""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def token_of(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def lang_of(request: Request) -> str:
    """The language the signed-in person chose (kept on their account), else the one this
    browser chose before signing in, else the installation's (KURA_LANG)."""
    return i18n.pick(getattr(request.state, "lang", None) or request.cookies.get(LANG_COOKIE)
                     or settings_of(request).lang)


def signed_in(request: Request) -> Someone:
    """The person behind the session cookie; SignInFirst when there is none, it ended, or
    it sat idle past the idle lock."""
    token = token_of(request)
    settings = settings_of(request)
    if not token or not sessions.still_awake(settings, token, settings.idle_minutes * 60):
        raise SignInFirst()
    try:
        account = people.whoami(settings, token)
    except NotSignedIn:
        raise SignInFirst() from None
    request.state.lang = account.lang
    choose(lang_of(request))  # what the use cases raise from here on is in their words
    return Someone(account.username, account.roles)


async def check_csrf(request: Request) -> None:
    """Every POST carries the CSRF token: a form field `csrf`, or the X-CSRF-Token header."""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not csrf_ok(request, sent):
        raise HTTPException(403, "csrf")


async def check_csrf_header(request: Request) -> None:
    """The CSRF token of a POST whose body is streamed (an upload), in the X-CSRF-Token
    header: the body is not read for a form field before the route reads it."""
    if not csrf_ok(request, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "csrf")


def render(request: Request, template: str, someone: Someone | None = None,
           status_code: int = 200, binding: str | None = None, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    settings = settings_of(request)
    html = i18n.environment(lang).get_template(template).render(
        lang=lang, me=someone, csrf=csrf_token(binding or csrf_binding(request)),
        idle_seconds=round(settings.idle_minutes * 60), **context)
    return HTMLResponse(html, status_code=status_code)


def back_to(url: str) -> Response:
    return RedirectResponse(url, status_code=303)
