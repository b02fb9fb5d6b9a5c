"""Booking a prison visit: the register of prisoners and slots, and what the service's
action, slot source, decision hook and cancellation do (docs/services.md).

- `offer_slots` (the `prison-visit-slots` source): the chosen prison's slots in the booking
  window with a place left.
- `submit_visit` (the `prison-visit` action): the prisoner must be in the prison's register
  (number, names and date of birth), the group within the limits; nothing is held yet, the
  application keeps the up to 3 times asked for, status submitted; the visitor is emailed.
- `decide_visit` (its decision hook): staff confirm one of those times, which takes a place
  in its slot in the decision's transaction (a guarded UPDATE: never past capacity, whoever
  confirms the last place at the same moment), or refuse with a reason; the visitor is emailed
  either way.
- `withdraw_visit` (its cancellation): the visitor withdraws a request, or cancels a
  confirmed visit, which frees its place; the visitor is emailed.

Every function takes a session and never commits (the caller owns the transaction), except
offer_slots, which reads in a step of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from digitalstate.mail.service import queue_email
from digitalstate.prisons.domain import (
    EMAIL,
    MAX_CAPACITY,
    MAX_NAME,
    MAX_SLOT_MINUTES,
    OTHER_VISITORS,
    PRISON,
    PRISON_ID,
    PRISONER_DATE_OF_BIRTH,
    PRISONER_FIRST_NAME,
    PRISONER_LAST_NAME,
    PRISONER_NUMBER_QUESTION,
    TIMES,
    Message,
    Visitor,
    Window,
    booking_window,
    local_midnight,
    party_problem,
    prisoner_number,
    request_received,
    same_name,
    slot_day,
    slot_id,
    slot_value,
    visit_cancelled,
    visit_confirmed,
    visit_refused,
    visitor_date_of_birth,
    visitor_name,
)
from digitalstate.prisons.models import Prison, Prisoner, VisitBooking, VisitSlot
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.display import display_slot
from digitalstate.services.handlers import (
    APPROVED,
    REFUSED,
    SUBMITTED,
    Cancellation,
    Decision,
    DecisionRefusedError,
    Outcome,
    SlotRequest,
    SubmissionRefusedError,
    WithdrawalRefusedError,
)
from digitalstate.services.models import Application
from digitalstate.storage.retrying import run_step

CONFIRMED, CANCELLED = "confirmed", "cancelled"
SLOT_FULL = "That visit slot is now full: choose another"


class PrisonsError(ValueError):
    """A change to the register that cannot be made; str() says why and what to do."""


# --- the register: prisons, prisoners, slots ---------------------------------------------------


def add_prison(session: Session, prison_id: str, name: str) -> bool:
    """Add a prison (id as the service's prison question names it, "cardiff"); False when it
    is there already (its name is left as it is)."""
    if not PRISON_ID.match(prison_id):
        raise PrisonsError(f"{prison_id!r} is not a prison id: use lower case letters and -")
    if not name.strip() or len(name) > MAX_NAME:
        raise PrisonsError(f"a prison's name has 1 to {MAX_NAME} characters")
    if session.get(Prison, prison_id) is not None:
        return False
    session.add(Prison(id=prison_id, name=name.strip()))
    session.flush()
    return True


def add_prisoner(
    session: Session,
    *,
    number: str,
    given_names: str,
    family_name: str,
    born: date,
    prison_id: str,
) -> bool:
    """Add someone to a prison's register; False when their prison number is there already."""
    normal = prisoner_number(number)
    if normal is None:
        raise PrisonsError(f"{number!r} is not a prison number: use the form A1234BC")
    _prison(session, prison_id)
    for name in (given_names, family_name):
        if not name.strip() or len(name) > MAX_NAME:
            raise PrisonsError(f"a prisoner's names have 1 to {MAX_NAME} characters each")
    if session.scalar(select(Prisoner.id).where(Prisoner.prison_number == normal)) is not None:
        return False
    session.add(
        Prisoner(
            prison_number=normal,
            given_names=given_names.strip(),
            family_name=family_name.strip(),
            date_of_birth=born,
            prison_id=prison_id,
        )
    )
    session.flush()
    return True


def add_slot(
    session: Session, *, prison_id: str, starts_at: datetime, ends_at: datetime, capacity: int
) -> bool:
    """Add a visiting time to a prison; False when the prison has one starting then already."""
    _prison(session, prison_id)
    minutes = (ends_at - starts_at).total_seconds() / 60
    if not 0 < minutes <= MAX_SLOT_MINUTES:
        raise PrisonsError(f"a visit lasts more than 0 and at most {MAX_SLOT_MINUTES} minutes")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise PrisonsError(f"a slot takes 1 to {MAX_CAPACITY} visits")
    taken = session.scalar(
        select(VisitSlot.id).where(
            VisitSlot.prison_id == prison_id, VisitSlot.starts_at == starts_at
        )
    )
    if taken is not None:
        return False
    session.add(
        VisitSlot(
            prison_id=prison_id,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            booked=0,
        )
    )
    session.flush()
    return True


def _prison(session: Session, prison_id: str) -> Prison:
    prison = session.get(Prison, prison_id)
    if prison is None:
        raise PrisonsError(f"there is no prison {prison_id!r}: add it first")
    return prison


def open_slots(session: Session, prison_id: str, window: Window) -> list[str]:
    """The prison's slots in window with a place left, soonest first, as values to choose."""
    rows = session.execute(
        select(VisitSlot.id, VisitSlot.starts_at, VisitSlot.ends_at)
        .where(
            VisitSlot.prison_id == prison_id,
            VisitSlot.booked < VisitSlot.capacity,
            VisitSlot.starts_at >= local_midnight(window.first),
            VisitSlot.starts_at < local_midnight(window.last + timedelta(days=1)),
        )
        .order_by(VisitSlot.starts_at, VisitSlot.id)
    )
    return [slot_value(row.id, row.starts_at, row.ends_at) for row in rows]


@dataclass(frozen=True)
class Register:
    """How much a node's register holds: prisons, prisoners, slots from a moment on."""

    prisons: int
    prisoners: int
    slots_ahead: int


def register_summary(session: Session, now: datetime) -> Register:
    """What the register holds now (slots: those that start after now)."""
    return Register(
        prisons=session.scalar(select(func.count()).select_from(Prison)) or 0,
        prisoners=session.scalar(select(func.count()).select_from(Prisoner)) or 0,
        slots_ahead=session.scalar(
            select(func.count()).select_from(VisitSlot).where(VisitSlot.starts_at > now)
        )
        or 0,
    )


# --- the service's slot source ------------------------------------------------------------------


async def offer_slots(request: SlotRequest) -> list[str]:
    """The `prison-visit-slots` source: the chosen prison's open slots in the booking window
    of the node's [prisons] settings (none before a prison is chosen)."""
    settings = request.node.settings.prisons
    prison = request.answers.get(PRISON)
    if settings is None or not isinstance(prison, str):
        return []
    window = booking_window(request.today, settings.lead_working_days, settings.horizon_days)
    return await run_step(request.node.sessions, lambda s: open_slots(s, prison, window))


# --- the service's action: a request checked and kept -------------------------------------------


def _answers(application: Application) -> dict[str, Any]:
    return dict(json.loads(application.answers))


def _others(answers: dict[str, Any]) -> list[Visitor]:
    count = answers.get(OTHER_VISITORS) or 0
    return [
        Visitor(
            n, str(answers[visitor_name(n)]), date.fromisoformat(answers[visitor_date_of_birth(n)])
        )
        for n in range(1, int(count) + 1)
        if visitor_name(n) in answers and visitor_date_of_birth(n) in answers
    ]


def _tell(
    session: Session, answers: dict[str, Any], message: Message, key: str, now: datetime
) -> None:
    """Queue message to the visitor, when they gave an email address."""
    address = answers.get(EMAIL)
    if isinstance(address, str) and address:
        queue_email(session, address, message.subject, message.body, key=key, now=now)


def submit_visit(
    session: Session, application: Application, _definition: ServiceDefinition, now: datetime
) -> Outcome:
    """The `prison-visit` action: check the prisoner against the prison's register and the
    group against the limits (SubmissionRefusedError, naming the question, when they fail);
    keep the request for the prison's staff; email the visitor its reference."""
    answers = _answers(application)
    prison = session.get(Prison, str(answers.get(PRISON, "")))
    if prison is None:
        raise SubmissionRefusedError(PRISON, "Select a prison that takes visit requests here")
    number = prisoner_number(str(answers.get(PRISONER_NUMBER_QUESTION, "")))
    if number is None:
        raise SubmissionRefusedError(
            PRISONER_NUMBER_QUESTION,
            "Enter a prisoner number in the correct format, like A1234BC",
        )
    if not _prisoner_matches(session, prison.id, number, answers):
        raise SubmissionRefusedError(
            PRISONER_NUMBER_QUESTION,
            f"The prisoner's details do not match anyone at {prison.name}: check their first "
            "and last name, date of birth and prisoner number, and the prison",
        )
    chosen = [str(value) for value in answers.get(TIMES) or ()]
    days = [day for day in map(slot_day, chosen) if day is not None]
    on = min(days) if days else now.date()
    problem = party_problem(_others(answers), on)
    if problem is not None:
        visitor, why = problem
        raise SubmissionRefusedError(visitor_date_of_birth(visitor.number), why)
    ids = {slot_id(value) for value in chosen}
    found = session.scalar(
        select(func.count())
        .select_from(VisitSlot)
        .where(
            VisitSlot.id.in_([i for i in ids if i is not None]), VisitSlot.prison_id == prison.id
        )
    )
    if not chosen or None in ids or found != len(ids):
        raise SubmissionRefusedError(TIMES, "Choose visit times at the prison again")
    prisoner = f"{answers[PRISONER_FIRST_NAME]} {answers[PRISONER_LAST_NAME]}"
    message = request_received(
        application.reference, prison.name, prisoner, [display_slot(v) for v in chosen]
    )
    _tell(session, answers, message, f"application:{application.reference}:received", now)
    return Outcome(SUBMITTED)


def _prisoner_matches(
    session: Session, prison_id: str, number: str, answers: dict[str, Any]
) -> bool:
    prisoner = session.scalar(
        select(Prisoner).where(Prisoner.prison_number == number, Prisoner.prison_id == prison_id)
    )
    return (
        prisoner is not None
        and same_name(prisoner.given_names, str(answers.get(PRISONER_FIRST_NAME, "")))
        and same_name(prisoner.family_name, str(answers.get(PRISONER_LAST_NAME, "")))
        and prisoner.date_of_birth.isoformat() == answers.get(PRISONER_DATE_OF_BIRTH)
    )


# --- the decision hook: a time confirmed, or the request refused --------------------------------


def decide_visit(
    session: Session,
    application: Application,
    _definition: ServiceDefinition,
    decision: Decision,
    now: datetime,
) -> str | None:
    """The decision hook: approved with decision.choice, one of the times asked for, books a
    place in that slot (DecisionRefusedError when it is full, gone or past: nothing kept);
    refused keeps nothing. The visitor is emailed either way. Returns the booking's note."""
    answers = _answers(application)
    reference = application.reference
    prison = session.get(Prison, str(answers.get(PRISON, "")))
    prison_name = prison.name if prison is not None else str(answers.get(PRISON, ""))
    if decision.status == REFUSED:
        message = visit_refused(reference, prison_name, (decision.reason or "").strip())
        _tell(session, answers, message, f"application:{reference}:refused", now)
        return None
    if decision.status != APPROVED:
        return None
    chosen = [str(value) for value in answers.get(TIMES) or ()]
    if decision.choice is None or decision.choice not in chosen:
        raise DecisionRefusedError("Choose one of the times the visitor asked for")
    slot = session.get(VisitSlot, slot_id(decision.choice) or 0)
    if slot is None or prison is None or slot.prison_id != prison.id:
        raise DecisionRefusedError("That visit slot no longer exists: choose another")
    if slot.starts_at <= now:
        raise DecisionRefusedError("That visit time has passed: choose another")
    # One statement that checks and takes the place: whoever else confirms the last place at
    # the same moment waits for this one (PostgreSQL's row lock, SQLite's one writer) and
    # then finds no place left.
    taken = session.execute(
        update(VisitSlot)
        .where(VisitSlot.id == slot.id, VisitSlot.booked < VisitSlot.capacity)
        .values(booked=VisitSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise DecisionRefusedError(SLOT_FULL)
    visitors = 1 + len(_others(answers))
    session.add(
        VisitBooking(
            slot_id=slot.id,
            application_reference=reference,
            visitors=visitors,
            status=CONFIRMED,
            booked_at=now,
        )
    )
    when = display_slot(decision.choice)
    message = visit_confirmed(reference, prison.name, when, visitors)
    _tell(session, answers, message, f"application:{reference}:confirmed", now)
    return f"Visit booked: {when} at {prison.name}"


# --- the cancellation: a request withdrawn, or a confirmed visit cancelled ----------------------


def withdraw_visit(
    session: Session,
    application: Application,
    _definition: ServiceDefinition,
    before: str,
    now: datetime,
) -> str | None:
    """The cancellation: a request withdrawn before it was decided holds nothing; a confirmed
    visit cancelled frees its place (WithdrawalRefusedError once it has started). The visitor
    is emailed either way. Returns the cancellation's note."""
    answers = _answers(application)
    reference = application.reference
    prison = session.get(Prison, str(answers.get(PRISON, "")))
    prison_name = prison.name if prison is not None else str(answers.get(PRISON, ""))
    key = f"application:{reference}:cancelled"
    booking = session.scalar(
        select(VisitBooking).where(
            VisitBooking.application_reference == reference, VisitBooking.status == CONFIRMED
        )
    )
    if before != APPROVED or booking is None:
        _tell(session, answers, visit_cancelled(reference, prison_name, None), key, now)
        return None
    slot = session.get(VisitSlot, booking.slot_id)
    assert slot is not None  # a booking's slot is never deleted (foreign key)
    if slot.starts_at <= now:
        raise WithdrawalRefusedError("This visit has started, so it cannot be cancelled")
    freed = session.execute(
        update(VisitBooking)
        .where(VisitBooking.id == booking.id, VisitBooking.status == CONFIRMED)
        .values(status=CANCELLED, cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    if freed.rowcount == 1:  # type: ignore[attr-defined]
        session.execute(
            update(VisitSlot)
            .where(VisitSlot.id == slot.id, VisitSlot.booked > 0)
            .values(booked=VisitSlot.booked - 1)
            .execution_options(synchronize_session=False)
        )
    when = display_slot(slot_value(slot.id, slot.starts_at, slot.ends_at))
    _tell(session, answers, visit_cancelled(reference, prison_name, when), key, now)
    return f"Visit cancelled: {when} at {prison_name}; the place is free again"


CANCELLATION = Cancellation(
    run=withdraw_visit,
    button="Cancel this visit",
    question="Are you sure you want to cancel this visit?",
)
