"""Service events: what a declared service's journey records for its performance figures.

An event says that something happened in one attempt at a service (a journey, known by an
opaque id: the draft's): it was started, a question page was viewed, a page was answered with
errors, or it ended (completed, refused as not eligible, or left), and how it was rated. No
event names a person; a journey's id is the id of a draft that is deleted when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

EventKind = Literal["started", "page", "answer_error", "completed", "refused", "left", "rated"]
Channel = Literal["digital", "assisted"]

EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
CHANNELS: tuple[str, ...] = get_args(Channel)
# The end points of a journey: their events carry the time since it was started.
ENDS: tuple[str, ...] = ("completed", "refused", "left")
RATINGS = range(1, 6)  # 1 very dissatisfied .. 5 very satisfied
MAX_SLUG_CHARS = 63  # a service's slug, a page's id, an experiment's variant
MAX_JOURNEY_CHARS = 32


class ServiceEventError(ValueError):
    """An event that cannot be recorded as given."""


@dataclass(frozen=True)
class ServiceEvent:
    """Something that happened in a journey through the service slug, at a moment.

    page: the question page it happened on (page, answer_error; the last page for left);
    channel: digital (the person, or a helper, online) or assisted (staff with the person);
    variant: "<experiment-id>:<variant-id>" when the journey is in an experiment;
    duration_ms: for an end point, the time since the journey's started event;
    value: for rated, 1 (very dissatisfied) to 5 (very satisfied).
    """

    service: str
    kind: EventKind
    at: datetime
    journey: str | None = None
    page: str | None = None
    channel: Channel = "digital"
    variant: str | None = None
    duration_ms: int | None = None
    value: int | None = None

    def __post_init__(self) -> None:
        problem = event_problem(self)
        if problem is not None:
            raise ServiceEventError(problem)


def event_problem(event: ServiceEvent) -> str | None:
    """Why event cannot be recorded, or None."""
    if not event.service or len(event.service) > MAX_SLUG_CHARS:
        return f"service must be a slug of 1 to {MAX_SLUG_CHARS} characters"
    if event.kind not in EVENT_KINDS:
        return f"kind must be one of {', '.join(EVENT_KINDS)}, not {event.kind!r}"
    if event.channel not in CHANNELS:
        return f"channel must be one of {', '.join(CHANNELS)}, not {event.channel!r}"
    if event.at.tzinfo is None:
        return "at must carry its UTC offset"
    for name, text, limit in (
        ("journey", event.journey, MAX_JOURNEY_CHARS),
        ("page", event.page, MAX_SLUG_CHARS),
        ("variant", event.variant, MAX_SLUG_CHARS),
    ):
        if text is not None and not 0 < len(text) <= limit:
            return f"{name} must be 1 to {limit} characters"
    if event.kind == "rated":
        if event.value not in RATINGS:
            return f"a rating's value is 1 to 5, not {event.value!r}"
    elif event.value is not None:
        return f"only a rating has a value, not {event.kind}"
    if event.duration_ms is not None:
        if event.kind not in ENDS:
            return f"only an end point ({', '.join(ENDS)}) has a duration, not {event.kind}"
        if event.duration_ms < 0:
            return "a duration is never negative"
    return None


def duration_ms(started: datetime | None, ended: datetime) -> int | None:
    """Milliseconds from started to ended (None when the start is not known; 0, never less,
    when the clocks of two workers disagree)."""
    if started is None:
        return None
    return max(0, round((ended - started).total_seconds() * 1000))
