"""A story's tags are published with it (its page, the feed, the API, the datasets), so what the
node's rules catch in a story's text they catch in its tags too: a National Insurance number,
a phone number or an abusive word typed as a tag is flagged for the moderator like one in the
title or body (DESIGN §10, docs/feedback.md). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.feedback_support import FeedbackNode, feedback_node, flags


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[FeedbackNode]:
    with feedback_node(tmp_path, migrated_database_url) as running:
        yield running


def test_personal_data_and_abuse_in_tags_are_flagged_for_the_moderator(
    node: FeedbackNode,
) -> None:
    story = node.told(
        "The bus pass came quickly",
        "I applied online and my pass came in a week.",
        tags="qq 12 34 56 c, 020 7946 0018, idiots",
    )
    row = node.story_row(story)
    assert row.status == "held"
    assert flags(row) == ["phone", "nino", "abuse"]
    page = node.staff("jo@pensions.example.org").get(f"/staff/stories/{story}")
    assert page.status_code == 200
    for reason in ("A phone number", "A National Insurance number", "Abusive words"):
        assert reason in page.text


def test_harmless_tags_raise_no_flag(node: FeedbackNode) -> None:
    story = node.told(tags="speed, online, bus pass 2026")
    assert flags(node.story_row(story)) == []
