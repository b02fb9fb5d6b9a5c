"""The declared services in real Chromium through `digitalstate demo`, with and without JavaScript.

A seeded person asks Birmingham social care for a care needs assessment: they start the
service, sign in at the charter, agree to have their details filled in from the People
register, answer each page (first with an error), take the details the service holds, change
an answer from check your answers and send it. The node's caseworker finds the application in
the queue, tries to refuse it without a reason, then approves it, and the person sees it
approved. Every page on the way, in each of its states, is checked by `check_page` (axe-core).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from browser.browser_pages import check_error_summary, check_page, fill_sign_in
from digitalstate.demo.federation import DEFAULT_SEED, DEMO_STAFF_PASSWORD, demo_staff_email
from digitalstate.demo.seed import DEMO_PASSWORD
from digitalstate.demo.synthetic import make_person

pytestmark = pytest.mark.browser

CARE = "birmingham-social-care"
CARE_SLUG = "ask-for-a-care-assessment"
REFERENCE = re.compile(r"CNA-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")


def continue_to(page: Page, url: str) -> None:
    """Press Continue and wait for url; then check the page."""
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(url)
    check_page(page)


def use_held(page: Page, legend: str) -> None:
    """Take the value the service holds for the question whose legend is legend."""
    group = page.get_by_role("group", name=legend, exact=True).first  # its inputs follow
    expect(group).to_contain_text("we already hold")
    group.get_by_label("Yes", exact=True).check()


def ask_for_care_assessment(page: Page, demo: dict[str, str], number: int, js: bool) -> str:
    """Person number asks for a care needs assessment; the application's reference."""
    node, who = demo[CARE], make_person(DEFAULT_SEED, number)
    service = f"{node}/services/{CARE_SLUG}"
    page.goto(service)
    check_page(page)
    expect(page.locator("h1")).to_have_text("Ask for a care needs assessment")
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(demo["charter"] + "/sign-in?*")
    check_page(page)
    fill_sign_in(page, who.email, DEMO_PASSWORD)
    page.wait_for_url(f"{service}/begin")
    check_page(page)
    expect(page.locator("h1")).to_have_text("We can fill in some of your answers")
    page.get_by_label("Yes, ask the People register").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(demo["charter"] + "/consent/*")
    check_page(page)
    page.get_by_label("Yes, share these details").check()
    continue_to(page, f"{service}/where")

    # The first page, sent empty: the error summary links to the first radio.
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile("^Error: "))
    check_page(page)
    check_error_summary(page, "lives-in-birmingham", js)
    page.get_by_label("Yes", exact=True).check()
    continue_to(page, f"{service}/name")

    use_held(page, "First name or names")
    use_held(page, "Last name")
    continue_to(page, f"{service}/date-of-birth")
    use_held(page, "What is your date of birth?")
    continue_to(page, f"{service}/address")
    expect(page.locator("main")).to_contain_text(who.address["postcode"])
    use_held(page, "What is your address?")
    continue_to(page, f"{service}/help")
    page.get_by_label("Washing and bathing").check()
    page.get_by_label("Getting dressed").check()
    continue_to(page, f"{service}/more")
    page.get_by_label("Tell us more about the help you need").fill("I cannot reach my feet.")
    continue_to(page, f"{service}/letter")
    continue_to(page, f"{service}/phone")
    page.get_by_label("UK phone number").fill("0121 496 0000")
    continue_to(page, f"{service}/check-answers")

    main = page.locator("main")
    expect(main).to_contain_text("From People register")
    expect(main).to_contain_text(who.address["postcode"])
    expect(main).to_contain_text("01214 960000")  # the number as the service writes it
    page.get_by_role("link", name=re.compile("Change.*phone", re.IGNORECASE)).click()
    page.wait_for_url(f"{service}/phone?return=check*")
    check_page(page)
    expect(page.get_by_label("UK phone number")).to_have_value(
        re.compile("1214960000$")
    )  # kept: +44...
    page.get_by_label("UK phone number").fill("0121 496 0999")
    continue_to(page, f"{service}/check-answers")
    expect(main).to_contain_text("01214 960999")

    page.get_by_role("button", name="Accept and send").click()
    page.wait_for_url(f"{service}/confirmation/*")
    check_page(page)
    reference = REFERENCE.search(main.inner_text())
    assert reference, main.inner_text()
    page.goto(f"{node}/applications")
    check_page(page)
    expect(page.get_by_role("link", name=re.compile(reference.group()))).to_have_count(1)
    return reference.group()


def staff_sign_in(page: Page, node: str, role: str, member_id: str) -> None:
    """Sign in at node's staff pages as the demo's member of staff with role."""
    page.goto(f"{node}/staff/sign-in")
    check_page(page)
    fill_sign_in(page, demo_staff_email(member_id, role), DEMO_STAFF_PASSWORD)
    page.wait_for_url(f"{node}/staff")
    check_page(page)


def open_case(page: Page, node: str, reference: str) -> None:
    """Find reference among the submitted applications of the queue and open its case page."""
    page.goto(f"{node}/staff/applications")
    check_page(page)
    page.get_by_label("Submitted").check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/staff/applications?*status=submitted*")
    check_page(page)
    page.get_by_role("link", name=reference).click()
    page.wait_for_url(f"{node}/staff/applications/{reference}")
    check_page(page)
    expect(page.locator("main")).to_contain_text("Submitted")


def decide_care_assessment(browser: Browser, demo: dict[str, str], ref: str, js: bool) -> None:
    """The caseworker finds ref, fails to refuse it without a reason, then approves it."""
    context = browser.new_context(java_script_enabled=js)  # the staff's own cookies
    try:
        page = context.new_page()
        staff_sign_in(page, demo[CARE], "caseworker", CARE)
        open_case(page, demo[CARE], ref)
        page.get_by_role("radio", name="Refuse").check()
        page.get_by_role("button", name="Save decision").click()
        expect(page).to_have_title(re.compile("^Error: "))
        check_page(page)
        check_error_summary(page, "reason", js)
        page.get_by_role("radio", name="Approve").check()
        page.get_by_role("button", name="Save decision").click()
        expect(page.locator(".govuk-notification-banner")).to_be_visible()
        check_page(page)
        expect(page.locator("main")).to_contain_text("Approved")
    finally:
        context.close()


def care_assessment_decided(
    page: Page, browser: Browser, demo: dict[str, str], number: int, js: bool
) -> None:
    reference = ask_for_care_assessment(page, demo, number, js)
    decide_care_assessment(browser, demo, reference, js)
    page.goto(f"{demo[CARE]}/applications/{reference}")
    check_page(page)
    expect(page.locator("main .govuk-tag").first).to_have_text("Approved")


def test_a_care_assessment_asked_for_and_approved_with_javascript(
    page: Page, browser: Browser, demo: dict[str, str]
) -> None:
    care_assessment_decided(page, browser, demo, 2, js=True)


def test_a_care_assessment_asked_for_and_approved_without_javascript(
    page_without_javascript: Page, browser: Browser, demo: dict[str, str]
) -> None:
    care_assessment_decided(page_without_javascript, browser, demo, 3, js=False)
