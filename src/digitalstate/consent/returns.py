"""Which consent answered a request: the charter's word a service checks on the way back.

The browser brings a service a `request_id` and a `consent_id` from the consent screen, and
both are only claims: anyone can type another person's consent id into the link. So the
service asks the charter, over signed exchange, whether that consent answered that request of
its own, and takes the consent's subject, holder, fields, purpose and status from the
charter's signed answer, never from the link (docs/adr/0012). A consent id brought back with
a request it did not answer is refused, and recorded in the charter's log where the person
the consent belongs to sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from digitalstate.consent.models import Consent, ConsentRequest
from digitalstate.consent.service import effective_status, record_of

RefusalKind = Literal["unknown", "open", "mismatch"]


class ReturnRefusedError(LookupError):
    """A way back the charter does not vouch for: why, and the consent misused, if any."""

    def __init__(self, kind: RefusalKind, detail: str, misused: Consent | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.misused = misused


@dataclass(frozen=True)
class Outcome:
    """The consent that answered a request, as the charter holds it."""

    request_id: str
    consent_id: str
    subject: str  # the requester's pseudonym for the person who gave the consent
    holder: str
    fields: tuple[str, ...]
    purpose: str
    notify: bool
    status: str
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The answer's body."""
        return {
            "request_id": self.request_id,
            "consent_id": self.consent_id,
            "subject": self.subject,
            "holder": self.holder,
            "fields": list(self.fields),
            "purpose": self.purpose,
            "notify": self.notify,
            "status": self.status,
            "expires_at": self.expires_at.isoformat(),
        }


def request_outcome(
    session: Session, *, request_id: str, requester: str, consent_id: str, now: datetime
) -> Outcome:
    """The consent that answered requester's request, if it is consent_id; raises otherwise."""
    request = session.get(ConsentRequest, request_id)
    if request is None or request.requester != requester:
        # Another member's request is "unknown" too: a service learns nothing of others.
        raise ReturnRefusedError("unknown", f"{requester} made no consent request {request_id}")
    if request.decided_at is None:
        raise ReturnRefusedError(
            "open",
            f"consent request {request_id} is not answered yet",
            session.get(Consent, consent_id),
        )
    consent = session.get(Consent, request.consent_id) if request.consent_id else None
    if consent is None or consent.id != consent_id:
        raise ReturnRefusedError(
            "mismatch",
            f"consent request {request_id} was not answered with consent {consent_id}",
            session.get(Consent, consent_id),
        )
    record = record_of(consent)
    return Outcome(
        request_id=request.id,
        consent_id=consent.id,
        subject=record.pii_principal.requester_pseudonym,
        holder=consent.holder,
        fields=tuple(json.loads(consent.fields)),
        purpose=consent.purpose,
        notify=consent.notify,
        status=effective_status(consent, now),
        expires_at=consent.expires_at,
    )
