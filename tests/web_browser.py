"""The browser the rooms' tests drive (Debian's Chromium through Playwright, one per test
session), the rooms served on a free port, and signing in with the keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kura.bench.keystrokes import serving
from tests.helpers import PASSWORD, SECRETS, totp_code
from tests.verification_data import Office, draw_pages, fresh_settings, open_office


@pytest.fixture(name="office")
def office_fixture(tmp_path: Path) -> Iterator[tuple[Office, str]]:
    """An office with three documents waiting, and the rooms served on a free port."""
    office = open_office(fresh_settings(tmp_path))
    with served(office) as base:
        yield office, base


@contextmanager
def served(office: Office) -> Iterator[str]:
    draw_pages(office)
    with serving(office.settings) as base:
        yield base


@pytest.fixture(name="shots")
def shots_fixture(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def sign_in(browser: Browser, base: str, username: str) -> Page:
    page = browser.new_context(base_url=base, locale="ja-JP").new_page()
    page.goto("/signin")
    expect(page.locator("#recorded")).to_contain_text("監査ログに記録")
    page.keyboard.type(username)  # the user name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith("/signin"))
    if page.url.endswith("/signin/second"):  # a duty that signs in with a TOTP code too
        secret = page.locator("#totp-secret")
        if secret.count():
            SECRETS[(base, username)] = secret.inner_text()
        page.keyboard.type(totp_code((base, username)))  # a code not typed before
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/signin" not in url)
    return page



def settled(page: Page) -> None:
    page.wait_for_load_state("load")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
