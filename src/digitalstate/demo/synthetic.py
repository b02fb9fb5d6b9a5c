"""Synthetic people for the demo and the benchmarks: the same person for the same seed and number.

Person n of seed s is made from a random generator seeded with (s, n) alone, so that people
do not depend on how many are made: seeding 1,000 and then 10,000 gives the first 1,000 twice,
identically. Every value passes the register's own checks (registers/domain.py).
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from digitalstate.demo import seedwords as words

# The people are as they were on this day (the start of the 2025-26 tax year), so that ages
# and pension statuses do not drift from one run to the next.
REFERENCE_DATE = date(2025, 4, 6)
SEEDED_AT = datetime(2025, 4, 6, tzinfo=UTC)
STATE_PENSION_AGE = 66

# The first people are named, so that the demo can say who to sign in as.
SAMPLE_PEOPLE: tuple[tuple[str, str, str], ...] = (
    ("Alice", "Sample", "F"),
    ("Bob", "Sample", "M"),
    ("Chidi", "Sample", "M"),
    ("Dorota", "Sample", "F"),
    ("Eilidh", "Sample", "F"),
)
# National Insurance number prefixes: D, F, I, Q, U and V are never used, nor O second.
NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
CHECK_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    """One made-up person: the charter's account and every fact the registers hold."""

    number: int
    person_id: str
    email: str
    given_names: str
    family_name: str
    sex: str
    date_of_birth: date
    address: dict[str, Any]
    phone: str
    nino: str
    tax_code: str
    driving_licence_number: str
    entitlements: list[str]
    vehicles: list[dict[str, str]]
    state_pension_status: str
    bank_details: dict[str, str]
    registration_status: str

    @property
    def display_name(self) -> str:
        """The name the charter greets the person by."""
        return f"{self.given_names.split()[0]} {self.family_name}"

    def field_values(self) -> dict[str, Any]:
        """Every catalogued field's value for this person, by field name."""
        return {
            "people.given_names": self.given_names,
            "people.family_name": self.family_name,
            "people.date_of_birth": self.date_of_birth.isoformat(),
            "people.address": self.address,
            "people.email": self.email,
            "people.phone": self.phone,
            "tax.national_insurance_number": self.nino,
            "tax.tax_code": self.tax_code,
            "motoring.driving_licence_number": self.driving_licence_number,
            "motoring.entitlements": self.entitlements,
            "motoring.vehicles": self.vehicles,
            "pensions.state_pension_status": self.state_pension_status,
            "pensions.bank_details": self.bank_details,
            "electoral.registration_status": self.registration_status,
        }


def sample_email(number: int) -> str:
    """The email address person number signs in with."""
    if number < len(SAMPLE_PEOPLE):
        return f"{SAMPLE_PEOPLE[number][0].lower()}.sample@example.org"
    return f"person.{number}@example.org"


def make_person(seed: int, number: int) -> SyntheticPerson:
    """Person number of seed: the same on every run, whatever the number of people made."""
    rng = random.Random(f"digitalstate-demo/{seed}/{number}")  # noqa: S311 - made up, on purpose
    person_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if number < len(SAMPLE_PEOPLE):
        given, family, sex = SAMPLE_PEOPLE[number]
    else:
        sex = rng.choice("FM")
        given = rng.choice(words.FEMALE_NAMES if sex == "F" else words.MALE_NAMES)
        family = rng.choice(words.FAMILY_NAMES)
    if rng.random() < 0.4:
        given += " " + rng.choice(words.FEMALE_NAMES if sex == "F" else words.MALE_NAMES)
    born = REFERENCE_DATE - timedelta(days=rng.randint(18 * 366, 95 * 365))
    town, area, nation = rng.choice(words.TOWNS)
    age = _age(born, REFERENCE_DATE)
    return SyntheticPerson(
        number=number,
        person_id=person_id,
        email=sample_email(number),
        given_names=given,
        family_name=family,
        sex=sex,
        date_of_birth=born,
        address=_address(rng, town, area),
        phone=f"+447700900{rng.randrange(1000):03d}",  # Ofcom's numbers for drama
        nino=_nino(rng),
        tax_code=_tax_code(rng, nation),
        driving_licence_number=licence_number(family, born, given, sex, rng),
        entitlements=_entitlements(rng, born),
        vehicles=[_vehicle(rng) for _ in range(rng.choices((0, 1, 2), (30, 55, 15))[0])],
        state_pension_status=_pension_status(rng, age),
        bank_details={
            "sort_code": "-".join(f"{rng.randrange(100):02d}" for _ in range(3)),
            "account_number": f"{rng.randrange(10**8):08d}",
        },
        registration_status=rng.choices(
            (
                "Registered, not on the open register",
                "Registered, on the open register",
                "Not registered",
            ),
            (58, 30, 12),
        )[0],
    )


def licence_number(family: str, born: date, given: str, sex: str, rng: random.Random) -> str:
    """A driving licence number in the DVLA's 16-character form (check letters made up)."""
    letters = re.sub(r"[^A-Z]", "", family.upper())
    if letters.startswith("MAC"):
        letters = "MC" + letters[3:]  # the DVLA writes Mac as Mc
    initials = "".join(name[0] for name in given.upper().split()[:2])
    month = born.month + (50 if sex == "F" else 0)
    return (
        letters[:5].ljust(5, "9")
        + str(born.year)[2]
        + f"{month:02d}{born.day:02d}"
        + str(born.year)[3]
        + initials.ljust(2, "9")
        + "9"
        + rng.choice(CHECK_LETTERS)
        + rng.choice(CHECK_LETTERS)
    )


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _address(rng: random.Random, town: str, area: str) -> dict[str, Any]:
    street = (
        f"{rng.randint(1, 240)} {rng.choice(words.STREET_WORDS)} {rng.choice(words.STREET_KINDS)}"
    )
    lines = [f"Flat {rng.randint(1, 40)}", street] if rng.random() < 0.15 else [street]
    inward = (
        f"{rng.randint(0, 9)}{rng.choice(words.INWARD_LETTERS)}{rng.choice(words.INWARD_LETTERS)}"
    )
    return {"lines": lines, "town": town, "postcode": f"{area}{rng.randint(1, 29)} {inward}"}


def _nino(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(NINO_FIRST) + rng.choice(NINO_SECOND)
        if prefix not in NINO_BAD_PREFIXES:
            return f"{prefix}{rng.randrange(10**6):06d}{rng.choice('ABCD')}"


def _tax_code(rng: random.Random, nation: str) -> str:
    # S marks a Scottish taxpayer, C a Welsh one; most people have the personal allowance.
    prefix = {"Scotland": "S", "Wales": "C"}.get(nation, "")
    kind = rng.random()
    if kind < 0.05:
        return f"{prefix}BR"
    if kind < 0.1:
        return f"{prefix}K{rng.randint(100, 900)}"
    return f"{prefix}1257L"


def _entitlements(rng: random.Random, born: date) -> list[str]:
    granted = ["AM", "B", "F", "K", "Q"]
    if born.year < 1980:
        granted += ["BE", "C1", "C1E", "D1", "D1E"]  # given with car licences before 1997
    if rng.random() < 0.15:
        granted.append("A")
    if rng.random() < 0.04:
        granted += ["C", "CE"]
    return sorted(set(granted))


def _vehicle(rng: random.Random) -> dict[str, str]:
    make, model = rng.choice(words.VEHICLES)
    year = rng.randint(2002, 2024)
    age = f"{year % 100:02d}" if rng.random() < 0.5 else f"{year % 100 + 50:02d}"
    plate = (
        rng.choice(words.PLATE_REGIONS)
        + rng.choice(words.PLATE_LETTERS)
        + age
        + " "
        + "".join(rng.choice(words.PLATE_RANDOM_LETTERS) for _ in range(3))
    )
    return {
        "registration": plate,
        "make": make,
        "model": model,
        "colour": rng.choice(words.COLOURS),
    }


def _pension_status(rng: random.Random, age: int) -> str:
    if age < STATE_PENSION_AGE:
        return "Not yet of State Pension age"
    return "Receiving State Pension" if rng.random() < 0.92 else "Deferring State Pension"
