"""Consent routes on the exchange: requests, basis reads and matches (charter), copies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from digitalstate.consent import holder as holding
from digitalstate.consent.models import Consent
from digitalstate.consent.people import person_for_pseudonym, pseudonym_of
from digitalstate.consent.records import RecordRefusedError, signer_keys, verify_record
from digitalstate.consent.returns import ReturnRefusedError, request_outcome
from digitalstate.consent.schemas import (
    BasisMatchBody,
    BasisReadBody,
    ConsentRequestBody,
    OutcomeBody,
)
from digitalstate.consent.service import RequestInvalidError, create_request
from digitalstate.exchange.client import ExchangeError
from digitalstate.exchange.legal_ground import Ground, personal_data
from digitalstate.federation.domain import FederationDocument, StatutoryBasis
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem, ReceivedProblem
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.transparency.store import record_access

READ_PATH = "/exchange/v1/records/read"
MATCH_PATH = "/exchange/v1/records/match"
REQUEST_ID_MAX = 36


def caller_of(request: Request) -> str:
    """The verified member id that signed the call."""
    caller = request.scope.get("state", {}).get("exchange_member")
    if caller is None:
        raise Problem("signature-missing", "this call must be signed")
    return str(caller)


def require_role(federation: FederationDocument, caller: str, roles: set[str]) -> None:
    """Refuse a caller that has none of roles in the federation document."""
    member = federation.member(caller)
    if member is None or not roles.intersection(member.roles):
        wanted = " or ".join(sorted(roles))
        raise Problem("caller-not-allowed", f"only a member with the {wanted} role may call this")


def node_of(request: Request) -> NodeRuntime:
    """The running node behind a request."""
    node: NodeRuntime = request.app.state.node
    return node


def make_charter_router() -> APIRouter:
    """The charter's consent routes on the exchange."""
    router = Router(prefix="/exchange/v1", tags=["consent"])
    router.add_api_route("/consent-requests", ask_for_consent, methods=["POST"], status_code=201)
    router.add_api_route("/consent-requests/{request_id}/outcome", answer_outcome, methods=["POST"])
    router.add_api_route("/basis-reads", read_under_basis, methods=["POST"])
    router.add_api_route("/basis-matches", match_under_basis, methods=["POST"])
    return router


def make_holder_router() -> APIRouter:
    """A register's consent routes on the exchange: the holder's copy."""
    router = Router(prefix="/exchange/v1", tags=["consent"])
    router.add_api_route("/consents", take_consent, methods=["POST"])
    router.add_api_route("/consents/{consent_id}/withdrawal", take_withdrawal, methods=["POST"])
    return router


# --- charter -------------------------------------------------------------------------------


def ask_for_consent(request: Request, body: ConsentRequestBody) -> dict[str, Any]:
    """Ask a person for consent: answers the consent screen's address to send them to."""
    node = node_of(request)
    caller = caller_of(request)
    federation = node.keeper.current()
    require_role(federation, caller, {"service", "register"})
    now = datetime.now(UTC)
    try:
        with node.sessions.begin() as session:
            asked = create_request(
                session,
                requester=caller,
                subject=body.subject,
                holder=body.holder,
                fields=body.fields,
                purpose=body.purpose,
                duration_days=body.duration_days,
                notify=body.notify,
                return_url=body.return_url,
                federation=federation,
                now=now,
            )
    except RequestInvalidError as exc:
        raise Problem("consent-request-invalid", str(exc)) from exc
    return {
        "request_id": asked.id,
        "url": f"{node.settings.node.base_url}/consent/{asked.id}",
        "expires_at": asked.expires_at.isoformat(),
    }


def answer_outcome(request: Request, request_id: str, body: OutcomeBody) -> dict[str, Any]:
    """Say which consent answered the caller's request: subject, fields, purpose, status."""
    node = node_of(request)
    caller = caller_of(request)
    require_role(node.keeper.current(), caller, {"service", "register"})
    if len(request_id) > REQUEST_ID_MAX:
        raise Problem("not-found", "no consent request has an id this long")
    now = datetime.now(UTC)
    with node.sessions.begin() as session:
        try:
            return request_outcome(
                session,
                request_id=request_id,
                requester=caller,
                consent_id=body.consent_id,
                now=now,
            ).as_json()
        except ReturnRefusedError as exc:
            refused = exc
            if exc.misused is not None:
                _record_misuse(session, node, caller, exc.misused, now)
    if refused.kind == "unknown":
        raise Problem("not-found", refused.detail)
    raise Problem("consent-return-refused", refused.detail)


def _record_misuse(
    session: Session, node: NodeRuntime, caller: str, consent: Consent, now: datetime
) -> None:
    """Record, where the consent's person sees it, that their consent id came back elsewhere."""
    record_access(
        session,
        holder=node.settings.node.id,
        pseudonym=pseudonym_of(node, node.settings.node.id, consent.person_id),
        requester=caller,
        action="refused",
        outcome="refused",
        now=now,
        purpose=consent.purpose,
        consent_id=consent.id,
        fields=json.loads(consent.fields),
        reason="your consent was brought back with a consent request it did not answer",
    )


async def read_under_basis(
    request: Request, body: BasisReadBody, ground: Ground = personal_data
) -> Response:
    """Read a person's fields under a statutory basis, relayed by the charter and recorded.

    The subject is resolved first: a pseudonym the charter never issued to the caller names
    nobody, so it is refused (404) with nothing recorded. For a known subject, a read the
    basis does not allow is refused here, recorded once in the charter's own log, and never
    reaches the register; an allowed one is relayed and recorded as the relay.
    """
    return await _relay(request, body, ground, READ_PATH, {"fields": body.fields})


async def match_under_basis(
    request: Request, body: BasisMatchBody, ground: Ground = personal_data
) -> Response:
    """Ask a register whether values are a person's, under a statutory basis: relayed and
    recorded exactly as a basis read, and answered only {"matched": true|false}."""
    return await _relay(request, body, ground, MATCH_PATH, {"values": body.values})


async def _relay(
    request: Request,
    body: BasisReadBody | BasisMatchBody,
    ground: Ground,
    path: str,
    payload: dict[str, Any],
) -> Response:
    """Check a basis call, relay it to the register under its pseudonym, record the relay."""
    node = node_of(request)
    federation = node.keeper.current()
    person, holder_pseudonym = await run_blocking(_subject, node, ground, body)
    try:
        basis = check_basis(federation, ground, body)
    except Problem as refused:
        await run_blocking(_record_refusal, node, federation, ground, body, person, refused)
        raise
    try:
        answer = await node.client.call(
            body.holder,
            "POST",
            path,
            json_body={**payload, "subject": holder_pseudonym, "on_behalf_of": ground.requester},
            purpose=ground.purpose,
            basis=basis.id,
        )
    except ExchangeError as exc:
        await run_blocking(_record_relay, node, ground, body, holder_pseudonym, "failed", str(exc))
        raise Problem("holder-unreachable", f"{body.holder} could not be read: {exc}") from exc
    outcome = "allowed" if answer.ok else "refused"
    reason = "" if answer.ok else _refusal(answer.problem())
    await run_blocking(_record_relay, node, ground, body, holder_pseudonym, outcome, reason)
    media = answer.headers.get("content-type", "application/json")
    return Response(answer.body, status_code=answer.status, media_type=media)


def check_basis(
    federation: FederationDocument, ground: Ground, body: BasisReadBody | BasisMatchBody
) -> StatutoryBasis:
    """The basis named by the call, when it lets this caller read these fields for this purpose."""
    if ground.basis_id is None:
        raise Problem("basis-refused", "name the statutory basis in the digitalstate-basis header")
    basis = next((b for b in federation.statutory_bases if b.id == ground.basis_id), None)
    if basis is None:
        raise Problem("basis-refused", f"{ground.basis_id!r} is not a published statutory basis")
    if basis.requester != ground.requester:
        raise Problem("basis-refused", f"basis {basis.id} is for {basis.requester} only")
    if basis.purpose != ground.purpose:
        raise Problem("basis-refused", f"basis {basis.id} is for the purpose {basis.purpose}")
    beyond = sorted(set(body.fields) - set(basis.fields))
    if beyond:
        raise Problem("basis-refused", f"basis {basis.id} does not cover {', '.join(beyond)}")
    holders = {f.name: f.holder for f in federation.fields}
    elsewhere = sorted(f for f in body.fields if holders.get(f) != body.holder)
    if elsewhere:
        raise Problem("basis-refused", f"{body.holder} is not the register of {elsewhere}")
    return basis


def _subject(
    node: NodeRuntime, ground: Ground, body: BasisReadBody | BasisMatchBody
) -> tuple[str, str]:
    """The person the caller's pseudonym names, and the holder's pseudonym for them.

    404 subject-unknown, with nothing recorded, when the charter issued no such pseudonym.
    """
    with node.sessions.begin() as session:
        person = person_for_pseudonym(session, ground.requester, body.subject)
    if person is None:
        raise Problem(
            "subject-unknown",
            f"the charter issued no pseudonym {body.subject!r} to {ground.requester}",
        )
    return person, pseudonym_of(node, body.holder, person)


def refusal_pseudonym(
    node: NodeRuntime, federation: FederationDocument, holder: str, person: str
) -> str:
    """The pseudonym a refused basis read is recorded under in the charter's log.

    The register's pseudonym for the person, as the relays use, when the caller named a
    register; otherwise (a holder that is no register) the charter's own pseudonym for them,
    which the person's page also reads, so the refusal is never recorded out of their sight.
    """
    member = federation.member(holder)
    register = member is not None and "register" in member.roles
    return pseudonym_of(node, holder if register else node.settings.node.id, person)


def _record_refusal(
    node: NodeRuntime,
    federation: FederationDocument,
    ground: Ground,
    body: BasisReadBody | BasisMatchBody,
    person: str,
    refused: Problem,
) -> None:
    """Record the charter's refusal of a basis read, on its own, before it is answered."""
    with node.sessions.begin() as session:
        record_access(
            session,
            holder=node.settings.node.id,
            pseudonym=refusal_pseudonym(node, federation, body.holder, person),
            requester=ground.requester,
            action="refused",
            outcome="refused",
            now=datetime.now(UTC),
            purpose=ground.purpose,
            basis_id=ground.basis_id,
            fields=body.fields,
            reason=refused.detail,
        )


def _record_relay(
    node: NodeRuntime,
    ground: Ground,
    body: BasisReadBody | BasisMatchBody,
    holder_pseudonym: str,
    outcome: str,
    reason: str,
) -> None:
    with node.sessions.begin() as session:
        record_access(
            session,
            holder=node.settings.node.id,
            pseudonym=holder_pseudonym,
            requester=ground.requester,
            action="basis-read",
            outcome=outcome,
            now=datetime.now(UTC),
            purpose=ground.purpose,
            basis_id=ground.basis_id,
            fields=body.fields,
            reason=reason or f"{_kind(body)}relayed to {body.holder}",
        )


def _kind(body: BasisReadBody | BasisMatchBody) -> str:
    """How the relay's record names a match (a read is the default)."""
    return "a match (no value returned) " if isinstance(body, BasisMatchBody) else ""


def _refusal(problem: ReceivedProblem | None) -> str:
    detail = None if problem is None else problem.detail
    return detail or "the register refused the read"


# --- register (holder) ---------------------------------------------------------------------


Envelope = Annotated[dict[str, Any], Body(description="the charter's signed consent record")]


def _verified(request: Request, envelope: dict[str, Any]) -> tuple[NodeRuntime, Any, datetime]:
    node = node_of(request)
    caller = caller_of(request)
    federation = node.keeper.current()
    require_role(federation, caller, {"charter"})
    now = datetime.now(UTC)
    try:
        record = verify_record(envelope, signer_keys(federation, caller, now), signer=caller)
    except RecordRefusedError as exc:
        raise Problem("consent-record-invalid", exc.detail, {"reason": exc.reason}) from exc
    return node, record, now


def take_consent(request: Request, envelope: Envelope) -> JSONResponse:
    """Keep this register's copy of a consent the charter recorded (charter only)."""
    node, record, now = _verified(request, envelope)
    try:
        holding.check_copy(record, holder=node.settings.node.id, now=now)
        with node.sessions.begin() as session:
            created = holding.hold_consent(session, record, envelope, now=now)
    except RecordRefusedError as exc:
        raise Problem("consent-record-invalid", exc.detail, {"reason": exc.reason}) from exc
    body = {"consent_id": record.consent_id, "status": "held" if created else "already-held"}
    return JSONResponse(body, status_code=201 if created else 200)


def take_withdrawal(request: Request, consent_id: str, envelope: Envelope) -> dict[str, Any]:
    """Withdraw this register's copy of a consent, from the charter's signed record."""
    node, record, now = _verified(request, envelope)
    if record.consent_id != consent_id or record.status != "withdrawn":
        raise Problem(
            "consent-record-invalid",
            f"expected the withdrawn record of consent {consent_id}",
            {"reason": "mismatch"},
        )
    try:
        with node.sessions.begin() as session:
            held = holding.withdraw_held(session, record, envelope, now=now)
            if held is None:
                raise Problem("not-found", f"this register holds no consent {consent_id}")
            withdrawn_at = held.withdrawn_at
    except RecordRefusedError as exc:
        raise Problem("consent-record-invalid", exc.detail, {"reason": exc.reason}) from exc
    when = withdrawn_at.isoformat() if withdrawn_at else None
    return {"consent_id": consent_id, "status": "withdrawn", "withdrawn_at": when}
