"""Register to vote: the submission action, the identity check's steps, the roll, evidence.

The `electoral-registration` action keeps the application (status submitted) and writes its
identity check in the same transaction: `pending` when the person gave a National Insurance
number, `evidence-sent` when they sent a document instead. The check's network calls are the
worker's (electoral/worker.py), never the submit transaction's: it claims due checks (as the
email outbox's worker claims messages, so two workers never take the same one), asks the
registers through the charter, and settles each check here in a transaction of its own:

- every value matched: the application is approved (services/applications.decide, by
  `action:electoral-registration`), and the decision hook puts the person on the roll;
- not matched: the application stays submitted with an "evidence needed" event, and its page
  asks for a document (electoral/pages.py), which a caseworker then decides on;
- the call failed (a register down, a refusal): tried again later, with back-off.

The decision hook (whoever decides: the worker on a match, or a caseworker) writes the roll's
entry on approval: `electoral.registration_status` for this node's pseudonym for the person
(the applicant's `sub` here, the key of their record in this register), with their open
register and postal vote answers. Every function takes a session and `now`, and never commits.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from digitalstate.backoff import Backoff, next_attempt
from digitalstate.electoral.domain import (
    CLOSED,
    EVIDENCE,
    EVIDENCE_NEEDED,
    EVIDENCE_SENT,
    MATCHED,
    PENDING,
    ROLL_FIELD,
    match_values,
    roll_status,
)
from digitalstate.electoral.models import IdentityCheck
from digitalstate.federation.domain import FederationDocument, FieldDefinition
from digitalstate.registers.service import put_fields
from digitalstate.services.applications import UNDECIDED, decide, event_added
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.drafts import ENTERED, json_text, keep_file
from digitalstate.services.filetypes import Upload
from digitalstate.services.handlers import APPROVED, SUBMITTED, Decision, Note, Outcome
from digitalstate.services.models import Application
from digitalstate.web.i18n import N_, _

ACTION = "electoral-registration"
BY_ACTION = "action:" + ACTION
HOLDER = "electoral-registration"
MAX_ERROR_CHARS = 500
OPEN = (PENDING, EVIDENCE_NEEDED, EVIDENCE_SENT)
# The catalogue's entry of the field the roll keeps (the demo catalogue's): a decision hook is
# not given the federation document, and this is the register's own field.
ROLL_FIELDS = (FieldDefinition(name=ROLL_FIELD, type="string", holder=HOLDER),)
# The reasons of the events the action adds: kept in English, shown in the page's language
# (registered in handlers.REASONS by electoral/feature.py).
MATCHED_REASON = N_(
    "Your National Insurance number, name and date of birth matched: you are on the electoral "
    "register"
)
EVIDENCE_REASON = N_(
    "Evidence needed: we could not match your National Insurance number, name and date of "
    "birth with the registers' records"
)
EVIDENCE_SENT_REASON = N_("Document sent to prove who you are")
REASONS = frozenset({MATCHED_REASON, EVIDENCE_REASON, EVIDENCE_SENT_REASON})


def start_check(
    session: Session, application: Application, _definition: ServiceDefinition, now: datetime
) -> Outcome:
    """The submission action: keep the application, and its identity check to be made."""
    values = match_values(json.loads(application.answers))
    session.add(
        IdentityCheck(
            application_id=application.id,
            state=PENDING if values is not None else EVIDENCE_SENT,
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
    )
    return Outcome(SUBMITTED)


def add_to_roll(
    session: Session,
    application: Application,
    _definition: ServiceDefinition,
    decision: Decision,
    now: datetime,
) -> str | None:
    """The decision hook: end the application's identity check and, on approval, put the
    person on the electoral roll with their open register and postal vote answers; the note
    kept as the decision's reason when staff gave none."""
    session.execute(
        update(IdentityCheck)
        .where(IdentityCheck.application_id == application.id, IdentityCheck.state.in_(OPEN))
        .values(state=CLOSED, claim=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    if decision.status != APPROVED:
        return None
    status = roll_status(json.loads(application.answers))
    put_fields(
        session,
        pseudonym=application.subject,
        changes={ROLL_FIELD: status},
        now=now,
        catalogue=ROLL_FIELDS,
    )
    return f"Added to the electoral register: {status}"


# --- the worker's steps ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedCheck:
    """A check a worker holds: whose application, what to match, and its claim token."""

    id: int
    application_id: int
    slug: str
    reference: str
    subject: str
    values: dict[str, str]
    attempts: int
    claim: str


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(IdentityCheck.claimed_until.is_(None), IdentityCheck.claimed_until < now)


def claim_due(session: Session, now: datetime, limit: int, lease: timedelta) -> list[ClaimedCheck]:
    """Take up to limit pending checks due at now for this worker until now + lease."""
    due = (
        select(IdentityCheck.id)
        .where(IdentityCheck.state == PENDING, IdentityCheck.next_attempt_at <= now, _free(now))
        .order_by(IdentityCheck.next_attempt_at, IdentityCheck.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has no row locks and skips it
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    token = secrets.token_hex(16)
    # The guard repeats the conditions: a check another worker claimed since is not taken.
    session.execute(
        update(IdentityCheck)
        .where(IdentityCheck.id.in_(ids), IdentityCheck.state == PENDING, _free(now))
        .values(claim=token, claimed_until=now + lease)
    )
    rows = session.execute(
        select(IdentityCheck, Application)
        .join(Application, Application.id == IdentityCheck.application_id)
        .where(IdentityCheck.claim == token)
        .order_by(IdentityCheck.id)
    )
    claimed = []
    for check, application in rows:
        values = match_values(json.loads(application.answers)) or {}
        claimed.append(
            ClaimedCheck(
                id=check.id,
                application_id=application.id,
                slug=application.slug,
                reference=application.reference,
                subject=application.subject,
                values=values,
                attempts=check.attempts,
                claim=token,
            )
        )
    return claimed


def _held(session: Session, claimed: ClaimedCheck) -> IdentityCheck | None:
    return session.scalars(
        select(IdentityCheck).where(
            IdentityCheck.id == claimed.id,
            IdentityCheck.claim == claimed.claim,
            IdentityCheck.state == PENDING,
        )
    ).one_or_none()


Settled = Literal["matched", "evidence-needed", "closed", "lost"]


def settle(
    session: Session,
    claimed: ClaimedCheck,
    matched: bool,
    definition: ServiceDefinition,
    now: datetime,
) -> Settled:
    """Act on the registers' answer: approve on a match (the hook puts the person on the roll),
    else ask for evidence. closed: the application was decided or withdrawn meanwhile; lost:
    this worker no longer held the check."""
    row = _held(session, claimed)
    if row is None:
        return "lost"
    row.claim = None
    row.claimed_until = None
    row.checked_at = now
    application = session.get(Application, claimed.application_id)
    if application is None or application.status not in UNDECIDED:
        row.state = CLOSED
        return "closed"
    if matched:
        approve = Decision(APPROVED, MATCHED_REASON, BY_ACTION)
        outcome = decide(session, claimed.slug, claimed.reference, approve, definition, now)
        row.state = MATCHED if outcome == "decided" else CLOSED
        return "matched" if outcome == "decided" else "closed"
    asked = event_added(session, application, EVIDENCE_REASON, BY_ACTION, now)
    row.state = EVIDENCE_NEEDED if asked else CLOSED
    return "evidence-needed" if asked else "closed"


def record_failure(
    session: Session,
    claimed: ClaimedCheck,
    reason: str,
    now: datetime,
    *,
    rng: random.Random,
    backoff: Backoff,
) -> datetime | None:
    """Count a failed try and set the next one (bounded exponential back-off with jitter):
    when it is; None when this worker no longer held the check."""
    row = _held(session, claimed)
    if row is None:
        return None
    row.attempts += 1
    row.last_error = reason[:MAX_ERROR_CHARS]
    row.claim = None
    row.claimed_until = None
    row.next_attempt_at = next_attempt(row.attempts - 1, now, rng, backoff)
    return row.next_attempt_at


def release(session: Session, claimed: Iterable[ClaimedCheck]) -> None:
    """Give back checks this worker holds but did not settle (it is stopping): due again now."""
    for one in claimed:
        session.execute(
            update(IdentityCheck)
            .where(IdentityCheck.id == one.id, IdentityCheck.claim == one.claim)
            .values(claim=None, claimed_until=None)
        )


# --- what the applicant sees and sends -----------------------------------------------------


def check_of(session: Session, application: Application) -> IdentityCheck | None:
    """The application's identity check, if it has one."""
    return session.scalars(
        select(IdentityCheck).where(IdentityCheck.application_id == application.id)
    ).one_or_none()


def notes(
    session: Session, application: Application, _document: FederationDocument | None
) -> list[Note]:
    """What the application's pages say of its identity check now."""
    check = check_of(session, application)
    if check is None:
        return []
    # A match is settled with the application's approval, in one commit; a row read before
    # that commit and its check read after it still show the check as pending, so that the
    # page's status and its note agree (services.applications.application_with_notes).
    if check.state == PENDING or (check.state == MATCHED and application.status in UNDECIDED):
        return [
            Note(
                _("We are checking who you are"),
                (
                    _(
                        "We are matching your National Insurance number, name and date of "
                        "birth with the registers that hold them. This usually takes a few "
                        "seconds: refresh this page to see the result."
                    ),
                ),
            )
        ]
    if check.state == MATCHED:
        return [
            Note(
                _("You are on the electoral register"),
                (
                    _(
                        "Your National Insurance number, name and date of birth matched the "
                        "registers' records, so we added you to the electoral register."
                    ),
                ),
            )
        ]
    if check.state == EVIDENCE_NEEDED:
        return [
            Note(
                _("Send us a document that proves who you are"),
                (
                    _(
                        "We could not match your National Insurance number, name and date of "
                        "birth with the registers' records. Upload a passport, driving licence "
                        "or birth certificate: a caseworker will check it and decide your "
                        "application."
                    ),
                ),
                (_("Upload a document"), f"/applications/{application.reference}/evidence"),
            )
        ]
    if check.state == EVIDENCE_SENT:
        return [
            Note(
                _("A caseworker will check your document"),
                (_("We will write to you when they have decided your application."),),
            )
        ]
    return []


Evidence = Literal["sent", "not-asked", "unknown"]


def own_application(session: Session, subject: str, reference: str) -> Application | None:
    """subject's register-to-vote application reference, or None (unknown, or not theirs)."""
    return session.scalars(
        select(Application).where(
            Application.reference == reference, Application.subject == subject
        )
    ).first()


def take_evidence(
    session: Session, subject: str, reference: str, upload: Upload, by: str, now: datetime
) -> Evidence:
    """Keep the document subject sent as the evidence their application was asked for: the
    application's answer to the evidence question, its file, an event; the check waits for a
    caseworker. not-asked: no evidence is needed (or it was sent already); unknown: no such
    application of theirs."""
    application = own_application(session, subject, reference)
    if application is None:
        return "unknown"
    check = session.scalars(
        select(IdentityCheck).where(IdentityCheck.application_id == application.id)
    ).one_or_none()
    if check is None or not _moved(session, check, EVIDENCE_NEEDED, EVIDENCE_SENT):
        return "not-asked"
    if not event_added(session, application, EVIDENCE_SENT_REASON, by, now):
        _moved(session, check, EVIDENCE_SENT, EVIDENCE_NEEDED)  # decided meanwhile: as it was
        return "not-asked"
    kept = keep_file(session, upload, EVIDENCE, now, application_id=application.id)
    answers = json.loads(application.answers)
    sources = json.loads(application.sources)
    answers[EVIDENCE] = kept
    sources[EVIDENCE] = ENTERED
    application.answers = json_text(answers)
    application.sources = json_text(sources)
    return "sent"


def _moved(session: Session, check: IdentityCheck, state: str, to: str) -> bool:
    # An UPDATE only a check still in state matches: of two uploads at once (two workers, or a
    # double click), one moves it on, before anything else is written; the other writes nothing
    # and is answered as for evidence already sent, on PostgreSQL and SQLite alike.
    moved = session.execute(
        update(IdentityCheck)
        .where(IdentityCheck.id == check.id, IdentityCheck.state == state)
        .values(state=to),
        execution_options={"synchronize_session": "fetch"},
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
