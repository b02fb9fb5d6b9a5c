"""The stories' JSON read API and the datasets of published stories and responses.

`GET /api/v1/stories` (paged; filtered by service, node, tag, date and status) and
`GET /api/v1/stories/<id>` answer published stories only: `status` other than `published`
is refused, and an unpublished story's id is `not-found` like an unknown one. Every query
parameter is bounded; bad input is problem+json `malformed-request` (docs/feedback.md#api).
The published stories and their responses are the node's open data too: the dataset `stories`
(feedback/datasets.py), which the publishing feature serves at /datasets/stories.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from digitalstate.feedback.catalogue import Catalogue
from digitalstate.feedback.domain import CHANGES, MAX_TAG, SLUG, TAG
from digitalstate.feedback.published import (
    MAX_PAGE,
    StoryFilters,
    published_page,
    published_story,
)
from digitalstate.feedback.schemas import StoryDetail, StoryList, response_out, story_out
from digitalstate.feedback.service import is_story_id
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.routing import Router
from digitalstate.storage.retrying import run_step

API_PATH = "/api/v1/stories"
QUERY_NAMES = frozenset({"service", "node", "tag", "from", "to", "status", "change", "page"})
MAX_QUERY_VALUE = 63
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(name: str, value: str) -> datetime:
    if not DATE.fullmatch(value):
        raise Problem("malformed-request", f"{name}: {value[:20]!r} is not a date (YYYY-MM-DD)")
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError as exc:
        raise Problem("malformed-request", f"{name}: {value!r} is not a date ({exc})") from exc


def parse_query(query: Mapping[str, list[str]]) -> StoryFilters:
    """The filters of GET /api/v1/stories; Problem("malformed-request") for any bad value."""
    for name, values in query.items():
        if name not in QUERY_NAMES:
            raise Problem("malformed-request", f"{name[:40]!r} is not a parameter of this list")
        if len(values) > 1:
            raise Problem("malformed-request", f"{name}: give it once")
        if len(values[0]) > MAX_QUERY_VALUE:
            raise Problem("malformed-request", f"{name}: longer than {MAX_QUERY_VALUE} characters")
    one = {name: values[0] for name, values in query.items()}
    status = one.get("status", "published")
    if status != "published":
        raise Problem(
            "malformed-request", f"status: only published stories are public, not {status!r}"
        )
    for name in ("service", "node"):
        if name in one and not SLUG.fullmatch(one[name]):
            raise Problem("malformed-request", f"{name}: {one[name]!r} is not a slug")
    tag = one.get("tag")
    if tag is not None and (len(tag) > MAX_TAG or not TAG.fullmatch(tag)):
        raise Problem("malformed-request", f"tag: {tag!r} is not a tag")
    change = one.get("change")
    if change is not None and change not in CHANGES:
        raise Problem("malformed-request", f"change: one of {', '.join(CHANGES)}")
    page_text = one.get("page", "1")
    if not page_text.isdigit() or not 1 <= int(page_text) <= MAX_PAGE:
        raise Problem("malformed-request", f"page: a whole number from 1 to {MAX_PAGE}")
    since = _day("from", one["from"]) if "from" in one else None
    until = _day("to", one["to"]) + timedelta(days=1) if "to" in one else None
    if since is not None and until is not None and until <= since:
        raise Problem("malformed-request", "to: the same day as from or after it")
    return StoryFilters(
        node=one.get("node"),
        service=one.get("service"),
        tag=tag,
        since=since,
        until=until,
        change=change,
        page=int(page_text),
    )


def make_api_router(node: NodeRuntime, catalogue: Catalogue) -> APIRouter:
    """/api/v1/stories."""
    base = node.settings.node.base_url
    size = node.settings.feedback.page_size
    router = Router(tags=["stories"])

    @router.get(API_PATH, response_model=StoryList)
    async def list_stories(request: Request) -> StoryList:
        """Published stories, newest first, a page at a time, filtered by the query."""
        query = {name: request.query_params.getlist(name) for name in request.query_params}
        filters = parse_query(query)
        found = await run_step(node.sessions, lambda db: published_page(db, filters, size))
        following = None
        if found.page < found.last:
            kept = {k: v[0] for k, v in query.items() if k != "page"}
            following = f"{base}{API_PATH}?{urlencode(kept | {'page': found.page + 1})}"
        return StoryList(
            total=found.total,
            page=found.page,
            pages=found.last,
            per_page=size,
            next=following,
            stories=[story_out(s, base) for s in found.rows],
        )

    @router.get(API_PATH + "/{story_id}", response_model=StoryDetail)
    async def one_story(story_id: str) -> StoryDetail:
        """One published story with its responses."""
        story = None
        if is_story_id(story_id):
            story = await run_step(node.sessions, lambda db: published_story(db, story_id))
        if story is None:
            raise Problem("not-found", "no published story has this id")
        listed = story_out(story, base).model_dump()
        return StoryDetail(**listed, answers=[response_out(r) for r in story.responses])

    return router
