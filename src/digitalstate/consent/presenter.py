"""What the person's consent pages show: consents and their history in people's words.

Plain view values built from the tables and the federation document, so the templates only
lay them out. Who has seen the person's data is in transparency/disclosure.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from digitalstate.consent.models import Consent, ConsentEvent
from digitalstate.consent.service import effective_status
from digitalstate.federation.domain import (
    FederationDocument,
    field_label,
    member_name,
)
from digitalstate.web.i18n import N_, _

STATUS_LABELS = {"active": N_("Active"), "withdrawn": N_("Withdrawn"), "expired": N_("Expired")}
STATUS_TAGS = {"active": "govuk-tag--green", "withdrawn": "govuk-tag--grey", "expired": ""}
EVENT_LABELS = {"active": N_("Given"), "withdrawn": N_("Withdrawn"), "expired": N_("Expired")}
BY_LABELS = {"person": N_("You"), "helper": N_("Your helper"), "system": N_("Automatically")}


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
        return _(STATUS_LABELS[self.status])

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
        helper = names.get(consent.given_by or "") or _("a helper")
        if consent.given_by == viewer:
            given_by = _("You, as their helper")
        else:
            given_by = _("%(name)s (helper)") % {"name": helper}
    else:
        given_by = _("You") if consent.person_id == viewer else names.get(consent.person_id, "")
    return ConsentView(
        id=consent.id,
        status=effective_status(consent, now),
        requester=member_name(federation, consent.requester),
        holder=member_name(federation, consent.holder),
        fields=[field_label(federation, f) for f in json.loads(consent.fields)],
        purpose_title=purpose["title"],
        purpose_wording=purpose["wording"],
        granted_at=consent.granted_at,
        expires_at=consent.expires_at,
        withdrawn_at=consent.withdrawn_at,
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
        at=event.at,
        what=_(EVENT_LABELS[event.status]) if event.status in EVENT_LABELS else event.status,
        by=_(BY_LABELS[event.by]) if event.by in BY_LABELS else event.by,
        detail=event.detail,
    )
