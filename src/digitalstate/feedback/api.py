"""The stories' JSON read API and the datasets of published stories and responses.

`GET /api/v1/stories` (paged; filtered by service, node, tag, date and status) and
`GET /api/v1/stories/<id>` answer published stories only: `status` other than `published`
is refused, and an unpublished story's id is `not-found` like an unknown one. Every query
parameter is bounded; bad input is problem+json `malformed-request` (docs/feedback.md#api).
`/datasets/stories.{csv,json}` and `/datasets/story-responses.{csv,json}`, each with its
Frictionless table schema at `.schema.json`, are the node's open data.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from digitalstate.feedback.catalogue import Catalogue
from digitalstate.feedback.datasets import (
    RESPONSES,
    SCHEMAS,
    STORIES,
    response_rows,
    story_rows,
    to_csv,
    to_json,
)
from digitalstate.feedback.domain import CHANGES, MAX_TAG, SLUG, TAG
from digitalstate.feedback.published import (
    MAX_PAGE,
    StoryFilters,
    all_published,
    all_responses,
    published_page,
    published_story,
)
from digitalstate.feedback.schemas import StoryDetail, StoryList, response_out, story_out
from digitalstate.feedback.service import is_story_id
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.storage.retrying import run_step

API_PATH = "/api/v1/stories"
DATASETS_PATH = "/datasets"
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
    """/api/v1/stories and the stories' datasets."""
    base = node.settings.node.base_url
    size = node.settings.feedback.page_size
    router = APIRouter(tags=["stories"])

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

    async def rows(dataset: str) -> list[dict[str, Any]]:
        if dataset == STORIES:
            return story_rows(await run_step(node.sessions, all_published))
        return response_rows(await run_step(node.sessions, all_responses))

    def schema_url(dataset: str) -> str:
        return f"{base}{DATASETS_PATH}/{dataset}.schema.json"

    for dataset in (STORIES, RESPONSES):
        add_dataset(router, dataset, rows, schema_url)
    return router


Rows = Callable[[str], Awaitable[list[dict[str, Any]]]]
"""The rows of a dataset, by its name."""


def add_dataset(
    router: APIRouter, dataset: str, rows: Rows, schema_url: Callable[[str], str]
) -> None:
    """/datasets/<dataset>.csv, .json and .schema.json."""
    path = f"{DATASETS_PATH}/{dataset}"

    async def as_csv() -> Response:
        body = to_csv(dataset, await rows(dataset))
        disposition = f'inline; filename="{dataset}.csv"'
        headers = {
            "Content-Disposition": disposition,
            "Link": f'<{schema_url(dataset)}>; rel="describedby"',
        }
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)

    async def as_json() -> Response:
        body = to_json(dataset, await rows(dataset), schema_url(dataset))
        return Response(body, media_type="application/json")

    async def schema() -> JSONResponse:
        return JSONResponse(SCHEMAS[dataset])

    as_csv.__doc__ = f"The {dataset} dataset as CSV."
    as_json.__doc__ = f"The {dataset} dataset as JSON."
    schema.__doc__ = f"The Frictionless table schema of the {dataset} dataset."
    router.add_api_route(path + ".csv", as_csv, methods=["GET"], response_class=Response)
    router.add_api_route(path + ".json", as_json, methods=["GET"], response_class=Response)
    router.add_api_route(path + ".schema.json", schema, methods=["GET"])
