"""The rules of booking a prison visit, as plain computation (no web, no database).

- A prisoner is named by their prison number (`A1234BC`: a letter, four digits, two letters),
  their names and their date of birth; a request matches only when all of them do, at the
  prison chosen.
- A visit is for the main visitor (18 or over) and up to 5 others: at most 3 adults (18 or
  over on the day of the first visit time asked for, the main visitor included) and at most
  3 children.
- Visits are booked at least `lead_working_days` working days ahead (Monday to Friday; bank
  holidays are not counted apart) and at most `horizon_days` ahead.
- A slot is offered as one value: its local start, its end and its id,
  `2026-12-07T14:00/15:30#17`, which services/display.py shows as "Monday 7 December 2026,
  2pm to 3:30pm". Times are the prisons' own (Europe/London).
- A slot's capacity is counted in visits, one table each in the visits hall, whatever the
  group's size (at most 6 people): the way prisons count their visits halls.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

ACTION = "prison-visit"
SOURCE = "prison-visit-slots"
TIMEZONE = ZoneInfo("Europe/London")
ADULT_AGE = 18
MAX_ADULTS = 3  # the main visitor included
MAX_CHILDREN = 3
MAX_OTHER_VISITORS = 5
PRISONER_NUMBER = re.compile(r"^[A-Z][0-9]{4}[A-Z]{2}$")
PRISON_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
MAX_NAME = 100
MAX_CAPACITY = 1000
MAX_SLOT_MINUTES = 12 * 60
SLOT_VALUE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})/(\d{2}:\d{2})#([1-9][0-9]{0,17})$")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")

# The questions of the service's definition the action reads (book-a-prison-visit.toml).
PRISONER_FIRST_NAME = "prisoner-first-name"
PRISONER_LAST_NAME = "prisoner-last-name"
PRISONER_DATE_OF_BIRTH = "prisoner-date-of-birth"
PRISONER_NUMBER_QUESTION = "prisoner-number"
PRISON = "prison"
FIRST_NAME = "first-name"
LAST_NAME = "last-name"
DATE_OF_BIRTH = "date-of-birth"
OTHER_VISITORS = "other-visitors"
TIMES = "times"
EMAIL = "email"


def visitor_name(number: int) -> str:
    """The question of the numberth other visitor's name (1 to 5)."""
    return f"visitor-{number}-name"


def visitor_date_of_birth(number: int) -> str:
    """The question of the numberth other visitor's date of birth (1 to 5)."""
    return f"visitor-{number}-date-of-birth"


NEEDED_QUESTIONS: tuple[str, ...] = (
    PRISONER_FIRST_NAME,
    PRISONER_LAST_NAME,
    PRISONER_DATE_OF_BIRTH,
    PRISONER_NUMBER_QUESTION,
    PRISON,
    FIRST_NAME,
    LAST_NAME,
    DATE_OF_BIRTH,
    OTHER_VISITORS,
    *(
        q
        for n in range(1, MAX_OTHER_VISITORS + 1)
        for q in (visitor_name(n), visitor_date_of_birth(n))
    ),
    TIMES,
)


def missing_questions(asked: Iterable[str]) -> list[str]:
    """The questions the prison-visit action reads that a definition asking asked lacks."""
    have = set(asked)
    return [question for question in NEEDED_QUESTIONS if question not in have]


# --- prisoners ---------------------------------------------------------------------------------


def prisoner_number(text: str) -> str | None:
    """A prison number in its normal form ('a 1234 bc' is 'A1234BC'); None if it is not one."""
    squeezed = re.sub(r"\s+", "", text).upper()
    return squeezed if PRISONER_NUMBER.match(squeezed) else None


def name_key(name: str) -> str:
    """A name as names are compared: case, accents' forms, spaces and apostrophes' kinds
    ignored ("O\u2019Neil " and "o'neil" are the same)."""
    text = unicodedata.normalize("NFKC", name).replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split()).casefold()


def same_name(one: str, other: str) -> bool:
    """True when two names are the same as name_key compares them."""
    return name_key(one) == name_key(other)


# --- when a visit can be booked ----------------------------------------------------------------


def add_working_days(day: date, count: int) -> date:
    """The day count working days (Monday to Friday) after day."""
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


@dataclass(frozen=True)
class Window:
    """The days a visit can be booked for: first to last, both included."""

    first: date
    last: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


def booking_window(today: date, lead_working_days: int, horizon_days: int) -> Window:
    """The days a request made today can ask for."""
    return Window(add_working_days(today, lead_working_days), today + timedelta(days=horizon_days))


def local_midnight(day: date) -> datetime:
    """The moment day begins at the prisons (aware)."""
    return datetime(day.year, day.month, day.day, tzinfo=TIMEZONE)


# --- slots as values ---------------------------------------------------------------------------


def slot_value(slot_id: int, starts_at: datetime, ends_at: datetime) -> str:
    """A slot as the value a person chooses: '2026-12-07T14:00/15:30#17' (local times)."""
    start, end = starts_at.astimezone(TIMEZONE), ends_at.astimezone(TIMEZONE)
    return f"{start:%Y-%m-%dT%H:%M}/{end:%H:%M}#{slot_id}"


def slot_id(value: str) -> int | None:
    """The slot id in a value slot_value made; None for any other text."""
    found = SLOT_VALUE.match(value)
    return int(found.group(3)) if found else None


def slot_day(value: str) -> date | None:
    """The (local) day of a value slot_value made; None for any other text."""
    found = SLOT_VALUE.match(value)
    return date.fromisoformat(found.group(1)[:10]) if found else None


# --- who is visiting ---------------------------------------------------------------------------


def age_on(born: date, day: date) -> int:
    """Someone's age in whole years on day."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Visitor:
    """One of the other visitors: their place in the list (1 to 5), name and date of birth."""

    number: int
    name: str
    born: date


def party_problem(others: Sequence[Visitor], on: date) -> tuple[Visitor, str] | None:
    """The first visitor too many for a visit on day on (the main visitor is an adult), and
    why; None when the group may visit."""
    adults, children = 1, 0
    for visitor in others:
        if age_on(visitor.born, on) >= ADULT_AGE:
            adults += 1
            if adults > MAX_ADULTS:
                return visitor, (
                    f"Up to {MAX_ADULTS} adults can visit at a time, including you: "
                    f"{visitor.name} would be the {ORDINALS[adults - 1]} adult (18 or over)"
                )
        else:
            children += 1
            if children > MAX_CHILDREN:
                return visitor, (
                    f"Up to {MAX_CHILDREN} children can visit at a time: {visitor.name} would "
                    f"be the {ORDINALS[children - 1]} child (under 18)"
                )
    return None


# --- what the visitor is told ------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """An email's subject and body."""

    subject: str
    body: str


FOOTER = (
    "You can see your request, and cancel it, under Your applications on the prisons "
    "service, with your reference number."
)


def request_received(reference: str, prison: str, prisoner: str, times: Sequence[str]) -> Message:
    """The email a visitor gets when their request is sent."""
    listed = "\n".join(f"- {label}" for label in times)
    return Message(
        f"Visit request received: {reference}",
        f"We have your request to visit {prisoner} at {prison}.\n\n"
        f"Your reference number is {reference}.\n\n"
        f"You asked for one of these times:\n{listed}\n\n"
        "The prison will check your request and email you to confirm one of these times, or "
        f"to say why it cannot.\n\n{FOOTER}\n",
    )


def visit_confirmed(reference: str, prison: str, when: str, visitors: int) -> Message:
    """The email a visitor gets when the prison confirms a time."""
    people = "1 visitor" if visitors == 1 else f"{visitors} visitors"
    return Message(
        f"Visit confirmed: {when}",
        f"Your visit to {prison} is booked.\n\n"
        f"When: {when}\nVisitors: {people}\nReference number: {reference}\n\n"
        "Arrive 30 minutes early and bring photo ID for every adult visitor.\n\n"
        f"If you cannot go, cancel the visit so that someone else can have the place. "
        f"{FOOTER}\n",
    )


def visit_refused(reference: str, prison: str, reason: str) -> Message:
    """The email a visitor gets when the prison cannot book the visit."""
    return Message(
        f"Visit request not booked: {reference}",
        f"{prison} could not book your visit (reference number {reference}).\n\n"
        f"Why: {reason}\n\nYou can ask for other times with a new request.\n",
    )


def visit_cancelled(reference: str, prison: str, when: str | None) -> Message:
    """The email a visitor gets when they cancel a visit (when: the time it was booked for;
    None for a request not yet confirmed)."""
    what = f"your visit to {prison} on {when}" if when else f"your request to visit {prison}"
    return Message(
        f"Visit cancelled: {reference}",
        f"You have cancelled {what} (reference number {reference}).\n\n"
        "You can ask for another visit with a new request.\n",
    )
