"""The demo's services: what each service node asks the People register for, and why.

Each entry's fields are the ones its purpose wording in the federation's catalogue names (the
person is shown that wording on the consent screen), so a service never asks for more than it
says it uses. A node with no entry here shows no service pages.
"""

from __future__ import annotations

from dataclasses import dataclass

PEOPLE_REGISTER = "people-register"
NAMES = ("people.given_names", "people.family_name")
ADDRESS_AND_BIRTH = ("people.address", "people.date_of_birth")
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


def _entry(member: str, title: str, description: str, purpose: str, *fields: str) -> ServiceEntry:
    return ServiceEntry(member, title, description, purpose, fields)


SERVICES: dict[str, ServiceEntry] = {
    entry.member: entry
    for entry in (
        _entry(
            "liverpool-pensions",
            "Check your State Pension details",
            "See the address and date of birth we use to pay your State Pension.",
            "pension-administration",
            *ADDRESS_AND_BIRTH,
        ),
        _entry(
            "swansea-motoring",
            "Check your driving licence details",
            "See the name, address and date of birth we use for your driving licence.",
            "driver-licensing",
            *NAMES,
            *ADDRESS_AND_BIRTH,
        ),
        _entry(
            "newcastle-tax",
            "Check the details we use for your tax",
            "See the name and address we use to work out your tax code and write to you.",
            "tax-administration",
            *NAMES,
            "people.address",
        ),
        _entry(
            "electoral-registration",
            "Check your electoral registration details",
            "See the name, address and date of birth we use to put you on the electoral register.",
            "electoral-registration",
            *NAMES,
            *ADDRESS_AND_BIRTH,
        ),
        _entry(
            "prisons",
            "Check your details for booking a prison visit",
            "See the name, address and date of birth we use to check you can visit and to "
            "book your visit.",
            "prison-visit-booking",
            *NAMES,
            *ADDRESS_AND_BIRTH,
        ),
        _entry(
            "birmingham-social-care",
            "Check your details for a care needs assessment",
            "See the name, address and date of birth we use to assess the care and support "
            "you need.",
            "social-care-assessment",
            *NAMES,
            *ADDRESS_AND_BIRTH,
        ),
        _entry(
            "manchester-planning",
            "Check your details for a planning application",
            "See the name and address we use to register and decide your planning application.",
            "planning-application",
            *NAMES,
            "people.address",
        ),
    )
}


def service_for(member_id: str) -> ServiceEntry | None:
    """The service a node runs, or None when it runs none of the demo's."""
    return SERVICES.get(member_id)
