"""The State Pension and helpers in real Chromium through `digitalstate demo`, with and without
JavaScript.

A person of State Pension age claims it, their details shared from the People register, a
caseworker approves it and the award shows among their details at pensions; then they tell the
People register their new address, and pensions is among who will be told. Last, a person lets
a helper act for them at the charter; the helper signs in for them, agrees to share their
details and claims their State Pension, and the person sees it approved. Every page on the
way, in each of its states, is checked by `check_page` (axe-core).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from browser.browser_pages import (
    approve,
    check_page,
    continue_to,
    continue_with_an_error,
    fill_address,
    fill_date,
    fill_sign_in,
    send_application,
    share_from_the_register,
    staff_case,
    start_service,
    use_held,
)
from browser.demo_people import (
    HELPED_PENSIONERS,
    PENSION_CLAIMANTS,
    PENSIONERS_HELPERS,
    person,
)
from digitalstate.demo.seed import DEMO_PASSWORD

# A bound, not a speed target: a page with axe-core takes seconds on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


PENSIONS = "liverpool-pensions"
PENSION_SLUG = "apply-for-state-pension"
PENSION_REFERENCE = re.compile(r"SP-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")
PEOPLE = "people-register"
ADDRESS_SLUG = "change-your-address"
ADDRESS_REFERENCE = re.compile(r"CA-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")


def claim_state_pension(page: Page, service: str, number: int, account: str, js: bool) -> str:
    """At the claim's first page, with the People register's details shared: claim person
    number's State Pension into account (the National Insurance number sent empty once);
    the reference."""
    who = person(number)
    use_held(page, "What is your date of birth?")
    continue_to(page, f"{service}/address")
    use_held(page, "What is your address?")
    continue_to(page, f"{service}/national-insurance")
    continue_with_an_error(page, "national-insurance-number", js)
    page.get_by_label("What is your National Insurance number?").fill(who.nino)
    continue_to(page, f"{service}/bank")
    page.get_by_label("Name on the account").fill(f"{who.given_names} {who.family_name}")
    page.get_by_label("Sort code").fill("30 94 30")
    page.get_by_label("Account number").fill(account)
    continue_to(page, f"{service}/phone")
    continue_to(page, f"{service}/check-answers")  # optional: left blank
    expect(page.locator("main")).to_contain_text(account)
    return send_application(page, service, PENSION_REFERENCE)


def pension_awarded(
    page: Page, browser: Browser, demo: dict[str, str], reference: str, account: str, js: bool
) -> None:
    """The caseworker approves the claim; the person's record at pensions pays into account."""
    with staff_case(browser, demo, PENSIONS, reference, js) as staff:
        approve(staff)
    page.goto(f"{demo[PENSIONS]}/applications/{reference}")
    check_page(page)
    expect(page.locator("main .govuk-tag").first).to_have_text("Approved")
    page.goto(f"{demo[PENSIONS]}/my/details")
    check_page(page)
    expect(page.locator("main")).to_contain_text("Receiving State Pension")
    expect(page.locator("main")).to_contain_text(f"Account number ending {account[-4:]}")


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_state_pension_claimed_and_awarded_then_a_new_address_told_to_pensions(
    own_page: Page, browser: Browser, demo: dict[str, str], js: bool
) -> None:
    number = PENSION_CLAIMANTS[js]
    account = f"{55_500_000 + number:08d}"
    page = own_page
    service = start_service(page, demo, PENSIONS, PENSION_SLUG, person(number).email)
    share_from_the_register(page, demo, service, "date-of-birth")
    reference = claim_state_pension(page, service, number, account, js)
    pension_awarded(page, browser, demo, reference, account, js)

    # Pensions, given the address with consent, is told when it changes.
    service = start_service(page, demo, PEOPLE, ADDRESS_SLUG, None)  # signed in already
    page.wait_for_url(f"{service}/new-address")
    check_page(page)
    continue_with_an_error(page, "new-address-line-1", js)
    fill_address(page, "1 New Street", "Leeds", "LS1 4AP")
    continue_to(page, f"{service}/moved-on")
    fill_date(page, "When did you move to your new address?", date.today())
    continue_to(page, f"{service}/check-answers")
    expect(page.locator("main")).to_contain_text("LS1 4AP")
    send_application(page, service, ADDRESS_REFERENCE)
    main = page.locator("main")
    expect(main).to_contain_text("Who we will tell")
    expect(main).to_contain_text("Liverpool: pensions")


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_helper_the_person_added_claims_their_state_pension_for_them(
    own_page: Page, browser: Browser, demo: dict[str, str], js: bool
) -> None:
    number, helper = HELPED_PENSIONERS[js], person(PENSIONERS_HELPERS[js])
    who, account = person(number), f"{66_600_000 + number:08d}"
    charter = demo["charter"]
    page = own_page  # the person lets their helper act for them
    page.goto(f"{charter}/my/helpers")
    page.wait_for_url(f"{charter}/sign-in?*")
    fill_sign_in(page, who.email, DEMO_PASSWORD)
    page.wait_for_url(f"{charter}/my/helpers")
    check_page(page)
    continue_with_an_error(page, "email", js, "Add helper")  # nothing filled in
    page.get_by_label("Their email address").fill(helper.email)
    page.get_by_label("Give and withdraw consents for you").check()
    page.get_by_label("Use services for you").check()
    fill_date(page, "When does their help end?", date.today() + timedelta(days=30))
    page.get_by_role("button", name="Add helper").click()
    expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
    check_page(page)

    helper_context = browser.new_context(java_script_enabled=js)
    try:
        acting = helper_context.new_page()  # the helper signs in to pensions for them
        service = start_service(acting, demo, PENSIONS, PENSION_SLUG, helper.email)
        acting.wait_for_url(f"{charter}/oidc/authorize?*")
        check_page(acting)
        acting.get_by_label(who.display_name).check()
        acting.get_by_role("button", name="Continue").click()
        share_from_the_register(acting, demo, service, "date-of-birth")
        reference = claim_state_pension(acting, service, number, account, js)

        with staff_case(browser, demo, PENSIONS, reference, js) as staff:
            expect(staff.locator("main")).to_contain_text("Their helper")
        pension_awarded(page, browser, demo, reference, account, js)  # the person sees it
    finally:
        helper_context.close()
