"""Drafts: a person's answers to a service, saved at every page (use cases, ADR 0017).

One draft per person and service, keyed by this node's pseudonym for the person: signing out,
an expired session or another worker finds it as it was. Each page's answers are merged into
it as they are given, with where each came from (`sources`: "entered", or the register, field,
consent and time of the read that gave it). A file given as an answer is kept with the draft
until it is submitted. The draft's submission token is random and single-use: submitting
turns the draft into an application carrying the token (services/applications.py).

Every function takes a session and `now` and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from digitalstate.services.filetypes import Upload
from digitalstate.services.models import ApplicationFile, ServiceDraft

ENTERED = "entered"
DECLINED = "declined"


@dataclass(frozen=True)
class Draft:
    """A draft as the pages use it."""

    id: str
    subject: str
    slug: str
    answers: dict[str, Any]
    sources: dict[str, Any]
    consent: str | None  # None: not asked yet; "declined": the person types their answers
    language: str
    submission_token: str
    updated_at: datetime
    held_by: str | None = None  # the staff account filling it in with the person (assisted)


def _view(row: ServiceDraft) -> Draft:
    return Draft(
        id=row.id,
        subject=row.subject,
        slug=row.slug,
        answers=dict(json.loads(row.answers)),
        sources=dict(json.loads(row.sources)),
        consent=row.consent,
        language=row.language,
        submission_token=row.submission_token,
        updated_at=row.updated_at,
        held_by=row.held_by,
    )


def _row(session: Session, subject: str, slug: str, *, lock: bool = False) -> ServiceDraft | None:
    query = select(ServiceDraft).where(ServiceDraft.subject == subject, ServiceDraft.slug == slug)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def find_draft(session: Session, subject: str, slug: str) -> Draft | None:
    """subject's draft of the service slug, or None."""
    row = _row(session, subject, slug)
    return None if row is None else _view(row)


def open_draft(
    session: Session,
    subject: str,
    slug: str,
    now: datetime,
    language: str,
    *,
    held_by: str | None = None,
    consent: str | None = None,
) -> Draft:
    """subject's draft of slug, made empty if there is none (two at once: the second fails on
    the unique (subject, slug) with IntegrityError, and its caller finds the first's).

    held_by: the staff account that fills a new draft in with the person (assisted digital);
    consent: what a new draft starts with (DECLINED: the answers are typed, never pre-filled).
    """
    row = _row(session, subject, slug)
    if row is None:
        row = ServiceDraft(
            id=secrets.token_hex(16),
            subject=subject,
            slug=slug,
            answers="{}",
            sources="{}",
            consent=consent,
            language=language,
            submission_token=secrets.token_urlsafe(32),
            created_at=now,
            updated_at=now,
            held_by=held_by,
        )
        session.add(row)
        session.flush()
    return _view(row)


def delete_draft(session: Session, subject: str, slug: str) -> bool:
    """Delete subject's draft of slug and the files kept with it; False when there is none."""
    row = _row(session, subject, slug, lock=True)
    if row is None:
        return False
    session.execute(delete(ApplicationFile).where(ApplicationFile.draft_id == row.id))
    session.delete(row)
    return True


def drafts_held_by(session: Session, staff_id: str) -> list[Draft]:
    """The drafts the staff account staff_id is filling in with people, newest change first."""
    rows = session.scalars(
        select(ServiceDraft)
        .where(ServiceDraft.held_by == staff_id)
        .order_by(ServiceDraft.updated_at.desc(), ServiceDraft.id)
    )
    return [_view(row) for row in rows]


def save_answers(
    session: Session,
    subject: str,
    slug: str,
    answers: Mapping[str, Any],
    sources: Mapping[str, Any],
    uploads: Mapping[str, Upload],
    now: datetime,
    language: str = "en",
) -> Draft:
    """Merge one page's answers (and where each came from) into subject's draft, keeping each
    upload in place of the draft's earlier file for its question."""
    row = _row(session, subject, slug, lock=True)
    if row is None:
        open_draft(session, subject, slug, now, language)
        row = _row(session, subject, slug, lock=True)
        assert row is not None
    kept = dict(json.loads(row.answers))
    kept.update(answers)
    where = dict(json.loads(row.sources))
    where.update(sources)
    row.answers = json_text(kept)
    row.sources = json_text(where)
    row.updated_at = now
    for question_id, upload in uploads.items():
        session.execute(
            delete(ApplicationFile).where(
                ApplicationFile.draft_id == row.id, ApplicationFile.question_id == question_id
            )
        )
        keep_file(session, upload, question_id, now, draft_id=row.id)
    return _view(row)


def keep_file(
    session: Session,
    upload: Upload,
    question_id: str,
    now: datetime,
    *,
    draft_id: str | None = None,
    application_id: int | None = None,
) -> dict[str, Any]:
    """Keep upload as the file of the answer to question_id, held by a draft or by an
    application; the answer a file question keeps (its name, type, size and SHA-256)."""
    described = upload.describe()
    session.add(
        ApplicationFile(
            id=secrets.token_hex(16),
            draft_id=draft_id,
            application_id=application_id,
            question_id=question_id,
            name=described["name"],
            content_type=described["type"],
            size=described["size"],
            sha256=described["sha256"],
            content=upload.content,
            created_at=now,
        )
    )
    return described


def decide_consent(
    session: Session, subject: str, slug: str, consent: str | None, now: datetime
) -> None:
    """Keep what the person chose about sharing: DECLINED (type the answers) or None (ask)."""
    row = _row(session, subject, slug, lock=True)
    if row is not None:
        row.consent = consent
        row.updated_at = now


def json_text(value: Mapping[str, Any]) -> str:
    """value as compact JSON text, keys sorted, as drafts and applications keep answers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
