"""What the browser tests share: the checks every page gets, the error summary's, and the
charter's sign-in form (the demo they run against is conftest.py's `demo` fixture)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from browser.axe_support import assert_accessible


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
