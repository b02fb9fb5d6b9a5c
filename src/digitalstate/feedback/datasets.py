"""The dataset of published stories and their responses, `stories` (docs/feedback.md,
docs/opendata.md): two tables described for the publishing feature, and their rows (pure).

Only what is public goes in: a published story's public text, tags and change, and each
response's role, text and change (never who answered, never an original text).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from digitalstate.feedback.atom import rfc3339
from digitalstate.feedback.domain import DatasetResponse, PublicStory
from digitalstate.publishing.domain import DatasetSpec, Field, ForeignKey, ResourceSpec

NAME = "stories"
STORIES = "stories"
RESPONSES = "responses"
TAG_SEPARATOR = ";"  # a tag holds letters, digits, spaces and hyphens only
CHANGE = Field(
    "change",
    "string",
    "Change",
    "whether the story led to a change: none, planned or made",
    required=True,
    enum=("none", "planned", "made"),
)


def stories_spec(node_name: str) -> DatasetSpec:
    """The dataset's description."""
    return DatasetSpec(
        name=NAME,
        title="Stories and responses",
        description=(
            f"The stories people told about {node_name} and its services, as published after "
            "moderation (names edited out where a moderator de-identified one), and the "
            "answers its staff gave in public, under their role. Held and rejected stories, "
            "what a teller wrote before de-identification and who answered are never in it."
        ),
        resources=(
            ResourceSpec(
                STORIES,
                "Published stories",
                "One row per published story.",
                (
                    Field(
                        "id",
                        "string",
                        "Story",
                        "the story's id (its page is /stories/<id>)",
                        required=True,
                        unique=True,
                    ),
                    Field(
                        "node", "string", "About node", "the member id it is about", required=True
                    ),
                    Field(
                        "service",
                        "string",
                        "About service",
                        "the slug of the service it is about; empty when about the node",
                    ),
                    Field("title", "string", "Title", required=True),
                    Field("body", "string", "Story", "the story as published", required=True),
                    Field("tags", "string", "Tags", "its tags, separated by semicolons"),
                    CHANGE,
                    Field(
                        "responses",
                        "integer",
                        "Responses",
                        "how many public responses it has",
                        required=True,
                        minimum=0,
                    ),
                    Field("published_at", "datetime", "Published", "when (UTC)", required=True),
                ),
                primary_key=("id",),
            ),
            ResourceSpec(
                RESPONSES,
                "Responses to published stories",
                "One row per response, by the role of the member of staff who gave it.",
                (
                    Field("story_id", "string", "Story", "the story answered", required=True),
                    Field(
                        "role",
                        "string",
                        "Role",
                        "the role of the member of staff who answered (never their name)",
                        required=True,
                        enum=("caseworker", "manager"),
                    ),
                    Field("body", "string", "Response", required=True),
                    CHANGE,
                    Field("answered_at", "datetime", "Answered", "when (UTC)", required=True),
                ),
                foreign_keys=(ForeignKey(("story_id",), STORIES, ("id",)),),
            ),
        ),
        update_frequency="daily",
        keywords=("feedback", "stories", "user experience", "responses"),
        themes=("government", "public services"),
    )


def story_rows(stories: Iterable[PublicStory]) -> list[list[Any]]:
    """The stories table's rows."""
    return [
        [
            story.id,
            story.node,
            story.service or "",
            story.title,
            story.body,
            TAG_SEPARATOR.join(story.tags),
            story.change,
            story.response_count,
            rfc3339(story.published_at),
        ]
        for story in stories
    ]


def response_rows(responses: Iterable[DatasetResponse]) -> list[list[Any]]:
    """The responses table's rows."""
    return [
        [
            item.story_id,
            item.response.role,
            item.response.body,
            item.response.change,
            rfc3339(item.response.at),
        ]
        for item in responses
    ]
