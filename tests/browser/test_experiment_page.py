"""The staff's experiment page in real Chromium, without JavaScript, on the demo: the demo's
care assessment runs an experiment whose synthetic journeys give the page real figures; a
manager stops it after an error, keeping a variant. Every page is checked by `check_page`
(axe-core). No other test needs the experiment running (tests/browser/conftest.py's `demo`)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browser.browser_pages import check_error_summary, check_page, staff_sign_in

# A bound, not a speed target: a page with axe-core takes seconds on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

CARE = "birmingham-social-care"
EXPERIMENT = "/staff/experiments/ask-for-a-care-assessment/more-examples"


def test_a_manager_reads_the_experiment_and_stops_it_without_javascript(
    page_without_javascript: Page, demo: dict[str, str]
) -> None:
    page = page_without_javascript
    node = demo[CARE]
    staff_sign_in(page, node, "manager", CARE)
    page.get_by_role("link", name="Experiments").click()
    page.wait_for_url(f"{node}/staff/experiments")
    check_page(page)
    page.get_by_role("link", name="more-examples").click()
    page.wait_for_url(f"{node}{EXPERIMENT}")
    check_page(page)
    main = page.locator("main")
    expect(main).to_contain_text("Running")
    figures = page.get_by_role("table", name="Figures by variant")
    expect(figures.get_by_role("row")).to_have_count(3)  # the head, and a row a variant
    expect(figures).to_contain_text("95% interval")
    expect(main).to_contain_text("Compared with as-now")
    # The demo's seed gives a completion rate and a time that differ significantly, and a
    # satisfaction that does not yet.
    expect(main).to_contain_text("Significant: a difference this size is unlikely by chance")
    expect(main).to_contain_text("Not yet significant")
    expect(main).to_contain_text("more people would be needed")

    page.get_by_role("button", name="Stop and keep this variant").click()
    check_error_summary(page, "winner", javascript=False)
    check_page(page)
    page.get_by_role("radio", name="examples").check()
    page.get_by_role("button", name="Stop and keep this variant").click()

    page.wait_for_url(f"{node}{EXPERIMENT}?done=stopped")
    check_page(page)
    expect(main).to_contain_text("Experiment stopped: everyone now sees examples.")
    expect(page.get_by_role("button", name="Stop and keep this variant")).to_have_count(0)
    page.goto(f"{node}/staff/experiments")
    expect(page.locator("main")).to_contain_text("Stopped")
