"""Applications: a draft submitted, its status history, and withdrawing it (use cases, ADR 0017).

Submitting turns a person's draft into an application with a reference number, in one
transaction: the answers of the pages shown (services/journey.py), where each came from, the
files of those answers, the first event of its history and whatever the service's submission
action records (services/handlers.py). The application carries the draft's submission token,
unique in the table: a second submit with the same token (a double click, or the back button
and submit again) finds the application the first made (`by_token`), whichever worker it
reaches, and makes none.

Statuses: submitted, in-review, approved, refused, withdrawn. Each change is an event (when,
the status, the reason, and who: `person`, `helper`, or a staff role). A person may withdraw
an application until it is decided, and an approved one too when its service registers a
cancellation (handlers.CANCELLATIONS: a prison visit booked is cancelled this way, status
withdrawn, the place freed in the same transaction). Staff mark one in review
(`mark_in_review`) and decide it (`decide`); each change is one guarded statement, so changes
made at the same moment win or lose whole.

Every function takes a session and `now` and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from digitalstate.federation.domain import FederationDocument
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.drafts import json_text
from digitalstate.services.handlers import (
    APPROVED,
    CANCELLATIONS,
    DECISION_HOOKS,
    NOTES,
    REFUSED,
    Cancellation,
    Decision,
    DecisionRefusedError,
    Note,
    SubmitAction,
)
from digitalstate.services.models import (
    Application,
    ApplicationEvent,
    ApplicationFile,
    ServiceDraft,
)
from digitalstate.services.references import new_reference

STATUSES = ("submitted", "in-review", "approved", "refused", "withdrawn")
UNDECIDED = frozenset({"submitted", "in-review"})
SUBMITTED, IN_REVIEW, WITHDRAWN = "submitted", "in-review", "withdrawn"
DIGITAL, ASSISTED, HELPER = "digital", "assisted", "helper"
CHANNELS = (DIGITAL, HELPER, ASSISTED)
BY_PERSON, BY_HELPER = "person", "helper"

Withdrawal = Literal["withdrawn", "decided", "unknown"]
Review = Literal["in-review", "not-submitted", "unknown"]


class DraftChangedError(Exception):
    """The draft is not the one the person checked: submitted already, or changed since."""


@dataclass(frozen=True)
class Event:
    """One step of an application's history."""

    at: datetime
    status: str
    reason: str | None
    by: str


@dataclass(frozen=True)
class StoredFile:
    """A file kept as an answer (without its bytes)."""

    id: str
    question_id: str
    name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ApplicationView:
    """An application as the person's pages and the API show it."""

    reference: str
    slug: str
    channel: str
    acting_by: str | None
    answers: dict[str, Any]
    sources: dict[str, Any]
    language: str
    submitted_at: datetime
    status: str
    updated_at: datetime
    events: tuple[Event, ...] = ()
    files: tuple[StoredFile, ...] = ()

    @property
    def undecided(self) -> bool:
        """True while the person may still withdraw it."""
        return self.status in UNDECIDED


def _view(
    row: Application, events: tuple[Event, ...] = (), files: tuple[StoredFile, ...] = ()
) -> ApplicationView:
    return ApplicationView(
        reference=row.reference,
        slug=row.slug,
        channel=row.channel,
        acting_by=row.acting_by,
        answers=dict(json.loads(row.answers)),
        sources=dict(json.loads(row.sources)),
        language=row.language,
        submitted_at=row.submitted_at,
        status=row.status,
        updated_at=row.updated_at,
        events=events,
        files=files,
    )


def by_token(session: Session, subject: str, token: str) -> str | None:
    """The reference of subject's application made with the submission token, or None (also
    when the token made someone else's)."""
    return session.scalars(
        select(Application.reference).where(
            Application.submission_token == token, Application.subject == subject
        )
    ).first()


def submit(
    session: Session,
    *,
    definition: ServiceDefinition,
    subject: str,
    token: str,
    answers: Mapping[str, Any],
    sources: Mapping[str, Any],
    acting_by: str | None,
    action: SubmitAction,
    now: datetime,
    channel: str | None = None,
    by: str | None = None,
) -> str:
    """Turn subject's draft into an application: answers and sources as checked; its reference.

    channel and by (the first event's) default to the person's own (digital, person) or, with
    acting_by, their helper's; a member of staff filling it in with the person passes
    ASSISTED, their role, and their account id as acting_by.

    Raises DraftChangedError when the draft is gone or has another token, and IntegrityError
    (from the unique submission token) when another submit with token got there first.
    """
    draft = session.scalars(
        select(ServiceDraft)
        .where(ServiceDraft.subject == subject, ServiceDraft.slug == definition.slug)
        .with_for_update()
    ).first()
    if draft is None or draft.submission_token != token:
        raise DraftChangedError(definition.slug)
    application = Application(
        reference=_unused_reference(session, definition.prefix),
        slug=definition.slug,
        subject=subject,
        channel=channel or (HELPER if acting_by else DIGITAL),
        acting_by=acting_by,
        answers=json_text(answers),
        sources=json_text({key: value for key, value in sources.items() if key in answers}),
        language=draft.language,
        submitted_at=now,
        status="submitted",
        updated_at=now,
        submission_token=token,
    )
    session.add(application)
    session.flush()  # the unique token: a second submit stops here
    by = by or (BY_HELPER if acting_by else BY_PERSON)
    session.add(
        ApplicationEvent(
            application_id=application.id, at=now, status="submitted", reason=None, by=by
        )
    )
    outcome = action(session, application, definition, now)
    if outcome.status != "submitted":
        application.status = outcome.status
        session.add(
            ApplicationEvent(
                application_id=application.id,
                at=now,
                status=outcome.status,
                reason=outcome.reason,
                by="action:" + (definition.submit.action if definition.submit else "record"),
            )
        )
    _move_files(session, draft.id, application.id, answers)
    session.delete(draft)
    return application.reference


def _unused_reference(session: Session, prefix: str) -> str:
    """A new reference number no application has (one in 30^8: drawn again when taken)."""
    while True:
        reference = str(new_reference(prefix))
        taken = session.scalars(
            select(Application.id).where(Application.reference == reference)
        ).first()
        if taken is None:
            return reference


def _move_files(
    session: Session, draft_id: str, application_id: int, answers: Mapping[str, Any]
) -> None:
    """The draft's files of answers submitted go to the application; the others are deleted."""
    wanted = [
        question_id
        for question_id, answer in answers.items()
        if isinstance(answer, dict) and "sha256" in answer
    ]
    session.execute(
        update(ApplicationFile)
        .where(ApplicationFile.draft_id == draft_id, ApplicationFile.question_id.in_(wanted))
        .values(draft_id=None, application_id=application_id)
    )
    session.execute(delete(ApplicationFile).where(ApplicationFile.draft_id == draft_id))


def applications_of(session: Session, subject: str) -> list[ApplicationView]:
    """subject's applications at this node, newest first (without history or files)."""
    rows = session.scalars(
        select(Application)
        .where(Application.subject == subject)
        .order_by(Application.submitted_at.desc(), Application.id.desc())
    )
    return [_view(row) for row in rows]


def _own(session: Session, subject: str, reference: str) -> Application | None:
    return session.scalars(
        select(Application).where(
            Application.reference == reference, Application.subject == subject
        )
    ).first()


def application_of(session: Session, subject: str, reference: str) -> ApplicationView | None:
    """subject's application with this reference, with its history and files; None when
    there is none (or it is someone else's)."""
    row = _own(session, subject, reference)
    return None if row is None else full_view(session, row)


def full_view(session: Session, row: Application) -> ApplicationView:
    """The application row with its history and files."""
    events = tuple(
        Event(e.at, e.status, e.reason, e.by)
        for e in session.scalars(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == row.id)
            .order_by(ApplicationEvent.at, ApplicationEvent.id)
        )
    )
    files = tuple(
        StoredFile(f.id, f.question_id, f.name, f.content_type, f.size, f.sha256)
        for f in session.scalars(
            select(ApplicationFile)
            .where(ApplicationFile.application_id == row.id)
            .order_by(ApplicationFile.question_id)
        )
    )
    return _view(row, events, files)


def application_with_notes(
    session: Session,
    subject: str,
    reference: str,
    definition_of: Callable[[str], ServiceDefinition | None],
    document: FederationDocument | None,
) -> tuple[ApplicationView, list[Note]] | None:
    """subject's application with this reference (as application_of), and what its service's
    action tells them about it now (its registered NOTES; none where the action registers
    none). It only reads: run in a read-only step (run_step(..., read_only=True)), the row,
    its history and the note are of one moment, so a page's status, history and note agree
    though a worker decides the application meanwhile. None when there is no such
    application (or it is someone else's). definition_of gives the definition of the
    application's service, by its slug."""
    row = _own(session, subject, reference)
    if row is None:
        return None
    definition = definition_of(row.slug)
    action = definition.submit.action if definition and definition.submit else None
    notes = NOTES.get(action) if action is not None else None
    return full_view(session, row), (notes(session, row, document) if notes else [])


def event_added(
    session: Session, application: Application, reason: str, by: str, now: datetime
) -> bool:
    """Add an event to an undecided application without changing its status (evidence asked
    for, or sent): False, and nothing added, when it was decided or withdrawn meanwhile."""
    touched = session.execute(
        update(Application)
        .where(Application.id == application.id, Application.status.in_(UNDECIDED))
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if touched.rowcount != 1:  # type: ignore[attr-defined]
        return False
    status = session.scalar(select(Application.status).where(Application.id == application.id))
    session.add(
        ApplicationEvent(
            application_id=application.id, at=now, status=str(status), reason=reason, by=by
        )
    )
    return True


def _change(
    session: Session,
    application_id: int,
    allowed: Collection[str],
    status: str,
    *,
    by: str,
    now: datetime,
    reason: str | None = None,
) -> ApplicationEvent | None:
    """Move the application to status, with its event, if its status now is one of allowed;
    the event when it moved (None when not). One statement checks and changes: of two changes
    made at the same moment (a withdrawal and a decision, two decisions), one wins whole and the
    other changes nothing."""
    changed = session.execute(
        update(Application)
        .where(Application.id == application_id, Application.status.in_(allowed))
        .values(status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    event = ApplicationEvent(
        application_id=application_id, at=now, status=status, reason=reason, by=by
    )
    session.add(event)
    return event


def _of_service(session: Session, slug: str, reference: str) -> Application | None:
    return session.scalar(
        select(Application).where(Application.slug == slug, Application.reference == reference)
    )


def cancellation_of(definition: ServiceDefinition | None) -> Cancellation | None:
    """The cancellation definition's action registers, if any (None: withdrawing only)."""
    if definition is None or definition.submit is None:
        return None
    return CANCELLATIONS.get(definition.submit.action)


def withdrawable(status: str, definition: ServiceDefinition | None) -> bool:
    """True when the person may withdraw an application of definition in status: while it is
    undecided, or approved when its service registers a cancellation."""
    return status in UNDECIDED or (status == APPROVED and cancellation_of(definition) is not None)


def withdraw(
    session: Session,
    subject: str,
    reference: str,
    by: str,
    now: datetime,
    *,
    definition: ServiceDefinition | None = None,
) -> Withdrawal:
    """Withdraw subject's application while it is undecided (or approved, when definition's
    action registers a cancellation, whose run goes in this transaction): withdrawn, decided
    or unknown. A cancellation that refuses raises WithdrawalRefusedError: the caller rolls
    back."""
    row = _own(session, subject, reference)
    if row is None:
        return "unknown"
    before = row.status
    if not withdrawable(before, definition):
        return "decided"
    allowed = UNDECIDED if before in UNDECIDED else frozenset({before})
    event = _change(session, row.id, allowed, WITHDRAWN, by=by, now=now)
    if event is None:
        return "decided"
    cancellation = cancellation_of(definition)
    if cancellation is not None and definition is not None:
        session.refresh(row)
        event.reason = cancellation.run(session, row, definition, before, now)
    return "withdrawn"


def mark_in_review(session: Session, slug: str, reference: str, by: str, now: datetime) -> Review:
    """Mark the submitted application reference of service slug as in review (by: the staff
    role): in-review, not-submitted (in review already, decided or withdrawn) or unknown."""
    row = _of_service(session, slug, reference)
    if row is None:
        return "unknown"
    if _change(session, row.id, (SUBMITTED,), IN_REVIEW, by=by, now=now) is None:
        return "not-submitted"
    return "in-review"


Decided = Literal["decided", "already-decided", "unknown"]


def decide(
    session: Session,
    slug: str,
    reference: str,
    decision: Decision,
    definition: ServiceDefinition,
    now: datetime,
) -> Decided:
    """Record a staff decision on the undecided application reference of service slug, and run
    the service's decision hook in the same transaction: decided, already-decided or unknown.

    A refusal needs a reason. A hook that cannot carry the decision out raises
    DecisionRefusedError: the caller rolls the transaction back, so nothing of it is kept. The
    note a hook returns ("Visit booked: ...") is the event's reason when the decision has none.
    """
    if decision.status not in (APPROVED, REFUSED):
        raise ValueError(f"a decision is approved or refused, not {decision.status!r}")
    if decision.status == REFUSED and not (decision.reason or "").strip():
        raise DecisionRefusedError("Enter the reason for refusing the application")
    row = _of_service(session, slug, reference)
    if row is None:
        return "unknown"
    event = _change(
        session, row.id, UNDECIDED, decision.status, by=decision.by, now=now, reason=decision.reason
    )
    if event is None:
        return "already-decided"
    action = definition.submit.action if definition.submit is not None else None
    hook = DECISION_HOOKS.get(action) if action is not None else None
    if hook is not None:
        session.refresh(row)
        note = hook(session, row, definition, decision, now)
        if note and not (decision.reason or "").strip():
            event.reason = note
    return "decided"
