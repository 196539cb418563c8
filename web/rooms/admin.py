"""The admin room (security administrator; the auditor reads): accounts, duties, expiry,
the municipality each person works on (offices sharing one installation), the duty →
permission table as the server enforces it, and the monthly access review."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from storage.accounts import PERMISSIONS, ROLES, new_password
from storage.usecases import access, people
from web.rooms.common import back_to, check_csrf, render, settings_of, signed_in, token_of

router = APIRouter(prefix="/admin")
Csrf = [Depends(check_csrf)]


@router.get("")
def accounts_page(request: Request) -> Response:
    me = signed_in(request)
    lines = access.account_list(settings_of(request), token_of(request))
    return render(request, "admin/accounts.html", me, accounts=lines, roles=list(ROLES),
                  permissions=PERMISSIONS, installation=settings_of(request).municipality_code,
                  back="/admin")


@router.post("/accounts", dependencies=Csrf)
async def add_account(request: Request, username: Annotated[str, Form()],
                      expires_on: Annotated[str, Form()] = "") -> Response:
    me = signed_in(request)
    roles = [r for r in (await request.form()).getlist("roles") if isinstance(r, str)]
    password = new_password()
    people.add_account(settings_of(request), token_of(request), username.strip(), roles,
                       password, _day(expires_on))
    lines = access.account_list(settings_of(request), token_of(request))
    # the first password is shown once, in this answer, never in a URL or a log
    return render(request, "admin/accounts.html", me, accounts=lines, roles=list(ROLES),
                  permissions=PERMISSIONS, installation=settings_of(request).municipality_code,
                  added=username.strip(), password=password, back="/admin")


@router.post("/accounts/{username}", dependencies=Csrf)
async def change_account(request: Request, username: str,
                         change: Annotated[str, Form()],
                         expires_on: Annotated[str, Form()] = "",
                         municipality: Annotated[str, Form()] = "") -> Response:
    signed_in(request)
    settings, token = settings_of(request), token_of(request)
    if change == "roles":
        roles = [r for r in (await request.form()).getlist("roles") if isinstance(r, str)]
        people.set_roles(settings, token, username, roles)
    elif change == "expiry":
        people.set_expiry(settings, token, username, _day(expires_on))
    elif change == "municipality":  # bound to it; the use case checks the code's form
        people.set_municipality(settings, token, username, municipality.strip())
    elif change == "installation":  # unbound: the installation's own again
        people.set_municipality(settings, token, username, None)
    elif change == "disable":
        people.disable_account(settings, token, username)
    elif change == "enable":
        people.enable_account(settings, token, username)
    else:
        return Response(status_code=400)
    return back_to("/admin")


def _day(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text.strip() else None


@router.get("/review")
def review_page(request: Request, month: str = "") -> Response:
    me = signed_in(request)
    month = month or dt.date.today().strftime("%Y-%m")
    review = access.access_review(settings_of(request), token_of(request), month)
    return render(request, "admin/review.html", me, review=review,
                  back=f"/admin/review?month={month}")


@router.post("/review", dependencies=Csrf)
def sign_off(request: Request, month: Annotated[str, Form()],
             note: Annotated[str, Form()] = "") -> Response:
    signed_in(request)
    access.sign_off_review(settings_of(request), token_of(request), month, note)
    return back_to(f"/admin/review?month={month}")
