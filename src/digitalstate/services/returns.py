"""The way back from the consent screen: take the charter's word, and each answer once.

The link the browser comes back with (`request_id`, `consent_id`) is only a claim; a person
holding someone else's consent id could type it in. So the service asks the charter over
signed exchange which consent answered its request, and keeps the consent only when the
charter's answer names this request, this consent, the signed-in person's pseudonym here, and
the holder, fields, purpose and notification this service asked for, and the consent is
active. The request is then marked used in the database, so the same answer cannot be used
twice, whatever the worker or restart (docs/adr/0012).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digitalstate.exchange.client import ExchangeError
from digitalstate.problems import Problem
from digitalstate.services.domain import ServiceEntry
from digitalstate.services.models import ServiceConsent, ServiceConsentReturn
from digitalstate.services.service import (
    ServiceError,
    charter_of,
    problem_text,
    record_consent,
    refresh_copy,
)
from digitalstate.storage.retrying import run_step

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger("digitalstate.services")

OUTCOME_PATH = "/exchange/v1/consent-requests/{request_id}/outcome"


CONSENT_ID_MAX = 36

# What came of a way back from the consent screen: the person agreed (the consent is kept and
# read), said no, or the way back cannot be used: not this browser's request or used before
# (unknown), malformed, not vouched for by the charter (refused), or the charter unreachable
# (failed). The pages answer the last four with these statuses.
ReturnOutcome = Literal["agreed", "declined", "unknown", "malformed", "refused", "failed"]
RETURN_STATUS = {"unknown": 400, "malformed": 400, "refused": 403, "failed": 502}


class ReturnRefusedError(ServiceError):
    """A way back naming a consent that this person did not give for this request."""


def remember_request(
    session: MutableMapping[str, Any], key: str, request_id: str, subject: str
) -> None:
    """Keep in the browser's session which consent request it was sent to the charter with."""
    session[key] = {"request_id": request_id, "subject": subject}


async def take_return(
    node: NodeRuntime,
    session: MutableMapping[str, Any],
    key: str,
    *,
    subject: str,
    entry: ServiceEntry,
    request_id: str,
    consent_id: str,
    error: str,
    now: datetime,
) -> ReturnOutcome:
    """The way back from the consent screen, for the request remembered under key: keep the
    consent the charter vouches for and read the details under it.

    Only the request this browser was sent with, for this person, and only once: a link with
    someone else's consent id must not show their details here.
    """
    pending = session.pop(key, None)
    if (
        not isinstance(pending, dict)
        or not request_id
        or pending.get("request_id") != request_id
        or pending.get("subject") != subject
    ):
        return "unknown"
    if error == "access_denied":
        return "declined"
    if error or not consent_id or len(consent_id) > CONSENT_ID_MAX:
        return "malformed"
    try:
        await confirm_return(
            node,
            request_id=request_id,
            consent_id=consent_id,
            subject=subject,
            entry=entry,
            now=now,
        )
    except ReturnRefusedError as exc:
        log.warning("way back from consent request %s refused: %s", request_id, exc)
        return "refused"
    except ServiceError as exc:
        log.warning("way back from consent request %s failed: %s", request_id, exc)
        return "failed"
    await refresh_copy(node, consent_id)
    return "agreed"


async def confirm_return(
    node: NodeRuntime,
    *,
    request_id: str,
    consent_id: str,
    subject: str,
    entry: ServiceEntry,
    now: datetime,
) -> None:
    """Keep the consent that answered request_id, once the charter vouches for it."""
    answer = await ask_outcome(node, request_id, consent_id)
    check_outcome(
        answer, request_id=request_id, consent_id=consent_id, subject=subject, entry=entry
    )
    await run_step(
        node.sessions,
        lambda s: use_return(
            s, request_id=request_id, consent_id=consent_id, subject=subject, entry=entry, now=now
        ),
    )


async def ask_outcome(node: NodeRuntime, request_id: str, consent_id: str) -> dict[str, Any]:
    """The charter's signed answer: which consent answered request_id, for whom, for what."""
    try:
        charter = charter_of(node.keeper.current())
    except Problem as exc:
        raise ServiceError(f"this node holds no valid federation document: {exc.detail}") from exc
    path = OUTCOME_PATH.format(request_id=quote(request_id, safe=""))
    try:
        response = await node.client.call(
            charter, "POST", path, json_body={"consent_id": consent_id}
        )
    except ExchangeError as exc:
        raise ServiceError(f"the charter could not be asked: {exc}") from exc
    if response.status in (403, 404, 422):
        raise ReturnRefusedError(f"the charter does not vouch for it: {problem_text(response)}")
    if not response.ok:
        raise ServiceError(f"the charter answered {problem_text(response)}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise ServiceError("the charter's answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise ServiceError("the charter's answer is not an object")
    return answer


def check_outcome(
    answer: dict[str, Any], *, request_id: str, consent_id: str, subject: str, entry: ServiceEntry
) -> None:
    """Raise ReturnRefusedError unless the answer is this request's consent, as asked."""
    expected: dict[str, Any] = {
        "request_id": request_id,
        "consent_id": consent_id,
        "subject": subject,
        "holder": entry.holder,
        "purpose": entry.purpose,
        "notify": entry.notify,
        "status": "active",
    }
    for name, wanted in expected.items():
        if answer.get(name) != wanted:
            # The values are not logged: a subject that is not ours is someone else's pseudonym.
            raise ReturnRefusedError(f"the charter's answer differs in {name}")
    fields = answer.get("fields")
    if not isinstance(fields, list) or sorted(fields) != sorted(entry.fields):
        raise ReturnRefusedError("the consent does not cover the fields this service asked for")


def use_return(
    session: Session,
    *,
    request_id: str,
    consent_id: str,
    subject: str,
    entry: ServiceEntry,
    now: datetime,
) -> ServiceConsent:
    """Mark request_id's answer used and keep its consent; refused when it was used before."""
    if session.get(ServiceConsentReturn, request_id) is not None:
        raise ReturnRefusedError(f"the answer to request {request_id} was used before")
    session.add(
        ServiceConsentReturn(
            request_id=request_id, consent_id=consent_id, subject=subject, used_at=now
        )
    )
    try:
        # Two workers taking the same answer at once: the primary key lets one through.
        session.flush()
    except IntegrityError as exc:
        raise ReturnRefusedError(f"the answer to request {request_id} was used before") from exc
    try:
        return record_consent(session, consent_id, subject, entry, now)
    except ServiceError as exc:
        raise ReturnRefusedError(str(exc)) from exc
