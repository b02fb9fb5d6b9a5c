"""Issue 8, D2: a date out of range is explained on the page, never a 500."""

from __future__ import annotations

from datetime import date

import pytest

from digitalstate.identity.pages import end_of_day, parse_day
from digitalstate.registers.domain import FieldError, validate_date
from integration.identity_support import Federation, add_helper, delegations
from support.fixtures import ALICE

TODAY = date(2026, 12, 5)
BEFORE_2100 = "The date their help ends must be before 1 January 2100"
REAL_DATE = "The date their help ends must be a real date"

OUT_OF_RANGE = [
    (("31", "12", "9999"), BEFORE_2100),
    (("1", "1", "2100"), BEFORE_2100),
    (("0", "0", "0"), REAL_DATE),
    (("0", "0", "0000"), REAL_DATE),
    (("1", "1", "99999"), REAL_DATE),
    (("99999999999999999999", "1", "2030"), REAL_DATE),
]


@pytest.mark.parametrize(("typed", "message"), OUT_OF_RANGE)
def test_an_end_date_out_of_range_is_explained(typed: tuple[str, str, str], message: str) -> None:
    assert parse_day(*typed) == (None, message)


def test_the_last_day_before_2100_is_a_day_help_can_end() -> None:
    day, problem = parse_day("31", "12", "2099")
    assert problem is None and day is not None
    assert end_of_day(day).year == 2100


@pytest.mark.parametrize(("typed", "message"), OUT_OF_RANGE)
def test_the_helpers_page_explains_an_end_date_out_of_range_in_the_error_summary(
    fed: Federation, alice: str, bob: str, typed: tuple[str, str, str], message: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    day, month, year = typed

    answer = add_helper(fed, **{"expires-day": day, "expires-month": month, "expires-year": year})

    assert answer.status_code == 400
    assert f'<a href="#expires-day">{message}</a>' in answer.text
    assert delegations(fed) == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("9999-12-31", "Date of birth must be before 1 January 2100"),
        ("2100-01-01", "Date of birth must be before 1 January 2100"),
        ("0001-01-01", "Date of birth must be on or after 1 January 1900"),
        ("0000-01-01", "Date of birth must be a real date"),
        (date(9999, 12, 31), "Date of birth must be before 1 January 2100"),
    ],
)
def test_a_register_date_out_of_range_is_refused_naming_the_field(
    typed: str | date, message: str
) -> None:
    with pytest.raises(FieldError) as refused:
        validate_date("people.date_of_birth", typed, today=TODAY)
    assert refused.value.message == message
