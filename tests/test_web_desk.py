"""The intake desk in a real browser: a scanning clerk picks several files at once; the batch
is followed live (pages received and read, the time left, quarantined files with their reason)
without a reload, and the clerk sees counts, never the content of a record."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.custody_data import scan_png
from tests.verification_data import Office
from tests.web_browser import office_fixture, shots_fixture, sign_in  # noqa: F401


def test_a_clerk_uploads_a_batch_and_follows_it_live(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    sakura = sign_in(browser, base, "sakura")
    expect(sakura.locator("h1")).to_have_text("受付（スキャン）")
    scan = scan_png(4242)
    sakura.locator("#files").set_input_files([
        {"name": "山田太郎_届.png", "mimeType": "image/png", "buffer": scan},
        {"name": "memo.txt", "mimeType": "text/plain", "buffer": b"not a scan"},
        {"name": "again.png", "mimeType": "image/png", "buffer": scan},
    ])
    expect(sakura.locator("#n-files")).to_have_text("3")
    expect(sakura.locator("#n-pages")).to_have_text("1")
    expect(sakura.locator("#batch")).to_have_attribute("data-finished", "1", timeout=120_000)
    expect(sakura.locator("#quarantined li")).to_have_count(2)
    expect(sakura.locator("#quarantined")).to_contain_text("対応していない形式")
    expect(sakura.locator("#quarantined")).to_contain_text("重複")
    expect(sakura.locator("#batch-state")).to_have_text("完了")
    assert "山田" not in sakura.content()  # the file's name is not shown back, nor kept
    sakura.screenshot(path=shots / "desk.png", full_page=True)
    [batch] = [e for e in office_.audit("intake.batch") if e.actor == "sakura"]
    assert batch.detail == {
        "channel": "upload", "files": 3, "quarantined": 2, "refused": 0, "skipped": 0,
        "pages": 1}


PAGES = 12
"""Scans in the batch watched while it is read. The moment looked for lasts from the first
page read to the last, and the page asks once a second: with 5 scans it lasted under a second
where pages read fast, and a fresh-clone CI run once missed it (2026-12-07)."""


def test_the_desk_shows_a_quarantined_file_and_the_time_left_while_pages_are_read(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    sakura = sign_in(browser, base, "sakura")
    sakura.locator("#files").set_input_files([
        {"name": "memo.txt", "mimeType": "text/plain", "buffer": b"not a scan"},
        *({"name": f"scan-{seed}.png", "mimeType": "image/png", "buffer": scan_png(seed)}
          for seed in range(7001, 7001 + PAGES)),
    ])
    # one moment while the batch is still being read: pages read, the time left, and the
    # bad file already listed with its reason, all without a reload (the page asks once a
    # second: the batch is long enough that a moment lasts several seconds)
    sakura.wait_for_function("""() => {
        const left = document.getElementById("n-left").textContent;
        return document.getElementById("batch").dataset.finished === "0"
            && document.getElementById("batch-state").textContent === "読取り中…"
            && Number(document.getElementById("n-read").textContent) > 0
            && /^[1-9][0-9]* 秒$/.test(left)
            && document.getElementById("quarantined").textContent.includes("対応していない形式");
    }""", timeout=120_000)
    sakura.screenshot(path=shots / "desk-reading.png", full_page=True)
    expect(sakura.locator("#batch")).to_have_attribute("data-finished", "1", timeout=120_000)
    expect(sakura.locator("#n-left")).to_have_text("0 秒")
    expect(sakura.locator("#n-read")).to_have_text(str(PAGES))
    expect(sakura.locator("#quarantined li")).to_have_count(1)
    [batch] = [e for e in office_.audit("intake.batch") if e.actor == "sakura"]
    assert (batch.detail["quarantined"], batch.detail["pages"]) == (1, PAGES)
