"""What one log entry says, and the exact bytes that are hashed into the log.

An entry is canonical JSON (sorted keys, no spaces, UTF-8): the bytes a leaf hash covers are
the bytes the person receives, so anyone holding an entry can hash it and check its proof. The
random salt makes an entry impossible to guess from its hash: the public sees hashes only.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PERSON_ACTIONS = frozenset(
    {"read", "refused", "notified", "consent-given", "consent-withdrawn", "basis-read"}
)
"""What happened to a person's data: a read, a refused attempt, a change notice, a consent
event, a basis read."""
STAFF_ACTIONS = frozenset(
    {
        "staff-signed-in",
        "staff-sign-in-failed",
        "staff-signed-out",
        "staff-viewed-application",
        "staff-downloaded-file",
        "staff-marked-in-review",
        "staff-decided",
        "staff-added-note",
        "staff-started-assisted",
        "staff-submitted-assisted",
        "staff-stopped-experiment",
        "staff-published-story",
        "staff-deidentified-story",
        "staff-rejected-story",
        "staff-answered-story",
        "staff-changed-story-subscriptions",
    }
)
"""What a member of the node's staff did (docs/transparency.md#staff-entries): the requester
is ``staff:<account id>``; an entry about no one person has the pseudonym NO_ONE, one about a
person's application the node's pseudonym for them."""
ACTIONS = PERSON_ACTIONS | STAFF_ACTIONS
NO_ONE = ""
"""The pseudonym of an entry about no one person (a staff sign-in). No person's pseudonym is
empty, and a person's entries are asked for by a non-empty one, so such an entry is disclosed
to no person: only to an auditor with a basis, with the rest of the log."""
VERSION = 1
SALT_BYTES = 16
_SLUG = re.compile(r"[^a-z0-9]+")


class EntryError(ValueError):
    """Bytes that are not a log entry."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One access to a person's data, as the log keeps it."""

    at: datetime
    holder: str
    requester: str
    action: str
    outcome: str
    pseudonym: str
    salt: str
    purpose: str | None = None
    consent_id: str | None = None
    basis_id: str | None = None
    fields: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object."""
        return {
            "v": VERSION,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "holder": self.holder,
            "requester": self.requester,
            "action": self.action,
            "outcome": self.outcome,
            "pseudonym": self.pseudonym,
            "salt": self.salt,
            "purpose": self.purpose,
            "consent_id": self.consent_id,
            "basis_id": self.basis_id,
            "fields": list(self.fields),
            "reason": self.reason,
        }

    def encode(self) -> bytes:
        """The canonical bytes that are hashed into the log."""
        return canonical(self.to_json())

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Read an entry's canonical bytes; EntryError unless they are exactly canonical."""
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EntryError("the entry is not JSON") from exc
        if not isinstance(value, dict) or value.get("v") != VERSION:
            raise EntryError("the entry is not a version 1 log entry")
        try:
            entry = cls(
                at=datetime.fromisoformat(str(value["at"]).replace("Z", "+00:00")),
                holder=str(value["holder"]),
                requester=str(value["requester"]),
                action=str(value["action"]),
                outcome=str(value["outcome"]),
                pseudonym=str(value["pseudonym"]),
                salt=str(value["salt"]),
                purpose=_optional(value.get("purpose")),
                consent_id=_optional(value.get("consent_id")),
                basis_id=_optional(value.get("basis_id")),
                fields=tuple(str(f) for f in value.get("fields", [])),
                reason=str(value.get("reason", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryError(f"the entry lacks or garbles a field: {exc}") from exc
        if entry.encode() != data:
            raise EntryError("the entry is not in canonical form")
        return entry


def make_entry(
    *,
    holder: str,
    pseudonym: str,
    requester: str,
    action: str,
    outcome: str,
    now: datetime,
    purpose: str | None = None,
    consent_id: str | None = None,
    basis_id: str | None = None,
    fields: Iterable[str] = (),
    reason: str = "",
) -> LogEntry:
    """A new entry with a fresh random salt."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}; one of {sorted(ACTIONS)}")
    return LogEntry(
        at=now,
        holder=holder,
        requester=requester,
        action=action,
        outcome=outcome,
        pseudonym=pseudonym,
        salt=base64.b64encode(os.urandom(SALT_BYTES)).decode(),
        purpose=purpose,
        consent_id=consent_id,
        basis_id=basis_id,
        fields=tuple(fields),
        reason=reason,
    )


def is_about(body: bytes, pseudonym: str) -> bool:
    """True when the canonical entry bytes body name pseudonym as the person they are about.

    A substring test, without parsing (the log's public routes check every leaf they serve):
    in canonical JSON a quote inside a string is escaped, so the text '"pseudonym":' with the
    value's own canonical form after it can only be the entry's "pseudonym" key and its whole
    value. Bytes that are not an entry never match the leaf hash the log signed anyway.
    """
    if pseudonym.isascii() and pseudonym.isalnum():  # every pseudonym the charter derives
        return b'"pseudonym":"' + pseudonym.encode() + b'"' in body
    return b'"pseudonym":' + canonical(pseudonym) in body


def canonical(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def log_origin(federation: str, member_id: str) -> str:
    """The origin line (and log key name) of a member's log: stable, schema-less, no spaces."""
    return f"digitalstate/{_slug(federation)}/{member_id}/log"


def witness_name(federation: str, member_id: str) -> str:
    """The key name a member cosigns under as a witness."""
    return f"digitalstate/{_slug(federation)}/{member_id}/witness"


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "federation"
