"""What the browser tests share: the checks every page gets, the error summary's, the
charter's sign-in form, the steps of a service's journey and of a caseworker's decision (the
demo they run against is conftest.py's `demo` fixture)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

from e2e_support import wait_for
from playwright.sync_api import Browser, Page, expect

from browser.axe_support import assert_accessible
from digitalstate.demo.federation import DEMO_STAFF_PASSWORD, demo_staff_email
from digitalstate.demo.seed import DEMO_PASSWORD


def check_page(page: Page) -> None:
    """The basics on every page: language, one h1, labelled inputs, none of GOV.UK's brand."""
    # A click that navigates returns once the new page is on its way, not when it is there.
    page.wait_for_load_state()
    where = page.url
    assert page.get_attribute("html", "lang") == "en-GB", where
    expect(page.locator("h1"), where).to_have_count(1)
    fields = page.locator(
        "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea"
    )
    for index in range(fields.count()):
        field = fields.nth(index)
        field_id = field.get_attribute("id")
        assert field_id, f"{where}: an input without an id cannot have a label"
        assert page.locator(f'label[for="{field_id}"]').count() == 1, f"{where}: #{field_id}"
    text = page.locator("body").inner_text()
    assert "GOV.UK" not in text and "GOV.UK" not in page.title(), where
    assert "Crown copyright" not in text, where
    assert page.locator("[class*=crown], [class*=logotype]").count() == 0, where
    assert_accessible(page)


def check_error_summary(page: Page, field_id: str, javascript: bool) -> None:
    """The error summary is there, at the top, and its link takes the person to the field."""
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("There is a problem")
    link = summary.locator(f'a[href="#{field_id}"]')
    expect(link).to_have_count(1)
    expect(page.locator(f"#{field_id}-error")).to_be_visible()  # the inline message
    link.click()
    if javascript:  # govuk-frontend moves the focus to the field
        expect(page.locator(f"#{field_id}")).to_be_focused()
    else:  # a plain link to the field
        assert page.url.endswith(f"#{field_id}"), page.url


def fill_sign_in(page: Page, email: str, password: str) -> None:
    """Type email and password into a sign-in form (the charter's or staff's) and send it."""
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


# A service's journey -------------------------------------------------------------------------


def start_service(
    page: Page, demo: dict[str, str], node_id: str, slug: str, email: str | None
) -> str:
    """Open node_id's service slug and press Start now; sign in at the charter as email
    (None: signed in there already). The service's address; the caller waits for the page
    that follows (the service's, or the charter's choice of whom a helper signs in as)."""
    service = f"{demo[node_id]}/services/{slug}"
    page.goto(service)
    check_page(page)
    page.get_by_role("button", name="Start now").click()
    if email is not None:
        page.wait_for_url(demo["charter"] + "/sign-in?*")  # checked in test_consent_journey
        fill_sign_in(page, email, DEMO_PASSWORD)
    return service


def share_from_the_register(page: Page, demo: dict[str, str], service: str, first: str) -> None:
    """At the service's begin page, agree to have answers filled in from the People register
    and say yes at the charter's consent screen; then wait for the first question's page."""
    page.wait_for_url(f"{service}/begin")
    check_page(page)
    expect(page.locator("h1")).to_have_text("We can fill in some of your answers")
    page.get_by_label("Yes, ask the People register").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(demo["charter"] + "/consent/*")
    check_page(page)
    page.get_by_label("Yes, share these details").check()
    continue_to(page, f"{service}/{first}")


def type_the_answers(page: Page, service: str, first: str) -> None:
    """At the service's begin page, choose to type every answer; wait for the first page."""
    page.wait_for_url(f"{service}/begin")
    check_page(page)
    page.get_by_label("No, I will type my answers").check()
    continue_to(page, f"{service}/{first}")


def continue_to(page: Page, url: str) -> None:
    """Press Continue and wait for url; then check the page."""
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(url)
    check_page(page)


def continue_with_an_error(
    page: Page, field_id: str, javascript: bool, button: str = "Continue"
) -> None:
    """Press button (Continue) with the form as it is (unanswered or wrong): the page again,
    with its error summary linking to field_id."""
    page.get_by_role("button", name=button).click()
    expect(page).to_have_title(re.compile("^Error: "))
    check_page(page)
    check_error_summary(page, field_id, javascript)


def use_held(page: Page, legend: str) -> None:
    """Take the value the service holds for the question whose legend is legend."""
    group = page.get_by_role("group", name=legend, exact=True).first  # its inputs follow
    expect(group).to_contain_text("we already hold")
    group.get_by_label("Yes", exact=True).check()


def answer_yes_no(page: Page, answer: str, url: str) -> None:
    """Choose answer ("Yes" or "No") on a yes-or-no page and continue to url."""
    page.get_by_label(answer, exact=True).check()
    continue_to(page, url)


def fill_date(page: Page, legend: str, when: date) -> None:
    """Type when into the date input whose legend is legend."""
    group = page.get_by_role("group", name=legend, exact=True)
    group.get_by_label("Day").fill(str(when.day))
    group.get_by_label("Month").fill(str(when.month))
    group.get_by_label("Year").fill(str(when.year))


def fill_address(page: Page, line_1: str, town: str, postcode: str) -> None:
    """Type an address into a uk-address question's inputs."""
    page.get_by_label("Address line 1").fill(line_1)
    page.get_by_label("Town or city").fill(town)
    page.get_by_label("Postcode").fill(postcode)


def send_application(page: Page, service: str, reference: re.Pattern[str]) -> str:
    """At check your answers, press Accept and send; the confirmation's reference."""
    expect(page).to_have_url(f"{service}/check-answers")
    page.get_by_role("button", name="Accept and send").click()
    page.wait_for_url(f"{service}/confirmation/*")
    check_page(page)
    found = reference.search(page.locator("main").inner_text())
    assert found, page.locator("main").inner_text()
    return found.group()


def reload_until(page: Page, text: str, within_s: float = 60.0) -> None:
    """Reload the page until its main content says text: what a node's worker writes a moment
    after the page was sent (the identity check's result, say)."""

    def said() -> bool | None:
        if text in page.locator("main").inner_text():
            return True
        page.reload()
        return None

    wait_for(said, within_s, f"{page.url} to say {text!r}", 0.5)
    check_page(page)


# Staff ------------------------------------------------------------------------------------


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


@contextmanager
def staff_case(
    browser: Browser, demo: dict[str, str], node_id: str, reference: str, js: bool
) -> Iterator[Page]:
    """The case page of reference, opened from the queue by node_id's demo caseworker in a
    context of their own (their own cookies)."""
    context = browser.new_context(java_script_enabled=js)
    try:
        page = context.new_page()
        staff_sign_in(page, demo[node_id], "caseworker", node_id)
        open_case(page, demo[node_id], reference)
        yield page
    finally:
        context.close()


def approve_after_an_error(
    page: Page, first: str, missing: str, js: bool, choose: Callable[[], None] | None = None
) -> None:
    """Save the decision first without what it needs (the input missing); then approve,
    choose() picking what approving needs."""
    page.get_by_role("radio", name=first).check()
    continue_with_an_error(page, missing, js, "Save decision")
    approve(page, choose)


def approve(page: Page, choose: Callable[[], None] | None = None) -> None:
    """Approve the application of the case page, choose() picking what approving needs."""
    page.get_by_role("radio", name="Approve").check()
    if choose is not None:
        choose()
    page.get_by_role("button", name="Save decision").click()
    expect(page.locator(".govuk-notification-banner")).to_be_visible()
    check_page(page)
    expect(page.locator("main")).to_contain_text("Approved")
