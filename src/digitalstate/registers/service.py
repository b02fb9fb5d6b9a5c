"""Use cases of a register: which fields it holds, read a record, change it and tell who asked.

The caller owns the transaction. A change writes the record and its outbox rows together, so a
committed change is always announced and an announced change was always committed (DESIGN §6).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import Session

from digitalstate.consent.models import HeldConsent
from digitalstate.federation.domain import FederationDocument, FieldDefinition
from digitalstate.registers.domain import FieldError, validate_value
from digitalstate.registers.models import OutboxMessage, RegisterRecord

_RECORDS = RegisterRecord.__table__
_OUTBOX_INSERT = insert(OutboxMessage)


class RecordNotFoundError(LookupError):
    """This register holds no record under the pseudonym."""


class ChangeConflictError(RuntimeError):
    """The record changed between reading and writing it; try the change again."""


@dataclass(frozen=True, slots=True)
class Told:
    """A service told (or still to be told) of a change, for the person's confirmation page."""

    consent_id: str
    requester: str
    fields: tuple[str, ...]
    delivered_at: datetime | None
    dead: bool


def held_fields(federation: FederationDocument, member_id: str) -> tuple[FieldDefinition, ...]:
    """The catalogue's fields whose one authoritative holder is member_id, in catalogue order."""
    return tuple(f for f in federation.fields if f.holder == member_id)


def read_fields(
    session: Session, pseudonym: str, fields: Iterable[str]
) -> tuple[dict[str, Any], int]:
    """The asked fields of the record under pseudonym (None where unset) and its version."""
    row = session.execute(
        select(_RECORDS.c.data, _RECORDS.c.version).where(_RECORDS.c.pseudonym == pseudonym)
    ).first()
    if row is None:
        raise RecordNotFoundError(pseudonym)
    data = json.loads(row.data)
    return {name: data.get(name) for name in fields}, row.version


def read_record(session: Session, pseudonym: str) -> tuple[dict[str, Any], int] | None:
    """Every field of the record under pseudonym and its version, or None."""
    row = session.execute(
        select(_RECORDS.c.data, _RECORDS.c.version).where(_RECORDS.c.pseudonym == pseudonym)
    ).first()
    return None if row is None else (json.loads(row.data), row.version)


def normalise_changes(
    changes: Mapping[str, Any],
    definitions: Mapping[str, FieldDefinition],
    *,
    today: date,
) -> dict[str, Any]:
    """Each changed value in normal form; FieldError for the first one that is not valid."""
    normal: dict[str, Any] = {}
    for name, value in changes.items():
        definition = definitions.get(name)
        if definition is None:
            raise FieldError(name, f"{name} is not a field of the federation's catalogue")
        normal[name] = validate_value(definition.type, name, value, today=today)
    return normal


def change_fields(
    session: Session,
    *,
    pseudonym: str,
    changes: Mapping[str, Any],
    now: datetime,
    catalogue: Sequence[FieldDefinition],
) -> int:
    """Validate and write changes to a record, queue its change notices; return the version.

    Fields are checked against catalogue, the federation document's field catalogue, which
    the caller gives. A value equal to the one held is no change: when nothing changes,
    nothing is written and the current version is returned. Raises FieldError,
    RecordNotFoundError or ChangeConflictError; the caller's transaction then rolls back whole.
    """
    definitions = {f.name: f for f in catalogue}
    normal = normalise_changes(changes, definitions, today=now.date())
    row = session.execute(
        select(_RECORDS.c.data, _RECORDS.c.version)
        .where(_RECORDS.c.pseudonym == pseudonym)
        .with_for_update()
    ).first()
    if row is None:
        raise RecordNotFoundError(pseudonym)
    data = json.loads(row.data)
    changed = sorted(name for name, value in normal.items() if data.get(name) != value)
    if not changed:
        return int(row.version)
    data.update({name: normal[name] for name in changed})
    version = int(row.version) + 1
    result = session.execute(
        update(RegisterRecord)
        .where(RegisterRecord.pseudonym == pseudonym, RegisterRecord.version == row.version)
        .values(data=json.dumps(data, sort_keys=True), version=version, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise ChangeConflictError(f"the record {pseudonym} changed meanwhile")
    queue_notices(session, pseudonym=pseudonym, fields=changed, version=version, now=now)
    return version


def put_fields(
    session: Session,
    *,
    pseudonym: str,
    changes: Mapping[str, Any],
    now: datetime,
    catalogue: Sequence[FieldDefinition],
) -> int:
    """change_fields, or a new record of changes when this register holds none for the person
    yet (version 1, its notices queued as a change's are); the version. Raises FieldError."""
    exists = session.execute(
        select(_RECORDS.c.version).where(_RECORDS.c.pseudonym == pseudonym).with_for_update()
    ).first()
    if exists is not None:
        return change_fields(
            session, pseudonym=pseudonym, changes=changes, now=now, catalogue=catalogue
        )
    normal = normalise_changes(changes, {f.name: f for f in catalogue}, today=now.date())
    session.execute(
        insert(RegisterRecord).values(
            pseudonym=pseudonym, data=json.dumps(normal, sort_keys=True), version=1, updated_at=now
        )
    )
    queue_notices(session, pseudonym=pseudonym, fields=sorted(normal), version=1, now=now)
    return 1


ADDRESS = "people.address"


@dataclass(frozen=True, slots=True)
class AddressChange:
    """A change of address: the record's version before and after (equal: nothing changed)."""

    before: int
    version: int

    @property
    def changed(self) -> bool:
        """True when the address was another one before."""
        return self.version != self.before


def change_address(
    session: Session,
    *,
    pseudonym: str,
    address: Mapping[str, Any],
    now: datetime,
    catalogue: Sequence[FieldDefinition],
) -> AddressChange:
    """Write a person's new address and the notices to every service to tell, in the caller's
    transaction: what /my/details/address and the change-address service both do. Raises
    RecordNotFoundError, FieldError or ChangeConflictError."""
    before = read_record(session, pseudonym)
    if before is None:
        raise RecordNotFoundError(pseudonym)
    version = change_fields(
        session, pseudonym=pseudonym, changes={ADDRESS: address}, now=now, catalogue=catalogue
    )
    return AddressChange(before[1], version)


def queue_notices(
    session: Session, *, pseudonym: str, fields: Sequence[str], version: int, now: datetime
) -> int:
    """One outbox row per consent to tell of a change of fields; the number of rows."""
    rows = [
        {
            "idempotency_key": uuid.uuid4().hex,
            "consent_id": consent.id,
            "requester": consent.requester,
            "pseudonym": pseudonym,
            "fields": json.dumps(sorted(set(fields) & set(json.loads(consent.fields)))),
            "version": version,
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "delivered_at": None,
            "dead_at": None,
        }
        for consent in services_to_tell(session, pseudonym, fields, now)
    ]
    if rows:
        session.execute(_OUTBOX_INSERT, rows)
    return len(rows)


def services_to_tell(
    session: Session, pseudonym: str, fields: Iterable[str], now: datetime
) -> list[HeldConsent]:
    """The consents that a change of fields would be announced to: active, unexpired, notify."""
    wanted = set(fields)
    candidates = session.scalars(
        select(HeldConsent)
        .where(
            HeldConsent.holder_pseudonym == pseudonym,
            HeldConsent.status == "active",
            HeldConsent.notify.is_(True),
        )
        .order_by(HeldConsent.granted_at, HeldConsent.id)
    )
    return [
        consent
        for consent in candidates
        if consent.granted_at <= now < consent.expires_at
        and wanted & set(json.loads(consent.fields))
    ]


def told_about(session: Session, pseudonym: str, version: int) -> list[Told]:
    """The services a change to version was announced to, and whether each has been told."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.pseudonym == pseudonym, OutboxMessage.version == version)
        .order_by(OutboxMessage.id)
    )
    return [
        Told(
            consent_id=row.consent_id,
            requester=row.requester,
            fields=tuple(json.loads(row.fields)),
            delivered_at=row.delivered_at,
            dead=row.dead_at is not None,
        )
        for row in rows
    ]
