"""The performance pages in real Chromium through `digitalstate demo`, with and without
JavaScript: a node's dashboard, a service's dashboard (its SVG charts, tables and summaries)
and the datasets' page, each checked by `check_page` (axe-core); and a person who leaves a
service part-way, sees the page that says so, and deletes their answers.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browser.browser_pages import check_page, continue_to, reload_until, start_service
from browser.demo_people import LEAVERS, person

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

CARE = "birmingham-social-care"
CARE_SLUG = "ask-for-a-care-assessment"


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_the_dashboards_and_datasets_are_accessible_with_their_figures(
    own_page: Page, demo: dict[str, str], js: bool
) -> None:
    page = own_page
    page.goto(f"{demo[CARE]}/performance")
    reload_until(page, "Figures computed at")  # the node's first pass; checks the page
    expect(page.locator("table").first).to_contain_text("Ask for a care needs assessment")
    page.locator("table a", has_text="Ask for a care needs assessment").click()
    page.wait_for_url(f"{demo[CARE]}/performance/{CARE_SLUG}")
    check_page(page)
    expect(page.locator("svg[role=img]")).to_have_count(4)
    expect(page.locator("main")).to_contain_text("Counts under 10 are not shown")
    expect(page.locator("main")).to_contain_text("Where people give up")
    page.get_by_role("link", name="Download these figures as open data").click()
    page.wait_for_url(f"{demo[CARE]}/datasets/performance")
    check_page(page)
    csv = page.request.get(f"{demo[CARE]}/datasets/performance/kpis.csv")
    assert csv.ok and csv.text().startswith("service,month,started,completed")


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_person_leaves_a_service_and_deletes_their_answers(
    own_page: Page, demo: dict[str, str], js: bool
) -> None:
    page = own_page
    who = person(LEAVERS[js])
    service = start_service(page, demo, CARE, CARE_SLUG, who.email)
    page.wait_for_url(f"{service}/begin")
    check_page(page)
    page.get_by_label("No, I will type my answers").check()
    continue_to(page, f"{service}/where")
    page.get_by_label("Yes", exact=True).check()
    continue_to(page, f"{service}/name")
    page.get_by_role("link", name="Leave this service").click()
    page.wait_for_url(f"{service}/leave")
    check_page(page)
    expect(page.locator("h1")).to_have_text("You have left this service")
    page.get_by_role("button", name="Delete the answers").click()
    page.wait_for_url(f"{service}/leave")
    check_page(page)
    expect(page.locator("main")).to_contain_text("The answers given so far have been deleted.")
    page.get_by_role("link", name="Start the service again").click()
    page.wait_for_url(service)
    check_page(page)
