"""Two members of staff acting on one held story at once: the second waits for the first and
finds the story moderated already, so a story is never both published and rejected and the
published counts are added to once (feedback/service.py). On PostgreSQL, whose transactions
do not wait for each other unless a row is locked; SQLite runs one writer at a time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from digitalstate.feedback.domain import Rules, StoryDraft
from digitalstate.feedback.models import Story, StoryCount
from digitalstate.feedback.service import publish_story, reject_story, tell_story
from digitalstate.storage.engine import make_engine, make_sessions

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_a_story_published_and_rejected_at_once_is_moderated_once(
    migrated_database_url: str,
) -> None:
    if migrated_database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writing transaction at a time")
    engine = make_engine(migrated_database_url)
    sessions = make_sessions(engine)
    try:
        with sessions.begin() as db:
            draft = StoryDraft("pensions", None, "Quick", "It came in a week.", ())
            story_id = tell_story(db, draft, Rules(), NOW).id
        outcome: list[str] = []

        def reject() -> None:
            with sessions.begin() as other:
                outcome.append(reject_story(other, story_id, "spam", NOW))

        first = sessions()
        first.begin()
        assert publish_story(first, story_id, NOW) == "published"
        first.flush()
        second = threading.Thread(target=reject)
        second.start()
        # Publish only once the other transaction waits on a lock (on the story's row).
        deadline = time.monotonic() + 10
        with engine.connect() as watch:
            while time.monotonic() < deadline and not outcome:
                waiting = watch.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar()
                if waiting:
                    break
                time.sleep(0.01)
        first.commit()
        first.close()
        second.join(timeout=10)

        assert outcome == ["not-held"]
        with sessions.begin() as db:
            assert db.scalar(select(Story.status).where(Story.id == story_id)) == "published"
            counts = db.scalars(select(StoryCount.published)).all()
            assert counts and set(counts) == {1}
    finally:
        engine.dispose()
