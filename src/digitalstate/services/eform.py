"""A service's answers as JSON Schema (2020-12): GovStack's "e-form" of the service.

`schema_of(definition, lang)` describes the object of answers that the service submits
(question id to typed answer, as services/fields.py parses them): each answer's type,
bounds, choices and format, titled with its question's label in lang. A required question
on a page that is always shown is required; one on a page shown by condition is not, since
whether it is asked depends on other answers. Plain computation.
"""

from __future__ import annotations

from typing import Any

from digitalstate.registers.domain import (
    ACCOUNT_NUMBER,
    NINO_INVALID_PREFIXES,
    NINO_PATTERN,
    POSTCODE_PATTERN,
)
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.filetypes import MEDIA_TYPES
from digitalstate.services.questions import DEFAULT_UPLOAD_BYTES, NUMBER_BOUND, Question

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
NINO_SCHEMA_PATTERN = f"^(?!{'|'.join(sorted(NINO_INVALID_PREFIXES))})" + NINO_PATTERN.pattern[1:]
PHONE_PATTERN = r"^\+44[0-9]{9,10}$"
SORT_CODE_PATTERN = r"^[0-9]{2}-[0-9]{2}-[0-9]{2}$"
ACCOUNT_NUMBER_PATTERN = ACCOUNT_NUMBER.pattern
LINE: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100}


def _text(question: Question) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": question.text_limit}


def _number(question: Question, scale: int) -> dict[str, Any]:
    low = question.min * scale if question.min is not None else None
    high = question.max * scale if question.max is not None else None
    schema: dict[str, Any] = {"type": "integer"}
    schema["minimum"] = low if low is not None else (0 if scale != 1 else -NUMBER_BOUND)
    schema["maximum"] = high if high is not None else NUMBER_BOUND * scale
    return schema


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _choices(question: Question) -> list[str]:
    return [choice.value for choice in question.choices or ()]


def answer_schema(question: Question) -> dict[str, Any]:
    """The JSON Schema of one question's answer (without its title)."""
    kind = question.type
    if kind in ("text", "long-text"):
        return _text(question)
    if kind == "number":
        return _number(question, 1)
    if kind == "money":
        return {**_number(question, 100), "description": "in pence"}
    if kind == "date":
        return {"type": "string", "format": "date", "pattern": ISO_DATE}
    if kind in ("radios", "select"):
        return {"type": "string", "enum": _choices(question)}
    if kind == "checkboxes":
        items: dict[str, Any] = {"type": "string", "enum": _choices(question)}
        most = question.max_choices or len(_choices(question))
        return {
            "type": "array",
            "items": items,
            "uniqueItems": True,
            "minItems": 1,
            "maxItems": most,
        }
    if kind == "slots":
        slot: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100}
        return {
            "type": "array",
            "items": slot,
            "uniqueItems": True,
            "minItems": 1,
            "maxItems": question.max_choices,
        }
    if kind == "yes-no":
        return {"type": "boolean"}
    if kind == "uk-address":
        lines: dict[str, Any] = {"type": "array", "items": LINE, "minItems": 1, "maxItems": 3}
        postcode = {"type": "string", "pattern": POSTCODE_PATTERN.pattern}
        return _object(
            {"lines": lines, "town": LINE, "postcode": postcode}, ["lines", "town", "postcode"]
        )
    if kind == "ni-number":
        return {"type": "string", "pattern": NINO_SCHEMA_PATTERN}
    if kind == "email":
        return {"type": "string", "format": "email", "maxLength": 254}
    if kind == "uk-phone":
        return {"type": "string", "pattern": PHONE_PATTERN}
    if kind == "bank-details":
        return _object(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 70},
                "sort_code": {"type": "string", "pattern": SORT_CODE_PATTERN},
                "account_number": {"type": "string", "pattern": ACCOUNT_NUMBER_PATTERN},
            },
            ["name", "sort_code", "account_number"],
        )
    if kind == "file":
        kinds = [MEDIA_TYPES[k] for k in question.file_kinds]
        return _object(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "type": {"type": "string", "enum": kinds},
                "size": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": question.max_bytes or DEFAULT_UPLOAD_BYTES,
                },
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
            ["name", "type", "size", "sha256"],
        )
    raise ValueError(f"no schema for question type {kind!r}")  # pragma: no cover


def schema_of(definition: ServiceDefinition, lang: str = "en") -> dict[str, Any]:
    """The JSON Schema (2020-12) of the answers definition's service submits, titled in lang."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for page, question in definition.questions():
        schema = {"title": question.label.text(lang), **answer_schema(question)}
        if question.hint is not None:
            unit = schema.get("description")
            schema["description"] = question.hint.text(lang) + (f" ({unit})" if unit else "")
        properties[question.id] = schema
        if question.required and page.show_if is None:
            required.append(question.id)
    return {
        "$schema": DIALECT,
        "$id": f"urn:digitalstate:service:{definition.slug}:answers",
        "title": definition.title.text(lang),
        "description": definition.description.text(lang),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
