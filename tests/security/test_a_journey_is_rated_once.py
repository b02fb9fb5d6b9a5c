"""The satisfaction question's link carries the journey's id, and an experiment counts a rating
for the variant of the journey it names (experiments/service.py). The id is the person's own
and comes back in a form anyone can post, again and again, from any address: so only a
journey's first rating is the journey's. A later one still counts as a rating of the service,
but names no journey, so that nobody can weigh an experiment with their own journey's id
(DESIGN §10, docs/feedback.md). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.feedback_support import BUS_SLUG, FeedbackNode, feedback_node

JOURNEY = "0b5c3d1e2f4a4b6c8d9e0f1a2b3c4d5e"
FEEDBACK = f"/feedback/{BUS_SLUG}"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[FeedbackNode]:
    with feedback_node(tmp_path, migrated_database_url) as running:
        yield running


def answer(node: FeedbackNode, rating: str, journey: str) -> None:
    page = f"{FEEDBACK}?end=done&journey={journey}"
    sent = node.browser().send(
        page, FEEDBACK, {"rating": rating, "end": "done", "journey": journey}
    )
    assert sent.status_code == 303, sent.text


def test_only_a_journeys_first_rating_names_it(node: FeedbackNode) -> None:
    answer(node, "5", JOURNEY)
    for _ in range(3):  # each from another address: the flood limit does not stop them
        answer(node, "5", JOURNEY)
    answer(node, "1", "another-journey")

    assert node.rated() == [
        (BUS_SLUG, JOURNEY, 5),
        (BUS_SLUG, None, 5),
        (BUS_SLUG, None, 5),
        (BUS_SLUG, None, 5),
        (BUS_SLUG, "another-journey", 1),
    ]
