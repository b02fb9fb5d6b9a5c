"""Service use cases: ask the person's consent, keep its id, and read the facts it allows.

A service never stores a consent screen's data, only the consent id the charter hands back,
and reads the facts from their register under that id (docs/adr/0008). The copy it keeps is
refreshed when the register sends a change notice; a refused read keeps the last copy and
marks the consent refused, so the page can say the copy is no longer kept up to date.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.exchange.client import ExchangeError, ExchangeResponse
from digitalstate.federation.domain import FederationDocument
from digitalstate.problems import PROBLEM_BASE, Problem, ReceivedProblem
from digitalstate.services.domain import ServiceEntry
from digitalstate.services.models import ServiceConsent, ServiceCopy
from digitalstate.storage.retrying import run_step

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger("digitalstate.services")

CONSENT_REQUESTS_PATH = "/exchange/v1/consent-requests"
RECORDS_READ_PATH = "/exchange/v1/records/read"
CONSENT_RETURN_PATH = "/service/consent-return"
CONSENT_REFUSED = PROBLEM_BASE + "consent-refused"
ACTIVE = "active"
REFUSED = "refused"


class ServiceError(Exception):
    """A step of a service that could not be done; str() says why, in one line."""


@dataclass(frozen=True)
class ConsentRequested:
    """A consent request the charter took: its id, and where to send the person's browser."""

    request_id: str
    url: str


@dataclass(frozen=True)
class HeldCopy:
    """A consent this service holds for a person, and the values last read under it."""

    consent_id: str
    holder: str
    fields: list[str]
    purpose: str
    status: str
    received_at: datetime
    data: dict[str, Any] | None
    version: int | None
    read_at: datetime | None


RefreshOutcome = Literal["updated", "unchanged", "refused", "unknown", "failed"]


@dataclass(frozen=True)
class Refresh:
    """What came of a re-read: updated, unchanged, refused, unknown (consent) or failed."""

    outcome: RefreshOutcome
    detail: str = ""


def charter_of(federation: FederationDocument) -> str:
    """The member id of the federation's charter node."""
    for member in federation.members:
        if "charter" in member.roles and member.revoked_at is None:
            return member.id
    raise ServiceError(f"{federation.federation} has no charter node to ask for consent")


async def request_consent(
    node: NodeRuntime, subject: str, entry: ServiceEntry, return_path: str = CONSENT_RETURN_PATH
) -> ConsentRequested:
    """Ask the charter for the person's consent to entry's read; return where to go. The
    charter sends the person back to return_path on this node."""
    try:
        federation = node.keeper.current()
    except Problem as exc:
        raise ServiceError(f"this node holds no valid federation document: {exc.detail}") from exc
    charter = charter_of(federation)
    body = {
        "subject": subject,
        "holder": entry.holder,
        "fields": list(entry.fields),
        "purpose": entry.purpose,
        "duration_days": entry.duration_days,
        "notify": entry.notify,
        "return_url": node.settings.node.base_url + return_path,
    }
    try:
        response = await node.client.call(charter, "POST", CONSENT_REQUESTS_PATH, json_body=body)
    except ExchangeError as exc:
        raise ServiceError(f"the charter could not be asked: {exc}") from exc
    if response.status != 201:
        raise ServiceError(f"the charter refused the request: {problem_text(response)}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise ServiceError("the charter's answer is not JSON") from exc
    request_id = answer.get("request_id") if isinstance(answer, dict) else None
    url = answer.get("url") if isinstance(answer, dict) else None
    member = federation.member(charter)
    assert member is not None
    if not isinstance(request_id, str) or not isinstance(url, str):
        raise ServiceError("the charter's answer has no request_id or url")
    if not url.startswith(member.base_url + "/"):
        raise ServiceError(f"the charter sent a consent address outside {member.base_url}")
    return ConsentRequested(request_id, url)


def record_consent(
    session: Session, consent_id: str, subject: str, entry: ServiceEntry, now: datetime
) -> ServiceConsent:
    """Keep the consent id the person gave for entry's read (again for the same person: no-op)."""
    existing = session.get(ServiceConsent, consent_id)
    if existing is not None:
        if existing.subject != subject:
            raise ServiceError(f"consent {consent_id} was given by someone else")
        return existing
    consent = ServiceConsent(
        consent_id=consent_id,
        subject=subject,
        holder=entry.holder,
        fields=json.dumps(list(entry.fields)),
        purpose=entry.purpose,
        received_at=now,
        status=ACTIVE,
    )
    session.add(consent)
    return consent


def latest_copy(session: Session, subject: str) -> HeldCopy | None:
    """The newest consent this service holds for subject, with its copy, or None."""
    consent = session.scalars(
        select(ServiceConsent)
        .where(ServiceConsent.subject == subject)
        .order_by(ServiceConsent.received_at.desc(), ServiceConsent.consent_id)
        .limit(1)
    ).first()
    return None if consent is None else _held(session, consent)


def copy_for(session: Session, subject: str, entry: ServiceEntry) -> HeldCopy | None:
    """The newest active consent subject gave for entry's read (its holder, purpose and every
    one of its fields), with its copy; None when there is none."""
    consents = session.scalars(
        select(ServiceConsent)
        .where(
            ServiceConsent.subject == subject,
            ServiceConsent.holder == entry.holder,
            ServiceConsent.purpose == entry.purpose,
            ServiceConsent.status == ACTIVE,
        )
        .order_by(ServiceConsent.received_at.desc(), ServiceConsent.consent_id)
    )
    for consent in consents:
        if set(entry.fields) <= set(json.loads(consent.fields)):
            return _held(session, consent)
    return None


def held_copy(session: Session, consent_id: str) -> HeldCopy | None:
    """The consent with this id and its copy, or None when this service does not hold it."""
    consent = session.get(ServiceConsent, consent_id)
    return None if consent is None else _held(session, consent)


def _held(session: Session, consent: ServiceConsent) -> HeldCopy:
    copy = session.get(ServiceCopy, consent.consent_id)
    return HeldCopy(
        consent_id=consent.consent_id,
        holder=consent.holder,
        fields=list(json.loads(consent.fields)),
        purpose=consent.purpose,
        status=consent.status,
        received_at=consent.received_at,
        data=None if copy is None else dict(json.loads(copy.data)),
        version=None if copy is None else copy.version,
        read_at=None if copy is None else copy.read_at,
    )


def store_copy(
    session: Session, consent_id: str, data: dict[str, Any], version: int, now: datetime
) -> bool:
    """Keep what was read, unless a newer version is kept already; True when it was kept."""
    consent = session.get(ServiceConsent, consent_id)
    if consent is None:
        return False
    consent.status = ACTIVE
    copy = session.get(ServiceCopy, consent_id)
    if copy is None:
        session.add(
            ServiceCopy(consent_id=consent_id, data=_json(data), version=version, read_at=now)
        )
        return True
    # Two re-reads can finish out of order: an older answer must not replace a newer one.
    if version < copy.version:
        return False
    copy.data, copy.version, copy.read_at = _json(data), version, now
    return True


def mark_refused(session: Session, consent_id: str) -> None:
    """Mark a consent refused by its holder: its copy stays, no longer kept up to date."""
    consent = session.get(ServiceConsent, consent_id)
    if consent is not None:
        consent.status = REFUSED


async def refresh_copy(node: NodeRuntime, consent_id: str) -> Refresh:
    """Read the consented facts again from their register and keep them (a consented read)."""
    held = await run_step(node.sessions, lambda s: held_copy(s, consent_id))
    if held is None:
        return Refresh("unknown", f"this service holds no consent {consent_id}")
    try:
        response = await node.client.call(
            held.holder,
            "POST",
            RECORDS_READ_PATH,
            json_body={"fields": held.fields},
            purpose=held.purpose,
            consent=consent_id,
        )
    except ExchangeError as exc:
        if _consent_refused(exc.problem):
            return await _refused(node, consent_id, str(exc))
        return Refresh("failed", str(exc))
    if response.status == 403 and _consent_refused(response.problem()):
        return await _refused(node, consent_id, problem_text(response))
    if not response.ok:
        return Refresh("failed", f"{held.holder} answered {problem_text(response)}")
    return await _keep(node, consent_id, response)


async def _keep(node: NodeRuntime, consent_id: str, response: ExchangeResponse) -> Refresh:
    try:
        answer = response.json()
        data, version = dict(answer["fields"]), int(answer["version"])
    except (ValueError, KeyError, TypeError) as exc:
        return Refresh("failed", f"the register's answer cannot be read: {exc!r}")
    now = datetime.now(UTC)
    kept = await run_step(node.sessions, lambda s: store_copy(s, consent_id, data, version, now))
    return Refresh("updated" if kept else "unchanged", f"version {version}")


async def _refused(node: NodeRuntime, consent_id: str, reason: str) -> Refresh:
    await run_step(node.sessions, lambda s: mark_refused(s, consent_id))
    log.info("consent %s refused by its holder: %s", consent_id, reason)
    return Refresh("refused", reason)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _consent_refused(problem: ReceivedProblem | None) -> bool:
    return problem is not None and problem.type == CONSENT_REFUSED


def problem_text(response: ExchangeResponse) -> str:
    """A peer's answer in one line: status, and problem type and detail when it has them."""
    problem = response.problem()
    if problem is not None and problem.type is not None:
        return f"{response.status} {problem.type}: {problem.detail or ''}"
    return str(response.status)
