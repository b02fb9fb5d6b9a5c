"""State Pension age from the date of birth (pensions/domain.py), at every boundary the law
draws, and when a claim may be made: the Pensions Acts 1995, 2007, 2011 and 2014."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.pensions.domain import (
    add_months,
    award_status,
    claim_window,
    state_pension_date,
    too_early,
)


@pytest.mark.parametrize(
    ("born", "reached"),
    [
        # Born before 6 December 1953: reached before 6 March 2019 (the rules differed by sex).
        (date(1953, 12, 5), None),
        # Pensions Act 2011, table 2: a day for each month of birth.
        (date(1953, 12, 6), date(2019, 3, 6)),
        (date(1954, 1, 5), date(2019, 3, 6)),
        (date(1954, 1, 6), date(2019, 5, 6)),
        (date(1954, 7, 31), date(2020, 5, 6)),
        (date(1954, 9, 6), date(2020, 9, 6)),
        (date(1954, 10, 5), date(2020, 9, 6)),
        # 66 for those born 6 October 1954 to 5 April 1960.
        (date(1954, 10, 6), date(2020, 10, 6)),
        (date(1960, 4, 5), date(2026, 4, 5)),
        # Pensions Act 2014, table 3: 66 years and 1 to 11 months.
        (date(1960, 4, 6), date(2026, 5, 6)),
        (date(1960, 5, 5), date(2026, 6, 5)),
        (date(1960, 5, 6), date(2026, 7, 6)),
        (date(1961, 3, 5), date(2028, 2, 5)),
        # ... and sub-paragraph (7A)'s three days that the month reached lacks.
        (date(1960, 7, 31), date(2026, 11, 30)),
        (date(1960, 12, 31), date(2027, 9, 30)),
        (date(1961, 1, 31), date(2027, 11, 30)),
        # 67 for those born 6 March 1961 to 5 April 1977.
        (date(1961, 3, 6), date(2028, 3, 6)),
        (date(1977, 4, 5), date(2044, 4, 5)),
        # Pensions Act 2007, table 4: a day for each month of birth.
        (date(1977, 4, 6), date(2044, 5, 6)),
        (date(1977, 5, 6), date(2044, 7, 6)),
        (date(1978, 4, 5), date(2046, 3, 6)),
        # 68 from 6 April 1978; 29 February reaches an age on 28 February in a common year.
        (date(1978, 4, 6), date(2046, 4, 6)),
        (date(1980, 2, 29), date(2048, 2, 29)),
        (date(1984, 2, 29), date(2052, 2, 29)),
        (date(1956, 2, 29), date(2022, 2, 28)),
    ],
)
def test_state_pension_age_at_each_boundary(born: date, reached: date | None) -> None:
    assert state_pension_date(born) == reached


def test_add_months_keeps_the_day_or_takes_the_months_last() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 5, 6), -4) == date(2026, 1, 6)
    assert add_months(date(2026, 6, 30), -4) == date(2026, 2, 28)


BIRTHS = st.dates(min_value=date(1953, 12, 6), max_value=date(2010, 12, 31))


@given(BIRTHS)
def test_state_pension_age_is_between_66_and_68_and_never_goes_back(born: date) -> None:
    reached = state_pension_date(born)
    assert reached is not None
    # Over 65 years and 2 months at the least (born 5 January 1954), 68 at the most.
    assert add_months(born, 65 * 12 + 2) < reached <= add_months(born, 68 * 12)
    later = state_pension_date(born + timedelta(days=1))
    assert later is not None and later >= reached


@given(BIRTHS, st.dates(min_value=date(2015, 1, 1), max_value=date(2080, 12, 31)))
def test_a_claim_opens_4_months_before_state_pension_age(born: date, today: date) -> None:
    window = claim_window(born)
    assert window.pension_date is not None and window.opens is not None
    assert add_months(window.opens, 4) == window.pension_date or window.pension_date.day > 28
    assert window.open_on(today) == (today >= window.opens)
    assert (too_early(born, today) is None) == window.open_on(today)


def test_too_early_says_when_the_person_can_apply() -> None:
    message = too_early(date(1970, 6, 15), date(2026, 1, 1))
    assert message == (
        "You cannot apply yet. You reach State Pension age on 15 June 2037. "
        "You can apply from 15 February 2037, 4 months before."
    )
    assert too_early(date(1970, 6, 15), date(2037, 2, 15)) is None
    assert too_early(date(1970, 6, 15), date(2037, 2, 14)) is not None
    assert too_early(date(1950, 1, 1), date(2026, 1, 1)) is None  # reached long ago


def test_the_award_says_whether_the_pension_is_paid_yet() -> None:
    assert award_status(date(1950, 1, 1), date(2026, 1, 1)) == "Receiving State Pension"
    assert award_status(date(1970, 6, 15), date(2037, 6, 15)) == "Receiving State Pension"
    assert (
        award_status(date(1970, 6, 15), date(2037, 3, 1))
        == "State Pension awarded, paid from 15 June 2037"
    )
