"""The datasets of published stories and responses: rows, CSV, JSON and Frictionless table
schemas (https://specs.frictionlessdata.io/table-schema/).

Only what is public goes in: a published story's public text, tags and change, and each
response's role, text and change (never who answered, never an original text).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from digitalstate.feedback.atom import rfc3339
from digitalstate.feedback.domain import DatasetResponse, PublicStory

STORIES = "stories"
TAG_SEPARATOR = ";"  # a tag holds letters, digits, spaces and hyphens only
RESPONSES = "story-responses"
CHANGE_FIELD: dict[str, Any] = {
    "name": "change",
    "type": "string",
    "description": "Whether the story led to a change: none, planned or made",
    "constraints": {"required": True, "enum": ["none", "planned", "made"]},
}
SCHEMAS: dict[str, dict[str, Any]] = {
    STORIES: {
        "fields": [
            {
                "name": "id",
                "type": "string",
                "description": "The story's id (its page is /stories/<id>)",
                "constraints": {"required": True, "unique": True},
            },
            {
                "name": "node",
                "type": "string",
                "description": "The member id of the node the story is about",
                "constraints": {"required": True},
            },
            {
                "name": "service",
                "type": "string",
                "description": "The slug of the service the "
                "story is about; empty when it is about the node",
            },
            {"name": "title", "type": "string", "constraints": {"required": True}},
            {
                "name": "body",
                "type": "string",
                "description": "The story as published (after "
                "de-identification where a moderator edited names out)",
                "constraints": {"required": True},
            },
            {
                "name": "tags",
                "type": "string",
                "description": "The story's tags, separated by semicolons",
            },
            CHANGE_FIELD,
            {
                "name": "responses",
                "type": "integer",
                "description": "How many public responses the story has",
                "constraints": {"required": True, "minimum": 0},
            },
            {
                "name": "published_at",
                "type": "datetime",
                "format": "any",
                "description": "When it was published (UTC)",
                "constraints": {"required": True},
            },
        ],
        "primaryKey": ["id"],
    },
    RESPONSES: {
        "fields": [
            {
                "name": "story_id",
                "type": "string",
                "description": "The story answered",
                "constraints": {"required": True},
            },
            {
                "name": "role",
                "type": "string",
                "description": "The role of the member of staff who answered (never their name)",
                "constraints": {"required": True, "enum": ["caseworker", "manager"]},
            },
            {"name": "body", "type": "string", "constraints": {"required": True}},
            CHANGE_FIELD,
            {
                "name": "answered_at",
                "type": "datetime",
                "format": "any",
                "description": "When it was answered (UTC)",
                "constraints": {"required": True},
            },
        ],
        "foreignKeys": [],
    },
}
TITLES = {STORIES: "Published stories", RESPONSES: "Responses to published stories"}


def field_names(dataset: str) -> list[str]:
    """The columns of a dataset, in order."""
    return [str(f["name"]) for f in SCHEMAS[dataset]["fields"]]


def to_csv(dataset: str, rows: Iterable[dict[str, Any]]) -> str:
    """Rows as CSV with a header line (RFC 4180 quoting, \\r\\n line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=field_names(dataset), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def to_json(dataset: str, rows: Sequence[dict[str, Any]], schema_url: str) -> str:
    """Rows as a JSON document naming its schema."""
    return json.dumps(
        {"dataset": dataset, "title": TITLES[dataset], "schema": schema_url, "rows": list(rows)},
        ensure_ascii=False,
        indent=1,
    )


def story_rows(stories: Iterable[PublicStory]) -> list[dict[str, Any]]:
    """The rows of the stories dataset."""
    return [
        {
            "id": story.id,
            "node": story.node,
            "service": story.service or "",
            "title": story.title,
            "body": story.body,
            "tags": TAG_SEPARATOR.join(story.tags),
            "change": story.change,
            "responses": story.response_count,
            "published_at": rfc3339(story.published_at),
        }
        for story in stories
    ]


def response_rows(responses: Iterable[DatasetResponse]) -> list[dict[str, Any]]:
    """The rows of the responses dataset."""
    return [
        {
            "story_id": item.story_id,
            "role": item.response.role,
            "body": item.response.body,
            "change": item.response.change,
            "answered_at": rfc3339(item.response.at),
        }
        for item in responses
    ]
