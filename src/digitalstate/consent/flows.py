"""The consent flows that must reach the holder: giving, withdrawing, and their background work.

Giving: the holder must take its copy before the charter keeps the consent, so the charter
reads and checks the request in one short transaction, pushes the signed record, and only
then writes and commits in a second (never holding a SQLite write lock across a network
call). Withdrawing: the charter withdraws at once and tells the holder; when the holder
cannot be reached the charter keeps trying in the background until it confirms.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from digitalstate.consent import service
from digitalstate.consent.models import Consent
from digitalstate.consent.people import Actor, actor_for, person_for_pseudonym, pseudonym_of
from digitalstate.consent.records import ConsentRecord, sign_record, with_status
from digitalstate.consent.service import RequestTerms, RequestUnavailableError, Signer
from digitalstate.exchange.client import ExchangeError
from digitalstate.federation.domain import Member
from digitalstate.node.runtime import NodeRuntime
from digitalstate.storage.threads import run_blocking

log = logging.getLogger(__name__)
T = TypeVar("T")

CONSENTS_PATH = "/exchange/v1/consents"
WITHDRAWAL_RETRY_SECONDS = 10.0
EXPIRY_SWEEP_SECONDS = 60.0


class NotYoursError(LookupError):
    """The signed-in person may not act on this request or consent."""


class HolderUnreachableError(RuntimeError):
    """The holder did not take its copy, so the consent was not given."""

    def __init__(self, holder: Member, detail: str) -> None:
        super().__init__(detail)
        self.holder = holder


@dataclass(frozen=True)
class Screen:
    """What the consent screen shows and who is answering it."""

    terms: RequestTerms
    actor: Actor


@dataclass(frozen=True)
class Withdrawal:
    """The outcome of a withdrawal: the consent, and whether its holder has confirmed."""

    consent: Consent
    confirmed: bool


def utcnow() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def signer_of(node: NodeRuntime) -> Signer:
    """The node's key as the signer of consent records."""
    return Signer(node.settings.node.id, node.key)


def with_query(url: str, **params: str) -> str:
    """url with params added to its query string."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# --- the consent screen --------------------------------------------------------------------


def load_screen(
    session: Session, node: NodeRuntime, *, request_id: str, signed_in: str, now: datetime
) -> Screen:
    """The open request and the actor answering it; raises if it cannot be answered."""
    request = service.open_request(session, request_id, now=now)
    terms = service.request_terms(request, node.keeper.current(), now=now)
    return Screen(terms, request_actor(session, node, terms, signed_in, now))


def request_actor(
    session: Session, node: NodeRuntime, terms: RequestTerms, signed_in: str, now: datetime
) -> Actor:
    """The signed-in person as the subject of the request, or as a helper acting for them."""
    request = terms.request
    if pseudonym_of(node, request.requester, signed_in) == request.subject:
        actor = actor_for(session, person_id=signed_in, signed_in=signed_in, now=now)
    else:
        person = person_for_pseudonym(session, request.requester, request.subject)
        actor = None
        if person is not None:
            actor = actor_for(session, person_id=person, signed_in=signed_in, now=now)
    if actor is None:
        raise NotYoursError("this request is for someone else")
    return actor


async def answer_request(
    node: NodeRuntime, *, request_id: str, signed_in: str, agree: bool, now: datetime
) -> str:
    """Agree to or refuse a request; return where to send the browser (the service)."""
    screen = await run_blocking(_read_screen, node, request_id, signed_in, now)
    request = screen.terms.request
    if not agree:
        await run_blocking(_refuse, node, request_id, now)
        return with_query(request.return_url, request_id=request.id, error="access_denied")
    record = _prepare(node, screen, now)
    envelope = sign_record(record, node.key, node.settings.node.id)
    # Held for this answer before its copy leaves: of two answers at once (two workers, or a
    # double click) the loser stops here, having pushed nothing to the register.
    await run_blocking(_reserve, node, request_id, record.consent_id, now)
    try:
        await _push_copy(node, screen.terms.holder, envelope)
    except Exception:
        await run_blocking(_release, node, request_id, record.consent_id)
        raise
    try:
        await run_blocking(_store, node, request_id, record, envelope, screen.actor, now)
    except Exception:
        # Not kept here (the database failed; no other answer closes a request held for this
        # one): take back the copy just pushed, so the register holds nothing we do not.
        await push_withdrawal(node, record.holder, _withdrawn_copy(node, record, now))
        raise
    return with_query(request.return_url, request_id=request.id, consent_id=record.consent_id)


def _read_screen(node: NodeRuntime, request_id: str, signed_in: str, now: datetime) -> Screen:
    with node.sessions.begin() as session:
        return load_screen(session, node, request_id=request_id, signed_in=signed_in, now=now)


def _reserve(node: NodeRuntime, request_id: str, consent_id: str, now: datetime) -> None:
    with node.sessions.begin() as session:
        service.open_request(session, request_id, now=now)
        service.reserve_request(session, request_id, consent_id)


def _release(node: NodeRuntime, request_id: str, consent_id: str) -> None:
    try:
        with node.sessions.begin() as session:
            service.release_request(session, request_id, consent_id)
    except Exception:
        # Held until it expires (the service asks again); the copy was not taken.
        log.exception("consent request %s not released after its push failed", request_id)


def _refuse(node: NodeRuntime, request_id: str, now: datetime) -> None:
    with node.sessions.begin() as session:
        request = service.open_request(session, request_id, now=now, lock=True)
        service.refuse_request(session, request, now=now)


def _prepare(node: NodeRuntime, screen: Screen, now: datetime) -> ConsentRecord:
    issuer = node.keeper.current().member(node.settings.node.id)
    if issuer is None:
        raise RequestUnavailableError("unknown", "this charter is not in the federation")
    request = screen.terms.request
    holder_pseudonym = pseudonym_of(node, request.holder, screen.actor.person_id)
    return service.prepare_consent(
        screen.terms,
        actor=screen.actor,
        issuer=issuer,
        pseudonyms=(request.subject, holder_pseudonym),
        now=now,
    )


async def _push_copy(node: NodeRuntime, holder: Member, envelope: dict[str, Any]) -> None:
    try:
        response = await node.client.call(holder.id, "POST", CONSENTS_PATH, json_body=envelope)
    except ExchangeError as exc:
        log.warning("consent copy not taken by %s: %s", holder.id, exc)
        raise HolderUnreachableError(holder, str(exc)) from exc
    if not response.ok:
        detail = f"{holder.id} answered {response.status}: {response.body[:300]!r}"
        log.warning("consent copy refused: %s", detail)
        raise HolderUnreachableError(holder, detail)


def _store(
    node: NodeRuntime,
    request_id: str,
    record: ConsentRecord,
    envelope: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> None:
    with node.sessions.begin() as session:
        request = service.open_request(session, request_id, now=now, lock=True)
        service.store_consent(
            session,
            request=request,
            record=record,
            envelope=json.dumps(envelope),
            actor=actor,
            now=now,
        )


def _withdrawn_copy(node: NodeRuntime, record: ConsentRecord, now: datetime) -> dict[str, Any]:
    return sign_record(with_status(record, "withdrawn", now), node.key, node.settings.node.id)


# --- withdrawal ----------------------------------------------------------------------------


def visible_consent(
    session: Session, *, consent_id: str, signed_in: str, now: datetime
) -> tuple[Consent, Actor]:
    """A consent the signed-in person may see (theirs, or one of a person they help)."""
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotYoursError("no such consent")
    actor = actor_for(session, person_id=consent.person_id, signed_in=signed_in, now=now)
    if actor is None:
        raise NotYoursError("no such consent")
    return consent, actor


async def withdraw_consent(
    node: NodeRuntime, *, consent_id: str, signed_in: str, now: datetime
) -> Withdrawal:
    """Withdraw a consent now, then tell its holder (retried in the background on failure)."""
    consent = await run_blocking(_withdraw, node, consent_id, signed_in, now)
    confirmed = consent.holder_synced_at is not None
    if not confirmed:
        confirmed = await push_withdrawal(node, consent.holder, json.loads(consent.record))
        if confirmed:
            await run_blocking(_mark_synced, node, consent.id, utcnow())
            consent.holder_synced_at = now
    return Withdrawal(consent, confirmed)


def _withdraw(node: NodeRuntime, consent_id: str, signed_in: str, now: datetime) -> Consent:
    with node.sessions.begin() as session:
        consent, actor = visible_consent(
            session, consent_id=consent_id, signed_in=signed_in, now=now
        )
        service.withdraw(session, consent, actor=actor, signer=signer_of(node), now=now)
        return consent


def _mark_synced(node: NodeRuntime, consent_id: str, now: datetime) -> None:
    with node.sessions.begin() as session:
        service.mark_holder_synced(session, consent_id, now=now)


async def push_withdrawal(node: NodeRuntime, holder: str, envelope: dict[str, Any]) -> bool:
    """Tell the holder a consent is withdrawn; True once it has confirmed."""
    consent_id = envelope["record"]["consent_id"]
    try:
        response = await node.client.call(
            holder, "POST", f"{CONSENTS_PATH}/{consent_id}/withdrawal", json_body=envelope
        )
    except ExchangeError as exc:
        log.warning("withdrawal of %s not confirmed by %s: %s", consent_id, holder, exc)
        return False
    if response.ok:
        return True
    log.warning(
        "withdrawal of %s refused by %s: %s %r",
        consent_id,
        holder,
        response.status,
        response.body[:300],
    )
    return False


async def retry_withdrawals(node: NodeRuntime) -> int:
    """Tell holders of withdrawals they have not confirmed; return how many they confirmed."""
    pending = await run_blocking(_unconfirmed, node)
    unreachable: set[str] = set()
    confirmed = 0
    for consent_id, holder, envelope in pending:
        if holder in unreachable:
            continue  # one failure per holder per round is enough
        if await push_withdrawal(node, holder, envelope):
            await run_blocking(_mark_synced, node, consent_id, utcnow())
            confirmed += 1
        else:
            unreachable.add(holder)
    return confirmed


def _unconfirmed(node: NodeRuntime) -> list[tuple[str, str, dict[str, Any]]]:
    with node.sessions.begin() as session:
        return [
            (c.id, c.holder, json.loads(c.record)) for c in service.unconfirmed_withdrawals(session)
        ]


def expire_consents(node: NodeRuntime, now: datetime) -> int:
    """Mark the consents past their expiry as expired; return how many."""
    with node.sessions.begin() as session:
        return service.expire_due(session, signer=signer_of(node), now=now)


async def run_withdrawal_retries(node: NodeRuntime) -> None:
    """Background: keep telling holders of unconfirmed withdrawals until they confirm."""
    while True:
        try:
            await retry_withdrawals(node)
        except Exception:
            log.exception("retrying consent withdrawals failed; trying again later")
        await asyncio.sleep(WITHDRAWAL_RETRY_SECONDS)


async def run_expiry(node: NodeRuntime) -> None:
    """Background: mark consents expired once their agreed period ends."""
    while True:
        try:
            await run_blocking(expire_consents, node, utcnow())
        except Exception:
            log.exception("expiring consents failed; trying again later")
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
