"""The consent journey in real Chromium through `digitalstate demo`, with and without JavaScript.

A seeded person starts the pensions service, signs in at the charter (after a failed empty
try), agrees at the consent screen, sees the details pensions read, finds the consent and its
receipt in their own pages at the charter, withdraws it, and pensions then says it can no
longer get the details. Last, "Who has seen your data" at the charter lists each of these
accesses, verified once the nodes' witnesses have cosigned (every 15 seconds here: the
demo's WITNESS_INTERVAL_S, tests/browser/conftest.py), narrows to one
with the filters, and downloads it as JSON and CSV. Every page on the way is checked for the
basics of accessibility and for the absence of GOV.UK's brand.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from e2e_support import wait_for
from playwright.sync_api import Page, expect

from browser.browser_pages import check_error_summary, check_page, fill_sign_in
from browser.demo_people import CONSENTING, person
from digitalstate.demo.seed import DEMO_PASSWORD

# A bound, not a speed target: a page with axe-core takes seconds on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SCREENS = Path("/tmp/screens")
VERIFIED_WITHIN_S = 60.0


def sign_in(page: Page, demo: dict[str, str], email: str, javascript: bool) -> None:
    """Start the pensions service and sign in at the charter, after an empty first try."""
    page.goto(demo["liverpool-pensions"] + "/service")
    check_page(page)
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(demo["charter"] + "/sign-in?*")
    check_page(page)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check_page(page)
    check_error_summary(page, "email", javascript)
    fill_sign_in(page, email, DEMO_PASSWORD)
    page.wait_for_url(demo["liverpool-pensions"] + "/service/details")
    check_page(page)


def consent(page: Page, demo: dict[str, str], screenshot: Path | None) -> None:
    """Continue to the charter's consent screen and agree."""
    expect(page.locator("h1")).to_have_text("We need your details from the People register")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(demo["charter"] + "/consent/*")
    check_page(page)
    expect(page.locator("h1")).to_contain_text("Liverpool: pensions is asking to see your details")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    page.get_by_label("Yes, share these details").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(demo["liverpool-pensions"] + "/service/details")
    check_page(page)


def see_and_withdraw(page: Page, demo: dict[str, str]) -> None:
    """Find the consent at the charter, check its receipt, and withdraw it."""
    charter = demo["charter"]
    page.goto(charter + "/my/consents")
    check_page(page)
    active = page.locator("#active + table")
    expect(active).to_contain_text("Liverpool: pensions")
    active.get_by_role("link", name=re.compile("Liverpool: pensions")).click()
    page.wait_for_url(charter + "/my/consents/*")
    check_page(page)
    receipt_link = page.get_by_role("link", name="Download your receipt (JSON)")
    href = receipt_link.get_attribute("href") or ""
    assert href.endswith("/receipt.json"), href
    receipt = page.request.get(charter + href)  # with the browser's cookies
    assert receipt.ok
    assert set(receipt.json()) == {"record", "signature"}
    page.get_by_role("button", name="Withdraw consent").click()  # a link styled as a button
    check_page(page)
    expect(page.locator("h1")).to_have_text("Are you sure you want to withdraw this consent?")
    page.get_by_role("button", name="Withdraw consent").click()
    check_page(page)
    expect(page.locator("h1")).to_have_text("Consent withdrawn")


def who_has_seen(page: Page, demo: dict[str, str], screenshot: Path | None) -> None:
    """At the charter: every access verified, one kept by the filters, and the downloads."""
    page.goto(demo["charter"] + "/my")
    page.get_by_role("link", name="Who has seen your data").click()
    check_page(page)
    expect(page.locator("h1")).to_have_text("Who has seen your data")
    cards = page.locator(".govuk-summary-card")
    tags = cards.locator(".govuk-tag")

    def all_verified() -> bool | None:
        # The consent, the reads, the withdrawal and the refused read: each verified once a
        # witness has cosigned the People register's checkpoint; until then, look again.
        count = cards.count()
        if count >= 4 and tags.count() == count and tags.all_inner_texts() == ["Verified"] * count:
            return True
        page.reload()
        return None

    wait_for(all_verified, VERIFIED_WITHIN_S, "every access on the page to be verified", 1.0)
    check_page(page)
    expect(cards.first).to_contain_text("Was refused by People register")
    expect(page.locator("main")).to_contain_text("confirmed by")
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)

    page.get_by_label("What happened").select_option(label="Withdrawal recorded")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/my/activity?*action=consent-withdrawn*")
    check_page(page)
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Your withdrawal was recorded at People register")
    expect(page.get_by_label("What happened")).to_have_value("consent-withdrawn")

    with page.expect_download() as json_download:
        page.get_by_role("link", name="Download as JSON").click()
    assert json_download.value.suggested_filename == "who-has-seen-my-data.json"
    listing = json.loads(Path(json_download.value.path()).read_text())
    assert listing["filters"]["action"] == "consent-withdrawn"
    (entry,) = listing["entries"]
    assert (entry["action"], entry["status"]) == ("consent-withdrawn", "verified")
    assert entry["entry"] and entry["proof"] and entry["checkpoint"]

    with page.expect_download() as csv_download:
        page.get_by_role("link", name=re.compile("Download as CSV")).click()
    assert csv_download.value.suggested_filename == "who-has-seen-my-data.csv"
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert [(r["action"], r["status"], r["node"]) for r in rows] == [
        ("consent-withdrawn", "verified", "people-register")
    ]


def journey(page: Page, demo: dict[str, str], *, javascript: bool, screenshot: Path | None) -> None:
    """The whole journey of the consenting person of the test (with JavaScript or without)."""
    who = person(CONSENTING[javascript])
    sign_in(page, demo, who.email, javascript)
    consent(page, demo, screenshot)
    main = page.locator("main")
    expect(main).to_contain_text("These are the details we got from the People register")
    expect(main).to_contain_text(who.address["postcode"])
    see_and_withdraw(page, demo)
    page.goto(demo["liverpool-pensions"] + "/service/details")
    check_page(page)
    expect(page.locator("h1")).to_have_text("We can no longer get your details")
    expect(main).to_contain_text("We no longer keep them up to date")
    who_has_seen(page, demo, SCREENS / "activity.png" if screenshot is not None else None)


def test_the_consent_journey_with_javascript(page: Page, demo: dict[str, str]) -> None:
    # Every response has a strict Content-Security-Policy: Chromium reports each thing it
    # blocks on the console, and govuk-frontend's inline script runs only with its nonce.
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    journey(page, demo, javascript=True, screenshot=SCREENS / "consent.png")
    assert page.evaluate("document.body.classList.contains('js-enabled')")
    assert violations == []


def test_the_consent_journey_without_javascript(
    page_without_javascript: Page, demo: dict[str, str]
) -> None:
    journey(page_without_javascript, demo, javascript=False, screenshot=None)
