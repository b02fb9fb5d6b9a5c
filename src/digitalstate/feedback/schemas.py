"""The JSON bodies of the stories API (/api/v1/stories): published stories and responses only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from digitalstate.feedback.domain import PublicResponse, PublicStory


class ResponseOut(BaseModel):
    """A public response to a story, under the role of who answered."""

    role: str = Field(description="caseworker or manager: never a name")
    body: str
    change: Literal["none", "planned", "made"]
    answered_at: datetime


class StoryOut(BaseModel):
    """A published story (de-identified where a moderator edited it)."""

    id: str
    url: str = Field(description="its public page")
    node: str = Field(description="the member id of the node it is about")
    service: str | None = Field(description="the slug of the service it is about, if any")
    status: Literal["published"] = "published"
    title: str
    body: str
    tags: list[str]
    change: Literal["none", "planned", "made"]
    published_at: datetime
    responses: int = Field(description="how many public responses it has")


class StoryDetail(StoryOut):
    """GET /api/v1/stories/<id>: a published story with its responses."""

    answers: list[ResponseOut]


class StoryList(BaseModel):
    """GET /api/v1/stories: a page of published stories, newest first."""

    total: int
    page: int
    pages: int
    per_page: int
    next: str | None = Field(description="the next page's URL, if any")
    stories: list[StoryOut]


def response_out(response: PublicResponse) -> ResponseOut:
    """A response as the API shows it."""
    return ResponseOut(
        role=response.role, body=response.body, change=response.change, answered_at=response.at
    )


def story_out(story: PublicStory, base_url: str) -> StoryOut:
    """A story as the API lists it."""
    return StoryOut(
        id=story.id,
        url=f"{base_url}/stories/{story.id}",
        node=story.node,
        service=story.service,
        title=story.title,
        body=story.body,
        tags=list(story.tags),
        change=story.change,
        published_at=story.published_at,
        responses=story.response_count,
    )
