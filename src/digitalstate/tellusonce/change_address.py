"""The change-address action: the People register's own "Tell us you have changed your address".

The service runs at the register that holds `people.address` (the demo's People register). On
submission the action changes the person's address through the same use case as
/my/details/address (registers/service.py change_address), in the submit transaction: the
record and one outbox row per service to tell are written together, and the application is
approved at once (by `action:change-address`). The outbox's delivery worker then tells those
services as it does every change (woken by the journey after the commit, `outbox`). The
confirmation and the application's page say which services are being told and whether each
has been, and link to the change's own page (/my/details/changes/<version>).

The service reads nothing from another register, so it asks for no consent: a register's own
service shows the person what it holds itself. Its definition names the catalogue purpose
`address-change` all the same, since every service says what it is for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.federation.domain import FederationDocument, FieldDefinition, member_name
from digitalstate.registers.models import OutboxMessage
from digitalstate.registers.presenter import display_date
from digitalstate.registers.service import ADDRESS, RecordNotFoundError, change_address
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.handlers import (
    APPROVED,
    NOTES,
    REFUSED,
    SUBMIT_ACTIONS,
    WAKES,
    Note,
    Outcome,
)
from digitalstate.services.models import Application
from digitalstate.tellusonce.worker import OUTBOX_EVENT

ACTION = "change-address"
NEW_ADDRESS = "new-address"  # the question whose answer is the new address
# The catalogue's entry of the field the action writes (the demo catalogue's): an action is
# not given the federation document, and this is the register's own field.
ADDRESS_FIELDS = (FieldDefinition(name=ADDRESS, type="uk-address", holder="people-register"),)


def apply_change(
    session: Session, application: Application, _definition: ServiceDefinition, now: datetime
) -> Outcome:
    """Change the person's address and queue the notices, in the submit transaction."""
    address = json.loads(application.answers).get(NEW_ADDRESS)
    if not isinstance(address, Mapping):
        return Outcome(REFUSED, "The application has no new address")
    try:
        made = change_address(
            session,
            pseudonym=application.subject,
            address=address,
            now=now,
            catalogue=ADDRESS_FIELDS,
        )
    except RecordNotFoundError:
        return Outcome(
            REFUSED, "The People register holds no record of you, so it has no address to change"
        )
    if not made.changed:
        return Outcome(APPROVED, "This is already the address we hold: nothing changed")
    return Outcome(APPROVED, "We changed your address")


def told(
    session: Session, application: Application, document: FederationDocument | None
) -> list[Note]:
    """Which services are being told of the change, and whether each has been."""
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.pseudonym == application.subject,
                OutboxMessage.created_at == application.submitted_at,
            )
            .order_by(OutboxMessage.id)
        )
    )
    if application.status != APPROVED:
        return []
    if not rows:
        return [
            Note(
                "Who we will tell",
                ("No service has asked to be told when your address changes.",),
            )
        ]
    lines = []
    for row in rows:
        name = member_name(document, row.requester) if document else row.requester
        if row.delivered_at is not None:
            lines.append(f"{name}: told on {display_date(row.delivered_at.date())}")
        else:
            lines.append(f"{name}: not told yet (we keep trying)")
    return [
        Note(
            "Who we will tell",
            tuple(lines),
            ("See this change and who was told", f"/my/details/changes/{rows[0].version}"),
        )
    ]


SUBMIT_ACTIONS.register(ACTION, apply_change)
NOTES.register(ACTION, told)
WAKES.register(ACTION, (OUTBOX_EVENT,))
