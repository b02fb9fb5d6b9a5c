"""Synthetic people: the same for the same seed, valid everywhere, unlinkable across registers."""

from __future__ import annotations

import json
import random
import re
from datetime import date

from digitalstate.demo.seed import person_rows, register_fields, register_rows
from digitalstate.demo.synthetic import (
    REFERENCE_DATE,
    SAMPLE_PEOPLE,
    licence_number,
    make_person,
    sample_email,
)
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.registers.domain import validate_value

SECRET = bytes(range(32))
CATALOGUE = load_catalogue(None).fields
TYPES = {f.name: f.type for f in CATALOGUE}
LICENCE = re.compile(r"^[A-Z9]{5}[0-9][0-9]{2}[0-9]{2}[0-9][A-Z9]{2}9[A-Z]{2}$")
PLATE = re.compile(r"^[A-Z]{2}[0-9]{2} [A-Z]{3}$")


def test_the_same_seed_and_number_make_the_same_person() -> None:
    assert make_person(1, 42) == make_person(1, 42)
    assert make_person(1, 42).field_values() == make_person(1, 42).field_values()


def test_another_seed_makes_other_people() -> None:
    assert make_person(1, 42).person_id != make_person(2, 42).person_id
    assert make_person(1, 42).field_values() != make_person(2, 42).field_values()


def test_every_person_has_their_own_internal_id() -> None:
    ids = {make_person(1, n).person_id for n in range(2000)}
    assert len(ids) == 2000


def test_the_first_people_are_the_named_samples() -> None:
    for number, (given, family, _sex) in enumerate(SAMPLE_PEOPLE):
        person = make_person(1, number)
        assert person.given_names.split()[0] == given
        assert person.family_name == family
        assert person.email == f"{given.lower()}.sample@example.org"
        assert person.display_name == f"{given} {family}"
    assert make_person(1, 0).email == "alice.sample@example.org"
    assert sample_email(5) == "person.5@example.org"
    assert make_person(1, 1234).email == "person.1234@example.org"


def test_every_value_made_passes_the_registers_own_checks_unchanged() -> None:
    for number in range(2000):
        for field, value in make_person(7, number).field_values().items():
            assert validate_value(TYPES[field], field, value, today=REFERENCE_DATE) == value, (
                number,
                field,
            )


def test_every_catalogued_field_has_a_value() -> None:
    assert set(make_person(1, 0).field_values()) == set(TYPES)


def test_people_are_adults_as_of_the_reference_date() -> None:
    for number in range(500):
        born = make_person(1, number).date_of_birth
        assert date(REFERENCE_DATE.year - 96, 1, 1) < born <= date(REFERENCE_DATE.year - 18, 4, 6)


def test_pension_status_follows_age() -> None:
    for number in range(500):
        person = make_person(1, number)
        age = (REFERENCE_DATE - person.date_of_birth).days // 365.25
        if age < 65:
            assert person.state_pension_status == "Not yet of State Pension age"


def test_a_driving_licence_number_is_built_from_name_and_date_of_birth() -> None:
    rng = random.Random(0)
    number = licence_number("MacDonald", date(1987, 7, 5), "Sarah Jane", "F", rng)
    assert number[:13] == "MCDON857057SJ"
    assert number[13] == "9"
    assert LICENCE.match(number)
    short = licence_number("Ng", date(1962, 11, 30), "Wei", "M", rng)
    assert short.startswith("NG999611302W99")
    assert LICENCE.match(short)


def test_licences_and_number_plates_have_the_right_shape() -> None:
    for number in range(500):
        person = make_person(1, number)
        assert LICENCE.match(person.driving_licence_number), person.driving_licence_number
        assert len(person.driving_licence_number) == 16
        for vehicle in person.vehicles:
            assert PLATE.match(vehicle["registration"]), vehicle


def test_each_register_gets_the_fields_the_catalogue_gives_it() -> None:
    held = register_fields(CATALOGUE)
    assert held["newcastle-tax"] == ["tax.national_insurance_number", "tax.tax_code"]
    assert held["liverpool-pensions"] == ["pensions.state_pension_status", "pensions.bank_details"]
    assert set(held) == {
        "people-register",
        "newcastle-tax",
        "swansea-motoring",
        "liverpool-pensions",
        "electoral-registration",
    }


def test_register_rows_hold_only_the_registers_fields_under_its_own_pseudonym() -> None:
    people = [make_person(1, n) for n in range(50)]
    held = register_fields(CATALOGUE)
    rows = {member: register_rows(people, member, names, SECRET) for member, names in held.items()}

    for member, member_rows in rows.items():
        for row in member_rows:
            assert set(json.loads(row["data"])) == set(held[member])
            assert row["version"] == 1
    # No shared identifier: each register knows each person under another pseudonym.
    for index in range(len(people)):
        pseudonyms = {member_rows[index]["pseudonym"] for member_rows in rows.values()}
        assert len(pseudonyms) == len(rows)


def test_no_register_row_carries_the_internal_id() -> None:
    people = [make_person(1, n) for n in range(50)]
    for member, names in register_fields(CATALOGUE).items():
        text = json.dumps(register_rows(people, member, names, SECRET), default=str)
        for person in people:
            assert person.person_id not in text
            assert person.person_id.replace("-", "") not in text


def test_the_charter_accounts_share_the_one_password_hash() -> None:
    people = [make_person(1, n) for n in range(3)]
    rows = person_rows(people, "the-hash")
    assert [r["email"] for r in rows] == [p.email for p in people]
    assert {r["password_hash"] for r in rows} == {"the-hash"}
    assert rows[0]["display_name"] == people[0].display_name
