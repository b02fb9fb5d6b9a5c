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
case page shows as made with staff help, for a manager to decide.

Register to vote: a person whose number, name and date of birth match is on the roll within
seconds; one who typed someone else's number is asked for a document, sends it (after an empty
try) and a caseworker approves it. A person of State Pension age claims it, their details
shared from the People register, a caseworker approves it and the award shows among their
details at pensions; then they tell the People register their new address, and pensions is
among who will be told. Last, a person lets a helper act for them at the charter; the helper
signs in for them, agrees to share their details and claims their State Pension, and the
person sees it approved. Each journey with and without JavaScript. Every page on the way, in
each of its states, is checked by `check_page` (axe-core).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from browser.browser_pages import (
    answer_yes_no,
    approve,
    approve_after_an_error,
    check_page,
    continue_to,
    continue_with_an_error,
    fill_address,
    fill_date,
    fill_sign_in,
    open_case,
    reload_until,
    send_application,
    share_from_the_register,
    staff_case,
    staff_sign_in,
    start_service,
    type_the_answers,
    use_held,
)
from digitalstate.demo.federation import DEFAULT_SEED
from digitalstate.demo.prisons import PRISONERS
from digitalstate.demo.seed import DEMO_PASSWORD
from digitalstate.demo.synthetic import make_person

# A bound, not a speed target: the first test waits for another module's demo to end
# (one_demo_at_a_time), and a page with axe-core takes seconds on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

CARE = "birmingham-social-care"
CARE_SLUG = "ask-for-a-care-assessment"
REFERENCE = re.compile(r"CNA-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")


def ask_for_care_assessment(page: Page, demo: dict[str, str], number: int, js: bool) -> str:
    """Person number asks for a care needs assessment; the application's reference."""
    who = make_person(DEFAULT_SEED, number)
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
    care_assessment_decided(page, browser, demo, 2, js=True)
    reference = REFERENCE.search(page.locator("main").inner_text())
    assert reference
    # Another person, signed in, finds no such application.
    context = browser.new_context()
    try:
        other = context.new_page()
        other.goto(f"{demo[CARE]}/applications/{reference.group()}")
        other.wait_for_url(demo["charter"] + "/sign-in?*")
        fill_sign_in(other, make_person(DEFAULT_SEED, 9).email, DEMO_PASSWORD)
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
    care_assessment_decided(page_without_javascript, browser, demo, 3, js=False)


PRISONS = "prisons"
PRISON_SLUG = "book-a-prison-visit"
PRISONER = PRISONERS[0]  # in the demo's register of prisoners (demo/prisons.py)
APOSTROPHE = "\u2019"  # the typographic one the service's labels use
PV_REFERENCE = re.compile(r"PV-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")


def request_prison_visit(page: Page, demo: dict[str, str], number: int) -> tuple[str, list[str]]:
    """Person number asks to visit PRISONER, typing their answers, at three times; the
    reference and the times chosen."""
    who = make_person(DEFAULT_SEED, number)
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
    reference, times = request_prison_visit(page, demo, 4 if js else 8)
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
    node, who = demo[CARE], make_person(DEFAULT_SEED, 5)
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
    node, who = demo[CARE], make_person(DEFAULT_SEED, 6 if js else 7)
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


ELECTORAL = "electoral-registration"
VOTE_SLUG = "register-to-vote"
VOTE_REFERENCE = re.compile(r"RTV-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")
ON_THE_ROLL = "You are on the electoral register"
PASSPORT = {  # a document the evidence question takes: a PDF, by its first bytes
    "name": "passport.pdf",
    "mimeType": "application/pdf",
    "buffer": b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n",
}


def register_to_vote(
    page: Page, demo: dict[str, str], number: int, nino: str, js: bool, *, shared: bool
) -> str:
    """Person number registers to vote giving nino, their name, date of birth and address
    shared from the People register (else typed), on the open register only when shared;
    the reference. The first page is sent empty once."""
    who = make_person(DEFAULT_SEED, number)
    service = start_service(page, demo, ELECTORAL, VOTE_SLUG, who.email)
    if shared:
        share_from_the_register(page, demo, service, "nationality")
    else:
        type_the_answers(page, service, "nationality")
    continue_with_an_error(page, "nationality", js)
    page.get_by_label("British").check()
    continue_to(page, f"{service}/name")
    if shared:
        use_held(page, "First name or names")
        use_held(page, "Last name")
    else:
        page.get_by_label("First name or names").fill(who.given_names)
        page.get_by_label("Last name").fill(who.family_name)
    continue_to(page, f"{service}/date-of-birth")
    if shared:
        use_held(page, "What is your date of birth?")
    else:
        fill_date(page, "What is your date of birth?", who.date_of_birth)
    continue_to(page, f"{service}/address")
    if shared:
        use_held(page, "What is your address?")
    else:
        fill_address(page, "3 Grey Street", "Newcastle upon Tyne", "NE1 6EE")
    continue_to(page, f"{service}/moved")
    answer_yes_no(page, "No", f"{service}/has-national-insurance")
    answer_yes_no(page, "Yes", f"{service}/national-insurance")
    page.get_by_label("What is your National Insurance number?").fill(nino)
    continue_to(page, f"{service}/open-register")
    answer_yes_no(page, "Yes" if shared else "No", f"{service}/postal-vote")
    answer_yes_no(page, "No", f"{service}/check-answers")
    expect(page.locator("main")).to_contain_text(spaced(nino))  # as the service writes it
    if not shared:  # a page filled in: the typed name, changed from check your answers
        page.get_by_role("link", name=re.compile("Change.*first name", re.IGNORECASE)).click()
        page.wait_for_url(f"{service}/name?return=check*")
        check_page(page)
        expect(page.get_by_label("First name or names")).to_have_value(who.given_names)
        continue_to(page, f"{service}/check-answers")
    return send_application(page, service, VOTE_REFERENCE)


def spaced(nino: str) -> str:
    """A National Insurance number as it is printed on a card: 'QQ 12 34 56 C'."""
    nino = nino.replace(" ", "")
    return f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8]}"


def on_the_roll(page: Page, demo: dict[str, str], entry: str) -> None:
    """The person's record at the electoral registration office says entry."""
    page.goto(f"{demo[ELECTORAL]}/my/details")
    check_page(page)
    expect(page.locator("main")).to_contain_text(entry)


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_person_registers_to_vote_and_is_on_the_roll_at_once(
    own_page: Page, demo: dict[str, str], js: bool
) -> None:
    number = 4 if js else 13  # Eilidh, and Theodore: neither registered yet
    page = own_page
    nino = spaced(make_person(DEFAULT_SEED, number).nino)  # typed as on the card
    reference = register_to_vote(page, demo, number, nino, js, shared=True)
    page.goto(f"{demo[ELECTORAL]}/applications/{reference}")
    reload_until(page, ON_THE_ROLL)  # matched by the worker, through the charter
    expect(page.locator("main .govuk-tag").first).to_have_text("Approved")
    on_the_roll(page, demo, "Registered, on the open register, votes in person")


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_person_not_matched_sends_a_document_that_a_caseworker_approves(
    own_page: Page, browser: Browser, demo: dict[str, str], js: bool
) -> None:
    number = 12 if js else 14
    someone_elses = make_person(DEFAULT_SEED, 0).nino  # a real number, not theirs
    page = own_page
    reference = register_to_vote(page, demo, number, someone_elses, js, shared=False)
    page.goto(f"{demo[ELECTORAL]}/applications/{reference}")
    reload_until(page, "Send us a document that proves who you are")
    page.get_by_role("link", name="Upload a document").click()
    page.wait_for_url(f"{demo[ELECTORAL]}/applications/{reference}/evidence")
    check_page(page)
    continue_with_an_error(page, "identity-evidence", js, "Send document")  # no file chosen
    page.get_by_label("Upload a document that proves who you are").set_input_files(PASSPORT)
    page.get_by_role("button", name="Send document").click()
    page.wait_for_url(f"{demo[ELECTORAL]}/applications/{reference}")
    check_page(page)
    expect(page.locator("main")).to_contain_text("A caseworker will check your document")
    with staff_case(browser, demo, ELECTORAL, reference, js) as staff:
        expect(staff.locator("main")).to_contain_text(PASSPORT["name"])
        approve(staff)
    page.reload()
    check_page(page)
    expect(page.locator("main .govuk-tag").first).to_have_text("Approved")
    on_the_roll(page, demo, "Registered, not on the open register, votes in person")


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
    who = make_person(DEFAULT_SEED, number)
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
    number = 3 if js else 15  # Dorota, and Rosie Murray: both of State Pension age
    account = f"{55_500_000 + number:08d}"
    page = own_page
    service = start_service(
        page, demo, PENSIONS, PENSION_SLUG, make_person(DEFAULT_SEED, number).email
    )
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
    number, helper = (10, 11) if js else (16, 18)  # of State Pension age; and their helper
    who, account = make_person(DEFAULT_SEED, number), f"{66_600_000 + number:08d}"
    charter = demo["charter"]
    page = own_page  # the person lets their helper act for them
    page.goto(f"{charter}/my/helpers")
    page.wait_for_url(f"{charter}/sign-in?*")
    fill_sign_in(page, who.email, DEMO_PASSWORD)
    page.wait_for_url(f"{charter}/my/helpers")
    check_page(page)
    continue_with_an_error(page, "email", js, "Add helper")  # nothing filled in
    page.get_by_label("Their email address").fill(make_person(DEFAULT_SEED, helper).email)
    page.get_by_label("Give and withdraw consents for you").check()
    page.get_by_label("Use services for you").check()
    fill_date(page, "When does their help end?", date.today() + timedelta(days=30))
    page.get_by_role("button", name="Add helper").click()
    expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
    check_page(page)

    helper_context = browser.new_context(java_script_enabled=js)
    try:
        acting = helper_context.new_page()  # the helper signs in to pensions for them
        service = start_service(
            acting, demo, PENSIONS, PENSION_SLUG, make_person(DEFAULT_SEED, helper).email
        )
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
