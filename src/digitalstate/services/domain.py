"""A service as the node runs it: what it shows, and what it reads from which register, and why.

A node's operator declares its service in a file (services/definitions.py reads it); the
federation document's catalogue must name the service's purpose and fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from digitalstate.federation.domain import Catalogue, FederationDocument

PEOPLE_REGISTER = "people-register"
CONSENT_DAYS = 365


@dataclass(frozen=True)
class ServiceEntry:
    """One service: its title, what it is for, and what it reads from which register."""

    member: str
    title: str
    description: str
    purpose: str
    fields: tuple[str, ...]
    holder: str = PEOPLE_REGISTER
    notify: bool = True
    duration_days: int = CONSENT_DAYS


def catalogue_problem(
    entry: ServiceEntry, document: FederationDocument | Catalogue
) -> tuple[str, str] | None:
    """(key, problem) when document's catalogue lacks entry's purpose or fields; else None."""
    if all(purpose.code != entry.purpose for purpose in document.purposes):
        return "purpose", f"{entry.purpose!r} is not in the federation's purpose catalogue"
    holders = {f.name: f.holder for f in document.fields}
    unknown = [name for name in entry.fields if name not in holders]
    if unknown:
        return "fields", f"{', '.join(unknown)} not in the federation's field catalogue"
    elsewhere = [name for name in entry.fields if holders[name] != entry.holder]
    if elsewhere:
        return "fields", f"{', '.join(elsewhere)} not held by {entry.holder!r} (holder)"
    return None


ASSISTED_DECIDER = "manager"
"""The role that decides an application a member of staff filled in with the person."""


def decision_barred(
    role: str, staff_id: str, channel: str, acting_by: str | None
) -> Literal["role", "own"] | None:
    """Why a member of staff (role, account staff_id) may not decide an application of channel
    filled in by acting_by; None when they may.

    An application made with staff help (assisted) has no sign-in of the person behind it,
    only what a member of staff typed: a manager decides it ("role"), and never the one who
    filled it in ("own"). Any member of staff decides the others.
    """
    if channel != "assisted":
        return None
    if role != ASSISTED_DECIDER:
        return "role"
    return "own" if staff_id == acting_by else None
