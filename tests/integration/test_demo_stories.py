"""The demo's stories: the same at every demo, written once, moderated and answered as staff
would, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from digitalstate.demo.stories import STORIES, demo_story_id, seed_stories
from digitalstate.feedback.models import Story
from digitalstate.feedback.published import StoryFilters, change_counts, published_page
from digitalstate.identity.service import hash_password
from digitalstate.staff.service import add_staff, member
from digitalstate.storage.engine import make_sessions

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SLUGS = ["apply-for-a-bus-pass", "change-your-address"]


def test_the_demo_stories_are_told_moderated_and_answered_once(engine: Engine) -> None:
    sessions = make_sessions(engine)
    with sessions.begin() as db:
        account = add_staff(
            db,
            email="manager@pensions.example.org",
            display_name="Sam",
            role="manager",
            password_hash=hash_password("a long enough password"),
            now=NOW,
        )
        manager = member(account)
        assert seed_stories(db, "liverpool-pensions", SLUGS, manager, NOW) == 2 * len(STORIES)
    with sessions.begin() as db:
        assert seed_stories(db, "liverpool-pensions", SLUGS, manager, NOW) == 0
        statuses = dict(
            (status, count)
            for status, count in db.execute(
                select(Story.status, func.count()).group_by(Story.status)
            )
        )
        page = published_page(db, StoryFilters(service=SLUGS[0]), 20)
        changes = change_counts(db)
        named = db.get(Story, demo_story_id("liverpool-pensions", SLUGS[0], "named"))
    assert statuses == {"published": 4, "held": 2, "rejected": 2}
    assert page.total == 2 and {s.change for s in page.rows} == {"made", "planned"}
    assert changes == {"planned": 2, "made": 2}
    assert named is not None and named.deidentified and "Gwen Morgan" in named.body
    assert all("Gwen" not in s.body for s in page.rows)
    assert (
        demo_story_id("a", "b", "c") == demo_story_id("a", "b", "c") != demo_story_id("a", "b", "d")
    )
