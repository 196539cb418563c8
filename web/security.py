"""What keeps the rooms safe by default: the session cookie, CSRF tokens, the headers
(a strict Content-Security-Policy, no caching, no referrer), the sign-in rate limit and the
server side of the idle lock."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import Request
from starlette.responses import Response

SESSION_COOKIE = "kura_session"
PRE_COOKIE = "kura_pre"
"""Before sign-in: a random value the sign-in form's CSRF token is bound to."""
LANG_COOKIE = "kura_lang"
PENDING_COOKIE = "kura_pending"
"""Between the password and the TOTP code: names the sign-in waiting on the server."""

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


@dataclass
class Guard:
    """In-process limits: sign-in attempts per client address, and when each session was
    last used (a session idle longer than `idle_seconds` is signed out)."""

    idle_seconds: int
    attempts_per_minute: int = 10
    _attempts: dict[str, deque[float]] = field(default_factory=dict)
    _seen: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def may_try(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            window = self._attempts.setdefault(client, deque())
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= self.attempts_per_minute:
                return False
            window.append(now)
            return True

    def touch(self, token: str) -> bool:
        """False when the session sat idle too long (the caller signs it out)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last > self.idle_seconds:
                del self._seen[key]
                return False
            self._seen[key] = now
            return True
