"""The legal ground of a call for personal data: a purpose and a consent or statutory basis.

Routes that touch a person's data declare it by depending on ``personal_data``; the exchange
layer then refuses any call without a catalogued purpose and a consent id or basis id. Whether
the consent or basis actually allows the read is the consent layer's decision (next issue);
this layer guarantees that no such call reaches a handler without naming its ground.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from digitalstate.federation.domain import FederationDocument
from digitalstate.problems import Problem

PURPOSE_HEADER = "digitalstate-purpose"
CONSENT_HEADER = "digitalstate-consent"
BASIS_HEADER = "digitalstate-basis"


@dataclass(frozen=True, slots=True)
class Ground:
    """The purpose and the consent or basis a call names, with the verified requester."""

    requester: str
    purpose: str
    consent_id: str | None
    basis_id: str | None


async def require_ground(
    request: Request,
    purpose: Annotated[
        str | None, Header(alias=PURPOSE_HEADER, description="purpose code from the catalogue")
    ] = None,
    consent: Annotated[
        str | None, Header(alias=CONSENT_HEADER, description="consent id the person gave")
    ] = None,
    basis: Annotated[
        str | None, Header(alias=BASIS_HEADER, description="statutory basis id")
    ] = None,
) -> Ground:
    """Refuse a call for personal data that names no purpose, consent or basis."""
    # async although it awaits nothing: FastAPI then runs it inline, not in its thread pool
    # (a thread hop on every read; docs/benchmarks.md).
    # The headers are declared (not read from request.headers) so that the OpenAPI document,
    # and from it the services listing, shows which routes touch personal data.
    requester = request.scope.get("state", {}).get("exchange_member")
    if requester is None:
        raise Problem("signature-missing", "a call for personal data must be signed")
    return ground_of(requester, purpose, consent, basis, request.app.state.node.keeper.current())


def ground_of(
    requester: str,
    purpose: str | None,
    consent: str | None,
    basis: str | None,
    federation: FederationDocument,
) -> Ground:
    """The ground a signed call names in its headers; a Problem when it names none."""
    purpose = (purpose or "").strip()
    consent_id = (consent or "").strip() or None
    basis_id = (basis or "").strip() or None
    if not purpose:
        raise Problem("purpose-missing", f"name the purpose in the {PURPOSE_HEADER} header")
    if federation.purpose(purpose) is None:
        raise Problem(
            "purpose-unknown", f"{purpose!r} is not in the federation's purpose catalogue"
        )
    if consent_id is None and basis_id is None:
        raise Problem(
            "legal-ground-missing",
            f"name a consent in {CONSENT_HEADER} or a statutory basis in {BASIS_HEADER}",
        )
    return Ground(requester, purpose, consent_id, basis_id)


personal_data = Depends(require_ground)
"""Declare a route as touching personal data: `def read(ground: Ground = personal_data)`."""
