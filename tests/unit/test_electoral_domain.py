"""What an identity check compares (registers/domain.py match_key) and what register to vote
asks and writes (electoral/domain.py): plain computation."""

from __future__ import annotations

import pytest

from digitalstate.electoral.domain import by_holder, match_values, roll_status
from digitalstate.registers.domain import values_match


@pytest.mark.parametrize(
    ("kind", "held", "given", "same"),
    [
        ("nino", "JT123456C", "jt 12 34 56 c", True),
        ("nino", "JT123456C", "JT123456D", False),
        ("nino", "JT123456C", "not a number", False),
        ("string", "Ada Mary", "  ada   MARY ", True),
        ("string", "Ada Mary", "Ada", False),
        ("date", "1950-04-02", "1950-04-02", True),
        ("date", "1950-04-02", "1950-04-03", False),
        ("date", "1950-04-02", "2 April 1950", False),
        ("string", None, "Ada", False),  # nothing held matches nothing
        ("list", ["A"], "A", False),  # a type a match does not compare
        ("string", "A" * 201, "A" * 201, False),  # beyond a match's bound
    ],
)
def test_a_match_compares_whole_values_in_normal_form(
    kind: str, held: object, given: str, same: bool
) -> None:
    assert values_match(kind, held, given) is same


ANSWERS = {
    "given-names": "Ada",
    "family-name": "Lovelace",
    "date-of-birth": "1950-04-02",
    "national-insurance-number": "JT123456C",
    "open-register": False,
    "postal-vote": True,
}


def test_the_check_matches_the_number_name_and_birth_date_at_their_registers() -> None:
    values = match_values(ANSWERS)
    assert values == {
        "tax.national_insurance_number": "JT123456C",
        "people.given_names": "Ada",
        "people.family_name": "Lovelace",
        "people.date_of_birth": "1950-04-02",
    }
    holders = {
        "tax.national_insurance_number": "newcastle-tax",
        "people.given_names": "people-register",
        "people.family_name": "people-register",
        "people.date_of_birth": "people-register",
    }
    grouped = by_holder(values, holders)
    assert list(grouped) == ["newcastle-tax", "people-register"]  # the number first
    assert grouped["newcastle-tax"] == {"tax.national_insurance_number": "JT123456C"}


def test_without_a_national_insurance_number_there_is_nothing_to_match() -> None:
    assert match_values({**ANSWERS, "national-insurance-number": None}) is None


def test_the_roll_keeps_the_open_register_and_postal_vote_answers() -> None:
    assert roll_status(ANSWERS) == ("Registered, not on the open register, postal vote asked for")
    assert roll_status({"open-register": True, "postal-vote": False}) == (
        "Registered, on the open register, votes in person"
    )
