"""The declared services in real Chromium through `digitalstate demo`, with and without JavaScript.

A seeded person asks Birmingham social care for a care needs assessment: they start the
service, sign in at the charter, agree to have their details filled in from the People
register, answer each page (first with an error), take the details the service holds, change
an answer from check your answers and send it. The node's caseworker finds the application in
the queue, tries to refuse it without a reason, then approves it, and the person sees it
approved (another person, signed in, gets 404 for it). A visitor asks the prisons to visit
a prisoner of the demo's register at three times; the caseworker, after trying to approve
without one, confirms one, and the visitor sees the visit booked. The care assessment again
with the keyboard only: Tab, Shift+Tab, Space, Enter and typing, the focus showing and landing
where it should. Last, a caseworker fills it in with a person (assisted digital), which the
case page shows as made with staff help, for a manager to decide. Every page on the way, in
each of its states, is checked by `check_page` (axe-core). Register to vote is in
test_vote_journeys.py, the State Pension and helpers in test_pension_journeys.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from browser.axe_support import assert_accessible
from browser.browser_pages import (
    approve_after_an_error,
    check_page,
    continue_to,
    continue_with_an_error,
    fill_address,
    fill_date,
    fill_sign_in,
    open_case,
    send_application,
    share_from_the_register,
    staff_case,
    staff_sign_in,
    start_service,
    type_the_answers,
    use_held,
)
from browser.demo_people import (
    ANOTHER_PERSON,
    ASSISTED,
    CARE_APPLICANTS,
    KEYBOARD_USER,
    PRISON_VISITORS,
    person,
)
from digitalstate.demo.prisons import PRISONERS
from digitalstate.demo.seed import DEMO_PASSWORD

# A bound, not a speed target: a page with axe-core takes seconds on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

CARE = "birmingham-social-care"
CARE_SLUG = "ask-for-a-care-assessment"
REFERENCE = re.compile(r"CNA-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")


def ask_for_care_assessment(page: Page, demo: dict[str, str], number: int, js: bool) -> str:
    """Person number asks for a care needs assessment; the application's reference."""
    who = person(number)
    service = start_service(page, demo, CARE, CARE_SLUG, who.email)
    share_from_the_register(page, demo, service, "where")

    # The first page, sent empty: the error summary links to the first radio.
    continue_with_an_error(page, "lives-in-birmingham", js)
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
    expect(main).to_contain_text("0121 496 0000")  # grouped by its area code, as typed
    page.get_by_role("link", name=re.compile("Change.*phone", re.IGNORECASE)).click()
    page.wait_for_url(f"{service}/phone?return=check*")
    check_page(page)
    expect(page.get_by_label("UK phone number")).to_have_value("0121 496 0000")
    page.get_by_label("UK phone number").fill("0121 496 0999")
    continue_to(page, f"{service}/check-answers")
    expect(main).to_contain_text("0121 496 0999")

    reference = send_application(page, service, REFERENCE)
    page.goto(f"{demo[CARE]}/applications")
    check_page(page)
    expect(page.get_by_role("link", name=re.compile(reference))).to_have_count(1)
    return reference


def care_assessment_decided(
    page: Page, browser: Browser, demo: dict[str, str], number: int, js: bool
) -> None:
    reference = ask_for_care_assessment(page, demo, number, js)
    with staff_case(browser, demo, CARE, reference, js) as staff:  # no reason, then approve
        approve_after_an_error(staff, "Refuse", "reason", js)
    page.goto(f"{demo[CARE]}/applications/{reference}")
    check_page(page)
    expect(page.locator("main .govuk-tag").first).to_have_text("Approved")


def test_a_care_assessment_asked_for_and_approved_with_javascript(
    page: Page, browser: Browser, demo: dict[str, str]
) -> None:
    care_assessment_decided(page, browser, demo, CARE_APPLICANTS[True], js=True)
    reference = REFERENCE.search(page.locator("main").inner_text())
    assert reference
    # Another person, signed in, finds no such application.
    context = browser.new_context()
    try:
        other = context.new_page()
        other.goto(f"{demo[CARE]}/applications/{reference.group()}")
        other.wait_for_url(demo["charter"] + "/sign-in?*")
        fill_sign_in(other, person(ANOTHER_PERSON).email, DEMO_PASSWORD)
        other.wait_for_url(f"{demo[CARE]}/applications/{reference.group()}")
        check_page(other)
        expect(other.locator("main")).not_to_contain_text("Approved")
        response = other.goto(f"{demo[CARE]}/applications/{reference.group()}")
        assert response is not None and response.status == 404, response
        other.goto(f"{demo[CARE]}/applications")
        expect(other.locator("main")).not_to_contain_text(reference.group())
    finally:
        context.close()


def test_a_care_assessment_asked_for_and_approved_without_javascript(
    page_without_javascript: Page, browser: Browser, demo: dict[str, str]
) -> None:
    care_assessment_decided(
        page_without_javascript, browser, demo, CARE_APPLICANTS[False], js=False
    )


PRISONS = "prisons"
PRISON_SLUG = "book-a-prison-visit"
PRISONER = PRISONERS[0]  # in the demo's register of prisoners (demo/prisons.py)
APOSTROPHE = "\u2019"  # the typographic one the service's labels use
PV_REFERENCE = re.compile(r"PV-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")


def request_prison_visit(page: Page, demo: dict[str, str], number: int) -> tuple[str, list[str]]:
    """Person number asks to visit PRISONER, typing their answers, at three times; the
    reference and the times chosen."""
    who = person(number)
    service = start_service(page, demo, PRISONS, PRISON_SLUG, who.email)
    type_the_answers(page, service, "prisoner")
    page.get_by_label(f"Prisoner{APOSTROPHE}s first name").fill(PRISONER.given_names)
    page.get_by_label(f"Prisoner{APOSTROPHE}s last name").fill(PRISONER.family_name)
    fill_date(page, f"Prisoner{APOSTROPHE}s date of birth", PRISONER.born)
    page.get_by_label("Prisoner number").fill(PRISONER.number)
    continue_to(page, f"{service}/prison")
    page.get_by_label("Prison").select_option(PRISONER.prison)
    continue_to(page, f"{service}/you")
    page.get_by_label("First name").fill(who.given_names)
    page.get_by_label("Last name").fill(who.family_name)
    fill_date(page, "Date of birth", who.date_of_birth)
    continue_to(page, f"{service}/your-address")
    fill_address(page, "1 High Street", "Cardiff", "CF10 1AA")
    continue_to(page, f"{service}/other-visitors")
    page.get_by_label("How many other people are visiting with you?").fill("0")
    continue_to(page, f"{service}/times")
    times = page.get_by_role("checkbox")
    expect(times.first).to_be_visible()
    assert times.count() >= 3, times.count()
    chosen = []
    for index in range(3):
        times.nth(index).check()
        chosen.append(page.locator(f'label[for="{times.nth(index).get_attribute("id")}"]'))
    chosen_texts = [label.inner_text().strip() for label in chosen]
    continue_to(page, f"{service}/email")
    page.get_by_label("Email address").fill(who.email)
    continue_to(page, f"{service}/check-answers")
    for text in chosen_texts:
        expect(page.locator("main")).to_contain_text(text)
    return send_application(page, service, PV_REFERENCE), chosen_texts


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_prison_visit_requested_at_three_times_and_one_confirmed(
    own_page: Page, browser: Browser, demo: dict[str, str], js: bool
) -> None:
    page = own_page
    reference, times = request_prison_visit(page, demo, PRISON_VISITORS[js])
    with staff_case(browser, demo, PRISONS, reference, js) as staff:  # the time, then approve
        group = staff.get_by_role("group", name="Which time do you confirm?")
        approve_after_an_error(staff, "Approve", "choice", js, group.get_by_label(times[1]).check)
    page.goto(f"{demo[PRISONS]}/applications/{reference}")
    check_page(page)
    expect(page.locator("main .govuk-tag").first).to_have_text("Approved")
    expect(page.locator("main")).to_contain_text("Visit booked")
    expect(page.get_by_role("button", name="Cancel this visit")).to_be_visible()


FOCUS_WITHIN_TABS = 80


def is_focus_visible(page: Page) -> bool:
    """Whether the focused element shows it: an outline or a box-shadow (govuk-frontend's)."""
    return bool(
        page.evaluate(
            """() => {
                const style = getComputedStyle(document.activeElement);
                return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                    || style.boxShadow !== 'none';
            }"""
        )
    )


def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until target has the focus, and check the focus shows."""
    for _ in range(FOCUS_WITHIN_TABS):
        if target.evaluate("element => element === document.activeElement"):
            assert is_focus_visible(page), f"{page.url}: the focus on {target} does not show"
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{page.url}: {target} never got the focus")


def press_on(page: Page, target: Locator, key: str, url: str | None = None) -> None:
    """Tab to target and press key; wait for url, then check the page."""
    tab_to(page, target)
    page.keyboard.press(key)
    if url is not None:
        page.wait_for_url(url)
        check_page(page)


def keyboard_continue(page: Page, url: str) -> None:
    press_on(page, page.get_by_role("button", name="Continue"), "Enter", url)


def test_a_care_assessment_asked_for_with_the_keyboard_only(
    page: Page, demo: dict[str, str]
) -> None:
    node, who = demo[CARE], person(KEYBOARD_USER)
    service = f"{node}/services/{CARE_SLUG}"
    page.goto(service)
    check_page(page)
    press_on(page, page.get_by_role("button", name="Start now"), "Enter")
    page.wait_for_url(demo["charter"] + "/sign-in?*")
    tab_to(page, page.get_by_label("Email address"))
    page.keyboard.type(who.email)
    press_on(page, page.get_by_label("Password"), "Tab")  # lands on it: type there
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")  # sends the form
    page.wait_for_url(f"{service}/begin")
    check_page(page)
    keyboard_continue(page, demo["charter"] + "/consent/*")  # "Yes" is chosen already
    press_on(page, page.get_by_label("Yes, share these details"), "Space")
    keyboard_continue(page, f"{service}/where")

    # Sent empty: govuk-frontend moves the focus to the error summary; its link to the field.
    press_on(page, page.get_by_role("button", name="Continue"), "Enter")
    expect(page).to_have_title(re.compile("^Error: "))
    check_page(page)
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator('.govuk-error-summary a[href="#lives-in-birmingham"]')).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#lives-in-birmingham")).to_be_focused()
    assert is_focus_visible(page)
    page.keyboard.press("Space")
    expect(page.locator("#lives-in-birmingham")).to_be_checked()
    keyboard_continue(page, f"{service}/name")

    for question, url in (
        ("given-names", None),
        ("family-name", f"{service}/date-of-birth"),
        ("date-of-birth", f"{service}/address"),
        ("address", f"{service}/help"),
    ):
        press_on(page, page.locator(f"#{question}-use-held"), "Space")
        expect(page.locator(f"#{question}-use-held")).to_be_checked()
        if url is not None:
            keyboard_continue(page, url)
    press_on(page, page.get_by_label("Preparing meals"), "Space")
    keyboard_continue(page, f"{service}/more")
    keyboard_continue(page, f"{service}/letter")  # optional: left blank
    keyboard_continue(page, f"{service}/phone")
    tab_to(page, page.get_by_label("UK phone number"))
    page.keyboard.type("0121 496 0123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{service}/check-answers")
    check_page(page)
    expect(page.locator("main")).to_contain_text("Preparing meals")
    press_on(page, page.get_by_role("button", name="Accept and send"), "Enter")
    page.wait_for_url(f"{service}/confirmation/*")
    check_page(page)
    assert REFERENCE.search(page.locator("main").inner_text())


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_caseworker_asks_for_a_care_assessment_with_a_person(
    own_page: Page, demo: dict[str, str], js: bool
) -> None:
    node, who = demo[CARE], person(ASSISTED[js])
    page = own_page
    staff_sign_in(page, node, "caseworker", CARE)
    page.goto(f"{node}/staff/assisted")
    check_page(page)
    page.get_by_role("button", name="Start Ask for a care needs assessment").click()
    page.wait_for_url(f"{node}/staff/assisted/{CARE_SLUG}/*/where")
    check_page(page)
    case = page.url.rsplit("/", 1)[0]
    page.get_by_label("Yes", exact=True).check()
    continue_to(page, f"{case}/name")
    expect(page.locator("main")).not_to_contain_text("we already hold")  # typed, never held
    page.get_by_label("First name or names").fill(who.given_names)
    page.get_by_label("Last name").fill(who.family_name)
    continue_to(page, f"{case}/date-of-birth")
    fill_date(page, "What is your date of birth?", who.date_of_birth)
    continue_to(page, f"{case}/address")
    fill_address(page, "2 Broad Street", "Birmingham", "B1 2HF")
    continue_to(page, f"{case}/help")
    page.get_by_label("Moving around your home").check()
    continue_to(page, f"{case}/more")
    continue_to(page, f"{case}/letter")
    continue_to(page, f"{case}/phone")
    page.get_by_label("UK phone number").fill("0121 496 0456")
    continue_to(page, f"{case}/check-answers")
    expect(page.locator("h1")).to_have_text("Check the answers before sending the application")
    open_case(page, node, send_application(page, case, REFERENCE))
    main = page.locator("main")
    expect(main).to_contain_text("With staff help (assisted digital)")
    expect(main).to_contain_text("is decided by a manager, who did not fill it in")
    expect(page.get_by_role("button", name="Save decision")).to_have_count(0)


@pytest.mark.parametrize("js", [True, False])
def test_a_nodes_open_data_reads_with_and_without_javascript(
    own_page: Page, demo: dict[str, str], js: bool
) -> None:
    page = own_page
    page.goto(demo[CARE] + "/datasets")
    expect(page.get_by_role("heading", name="Open data")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Spending over £500").click()

    expect(page.get_by_role("heading", name="Spending over £500", level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Columns of Payments")).to_be_visible()
    preview = page.get_by_role("table", name=re.compile("The first 10 rows of Payments"))
    expect(preview.locator("tbody tr")).to_have_count(10)
    assert_accessible(page)
    download = page.request.get(demo[CARE] + "/datasets/spending/payments.csv")
    assert download.ok and download.headers["content-type"] == "text/csv; charset=utf-8"
    assert "Redacted personal data" in download.text()
