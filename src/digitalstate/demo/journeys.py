"""Synthetic journeys through declared services, as events: a year of them for the demo's
service nodes and for `digitalstate bench performance`.

Journey n of seed s is made from a random generator seeded with (s, n), and starts at its place
n among the journeys asked for: the same seed and number of journeys give the same events. A
journey starts, shows its pages one by one (sometimes answered with errors first), and then is
completed, left (at a page), refused as not eligible, or abandoned (no end point: the tab
closed); some are rated at their end.
Assisted digital journeys become fewer over the year, and people a little more satisfied, so
that the dashboards have trends to show.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from sqlalchemy import Engine, text

from digitalstate.performance.figures import year_start
from digitalstate.services.definitions import ServiceDefinition

# (service, journey, kind, page, channel, variant, at, duration_ms, value): service_events' order
EventRow = tuple[str, str, str, str | None, str, str | None, datetime, int | None, int | None]
COLUMNS = ("service", "journey", "kind", "page", "channel", "variant", "at", "duration_ms", "value")
RATING_WEIGHTS = (4, 6, 10, 40, 40)  # very dissatisfied .. very satisfied, in 100


@dataclass(frozen=True)
class ServicePages:
    """A service's slug and its question pages, in order."""

    slug: str
    pages: tuple[str, ...]


def synthetic_journeys(
    services: Sequence[ServicePages],
    *,
    seed: int,
    journeys: int,
    start: datetime,
    end: datetime,
) -> Iterator[EventRow]:
    """The events of journeys numbered 0 .. journeys-1, started between start and end."""
    span = (end - start).total_seconds()
    for number in range(journeys):
        rng = random.Random(f"{seed}:{number}")  # noqa: S311 - made up, on purpose
        share = (number + rng.random()) / journeys  # in order of their start, as they come
        yield from _journey(rng, services, f"{seed % 2**32:08x}{number:024x}", start, span, share)


def _journey(
    rng: random.Random,
    services: Sequence[ServicePages],
    journey: str,
    start: datetime,
    span: float,
    share: float,  # how far through the span it starts
) -> Iterator[EventRow]:
    service = services[rng.randrange(len(services))]
    at = start + timedelta(seconds=share * span)
    channel = "assisted" if rng.random() < 0.16 - 0.08 * share else "digital"
    slug = service.slug
    began = at
    yield (slug, journey, "started", None, channel, None, at, None, None)
    outcome = "completed"
    last = None
    for index, page in enumerate(service.pages):
        at += timedelta(seconds=rng.uniform(8, 90))
        last = page
        yield (slug, journey, "page", page, channel, None, at, None, None)
        if rng.random() < 0.08:
            at += timedelta(seconds=rng.uniform(10, 40))
            yield (slug, journey, "answer_error", page, channel, None, at, None, None)
            yield (slug, journey, "page", page, channel, None, at, None, None)
        roll = rng.random()
        if index == 0 and roll < 0.04:
            outcome = "refused"
            break
        if roll < 0.02 + 0.005 * (index % 3):
            outcome = "left" if roll < 0.012 else "abandoned"
            break
    at += timedelta(seconds=rng.uniform(5, 60))
    if outcome == "abandoned":
        return
    duration = round((at - began).total_seconds() * 1000)
    page_at_end = None if outcome == "completed" else last
    yield (slug, journey, outcome, page_at_end, channel, None, at, duration, None)
    if rng.random() < (0.35 if outcome == "completed" else 0.1):
        lift = 1 if outcome == "completed" and rng.random() < share * 0.2 else 0
        value = min(5, rng.choices(range(1, 6), RATING_WEIGHTS)[0] + lift)
        if outcome != "completed":
            value = max(1, value - 2)
        at += timedelta(seconds=rng.uniform(5, 30))
        yield (slug, journey, "rated", None, channel, None, at, None, value)


def write_events(engine: Engine, rows: Iterator[EventRow], *, chunk: int = 50_000) -> int:
    """Append rows to the engine's service_events in chunks (COPY on PostgreSQL); how many."""
    written = 0
    columns = ", ".join(COLUMNS)
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        while batch := list(islice(rows, chunk)):
            if engine.dialect.name == "postgresql":
                with (
                    raw.cursor() as cursor,
                    cursor.copy(f"COPY service_events ({columns}) FROM STDIN") as copy,
                ):
                    for row in batch:
                        copy.write_row(row)
            else:  # SQLite keeps a moment as text, in UTC, as the UtcDateTime column writes it
                marks = ", ".join("?" * len(COLUMNS))
                raw.executemany(
                    f"INSERT INTO service_events ({columns}) VALUES ({marks})",  # noqa: S608
                    [(*row[:6], _sqlite_moment(row[6]), *row[7:]) for row in batch],
                )
            written += len(batch)
    return written


def _sqlite_moment(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


DEMO_JOURNEYS = 6000  # a year of them at each demo node with journeys: ~500 a month
MAX_JOURNEYS = 100_000  # at each node: about 4 million events


def seed_node_journeys(
    engine: Engine,
    services: Sequence[ServicePages],
    *,
    seed: int,
    now: datetime,
    journeys: int = DEMO_JOURNEYS,
) -> int:
    """A year of synthetic journeys' events (journeys of them) at a node whose services have
    pages, up to now, unless it recorded events already (real use adds to them); how many
    were written."""
    if not services:
        return 0
    with engine.connect() as connection:
        if connection.execute(text("SELECT 1 FROM service_events LIMIT 1")).first():
            return 0
    start = datetime.combine(year_start(now.date()), datetime.min.time(), UTC)
    rows = synthetic_journeys(services, seed=seed, journeys=journeys, start=start, end=now)
    return write_events(engine, rows)


def journey_services(definitions: Sequence[ServiceDefinition]) -> list[ServicePages]:
    """The services with pages among definitions, by their pages (for synthetic journeys)."""
    return [
        ServicePages(d.slug, tuple(page.id for page in d.pages))
        for d in definitions
        if d.has_journey
    ]
