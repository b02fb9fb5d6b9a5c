"""Casework: what the staff pages of a service node read and write (use cases, docs/staff.md).

The queue of the node's applications (filtered, counted, paged), one application as a case
(its answers, history, files, notes and who acted), a file's content, a note, and the email
that tells the person a decision. Status changes are applications.py's (mark_in_review,
decide); every staff action is a log entry (staff.service.record_staff_action) written by the
pages in the action's own transaction.

Every function takes a session and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from digitalstate.mail.domain import InvalidEmailError
from digitalstate.mail.service import queue_email
from digitalstate.services.applications import ApplicationView, full_view
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.display import display_slot
from digitalstate.services.handlers import APPROVED, Decision
from digitalstate.services.models import MAX_NOTE, Application, ApplicationFile, ApplicationNote
from digitalstate.services.queue import PAGE_SIZE, QueueFilters, last_page
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.models import StaffAccount

log = logging.getLogger("digitalstate.services")

# The staff actions of the case pages and assisted digital (transparency.entries.STAFF_ACTIONS).
VIEWED = "staff-viewed-application"
DOWNLOADED = "staff-downloaded-file"
MARKED_IN_REVIEW = "staff-marked-in-review"
DECIDED = "staff-decided"
NOTED = "staff-added-note"
ASSISTED_STARTED = "staff-started-assisted"
ASSISTED_SUBMITTED = "staff-submitted-assisted"
MAX_REASON = 2_000  # characters of a refusal's reason
MAX_SUBJECT = 200  # characters of an email's subject (mail/domain.py)


# --- the queue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One application in the queue (nothing the person answered)."""

    reference: str
    slug: str
    status: str
    channel: str
    submitted_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: its rows, how many match, and the counts by status (under the
    other filters) and by service (under the other filters)."""

    rows: list[QueueRow]
    total: int
    page: int
    last: int
    by_status: dict[str, int]
    by_service: dict[str, int]


def _conditions(slugs: Collection[str], filters: QueueFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Application.slug.in_(slugs)]
    if filters.service:
        conditions.append(Application.slug == filters.service)
    if filters.statuses:
        conditions.append(Application.status.in_(filters.statuses))
    if filters.channel:
        conditions.append(Application.channel == filters.channel)
    if filters.sent_from is not None:
        start = datetime.combine(filters.sent_from, time(), UTC)
        conditions.append(Application.submitted_at >= start)
    if filters.sent_to is not None:
        end = datetime.combine(filters.sent_to + timedelta(days=1), time(), UTC)
        conditions.append(Application.submitted_at < end)
    if filters.reference:
        compact = func.replace(Application.reference, "-", "")
        conditions.append(compact.contains(filters.reference.replace("-", ""), autoescape=True))
    return conditions


def _counts(
    session: Session, column: Any, conditions: Sequence[ColumnElement[bool]]
) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*conditions).group_by(column))
    return {str(key): int(count) for key, count in rows}


def queue(
    session: Session, slugs: Collection[str], filters: QueueFilters, size: int = PAGE_SIZE
) -> QueuePage:
    """The page of the applications of the services slugs that filters asks for, newest
    first (a page past the last is the last)."""
    conditions = _conditions(slugs, filters)
    total = session.scalar(select(func.count()).select_from(Application).where(*conditions)) or 0
    last = last_page(total, size)
    page = min(filters.page, last)
    rows = session.scalars(
        select(Application)
        .where(*conditions)
        .order_by(Application.submitted_at.desc(), Application.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return QueuePage(
        rows=[
            QueueRow(r.reference, r.slug, r.status, r.channel, r.submitted_at, r.updated_at)
            for r in rows
        ],
        total=total,
        page=page,
        last=last,
        by_status=_counts(
            session, Application.status, _conditions(slugs, filters.only(statuses=()))
        ),
        by_service=_counts(session, Application.slug, _conditions(slugs, filters.only(service=""))),
    )


# --- one case --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A note on a case: when, who wrote it (their name and role then), and what."""

    at: datetime
    author: str
    role: str
    text: str


@dataclass(frozen=True)
class Case:
    """An application as the staff pages show it."""

    id: int
    subject: str  # this node's pseudonym for the person (an assisted case's own key)
    application: ApplicationView
    notes: tuple[Note, ...]
    assisted_by: str | None  # the name of the member of staff who filled it in (assisted)


def application_row(session: Session, slugs: Collection[str], reference: str) -> Application | None:
    """The application reference of one of the services slugs, or None."""
    return session.scalar(
        select(Application).where(Application.reference == reference, Application.slug.in_(slugs))
    )


def find_case(session: Session, slugs: Collection[str], reference: str) -> Case | None:
    """The application reference of one of the services slugs, as a case; None if none."""
    row = application_row(session, slugs, reference)
    if row is None:
        return None
    notes = session.execute(
        select(ApplicationNote, StaffAccount.display_name)
        .join(StaffAccount, StaffAccount.id == ApplicationNote.staff_id)
        .where(ApplicationNote.application_id == row.id)
        .order_by(ApplicationNote.at.desc(), ApplicationNote.id.desc())
    )
    assisted_by = None
    if row.channel == "assisted" and row.acting_by is not None:
        account = session.get(StaffAccount, row.acting_by)
        assisted_by = account.display_name if account is not None else row.acting_by
    return Case(
        id=row.id,
        subject=row.subject,
        application=full_view(session, row),
        notes=tuple(Note(n.at, name, n.role, n.text) for n, name in notes),
        assisted_by=assisted_by,
    )


@dataclass(frozen=True)
class FileContent:
    """A file of an application, to download: whose case, its name, type and bytes."""

    subject: str
    slug: str
    name: str
    content_type: str
    content: bytes


def file_of(
    session: Session, slugs: Collection[str], reference: str, file_id: str
) -> FileContent | None:
    """The file file_id of the application reference (of one of slugs), or None."""
    found = session.execute(
        select(ApplicationFile, Application.subject, Application.slug)
        .join(Application, Application.id == ApplicationFile.application_id)
        .where(
            ApplicationFile.id == file_id,
            Application.reference == reference,
            Application.slug.in_(slugs),
        )
    ).first()
    if found is None:
        return None
    row, subject, slug = found
    return FileContent(subject, slug, row.name, row.content_type, bytes(row.content))


def add_note(
    session: Session, application_id: int, staff: StaffMember, text: str, now: datetime
) -> None:
    """Keep a note by staff on the application (text: 1 to MAX_NOTE characters)."""
    if not 1 <= len(text) <= MAX_NOTE:
        raise ValueError(f"a note has 1 to {MAX_NOTE} characters, not {len(text)}")
    session.add(
        ApplicationNote(
            application_id=application_id, at=now, staff_id=staff.id, role=staff.role, text=text
        )
    )


# --- telling the person ----------------------------------------------------------------------


def email_answer(definition: ServiceDefinition, answers: dict[str, Any]) -> str | None:
    """The email address the person gave as an answer (the first email question's), or None."""
    for _, question in definition.questions():
        answer = answers.get(question.id)
        if question.type == "email" and isinstance(answer, str) and answer:
            return answer
    return None


def decision_email(
    definition: ServiceDefinition,
    application: ApplicationView,
    decision: Decision,
    *,
    node_name: str,
    base_url: str,
) -> tuple[str, str]:
    """The subject and body of the email that tells the person the decision."""
    title = definition.title.text(application.language)
    outcome = "approved" if decision.status == APPROVED else "refused"
    subject = f"{title}: your application {application.reference} was {outcome}"
    lines = [f"Your application {application.reference} ({title}) was {outcome}."]
    if decision.status != APPROVED and decision.reason:
        lines += ["", "The reason:", decision.reason]
    if decision.status == APPROVED and decision.choice:
        lines += ["", f"Confirmed: {display_slot(decision.choice, application.language)}."]
    if application.channel != "assisted":
        lines += ["", f"See your application: {base_url}/applications/{application.reference}"]
    lines += ["", f"If you have a question, contact {node_name} and give your reference number."]
    return subject[:MAX_SUBJECT], "\n".join(lines) + "\n"


def tell_person(
    session: Session,
    definition: ServiceDefinition,
    reference: str,
    decision: Decision,
    *,
    node_name: str,
    base_url: str,
    now: datetime,
) -> bool:
    """Queue the email of a decision to the address the person's answers hold, once per
    application and status; True when one was queued (False: no address, or one email
    cannot be sent to)."""
    row = session.scalar(select(Application).where(Application.reference == reference))
    if row is None:
        return False
    application = full_view(session, row)
    address = email_answer(definition, application.answers)
    if address is None:
        return False
    subject, body = decision_email(
        definition, application, decision, node_name=node_name, base_url=base_url
    )
    try:
        queued = queue_email(
            session,
            address,
            subject,
            body,
            key=f"application:{reference}:{decision.status}",
            now=now,
        )
    except InvalidEmailError as exc:  # raised before anything is written
        log.warning("the decision on %s is not emailed: %s", reference, exc)
        return False
    return queued.new


def made_by(session: Session, subject: str, slug: str, acting_by: str) -> str | None:
    """The reference of the application of slug made for subject by acting_by, or None."""
    return session.scalar(
        select(Application.reference).where(
            Application.subject == subject,
            Application.slug == slug,
            Application.acting_by == acting_by,
        )
    )
