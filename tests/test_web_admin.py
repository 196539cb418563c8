"""The admin room in a real browser: the security administrator signs in with a TOTP code
(enrolled at the first sign-in), adds an account with duties and an expiry, binds it to a
municipality and unbinds it (audited, a malformed code and a form without its CSRF token
refused), and signs off the month's access review with the dormant accounts flagged; a wrong
code is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from playwright.sync_api import Browser, expect

from storage.accounts import PERMISSIONS
from tests.verification_data import Office
from tests.web_browser import office_fixture, shots_fixture, sign_in  # noqa: F401


def test_the_security_administrator_manages_accounts_and_signs_off_the_review(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    # a wrong code first: refused and recorded
    page = browser.new_context(base_url=base).new_page()
    page.goto("/signin")
    page.fill("#username", "sam")
    page.fill("#password", "a long test passphrase")
    page.keyboard.press("Enter")
    expect(page.locator("#totp-secret")).to_be_visible()
    page.screenshot(path=shots / "signin-second-factor.png", full_page=True)
    page.fill("#code", "000000")
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_contain_text("コードが違います")
    assert [e.result for e in office_.audit("login.second_factor")] == ["denied:bad_code"]

    sam = sign_in(browser, base, "sam")
    expect(sam.locator("h1")).to_have_text("アカウントと職務")
    assert [e.result for e in office_.audit("login.second_factor")][-1] == "ok"
    rows = sam.locator("table.permissions tbody tr")
    expect(rows).to_have_count(len(PERMISSIONS))
    expiry = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    sam.fill("#new-username", "temp.clerk")
    sam.check("input[name=roles][value=scanning_clerk]")
    sam.fill("form[action='/admin/accounts'] input[name=expires_on]", expiry)
    sam.get_by_role("button", name="作成する").click()
    expect(sam.locator("#new-password")).to_contain_text("temp.clerk")
    expect(sam.locator("[data-account='temp.clerk']")).to_contain_text(expiry)
    [added] = [e for e in office_.audit("user.add") if e.actor == "sam"]
    assert added.detail == {"username": "temp.clerk", "roles": ["scanning_clerk"],
                            "expires_on": expiry}
    sam.screenshot(path=shots / "admin-accounts.png", full_page=True)

    # the municipality whose documents temp.clerk works on: bound, then unbound again
    line = sam.locator("[data-account='temp.clerk']")
    installation = office_.settings.municipality_code
    expect(line.locator("td.municipality")).to_contain_text(f"設置先の市区町村（{installation}）")
    expect(line.locator("button.unbind")).to_have_count(0)
    line.locator("input[name=municipality]").fill("012025")
    line.locator("button.bind").click()
    line = sam.locator("[data-account='temp.clerk']")
    expect(line.locator("td.municipality .bound")).to_have_text("012025")
    expect(sam.locator("[data-account=sam] td.municipality .installation")).to_be_visible()
    sam.screenshot(path=shots / "admin-municipality.png", full_page=True)
    csrf = sam.locator("body").get_attribute("data-csrf") or ""
    refused = sam.request.post("/admin/accounts/temp.clerk",
                               form={"csrf": csrf, "change": "municipality",
                                     "municipality": "12345"})  # past the page's own check
    assert refused.status == 400 and 'data-code="account"' in refused.text()
    forged = sam.request.post("/admin/accounts/temp.clerk",
                              form={"change": "installation"})  # no CSRF token
    assert forged.status == 403
    line.locator("button.unbind").click()
    line = sam.locator("[data-account='temp.clerk']")
    expect(line.locator("td.municipality .installation")).to_be_visible()
    expect(line.locator("button.unbind")).to_have_count(0)
    assert [(e.actor, e.detail) for e in office_.audit("user.municipality")] == [
        ("sam", {"username": "temp.clerk", "before": None, "after": "012025"}),
        ("sam", {"username": "temp.clerk", "before": "012025", "after": None})]

    sam.goto("/admin/review")
    expect(sam.locator("[data-account=vanna]")).to_contain_text("休眠")  # never signed in
    expect(sam.locator("[data-account=sam]")).not_to_contain_text("休眠")
    sam.fill("#review-note", "異動者なし")
    sam.locator("#sign-off").click()
    expect(sam.locator("#signed-off")).to_contain_text("sam")
    sam.screenshot(path=shots / "admin-review.png", full_page=True)
    [signed] = office_.audit("access_review.sign_off")
    assert signed.actor == "sam" and signed.detail is not None
    assert signed.detail["month"] == dt.date.today().strftime("%Y-%m")
