"""The demo's synthetic journeys (demo/journeys.py): the same events for the same seed, each one
an event the domain accepts, with every end point and a trend to show."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from digitalstate.demo.journeys import ServicePages, synthetic_journeys
from digitalstate.performance.domain import ServiceEvent

SERVICES = [ServicePages("apply-for-a-bus-pass", ("name", "date-of-birth", "address"))]
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


def events(seed: int, journeys: int = 2000) -> list[tuple[object, ...]]:
    return list(synthetic_journeys(SERVICES, seed=seed, journeys=journeys, start=START, end=END))


def test_the_same_seed_and_count_make_the_same_events_and_another_seed_others() -> None:
    assert events(1) == events(1)
    assert events(1) != events(2)


def test_every_event_is_one_the_domain_accepts_in_the_span() -> None:
    made = events(1)
    for service, journey, kind, page, channel, variant, at, duration, value in made:
        ServiceEvent(service, kind, at, journey, page, channel, variant, duration, value)  # type: ignore[arg-type]
        assert START <= at < END.replace(day=2)  # a journey started at the end ends after
    kinds = Counter(row[2] for row in made)
    assert set(kinds) == {
        "started",
        "page",
        "answer_error",
        "completed",
        "refused",
        "left",
        "rated",
    }
    assert kinds["started"] == 2000 and kinds["completed"] > kinds["left"] + kinds["refused"]
