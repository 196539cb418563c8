"""What keeps the rooms safe by default: the session cookie, CSRF tokens, the headers
(a strict Content-Security-Policy, no caching, no referrer). The sign-in rate limit and the
server side of the idle lock live in the database (storage/usecases/sessions.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

SESSION_COOKIE = "kura_session"
PRE_COOKIE = "kura_pre"
"""Before sign-in: a random value the sign-in form's CSRF token is bound to."""
LANG_COOKIE = "kura_lang"
PENDING_COOKIE = "kura_pending"
"""Between the password and the TOTP code: the session token, which opens nothing until the
code is typed (the database says so, not this process)."""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csrf_token(binding: str) -> str:
    """A token only a page served to this cookie's holder can know: the cookie is HttpOnly,
    so a script elsewhere can neither read it nor compute this."""
    return hashlib.sha256(f"kura-csrf/{binding}".encode()).hexdigest()


def csrf_binding(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_COOKIE) or ""


def csrf_ok(request: Request, sent: str | None) -> bool:
    binding = csrf_binding(request)
    return bool(binding and sent) and hmac.compare_digest(csrf_token(binding), sent or "")


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, secure=True,
                        samesite="strict", path="/")


def new_pre_value() -> str:
    return secrets.token_urlsafe(24)
