"""The demo's stories: a few at each service node with pages, so that its story pages, feed,
API and datasets show something, and its staff have one to moderate.

Deterministic: the same stories, with the same ids, at every demo; each is written once (a
story whose id is there already is left as it is). About each of the node's services with
pages: one published as told and answered by the manager with a change made, one
de-identified (the name edited out) and answered with a change planned, one held for
moderation with what the rules flag in it, and one rejected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digitalstate.feedback.domain import Change, StoryDraft
from digitalstate.feedback.models import Story
from digitalstate.feedback.service import (
    ID_ALPHABET,
    ID_LENGTH,
    publish_story,
    reject_story,
    respond_to_story,
    rules_from,
    tell_story,
)
from digitalstate.settings import FeedbackSection
from digitalstate.staff.domain import StaffMember


@dataclass(frozen=True)
class DemoStory:
    """One story of the demo and what happens to it."""

    key: str
    title: str
    body: str
    tags: str
    days_ago: int
    outcome: str  # published, deidentified, held, rejected
    edited: str = ""  # the published text of a de-identified story
    response: str = ""
    change: Change = "none"


STORIES = (
    DemoStory(
        "quick",
        "Quicker than I expected",
        "I did it all online in one evening. The questions were clear and I knew what would "
        "happen next. It would help to be told how long the letter takes.",
        "online, letters",
        20,
        "published",
        response="Thank you. You told us you did not know how long the letter takes: the "
        "confirmation page now says so.",
        change="made",
    ),
    DemoStory(
        "named",
        "The adviser on the phone sorted it out",
        "I got stuck on the address page. My name is Gwen Morgan and I rang the helpline; "
        "I spoke to Rhys who talked me through it in Welsh.",
        "phone, welsh",
        12,
        "deidentified",
        edited="I got stuck on the address page. I rang the helpline; I spoke to an adviser "
        "who talked me through it in Welsh.",
        response="We are glad the helpline helped. We are rewording the address page so "
        "that fewer people get stuck on it.",
        change="planned",
    ),
    DemoStory(
        "held",
        "Waited three weeks",
        "I have heard nothing for three weeks. Please call me on 01632 960 001 or email "
        "dai.jones@example.org.",
        "waiting times",
        2,
        "held",
    ),
    DemoStory("spam", "Cheap watches", "Buy cheap watches at example.com", "", 5, "rejected"),
)


def demo_story_id(member: str, slug: str, key: str) -> str:
    """The id of a demo story: the same at every demo, from the node, service and story."""
    digest = hashlib.sha256(f"demo-story/{member}/{slug}/{key}".encode()).digest()
    return "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in digest[:ID_LENGTH])


def seed_stories(
    session: Session, member: str, slugs: list[str], manager: StaffMember, now: datetime
) -> int:
    """Tell, moderate and answer the demo's stories about each service of slugs, those not
    there already; how many were added."""
    rules = rules_from(FeedbackSection())
    added = 0
    for slug in slugs:
        for story in STORIES:
            story_id = demo_story_id(member, slug, story.key)
            if session.get(Story, story_id) is not None:
                continue
            told = now - timedelta(days=story.days_ago)
            tags = tuple(t.strip() for t in story.tags.split(",") if t.strip())
            draft = StoryDraft(member, slug, story.title, story.body, tags)
            tell_story(session, draft, rules, told, story_id=story_id)
            moderated = told + timedelta(hours=3)
            if story.outcome == "published":
                publish_story(session, story_id, moderated)
            elif story.outcome == "deidentified":
                publish_story(session, story_id, moderated, title=story.title, body=story.edited)
            elif story.outcome == "rejected":
                reject_story(session, story_id, "Advertising, not a story", moderated)
            if story.response:
                answered = moderated + timedelta(days=1)
                respond_to_story(session, story_id, manager, story.response, story.change, answered)
            added += 1
    return added
