"""Feedback in real Chromium through `digitalstate demo`, with and without JavaScript.

Someone with no sign-in answers the satisfaction question of Birmingham's care assessment
(first without an answer), then tells the story of their experience, naming themselves
(first with nothing filled in). A caseworker sees the story flagged for the name, edits the
name out and publishes it, answers it in public with a change planned, and later again with
the change made. The public page shows the story as edited, never the name, with the
answers under the caseworker's role and "Change made"; the node's stories page counts it.
Every page on the way, in each of its states, is checked by `check_page` (axe-core).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browser.browser_pages import check_error_summary, check_page, staff_sign_in

# A bound, not a speed target: a page with axe-core takes seconds on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

CARE = "birmingham-social-care"
CARE_SLUG = "ask-for-a-care-assessment"
NAME = "Bronwen Pritchard"


def answer_the_satisfaction_question(page: Page, node: str, js: bool) -> None:
    """Send the question without an answer (refused), then with one (thanked)."""
    page.goto(f"{node}/feedback/{CARE_SLUG}?end=done")
    check_page(page)
    page.get_by_role("button", name="Send feedback").click()
    page.wait_for_load_state()
    check_page(page)
    check_error_summary(page, "rating", js)
    page.get_by_label("Satisfied", exact=True).check()
    page.get_by_label("How could we improve this service? (optional)").fill("Fewer questions.")
    page.get_by_role("button", name="Send feedback").click()
    page.wait_for_url(f"{node}/feedback/{CARE_SLUG}/thanks")
    check_page(page)
    expect(page.locator("h1")).to_contain_text("Feedback sent")


def tell_a_story(page: Page, node: str, title: str, js: bool) -> None:
    """Send the story form empty (refused), then a story that names its teller."""
    page.goto(f"{node}/stories/tell")
    check_page(page)
    page.get_by_role("button", name="Send your story").click()
    page.wait_for_load_state()
    check_page(page)
    check_error_summary(page, "about", js)
    page.get_by_label("What is your story about?").select_option(f"service:{CARE_SLUG}")
    page.get_by_label("Give your story a title").fill(title)
    page.get_by_label("Your story", exact=True).fill(
        f"My name is {NAME}. The assessment came quickly but nobody told me what it meant."
    )
    page.get_by_label("Tags (optional)").fill("letters, waiting times")
    page.get_by_role("button", name="Send your story").click()
    page.wait_for_url(f"{node}/stories/tell/sent")
    check_page(page)


def answer(page: Page, text: str, change: str) -> None:
    """Answer the story on its staff page, marking change."""
    page.get_by_label("Answer in public").fill(text)
    page.get_by_label(change, exact=True).check()
    page.get_by_role("button", name="Publish response").click()
    page.wait_for_url("**/staff/stories/*?done=answered")
    check_page(page)


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_story_is_told_moderated_answered_and_marked_change_made(
    own_page: Page, demo: dict[str, str], js: bool
) -> None:
    page, node = own_page, demo[CARE]
    title = f"Told {'with' if js else 'without'} JavaScript"
    answer_the_satisfaction_question(page, node, js)
    tell_a_story(page, node, title, js)

    staff_sign_in(page, node, "caseworker", CARE)
    page.goto(f"{node}/staff/stories")
    check_page(page)
    page.get_by_role("link", name=title).click()
    page.wait_for_url(f"{node}/staff/stories/*")
    check_page(page)
    story_url = page.url
    expect(page.locator("#flags")).to_contain_text(f"A person's name: “{NAME}”")

    body = page.get_by_label("Story to publish")
    body.fill(body.input_value().replace(NAME, "[name removed]"))
    page.get_by_role("button", name="Publish with my edits").click()
    page.wait_for_url("**/staff/stories/*?done=deidentified")
    check_page(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("the original is kept")

    answer(
        page, "Thank you. We will say what the assessment means in its letter.", "Change planned"
    )
    answer(page, "The letter now explains what the assessment means.", "Change made")

    page.goto(story_url.replace("/staff/stories/", "/stories/"))
    check_page(page)
    main = page.locator("main")
    expect(main).to_contain_text("[name removed]")
    expect(main).not_to_contain_text(NAME)
    expect(main).to_contain_text("Response from a caseworker at Birmingham: social care")
    expect(main).to_contain_text("Change made")
    page.goto(f"{node}/stories/services/{CARE_SLUG}")
    check_page(page)
    expect(page.get_by_role("link", name=title)).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text(NAME)
