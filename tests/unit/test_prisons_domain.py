"""The rules of booking a prison visit (prisons/domain.py) and how a slot reads."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from digitalstate.prisons.domain import (
    TIMEZONE,
    Visitor,
    add_working_days,
    age_on,
    booking_window,
    missing_questions,
    party_problem,
    prisoner_number,
    request_received,
    same_name,
    slot_day,
    slot_id,
    slot_value,
    visit_confirmed,
)
from digitalstate.services.display import display_slot

VISIT = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [("A1234BC", "A1234BC"), (" a 1234 bc ", "A1234BC"), ("A1234B", None), ("11234BC", None)],
)
def test_a_prison_number_is_a_letter_four_digits_and_two_letters(
    typed: str, normal: str | None
) -> None:
    assert prisoner_number(typed) == normal


def test_names_match_whatever_their_case_spaces_and_apostrophes() -> None:
    assert same_name("O\u2019Brien ", "o'brien")
    assert same_name("Mary  Ann", "mary ann")
    assert not same_name("Smith", "Smyth")


def test_the_window_starts_working_days_ahead_and_ends_days_ahead() -> None:
    friday = date(2026, 12, 4)
    assert add_working_days(friday, 3) == date(2026, 12, 9)  # Monday, Tuesday, Wednesday
    assert add_working_days(friday, 0) == friday
    window = booking_window(friday, 3, 28)
    assert (window.first, window.last) == (date(2026, 12, 9), date(2027, 1, 1))
    assert date(2026, 12, 8) not in window and date(2027, 1, 1) in window


def test_a_slot_value_carries_local_times_and_its_id_and_reads_as_a_time_span() -> None:
    summer = datetime(2026, 7, 6, 13, 0, tzinfo=UTC)  # 2pm in British Summer Time
    value = slot_value(17, summer, summer.replace(hour=14, minute=30))
    assert value == "2026-07-06T14:00/15:30#17"
    assert (slot_id(value), slot_day(value)) == (17, date(2026, 7, 6))
    assert display_slot(value) == "Monday 6 July 2026, 2pm to 3:30pm"
    winter = datetime(2026, 12, 7, 14, 0, tzinfo=TIMEZONE)
    assert slot_value(3, winter, winter.replace(hour=15)) == "2026-12-07T14:00/15:00#3"
    assert slot_id("2026-07-06T14:00") is None and slot_day("garbage") is None
    assert (
        display_slot("2026-12-07T09:30/11:00#3", "cy") == "Dydd Llun 7 Rhagfyr 2026, 9:30yb i 11yb"
    )


def test_ages_are_whole_years_on_the_day() -> None:
    assert age_on(date(2008, 12, 7), VISIT) == 18
    assert age_on(date(2008, 12, 8), VISIT) == 17
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17


def test_a_group_is_at_most_three_adults_and_three_children() -> None:
    adult, child = date(1990, 1, 1), date(2015, 1, 1)
    allowed = [Visitor(1, "A", adult), Visitor(2, "B", adult)]
    allowed += [Visitor(n, f"C{n}", child) for n in (3, 4, 5)]
    assert party_problem(allowed, VISIT) is None
    one_adult_too_many = [*allowed[:2], Visitor(3, "Jo Bloggs", date(2008, 12, 7))]
    found = party_problem(one_adult_too_many, VISIT)
    assert found is not None and found[0].number == 3
    assert "Jo Bloggs would be the fourth adult (18 or over)" in found[1]
    four_children = [Visitor(n, f"Child {n}", child) for n in range(1, 5)]
    found = party_problem(four_children, VISIT)
    assert found is not None and found[0].number == 4
    assert (
        found[1]
        == "Up to 3 children can visit at a time: Child 4 would be the fourth child (under 18)"
    )


def test_the_action_names_the_questions_it_reads() -> None:
    asked = ["prisoner-first-name", "prisoner-last-name", "prisoner-date-of-birth", "prison"]
    missing = missing_questions(asked)
    assert missing[0] == "prisoner-number" and "times" in missing and "prison" not in missing


def test_the_emails_say_what_was_asked_for_and_what_was_booked() -> None:
    received = request_received("PV-7KD4-MX2Q-P", "HMP Cardiff", "John Smith", ["Monday 7"])
    assert received.subject == "Visit request received: PV-7KD4-MX2Q-P"
    assert "- Monday 7" in received.body and "John Smith at HMP Cardiff" in received.body
    confirmed = visit_confirmed("PV-7KD4-MX2Q-P", "HMP Cardiff", "Monday 7 December", 1)
    assert confirmed.subject == "Visit confirmed: Monday 7 December"
    assert "Visitors: 1 visitor" in confirmed.body
