"""Keystrokes per 100 forms, counted, not modelled: Chromium (Debian's, through Playwright)
drives the verification station over the benchmark's documents the way a verifier and a
checker would with the keyboard, and every key actually sent is counted.

What the people do, document by document (the truth is what the form says, kura.bench.station
VALUES): the verifier goes where the station puts the focus; a reading that is right is
accepted with Enter, a wrong one is typed over (each character one key; an IME's conversion
keys are not counted) and Enter; a 個人番号 flagged for blind keying is typed and Enter, by
two verifiers. The checker confirms each change with Enter when the proposed value is right.
Signing in and moving between documents are not counted (addresses are typed by the driver)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kura.bench.servers import free_port
from schemas.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (never `playwright install`)."""


@dataclass
class Keys:
    """Every key sent to one page, counted as it is sent."""

    page: Page
    count: int = 0

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count += len(text)

    def enter(self) -> None:
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        self.page.wait_for_load_state("load")
        self.count += 1


@dataclass(frozen=True)
class Counted:
    documents: int
    verifier_keys: int
    checker_keys: int

    def per_100(self) -> tuple[int, int]:
        return (round(self.verifier_keys * 100 / self.documents),
                round(self.checker_keys * 100 / self.documents))


FOCUSED = """() => {
  const e = document.activeElement;
  const li = e && e.closest('[data-field]');
  const proposed = li && li.querySelector('.proposed');
  return {id: e ? e.id : '', blind: !!(e && e.classList.contains('blind')),
          confirm: !!(e && e.classList.contains('confirm')),
          field: li ? li.dataset.field : null, value: e && 'value' in e ? e.value : null,
          proposed: proposed ? proposed.textContent : null};
}"""


def count_keys(settings: Settings, receipts: list[str], truth: dict[str, str],
               people: dict[str, str], browser: Browser | None = None) -> Counted:
    """Verify `receipts` in the station with the keyboard only, as people[verifier], then
    people[keyer] for the blind fields, then people[checker]; the keys each sent."""
    with serving(settings) as base, _browser(browser) as chromium:
        verifier, keyer, checker = (_signed_in(chromium, base, people[duty], people["password"])
                                    for duty in ("verifier", "keyer", "checker"))
        verifier_keys = checker_keys = 0
        for receipt in receipts:
            verifier_keys += _verify(verifier, receipt, truth)
            verifier_keys += _verify(keyer, receipt, truth)  # a second pair of hands, blind
            checker_keys += _check(checker, receipt, truth)
            status = checker.locator("#doc-status").get_attribute("data-status")
            if status != "verified":
                raise RuntimeError(f"{receipt} is {status} after its checker, not verified")
        return Counted(len(receipts), verifier_keys, checker_keys)


def _verify(page: Page, receipt: str, truth: dict[str, str]) -> int:
    keys = Keys(page)
    page.goto(f"/station/doc/{receipt}")
    for _ in range(50):
        focused = page.evaluate(FOCUSED)
        field = focused["field"]
        if focused["id"] == "finish" or field is None or focused["confirm"]:
            break
        if focused["blind"] or focused["value"] != truth[field]:
            keys.type(truth[field])  # the value is selected: typing replaces it
        keys.enter()
    return keys.count


def _check(page: Page, receipt: str, truth: dict[str, str]) -> int:
    keys = Keys(page)
    page.goto(f"/station/doc/{receipt}")
    for _ in range(50):
        focused = page.evaluate(FOCUSED)
        if not focused["confirm"]:
            break
        if focused["proposed"] != truth[focused["field"]]:
            raise RuntimeError(f"{receipt}: a wrong value waits for the checker")
        keys.enter()
    return keys.count


def _signed_in(browser: Browser, base: str, username: str, password: str) -> Page:
    """Signed in through the sign-in form, without following it to the queue (on a database
    of 10,000 documents waiting, the whole queue is a page of its own to wait for)."""
    page = browser.new_context(base_url=base).new_page()
    page.goto("/signin")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    answer = page.request.post("/signin", form={"csrf": csrf, "username": username,
                                                "password": password}, max_redirects=0)
    if answer.status != 303:
        raise RuntimeError(f"{username} could not sign in ({answer.status})")
    return page


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, that reaches nothing on its own (the benchmark and the
    rooms' tests drive the same one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                            "--disable-background-networking"])
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def _browser(given: Browser | None) -> Iterator[Browser]:
    if given is not None:
        yield given
        return
    with chromium() as launched:
        yield launched


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The rooms on a free local port, in a thread of this process."""
    import uvicorn

    from web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
