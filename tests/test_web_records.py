"""The records room in a real browser: a records manager searches by 基礎年金番号 and opens
the original with a stated purpose (pages watermarked with the viewer and the time); a
search by 個人番号 without a purpose is refused; downloading and disposal are audited."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.custody_data import PEOPLE
from tests.verification_data import Office
from tests.web_browser import office_fixture, settled, shots_fixture, sign_in  # noqa: F401


def test_search_by_basic_pension_number_and_open_the_original_with_a_purpose(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    receipt = office_.receipts[1]
    rima = sign_in(browser, base, "rima")
    expect(rima.locator("h1")).to_have_text("記録の検索")
    rima.select_option("#field", "basic_pension_number")
    rima.fill("#value", PEOPLE[1]["basic_pension_number"])
    rima.keyboard.press("Enter")
    expect(rima.locator("table.results")).to_contain_text(receipt)
    assert PEOPLE[1]["basic_pension_number"] not in rima.url
    rima.screenshot(path=shots / "records-search.png", full_page=True)
    [search] = office_.audit("record.search")
    assert search.actor == "rima" and search.detail == {"field": "basic_pension_number",
                                                        "found": 1}

    rima.get_by_role("link", name=receipt).click()
    rima.select_option("#purpose-code", "disclosure_request")
    rima.fill("#purpose-why", "本人からの開示請求 第12号")
    rima.locator("#open").click()
    expect(rima.locator("#opened-for")).to_contain_text("rima")
    settled(rima)
    rima.screenshot(path=shots / "records-original.png", full_page=True)
    [opened] = office_.audit("original.open")
    assert opened.actor == "rima"
    assert opened.purpose == "disclosure_request: 本人からの開示請求 第12号"
    [viewed] = office_.audit("original.view")
    assert viewed.purpose == opened.purpose

    # a 個人番号 search states its purpose, or is refused (and nothing is searched)
    rima.goto("/records")
    rima.select_option("#field", "my_number")
    rima.fill("#value", PEOPLE[1]["my_number"])
    rima.keyboard.press("Enter")
    expect(rima.locator(".error")).to_be_visible()
    assert len(office_.audit("record.search")) == 2  # the search above, and the doc page's
    rima.goto("/records")
    rima.select_option("#field", "my_number")
    rima.fill("#value", PEOPLE[1]["my_number"])
    rima.fill("#purpose", "年金事務所からの照会")
    rima.keyboard.press("Enter")
    expect(rima.locator("table.results")).to_contain_text(receipt)
    assert office_.audit("record.search")[-1].purpose == "年金事務所からの照会"

    # a person's whole file for a disclosure request, found by the 基礎年金番号
    rima.goto("/records")
    person = rima.locator("form[action='/records/person']")
    person.locator("input[name=value]").fill(PEOPLE[1]["basic_pension_number"])
    person.locator("input[name=purpose]").fill("開示請求 第12号 2026-11-20")
    person.locator("input[name=purpose]").press("Enter")
    expect(rima.locator("section.filed")).to_have_count(1)
    expect(rima.locator("section.filed")).to_contain_text("鈴木 花子")
    [disclosed] = office_.audit("record.disclosure")
    assert disclosed.purpose == "disclosure_request: 開示請求 第12号 2026-11-20"


def test_a_clerk_cannot_open_the_records_room(
    browser: Browser, office: tuple[Office, str]
) -> None:
    office_, base = office
    sakura = sign_in(browser, base, "sakura")
    response = sakura.goto(f"/records/doc/{office_.receipts[0]}")
    assert response is not None and response.status == 403
    assert office_.audit("access")[-1].result == "denied:duty"


def test_downloading_an_original_is_a_permission_of_its_own_and_audited(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    receipt = office_.receipts[0]
    rima = sign_in(browser, base, "rima")
    rima.goto(f"/records/doc/{receipt}")
    rima.select_option("#purpose-code", "disclosure_request")
    rima.fill("#purpose-why", "開示請求 第13号 写しの交付")
    with rima.expect_download() as downloading:
        rima.get_by_role("button", name="ダウンロード").click()
    assert downloading.value.suggested_filename == f"{receipt}.original"
    assert Path(downloading.value.path()).stat().st_size > 0
    [downloaded] = office_.audit("original.download")
    assert downloaded.actor == "rima" and downloaded.result == "ok"
    assert downloaded.purpose == "disclosure_request: 開示請求 第13号 写しの交付"
    assert downloaded.detail == {"why": "開示請求 第13号 写しの交付"}
    assert office_.audit("original.open") == []  # a download is not an opening, nor the reverse

    # a verifier reads records but may not take an original away: refused, and recorded
    vera = sign_in(browser, base, "vera")
    vera.goto("/station")
    response = vera.request.post(f"/records/doc/{receipt}/download", form={
        "purpose": "disclosure_request", "why": "開示請求 第13号 写しの交付",
        "csrf": vera.locator("body").get_attribute("data-csrf") or ""})
    assert response.status == 403
    assert len(office_.audit("original.download")) == 1
    refused = office_.audit("access")[-1]
    assert (refused.actor, refused.result, refused.detail) == (
        "vera", "denied:duty", {"permission": "original.download"})
