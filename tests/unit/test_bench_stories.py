"""The stories benchmark's fill: what it writes is what publishing would have left, counts
included, so that the pages it times are the pages a node with that many stories shows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digitalstate.benchmarks.stories import MEMBER, Options, fill_stories
from digitalstate.feedback.published import StoryFilters, change_counts, published_page
from digitalstate.storage.engine import make_engine, make_sessions


def test_the_fill_leaves_published_stories_and_the_counts_publishing_keeps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'node.db'}"
    fill_stories(url, Options(stories=60), datetime(2026, 12, 1, tzinfo=UTC), lambda _done: None)
    engine = make_engine(url)
    with make_sessions(engine).begin() as db:
        page = published_page(db, StoryFilters(page=2), 20)
        of_member = published_page(db, StoryFilters(node=MEMBER), 20)
        tagged = published_page(db, StoryFilters(tag="staff"), 20)
        changes = change_counts(db)
    engine.dispose()
    assert (page.total, page.page, page.last, len(page.rows)) == (60, 2, 3, 20)
    assert of_member.total == 60
    assert 0 < tagged.total < 60  # counted, not read from the kept counts
    assert changes == {"planned": 3, "made": 3}
    assert page.rows[0].published_at > page.rows[-1].published_at
