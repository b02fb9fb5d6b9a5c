"""The demo's prisons: six prisons, their register of prisoners and four weeks of visit slots.

The same on every run: the prisons and prisoners are fixed, and the slots follow one weekly
timetable (a session every weekday afternoon, two on Saturdays, none on Sundays) for the 28
days after the day the demo is prepared. Preparing the demo again on a later day adds the
days that are missing, so a demo kept for weeks still offers times; nothing is ever changed
or removed. The first prisoner is the one the README's walk-through visits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from digitalstate.prisons.domain import TIMEZONE
from digitalstate.prisons.service import add_prison, add_prisoner, add_slot

SLOT_DAYS = 28

PRISONS: tuple[tuple[str, str], ...] = (
    ("cardiff", "HMP Cardiff"),
    ("swansea", "HMP Swansea"),
    ("liverpool", "HMP Liverpool"),
    ("manchester", "HMP Manchester"),
    ("birmingham", "HMP Birmingham"),
    ("leeds", "HMP Leeds"),
)


@dataclass(frozen=True)
class DemoPrisoner:
    """Someone in the demo's register of prisoners."""

    number: str
    given_names: str
    family_name: str
    born: date
    prison: str


PRISONERS: tuple[DemoPrisoner, ...] = (
    DemoPrisoner("A1234BC", "John", "Smith", date(1985, 3, 12), "cardiff"),
    DemoPrisoner("A2345CD", "Rhys", "Morgan", date(1979, 11, 2), "cardiff"),
    DemoPrisoner("B3456DE", "Gareth", "Evans", date(1990, 7, 1), "swansea"),
    DemoPrisoner("B4567EF", "Owen", "Price", date(1988, 1, 30), "swansea"),
    DemoPrisoner("C5678FG", "Daniel", "O'Brien", date(1992, 5, 19), "liverpool"),
    DemoPrisoner("C6789GH", "Michael", "Walsh", date(1975, 9, 8), "liverpool"),
    DemoPrisoner("D7890HJ", "Aaron", "Hughes", date(1996, 12, 24), "manchester"),
    DemoPrisoner("D8901JK", "Lee", "Carter", date(1983, 4, 4), "manchester"),
    DemoPrisoner("E9012KL", "Imran", "Hussain", date(1987, 6, 15), "birmingham"),
    DemoPrisoner("E0123LM", "Marcus", "Reid", date(1991, 2, 27), "birmingham"),
    DemoPrisoner("F1234MN", "Callum", "Wright", date(1994, 8, 11), "leeds"),
    DemoPrisoner("F2345NP", "Stephen", "Booth", date(1970, 10, 5), "leeds"),
)


@dataclass(frozen=True)
class VisitingSession:
    """One visiting session of the weekly timetable: its start, length and capacity."""

    starts: time
    minutes: int
    capacity: int


WEEKDAY = (VisitingSession(time(14, 0), 90, 10),)
SATURDAY = (VisitingSession(time(9, 30), 90, 6), VisitingSession(time(14, 0), 90, 8))
TIMETABLE: dict[int, tuple[VisitingSession, ...]] = {0: WEEKDAY, 1: WEEKDAY, 2: WEEKDAY, 3: WEEKDAY}
TIMETABLE |= {4: WEEKDAY, 5: SATURDAY}


def seed_prisons(session: Session, now: datetime) -> int:
    """Add what the demo's register lacks: prisons, prisoners, and the slots of the SLOT_DAYS
    days after today (at the prisons); the number of slots added."""
    for prison_id, name in PRISONS:
        add_prison(session, prison_id, name)
    for prisoner in PRISONERS:
        add_prisoner(
            session,
            number=prisoner.number,
            given_names=prisoner.given_names,
            family_name=prisoner.family_name,
            born=prisoner.born,
            prison_id=prisoner.prison,
        )
    today = now.astimezone(TIMEZONE).date()
    added = 0
    for offset in range(1, SLOT_DAYS + 1):
        day = today + timedelta(days=offset)
        for visiting in TIMETABLE.get(day.weekday(), ()):
            starts = datetime.combine(day, visiting.starts, tzinfo=TIMEZONE)
            for prison_id, _ in PRISONS:
                added += add_slot(
                    session,
                    prison_id=prison_id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=visiting.minutes),
                    capacity=visiting.capacity,
                )
    return added
