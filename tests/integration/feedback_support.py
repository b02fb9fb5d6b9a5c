"""Feedback for tests: casework_support's node with its stories, told and moderated through the
pages as a browser does.

`feedback_node` is casework_node (the pensions node with the bus pass and viewing services,
its staff and /staff session zone) with [email] and a tight [feedback] flood limit. `tell`
tells a story through /stories/tell in a new browser (no sign-in); `moderate` acts on it as a
member of staff through the staff pages; `story_row` reads the row as it is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from digitalstate.feedback.models import FeedbackComment, Story, StoryResponse
from digitalstate.performance.models import ServiceEventRow

from .casework_support import EMAIL, Browser, CaseworkNode, StaffBrowser, casework_node
from .journey_support import MEMBER
from .staff_support import csrf_of

BUS_SLUG = "apply-for-a-bus-pass"
VIEW_SLUG = "book-a-viewing"
TELL = "/stories/tell"
STAFF_STORIES = "/staff/stories"
LIMIT = 6  # [feedback] submissions_per_client in these tests
STORY_LINK = re.compile(r"/staff/stories/([23456789a-z]{12})")


@dataclass
class FeedbackNode:
    """The node, with helpers to tell, moderate and read stories."""

    casework: CaseworkNode
    clients: int = 0

    @property
    def runtime(self) -> Any:
        return self.casework.runtime

    def browser(self, host: str | None = None) -> Browser:
        """A new browser, with no cookies and no sign-in, from host (by default an address no
        other browser of the test has, so that the flood limit counts it alone)."""
        if host is None:
            self.clients += 1
            host = f"192.0.2.{self.clients}"
        http = self.casework.journeys.node.http
        return Browser(http, http.from_address(host=host, follow_redirects=False))

    def staff(self, email: str, role: str = "caseworker", name: str = "Jo Bloggs") -> StaffBrowser:
        """A member of staff, signed in in a browser of their own."""
        return self.casework.staff(email, role, name)

    def tell(
        self,
        title: str = "The bus pass came quickly",
        body: str = "I applied online and my pass came in a week.",
        *,
        about: str = f"service:{BUS_SLUG}",
        tags: str = "speed, online",
        browser: Browser | None = None,
    ) -> httpx.Response:
        """Tell a story through the public form; the answer to the POST."""
        teller = browser or self.browser()
        return teller.send(TELL, TELL, {"about": about, "title": title, "body": body, "tags": tags})

    def told(self, *args: Any, **kwargs: Any) -> str:
        """Tell a story that the form takes; its id."""
        sent = self.tell(*args, **kwargs)
        assert sent.status_code == 303, sent.text
        with self.runtime.sessions.begin() as db:
            newest = db.scalar(select(Story.id).order_by(Story.told_at.desc()).limit(1))
        assert newest is not None
        return str(newest)

    def act(
        self, staff: StaffBrowser, story_id: str, action: str, data: Mapping[str, str]
    ) -> httpx.Response:
        """Post a staff action on a story from its page (with the page's CSRF token)."""
        page = f"{STAFF_STORIES}/{story_id}"
        return staff.send(page, f"{page}/{action}", dict(data))

    def publish(self, staff: StaffBrowser, story_id: str, **edits: str) -> httpx.Response:
        """Publish a story as told, or with edits (title, body) when given."""
        data = {"edit": "yes", **edits} if edits else {"edit": "no"}
        return self.act(staff, story_id, "publish", data)

    def story_row(self, story_id: str) -> Story:
        """The story as stored."""
        with self.runtime.sessions.begin() as db:
            row = db.get(Story, story_id)
            assert row is not None
            db.expunge(row)
            return row

    def responses(self, story_id: str) -> list[tuple[str, str, str, str]]:
        """The responses of a story as stored: (role, body, change, staff id)."""
        with self.runtime.sessions.begin() as db:
            rows = db.scalars(select(StoryResponse).where(StoryResponse.story_id == story_id)).all()
            return [(r.role, r.body, r.change, r.staff_id) for r in rows]

    def rated(self) -> list[tuple[str, str | None, int | None]]:
        """The `rated` service events: (service, journey, value)."""
        with self.runtime.sessions.begin() as db:
            rows = db.execute(
                select(ServiceEventRow.service, ServiceEventRow.journey, ServiceEventRow.value)
                .where(ServiceEventRow.kind == "rated")
                .order_by(ServiceEventRow.id)
            ).all()
            return [(s, j, v) for s, j, v in rows]

    def comments(self) -> list[tuple[str, str | None, str, int, str]]:
        """The comments kept: (service, journey, end, rating, comment)."""
        with self.runtime.sessions.begin() as db:
            rows = db.scalars(select(FeedbackComment).order_by(FeedbackComment.id)).all()
            return [(r.service, r.journey, r.end, r.rating, r.comment) for r in rows]

    def outbox(self) -> list[tuple[str, list[str], str, str]]:
        """The email queued: (dedupe key, recipients, subject, body)."""
        return self.casework.outbox()

    def staff_entries(self, account_id: str) -> list[tuple[str, str, str]]:
        """What the log says account_id did: (action, pseudonym, reason)."""
        return self.casework.staff_entries(account_id)


def public_paths(story_id: str) -> tuple[str, ...]:
    """Every public address that shows a published story: pages, feed, API and datasets."""
    return (
        f"/stories/{story_id}",
        "/stories",
        f"/stories/services/{BUS_SLUG}",
        f"/stories/nodes/{MEMBER}",
        "/stories/feed.atom",
        "/api/v1/stories",
        f"/api/v1/stories/{story_id}",
        "/datasets/stories/stories.csv",
        "/datasets/stories/stories.json",
    )


def csrf(page: httpx.Response) -> str:
    """The CSRF token of the form on page."""
    return csrf_of(page)


def flags(row: Story) -> list[str]:
    """The kinds of thing a stored story was flagged for."""
    return [f["kind"] for f in json.loads(row.flags)]


@contextmanager
def feedback_node(directory: Path, database_url: str) -> Iterator[FeedbackNode]:
    """The pensions node with email and a flood limit of LIMIT submissions per client."""
    extra = EMAIL | {"feedback": {"submissions_per_client": LIMIT}}
    with casework_node(directory, database_url, member=MEMBER, extra=extra) as running:
        yield FeedbackNode(running)
