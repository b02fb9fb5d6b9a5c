"""Consent use cases at the charter: requests, agreement, refusal, withdrawal, expiry.

Each function takes a session and an explicit time and never commits: the caller owns the
transaction (consent/flows.py wraps the ones that must reach the holder first).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from digitalstate.consent.domain import Status
from digitalstate.consent.models import Consent, ConsentEvent, ConsentRequest
from digitalstate.consent.people import Actor
from digitalstate.consent.records import (
    ConsentRecord,
    GivenBy,
    build_record,
    sign_record,
    with_status,
)
from digitalstate.federation.domain import FederationDocument, FieldDefinition, Member, Purpose
from digitalstate.keys import KeyPair

REQUEST_LIFETIME = timedelta(minutes=30)
MAX_DURATION_DAYS = 3650
SUBJECT_MAX_LENGTH = 64
MAX_FIELDS = 50


class RequestInvalidError(ValueError):
    """A consent request that cannot be made, and why."""


class RequestUnavailableError(LookupError):
    """A consent request that cannot be answered now: unknown, expired or already decided."""

    def __init__(self, kind: Literal["unknown", "expired", "decided"], detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class RequestTerms:
    """A request as the consent screen shows it, from the federation's catalogues."""

    request: ConsentRequest
    requester: Member
    holder: Member
    fields: tuple[FieldDefinition, ...]
    purpose: Purpose
    until: datetime


@dataclass(frozen=True)
class Signer:
    """The charter's signing key and member id."""

    member_id: str
    key: KeyPair

    def sign(self, record: ConsentRecord) -> str:
        """The signed envelope of record, as JSON text."""
        return json.dumps(sign_record(record, self.key, self.member_id))


# --- requests ------------------------------------------------------------------------------


def check_request(
    federation: FederationDocument,
    *,
    requester: str,
    subject: str,
    holder: str,
    fields: Sequence[str],
    purpose: str,
    duration_days: int,
    return_url: str,
) -> None:
    """Raise RequestInvalidError unless the federation's catalogues allow this request."""
    asker = federation.member(requester)
    if asker is None or asker.revoked_at is not None:
        raise RequestInvalidError(f"{requester} is not a current member")
    if not {"service", "register"}.intersection(asker.roles):
        raise RequestInvalidError(f"{requester} has neither the service nor the register role")
    if not subject or len(subject) > SUBJECT_MAX_LENGTH:
        raise RequestInvalidError(f"subject must be 1 to {SUBJECT_MAX_LENGTH} characters")
    keeper = federation.member(holder)
    if keeper is None or keeper.revoked_at is not None or "register" not in keeper.roles:
        raise RequestInvalidError(f"holder {holder!r} is not a register of the federation")
    _check_fields(federation, holder, fields)
    if federation.purpose(purpose) is None:
        raise RequestInvalidError(f"purpose {purpose!r} is not in the purpose catalogue")
    if not 1 <= duration_days <= MAX_DURATION_DAYS:
        raise RequestInvalidError(f"duration_days must be from 1 to {MAX_DURATION_DAYS}")
    if not return_url.startswith(asker.base_url + "/"):
        raise RequestInvalidError(f"return_url must start with {asker.base_url}/")


def _check_fields(federation: FederationDocument, holder: str, fields: Sequence[str]) -> None:
    if not fields:
        raise RequestInvalidError("name at least one field")
    if len(fields) > MAX_FIELDS:
        raise RequestInvalidError(f"name at most {MAX_FIELDS} fields")
    if len(set(fields)) != len(fields):
        raise RequestInvalidError("a field is named more than once")
    catalogue = {f.name: f for f in federation.fields}
    unknown = [f for f in fields if f not in catalogue]
    if unknown:
        raise RequestInvalidError(f"fields not in the field catalogue: {', '.join(unknown)}")
    elsewhere = [f for f in fields if catalogue[f].holder != holder]
    if elsewhere:
        raise RequestInvalidError(f"{holder} is not the register of {', '.join(elsewhere)}")


def create_request(
    session: Session,
    *,
    requester: str,
    subject: str,
    holder: str,
    fields: Sequence[str],
    purpose: str,
    duration_days: int,
    notify: bool,
    return_url: str,
    federation: FederationDocument,
    now: datetime,
) -> ConsentRequest:
    """Record a service's request for consent, valid for 30 minutes."""
    check_request(
        federation,
        requester=requester,
        subject=subject,
        holder=holder,
        fields=fields,
        purpose=purpose,
        duration_days=duration_days,
        return_url=return_url,
    )
    request = ConsentRequest(
        id=str(uuid.uuid4()),
        requester=requester,
        subject=subject,
        holder=holder,
        fields=json.dumps(list(fields)),
        purpose=purpose,
        duration_days=duration_days,
        notify=notify,
        return_url=return_url,
        created_at=now,
        expires_at=now + REQUEST_LIFETIME,
    )
    session.add(request)
    return request


def open_request(
    session: Session, request_id: str, *, now: datetime, lock: bool = False
) -> ConsentRequest:
    """The request still waiting for an answer; raises RequestUnavailableError otherwise."""
    query = select(ConsentRequest).where(ConsentRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    request = session.scalars(query).one_or_none()
    if request is None:
        raise RequestUnavailableError("unknown", "there is no consent request with this id")
    if request.decided_at is not None:
        raise RequestUnavailableError("decided", "this consent request has been answered")
    if now >= request.expires_at:
        raise RequestUnavailableError("expired", "this consent request has expired")
    return request


def request_terms(
    request: ConsentRequest, federation: FederationDocument, *, now: datetime
) -> RequestTerms:
    """What the consent screen shows, read from the current federation document."""
    names = json.loads(request.fields)
    catalogue = {f.name: f for f in federation.fields}
    requester = federation.member(request.requester)
    holder = federation.member(request.holder)
    purpose = federation.purpose(request.purpose)
    if requester is None or holder is None or purpose is None:
        raise RequestUnavailableError("unknown", "the federation no longer lists this request")
    fields = tuple(catalogue[n] for n in names if n in catalogue)
    if len(fields) != len(names):
        raise RequestUnavailableError("unknown", "the federation no longer lists these fields")
    until = now + timedelta(days=request.duration_days)
    return RequestTerms(request, requester, holder, fields, purpose, until)


# --- decisions -----------------------------------------------------------------------------


def prepare_consent(
    terms: RequestTerms,
    *,
    actor: Actor,
    issuer: Member,
    pseudonyms: tuple[str, str],
    now: datetime,
) -> ConsentRecord:
    """The record of an agreement to terms, not yet stored or signed."""
    given_by = (
        GivenBy(kind="helper", helper=actor.helper_name, delegation_id=actor.delegation_id)
        if actor.is_helper
        else GivenBy(kind="person")
    )
    return build_record(
        consent_id=str(uuid.uuid4()),
        issuer=issuer,
        requester=terms.requester,
        holder=terms.holder,
        pseudonyms=pseudonyms,
        purpose=terms.purpose,
        fields=terms.fields,
        granted_at=now,
        expires_at=now + timedelta(days=terms.request.duration_days),
        duration_days=terms.request.duration_days,
        notify=terms.request.notify,
        given_by=given_by,
    )


def store_consent(
    session: Session,
    *,
    request: ConsentRequest,
    record: ConsentRecord,
    envelope: str,
    actor: Actor,
    now: datetime,
) -> Consent:
    """Close the request and keep the agreed consent and its first event.

    Raises RequestUnavailableError ("decided") when another answer closed the request first.
    """
    _close(session, request, now, record.consent_id)
    consent = Consent(
        id=record.consent_id,
        person_id=actor.person_id,
        requester=record.requester,
        holder=record.holder,
        fields=json.dumps(list(record.fields)),
        purpose=record.purpose.code,
        granted_at=record.consent_timestamp,
        expires_at=record.expires_at,
        notify=record.notify_on_change,
        given_by=actor.signed_in,
        delegation_id=actor.delegation_id,
        status="active",
        record=envelope,
        holder_synced_at=now,
    )
    session.add(consent)
    session.flush()
    detail = f"given by {actor.helper_name} for {actor.person_name}" if actor.is_helper else ""
    add_event(session, consent.id, "active", actor.by, now, detail)
    return consent


def refuse_request(session: Session, request: ConsentRequest, *, now: datetime) -> None:
    """Close a request the person refused; nothing is recorded about them.

    Raises RequestUnavailableError ("decided") when another answer closed it first.
    """
    _close(session, request, now, None)


def reserve_request(session: Session, request_id: str, consent_id: str) -> None:
    """Hold an open request for the agreement consent_id, before its copy goes to the register.

    Raises RequestUnavailableError ("decided") when another answer holds or closed it first:
    of two answers at once, the loser stops here and pushes nothing.
    """
    _decide(session, request_id, reserved_by=None, consent_id=consent_id)


def release_request(session: Session, request_id: str, consent_id: str) -> None:
    """Give back a request held for consent_id whose copy did not reach the register."""
    session.execute(
        update(ConsentRequest)
        .where(
            ConsentRequest.id == request_id,
            ConsentRequest.decided_at.is_(None),
            ConsentRequest.consent_id == consent_id,
        )
        .values(consent_id=None)
    )


def _close(
    session: Session, request: ConsentRequest, now: datetime, consent_id: str | None
) -> None:
    # An agreement closes the request it reserved (or one nobody holds); a refusal one
    # nobody holds.
    _decide(session, request.id, reserved_by=consent_id, consent_id=consent_id, decided_at=now)


def _decide(
    session: Session, request_id: str, *, reserved_by: str | None, **values: object
) -> None:
    # An UPDATE only an open request matches, held by nobody or by this answer: of two answers
    # at once (two workers, or a double click), exactly one reserves or closes it, on
    # PostgreSQL and SQLite alike, whatever was read before.
    held: ColumnElement[bool] = ConsentRequest.consent_id.is_(None)
    if reserved_by is not None:
        held = or_(held, ConsentRequest.consent_id == reserved_by)
    decided = session.execute(
        update(ConsentRequest)
        .where(ConsentRequest.id == request_id, ConsentRequest.decided_at.is_(None), held)
        .values(**values)
    )
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        raise RequestUnavailableError("decided", "this consent request has been answered")


def add_event(
    session: Session, consent_id: str, status: str, by: str, at: datetime, detail: str = ""
) -> None:
    """Append to a consent's status history."""
    session.add(ConsentEvent(consent_id=consent_id, at=at, status=status, by=by, detail=detail))


# --- the life of a consent -----------------------------------------------------------------


def effective_status(consent: Consent, now: datetime) -> Status:
    """The status a person sees: an active consent past its expiry is expired."""
    if consent.status == "withdrawn":
        return "withdrawn"
    if consent.status == "expired" or now >= consent.expires_at:
        return "expired"
    return "active"


def record_of(consent: Consent) -> ConsentRecord:
    """The consent's signed record, parsed (the charter made it, so it is trusted here)."""
    return ConsentRecord.model_validate(json.loads(consent.record)["record"])


def withdraw(
    session: Session, consent: Consent, *, actor: Actor, signer: Signer, now: datetime
) -> bool:
    """Withdraw an active consent at the charter; False when it was not active."""
    if effective_status(consent, now) != "active":
        return False
    record = signer.sign(with_status(record_of(consent), "withdrawn", now))
    ended = _end(
        session, consent, status="withdrawn", withdrawn_at=now, holder_synced_at=None, record=record
    )
    if not ended:
        return False
    detail = f"withdrawn by {actor.helper_name} for {actor.person_name}" if actor.is_helper else ""
    add_event(session, consent.id, "withdrawn", actor.by, now, detail)
    return True


def mark_holder_synced(session: Session, consent_id: str, *, now: datetime) -> None:
    """Note that the holder has confirmed the consent's current status."""
    consent = session.get(Consent, consent_id)
    if consent is not None:
        consent.holder_synced_at = now


def unconfirmed_withdrawals(session: Session, *, limit: int = 100) -> list[Consent]:
    """Withdrawn consents whose holder has not confirmed the withdrawal yet, oldest first."""
    query = (
        select(Consent)
        .where(Consent.status == "withdrawn", Consent.holder_synced_at.is_(None))
        .order_by(Consent.withdrawn_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def expire_due(session: Session, *, signer: Signer, now: datetime, limit: int = 500) -> int:
    """Mark active consents past their expiry as expired (by the system); return how many."""
    query = (
        select(Consent)
        .where(Consent.status == "active", Consent.expires_at <= now)
        .order_by(Consent.expires_at)
        .limit(limit)
    )
    count = 0
    for consent in session.scalars(query).all():
        record = signer.sign(with_status(record_of(consent), "expired", now))
        if _end(session, consent, status="expired", record=record):
            add_event(session, consent.id, "expired", "system", now, "the agreed period ended")
            count += 1
    return count


def _end(session: Session, consent: Consent, **values: object) -> bool:
    # An UPDATE only an active consent matches: of a withdrawal and another, or the expiry, at
    # two workers at once, one ends it and writes its event; the other finds it ended (and
    # the row as the winner left it), on PostgreSQL and SQLite alike.
    ended = session.execute(
        update(Consent)
        .where(Consent.id == consent.id, Consent.status == "active")
        .values(**values),
        execution_options={"synchronize_session": "fetch"},
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(consent)
        return False
    return True


def consents_of(session: Session, person_ids: Sequence[str]) -> list[Consent]:
    """The consents of these people, newest first."""
    if not person_ids:
        return []
    query = (
        select(Consent)
        .where(Consent.person_id.in_(list(person_ids)))
        .order_by(Consent.granted_at.desc(), Consent.id)
    )
    return list(session.scalars(query))


def events_of(session: Session, consent_id: str) -> list[ConsentEvent]:
    """A consent's status history, oldest first."""
    query = (
        select(ConsentEvent)
        .where(ConsentEvent.consent_id == consent_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    return list(session.scalars(query))
