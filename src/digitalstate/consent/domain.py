"""The rules of consent, as plain values and functions: no web framework, no database.

check_read is what a holder asks on every read: does this consent let this requester read
these fields for this purpose now? The answer carries its reason, which goes into the access
record and into the 403 problem the requester gets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["active", "withdrawn", "expired"]


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """What a consent allows, as the holder keeps it."""

    consent_id: str
    requester: str
    holder_pseudonym: str
    fields: frozenset[str]
    purpose: str
    granted_at: datetime
    expires_at: datetime
    notify: bool
    status: Status
    withdrawn_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Allowed:
    """The read may go ahead, for exactly these fields."""

    fields: tuple[str, ...]
    reason: str = "consent active and covers the fields"


@dataclass(frozen=True, slots=True)
class Refused:
    """The read is refused, and why (shown to the requester and to the person)."""

    reason: str


Decision = Allowed | Refused


def check_read(
    terms: ConsentTerms | None,
    *,
    consent_id: str,
    requester: str,
    purpose: str,
    fields: tuple[str, ...],
    now: datetime,
) -> Decision:
    """Decide whether requester may read fields for purpose under consent_id at now."""
    if terms is None:
        return Refused(f"consent {consent_id} is not known here")
    if terms.requester != requester:
        return Refused(f"consent {consent_id} was given to {terms.requester}, not {requester}")
    if terms.status == "withdrawn":
        when = terms.withdrawn_at.isoformat() if terms.withdrawn_at else "an earlier time"
        return Refused(f"consent {consent_id} was withdrawn at {when}")
    if terms.status != "active" or now >= terms.expires_at:
        return Refused(f"consent {consent_id} expired at {terms.expires_at.isoformat()}")
    if now < terms.granted_at:
        return Refused(f"consent {consent_id} is not yet in force")
    if purpose != terms.purpose:
        return Refused(f"consent {consent_id} is for the purpose {terms.purpose}, not {purpose}")
    if not fields:
        return Refused("no fields were asked for")
    beyond = sorted(set(fields) - terms.fields)
    if beyond:
        return Refused(f"consent {consent_id} does not cover {', '.join(beyond)}")
    return Allowed(tuple(dict.fromkeys(fields)))


def wording_hash(wording: str) -> str:
    """The SHA-256 of the exact purpose wording shown, pinning it in the record."""
    return hashlib.sha256(wording.encode("utf-8")).hexdigest()
