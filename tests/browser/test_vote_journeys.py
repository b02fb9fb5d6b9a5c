"""Register to vote in real Chromium through `digitalstate demo`, with and without JavaScript.

A person whose number, name and date of birth match is on the roll within seconds; one who
typed someone else's number is asked for a document, sends it (after an empty try) and a
caseworker approves it. Every page on the way, in each of its states, is checked by
`check_page` (axe-core).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from browser.browser_pages import (
    answer_yes_no,
    approve,
    check_page,
    continue_to,
    continue_with_an_error,
    fill_address,
    fill_date,
    reload_until,
    send_application,
    share_from_the_register,
    staff_case,
    start_service,
    type_the_answers,
    use_held,
)
from browser.demo_people import SOMEONE_ELSE, UNMATCHED_VOTERS, VOTERS, person

# A bound, not a speed target: a page with axe-core takes seconds on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


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
    who = person(number)
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
    number = VOTERS[js]
    page = own_page
    nino = spaced(person(number).nino)  # typed as on the card
    reference = register_to_vote(page, demo, number, nino, js, shared=True)
    page.goto(f"{demo[ELECTORAL]}/applications/{reference}")
    reload_until(page, ON_THE_ROLL)  # matched by the worker, through the charter
    expect(page.locator("main .govuk-tag").first).to_have_text("Approved")
    on_the_roll(page, demo, "Registered, on the open register, votes in person")


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_person_not_matched_sends_a_document_that_a_caseworker_approves(
    own_page: Page, browser: Browser, demo: dict[str, str], js: bool
) -> None:
    number = UNMATCHED_VOTERS[js]
    someone_elses = person(SOMEONE_ELSE).nino  # a real number, not theirs
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
