"""Reads at a register, enforced on every call: under a consent, or under a statutory basis.

A match under a basis is a read whose answer is only "matched" or "not matched": the register
compares the values given with the person's record and gives none of its own back.

Each function decides and reads, and returns either the answer or the refusal with its
problem type and reason, together with the log entry that records the access (or the refusal;
None when the attempt names no person). It writes nothing: the caller appends the entry and
answers only once it is durable (transparency/appender.py, commits shared by the reads that
arrive together). The read path runs two statements by primary key: it is the hot path of the
federation (docs/benchmarks.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from time import perf_counter
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from digitalstate.consent.domain import Allowed, ConsentTerms, check_read
from digitalstate.consent.models import HeldConsent
from digitalstate.federation.domain import FederationDocument, StatutoryBasis
from digitalstate.registers.domain import values_match
from digitalstate.registers.models import RegisterRecord
from digitalstate.storage.driver import DriverQuery
from digitalstate.transparency.entries import LogEntry, make_entry

_CONSENTS = HeldConsent.__table__
_RECORDS = RegisterRecord.__table__
# Built and compiled once, run on the driver's cursor (storage/driver.py): on this hot path
# SQLAlchemy's execution costs about as much as the database's own work.
_CONSENT_QUERY = DriverQuery(
    select(
        _CONSENTS.c.requester,
        _CONSENTS.c.holder_pseudonym,
        _CONSENTS.c.fields,
        _CONSENTS.c.purpose,
        _CONSENTS.c.granted_at,
        _CONSENTS.c.expires_at,
        _CONSENTS.c.notify,
        _CONSENTS.c.status,
        _CONSENTS.c.withdrawn_at,
    ).where(_CONSENTS.c.id == bindparam("consent_id"))
)
_RECORD_QUERY = DriverQuery(
    select(_RECORDS.c.data, _RECORDS.c.version).where(
        _RECORDS.c.pseudonym == bindparam("pseudonym")
    )
)


@dataclass(frozen=True, slots=True)
class ReadAnswer:
    """The fields read and the record's version."""

    fields: dict[str, Any]
    version: int


@dataclass(frozen=True, slots=True)
class MatchAnswer:
    """Whether the values given are the person's: all of them, or not."""

    matched: bool


@dataclass(frozen=True, slots=True)
class ReadRefusal:
    """A refused read: the problem type to answer with and the reason (also recorded)."""

    slug: str
    reason: str


ReadOutcome = ReadAnswer | ReadRefusal
T = TypeVar("T")
Recorded = tuple[T, LogEntry | None]
"""An outcome and the log entry that records it (None: the attempt names nobody)."""


@dataclass(frozen=True, slots=True)
class _Attempt:
    """Who asked for what about whom, as it is recorded."""

    holder: str
    pseudonym: str | None
    requester: str
    purpose: str
    fields: tuple[str, ...]
    consent_id: str | None = None
    basis_id: str | None = None


def held_consent_terms(session: Session | Connection, consent_id: str) -> ConsentTerms | None:
    """The holder's copy of a consent as terms to check, or None when it is not known here."""
    db = session.connection() if isinstance(session, Session) else session
    row = _CONSENT_QUERY.first(db, {"consent_id": consent_id})
    if row is None:
        return None
    requester, pseudonym, fields, purpose, granted, expires, notify, status, withdrawn = row
    return ConsentTerms(
        consent_id=consent_id,
        requester=requester,
        holder_pseudonym=pseudonym,
        fields=frozenset(json.loads(fields)),
        purpose=purpose,
        granted_at=granted,
        expires_at=expires,
        notify=notify,
        status=status,
        withdrawn_at=withdrawn,
    )


def read_under_consent(
    db: Connection,
    *,
    consent_id: str,
    requester: str,
    purpose: str,
    fields: tuple[str, ...],
    held: Collection[str],
    now: datetime,
    holder: str,
    check_timer: Callable[[float], None] | None = None,
) -> Recorded[ReadOutcome]:
    """Check the consent, read exactly the consented fields asked for; the entry either way.

    check_timer, when given, is told the seconds the consent check took (loading the held
    consent and check_read); only the benchmarks give one (NodeRuntime.check_timer).
    """
    began = perf_counter()
    terms = held_consent_terms(db, consent_id)
    decision = check_read(
        terms,
        consent_id=consent_id,
        requester=requester,
        purpose=purpose,
        fields=fields,
        now=now,
    )
    if check_timer is not None:
        check_timer(perf_counter() - began)
    attempt = _Attempt(
        holder=holder,
        pseudonym=terms.holder_pseudonym if terms else None,
        requester=requester,
        purpose=purpose,
        fields=tuple(dict.fromkeys(fields)),
        consent_id=consent_id,
    )
    if not isinstance(decision, Allowed):
        return _refuse(attempt, "consent-refused", decision.reason, now)
    return _read(db, attempt, held, now, action="read", reason=decision.reason)


def read_under_basis(
    db: Connection,
    *,
    federation: FederationDocument,
    caller: str,
    basis_id: str,
    purpose: str,
    subject: str | None,
    on_behalf_of: str | None,
    fields: tuple[str, ...],
    held: Collection[str],
    now: datetime,
    holder: str,
) -> Recorded[ReadOutcome]:
    """Check a basis read relayed by the charter, read the fields asked; the entry either way."""
    attempt, basis, reason = _basis_attempt(
        federation, caller, basis_id, purpose, subject, on_behalf_of, fields, holder
    )
    if reason is not None or basis is None:
        return _refuse(attempt, "basis-refused", reason or "", now)
    return _read(
        db,
        attempt,
        held,
        now,
        action="basis-read",
        reason=f"basis {basis.id}: {basis.legislation}",
    )


def match_under_basis(
    db: Connection,
    *,
    federation: FederationDocument,
    caller: str,
    basis_id: str,
    purpose: str,
    subject: str | None,
    on_behalf_of: str | None,
    values: Mapping[str, str],
    held: Collection[str],
    now: datetime,
    holder: str,
) -> Recorded[MatchAnswer | ReadRefusal]:
    """Check a basis match relayed by the charter as a basis read is checked, compare the
    values given with the person's record; the entry either way: the answer is matched or
    not, and never a value (registers/domain.py values_match says what counts as the same
    value)."""
    fields = tuple(values)
    attempt, basis, reason = _basis_attempt(
        federation, caller, basis_id, purpose, subject, on_behalf_of, fields, holder
    )
    if reason is not None or basis is None:
        return _refuse(attempt, "basis-refused", reason or "", now)
    found, refused = _held_record(db, attempt, held, now)
    if isinstance(found, ReadRefusal):
        return found, refused
    types = {f.name: f.type for f in federation.fields}
    matched = all(
        values_match(types.get(name, ""), found.fields.get(name), values[name]) for name in fields
    )
    answered = "matched" if matched else "not matched"
    entry = _entry(
        attempt,
        now,
        action="basis-read",
        outcome="allowed",
        reason=f"basis {basis.id}: {basis.legislation}; a match of the values given, answered "
        f"{answered}: no value was given back",
    )
    return MatchAnswer(matched), entry


def _basis_attempt(
    federation: FederationDocument,
    caller: str,
    basis_id: str,
    purpose: str,
    subject: str | None,
    on_behalf_of: str | None,
    fields: tuple[str, ...],
    holder: str,
) -> tuple[_Attempt, StatutoryBasis | None, str | None]:
    """Who asked what of whom under a basis, the basis, and why it is refused (None: it is not)."""
    basis = next((b for b in federation.statutory_bases if b.id == basis_id), None)
    member = federation.member(caller)
    relayed = member is not None and "charter" in member.roles
    attempt = _Attempt(
        holder=holder,
        # Only the charter can vouch for whom a basis read concerns: a subject named by anyone
        # else is not recorded against that person, or any member could write refusals into
        # a stranger's record of who has seen their data.
        pseudonym=subject if relayed else None,
        # The requester the person should see: the one the basis serves, once the charter
        # relays it; otherwise whoever tried.
        requester=(basis.requester if basis else on_behalf_of or caller) if relayed else caller,
        purpose=purpose,
        fields=tuple(dict.fromkeys(fields)),
        basis_id=basis_id,
    )
    reason = _basis_refusal(
        basis, basis_id, caller, relayed, subject, on_behalf_of, purpose, fields
    )
    return attempt, basis, reason


def _basis_refusal(
    basis: StatutoryBasis | None,
    basis_id: str,
    caller: str,
    relayed: bool,
    subject: str | None,
    on_behalf_of: str | None,
    purpose: str,
    fields: tuple[str, ...],
) -> str | None:
    if not relayed:
        return f"a read under a statutory basis is relayed by the charter, not made by {caller}"
    if basis is None:
        return f"statutory basis {basis_id} is not published in the federation document"
    if subject is None:
        return f"a read under statutory basis {basis_id} must name its subject"
    if on_behalf_of != basis.requester:
        return (
            f"statutory basis {basis_id} is for {basis.requester}, not {on_behalf_of or 'nobody'}"
        )
    if purpose != basis.purpose:
        return f"statutory basis {basis_id} is for the purpose {basis.purpose}, not {purpose}"
    beyond = sorted(set(fields) - set(basis.fields))
    if beyond:
        return f"statutory basis {basis_id} does not cover {', '.join(beyond)}"
    return None


def _read(
    db: Connection,
    attempt: _Attempt,
    held: Collection[str],
    now: datetime,
    *,
    action: str,
    reason: str,
) -> Recorded[ReadOutcome]:
    answer, refused = _held_record(db, attempt, held, now)
    if isinstance(answer, ReadRefusal):
        return answer, refused
    return answer, _entry(attempt, now, action=action, outcome="allowed", reason=reason)


def _held_record(
    db: Connection, attempt: _Attempt, held: Collection[str], now: datetime
) -> Recorded[ReadOutcome]:
    """The fields attempted of the person's record, or the refusal (with its entry) when this
    register does not hold one of them or holds no record of the person."""
    not_held = [f for f in attempt.fields if f not in held]
    if not_held:
        return _refuse(
            attempt, "field-not-held", f"this register does not hold {', '.join(not_held)}", now
        )
    assert attempt.pseudonym is not None  # a consent names its person; a basis read checked it
    answer = record_fields(db, attempt.pseudonym, attempt.fields)
    if answer is None:
        return _refuse(
            attempt, "record-not-found", "this register holds no record of the person", now
        )
    return answer, None


def record_fields(db: Connection, pseudonym: str, fields: Collection[str]) -> ReadAnswer | None:
    """The named fields of the record under pseudonym (None where unset), or None: no checks."""
    row = _RECORD_QUERY.first(db, {"pseudonym": pseudonym})
    if row is None:
        return None
    data = json.loads(row[0])
    return ReadAnswer({name: data.get(name) for name in fields}, row[1])


def _refuse(attempt: _Attempt, slug: str, reason: str, now: datetime) -> Recorded[ReadRefusal]:
    # A refusal is recorded whenever the person it concerns is known: from the consent, or
    # from the subject of a basis read. An unknown consent names nobody to record it for.
    entry = None
    if attempt.pseudonym is not None:
        entry = _entry(attempt, now, action="refused", outcome="refused", reason=reason)
    return ReadRefusal(slug, reason), entry


def _entry(attempt: _Attempt, now: datetime, *, action: str, outcome: str, reason: str) -> LogEntry:
    assert attempt.pseudonym is not None
    return make_entry(
        holder=attempt.holder,
        pseudonym=attempt.pseudonym,
        requester=attempt.requester,
        action=action,
        outcome=outcome,
        now=now,
        purpose=attempt.purpose,
        consent_id=attempt.consent_id,
        basis_id=attempt.basis_id,
        fields=attempt.fields,
        reason=reason,
    )
