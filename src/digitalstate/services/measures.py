"""What a declared service's journey records for the node's performance figures.

A journey is one attempt at a service, known by its draft's id. It records `started` when its
draft is made, `page` at each question page shown, `answer_error` at a page answered with
errors, and one of its end points: `completed` (the application made), `refused` (an answer
that makes the person not eligible) or `left` (the person chose to leave the service), each
with the time since it was started. Assisted digital journeys (staff with the person) are of
the channel `assisted`, every other one `digital` (docs/performance.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.performance.domain import Channel, EventKind, ServiceEvent, duration_ms
from digitalstate.performance.models import ServiceEventRow
from digitalstate.performance.service import last_event, last_page, record, started_at


def record_event(
    session: Session,
    slug: str,
    kind: EventKind,
    at: datetime,
    journey: str | None,
    *,
    assisted: bool,
    page: str | None = None,
    variant: str | None = None,
) -> None:
    """Record an event of the journey in the caller's transaction; an end point's with the
    time since the journey was started; variant: the experiment's variant the person sees
    (services/variants.py)."""
    duration = None
    if kind in ("completed", "refused", "left") and journey is not None:
        duration = duration_ms(started_at(session, journey), at)
    channel: Channel = "assisted" if assisted else "digital"
    event = ServiceEvent(
        slug, kind, at, journey, page, channel, variant=variant, duration_ms=duration
    )
    record(session, event)


def record_leaving(
    session: Session,
    slug: str,
    at: datetime,
    journey: str,
    *,
    assisted: bool,
    variant: str | None = None,
) -> None:
    """Record that the person left the journey, at the last page they saw, once: nothing when
    its last event already says so (the page shown again, or the answers deleted after)."""
    last = last_event(session, journey)
    if last is not None and last.kind == "left":
        return
    page = last_page(session, journey)
    record_event(session, slug, "left", at, journey, assisted=assisted, page=page, variant=variant)


def completed_journey(session: Session, slug: str, submitted_at: datetime) -> str | None:
    """The id of the journey whose application of slug was made at submitted_at (its
    `completed` event has the same moment: one transaction records both), or None when no
    event, or more than one, says so. The confirmation page links the satisfaction question
    with it (docs/feedback.md)."""
    found = session.scalars(
        select(ServiceEventRow.journey)
        .where(
            ServiceEventRow.service == slug,
            ServiceEventRow.at == submitted_at,
            ServiceEventRow.kind == "completed",
        )
        .limit(2)
    ).all()
    return found[0] if len(found) == 1 else None
