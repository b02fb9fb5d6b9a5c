"""What the person's consent pages show: consents and activity in people's words.

Plain view values built from the tables and the federation document, so the templates only
lay them out. Activity is gathered from every register (its access records about the person,
under the pseudonym the charter computes for it) and from the charter's own relays.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from digitalstate.consent.models import Consent, ConsentEvent
from digitalstate.consent.people import pseudonym_of
from digitalstate.consent.service import as_utc, effective_status
from digitalstate.exchange.client import ExchangeError
from digitalstate.federation.domain import FederationDocument
from digitalstate.node.runtime import NodeRuntime
from digitalstate.transparency.entries import LogEntry
from digitalstate.transparency.store import entries_for

log = logging.getLogger(__name__)

ACCESS_RECORDS_PATH = "/exchange/v1/access-records"
STATUS_LABELS = {"active": "Active", "withdrawn": "Withdrawn", "expired": "Expired"}
STATUS_TAGS = {"active": "govuk-tag--green", "withdrawn": "govuk-tag--grey", "expired": ""}
EVENT_LABELS = {"active": "Given", "withdrawn": "Withdrawn", "expired": "Expired"}
BY_LABELS = {"person": "You", "helper": "Your helper", "system": "Automatically"}


def member_name(federation: FederationDocument, member_id: str) -> str:
    """A member's name, or its id when the federation no longer lists it."""
    member = federation.member(member_id)
    return member.name if member is not None else member_id


def field_label(federation: FederationDocument, name: str) -> str:
    """A field as people read it: its catalogue description, else its name."""
    found = next((f for f in federation.fields if f.name == name), None)
    return found.description if found is not None and found.description else name


def purpose_title(federation: FederationDocument, code: str | None) -> str:
    """A purpose's title, or its code when it is not catalogued."""
    if code is None:
        return ""
    purpose = federation.purpose(code)
    return purpose.title if purpose is not None else code


@dataclass(frozen=True)
class ConsentView:
    """One consent as the person's pages show it."""

    id: str
    status: str
    requester: str
    holder: str
    fields: list[str]
    purpose_title: str
    purpose_wording: str
    granted_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None
    notify: bool
    given_by: str
    for_name: str | None
    holder_confirmed: bool

    @property
    def status_label(self) -> str:
        """The status in words."""
        return STATUS_LABELS[self.status]

    @property
    def status_tag(self) -> str:
        """The tag class that colours the status."""
        return STATUS_TAGS[self.status]


def consent_view(
    consent: Consent,
    federation: FederationDocument,
    *,
    now: datetime,
    viewer: str,
    names: dict[str, str],
) -> ConsentView:
    """The view of a consent for viewer (names maps person ids to display names)."""
    record = json.loads(consent.record)["record"]
    purpose = record["purposes"][0]
    if consent.delegation_id is not None:
        helper = names.get(consent.given_by or "", "a helper")
        given_by = "You, as their helper" if consent.given_by == viewer else f"{helper} (helper)"
    else:
        given_by = "You" if consent.person_id == viewer else names.get(consent.person_id, "")
    return ConsentView(
        id=consent.id,
        status=effective_status(consent, now),
        requester=member_name(federation, consent.requester),
        holder=member_name(federation, consent.holder),
        fields=[field_label(federation, f) for f in json.loads(consent.fields)],
        purpose_title=purpose["title"],
        purpose_wording=purpose["wording"],
        granted_at=as_utc(consent.granted_at),
        expires_at=as_utc(consent.expires_at),
        withdrawn_at=as_utc(consent.withdrawn_at) if consent.withdrawn_at else None,
        notify=consent.notify,
        given_by=given_by,
        for_name=None if consent.person_id == viewer else names.get(consent.person_id, ""),
        holder_confirmed=consent.holder_synced_at is not None,
    )


@dataclass(frozen=True)
class EventView:
    """One step of a consent's status history."""

    at: datetime
    what: str
    by: str
    detail: str


def event_view(event: ConsentEvent) -> EventView:
    """A status change in words."""
    return EventView(
        at=as_utc(event.at),
        what=EVENT_LABELS.get(event.status, event.status),
        by=BY_LABELS.get(event.by, event.by),
        detail=event.detail,
    )


# --- who has seen your data ----------------------------------------------------------------


@dataclass(frozen=True)
class ActivityView:
    """One access to the person's data, as the activity page lists it."""

    at: datetime
    who: str
    what: str
    fields: list[str]
    why: str
    consent_id: str | None
    basis_id: str | None
    legislation: str | None
    refused: bool
    reason: str


@dataclass
class Activity:
    """Everything seen, newest first, and the registers that could not be asked."""

    entries: list[ActivityView] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


def describe_action(action: str, outcome: str, where: str, *, relayed: bool = False) -> str:
    """What happened, in words, at the register called where."""
    if relayed:
        done = "Read" if outcome == "allowed" else "Tried to read"
        return f"{done} from {where} under a statutory basis, through the charter"
    return {
        "read": f"Read from {where}",
        "basis-read": f"Read from {where} under a statutory basis",
        "refused": f"Was refused by {where}",
        "notified": f"Was told by {where} that your details changed",
        "consent-given": f"Your consent was recorded at {where}",
        "consent-withdrawn": f"Your withdrawal was recorded at {where}",
    }.get(action, f"{action} at {where}")


def activity_view(
    federation: FederationDocument, entry: LogEntry, where: str, *, relayed: bool = False
) -> ActivityView:
    """An access record in words."""
    basis = next((b for b in federation.statutory_bases if b.id == entry.basis_id), None)
    return ActivityView(
        at=as_utc(entry.at),
        who=member_name(federation, entry.requester),
        what=describe_action(entry.action, entry.outcome, where, relayed=relayed),
        fields=[field_label(federation, f) for f in entry.fields],
        why=purpose_title(federation, entry.purpose),
        consent_id=entry.consent_id,
        basis_id=entry.basis_id,
        legislation=basis.legislation if basis is not None else None,
        refused=entry.outcome not in ("allowed", "recorded", "delivered"),
        reason=entry.reason,
    )


def entry_from_json(value: dict[str, Any]) -> LogEntry:
    """A log entry as a node sends it: its exact bytes as text."""
    return LogEntry.decode(str(value["entry"]).encode())


async def gather_activity(node: NodeRuntime, person_id: str) -> Activity:
    """Ask every register what it recorded about the person; add the charter's relays."""
    federation = node.keeper.current()
    registers = [m for m in federation.members if "register" in m.roles and m.revoked_at is None]
    pseudonyms = {m.id: pseudonym_of(node, m.id, person_id) for m in registers}
    answers = await asyncio.gather(
        *(_records_at(node, m.id, pseudonyms[m.id]) for m in registers), return_exceptions=True
    )
    activity = Activity()
    for member, answer in zip(registers, answers, strict=True):
        if isinstance(answer, BaseException):
            log.warning("access records of %s not available: %s", member.id, answer)
            activity.unreachable.append(member.name)
            continue
        activity.entries.extend(activity_view(federation, e, member.name) for e in answer)
    relays = await asyncio.to_thread(_relays, node, list(pseudonyms.items()))
    for holder, entry in relays:
        where = member_name(federation, holder)
        activity.entries.append(activity_view(federation, entry, where, relayed=True))
    activity.entries.sort(key=lambda e: e.at, reverse=True)
    return activity


async def _records_at(node: NodeRuntime, member_id: str, pseudonym: str) -> list[LogEntry]:
    response = await node.client.call(
        member_id, "POST", ACCESS_RECORDS_PATH, json_body={"subject": pseudonym}
    )
    if not response.ok:
        raise ExchangeError(f"{member_id} answered {response.status}")
    return [entry_from_json(value) for value in response.json()["entries"]]


def _relays(node: NodeRuntime, pseudonyms: Sequence[tuple[str, str]]) -> list[tuple[str, LogEntry]]:
    with node.sessions.begin() as session:
        return [
            (holder, entry)
            for holder, pseudonym in pseudonyms
            for entry in (LogEntry.decode(s.body) for s in entries_for(session, pseudonym))
            if entry.action == "basis-read"
        ]
