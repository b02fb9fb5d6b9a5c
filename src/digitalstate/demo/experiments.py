"""Synthetic journeys for the demo's running experiments, so that their staff page shows real
figures (docs/experiments.md).

For the first experiment a demo service declares, journeys over the eight weeks before the
demo is prepared: each started by a synthetic person assigned as a real one would be (the
experiment's hash of a pseudonym), shown the experiment's page, then completed, left or
abandoned, some rated at the end. A variant that changes something completes a little more
often and a little faster than the control, by less than the demo's numbers can show for
sure: the page says the difference is not yet significant and how many more people it needs.
Journey n of seed s is made from a generator seeded with (s, n) alone, so one seed always
gives the same events; they are written once (a database that has them is left alone).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.performance.domain import EventKind, ServiceEvent
from digitalstate.performance.models import ServiceEventRow
from digitalstate.performance.service import record
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.variants import Experiment, assign, label

JOURNEYS = 800
WEEKS = 8
COMPLETION = (0.71, 0.76)  # the control's chance of completing, and a changed variant's
MINUTES = (9.0, 8.4)  # their mean time to complete
RATING_WEIGHTS = ((5, 7, 12, 40, 36), (4, 6, 10, 42, 38))  # 1 .. 5, in 100
RATED = 0.4  # the share of completed journeys rated


def experiment_journeys(
    definition: ServiceDefinition, experiment: Experiment, *, seed: int, now: datetime
) -> Iterator[ServiceEvent]:
    """The events of the demo's journeys in experiment, oldest journey first."""
    start = now - timedelta(weeks=WEEKS)
    span = (now - start).total_seconds()
    pages = [page.id for page in definition.pages]
    for number in range(JOURNEYS):
        rng = random.Random(f"experiment:{seed}:{number}")  # noqa: S311 - made up, on purpose
        variant = assign(experiment, f"demo-person-{seed}-{number}")
        changed = 0 if variant is experiment.variants[0] else 1
        at = start + timedelta(seconds=(number + rng.random()) / JOURNEYS * span * 0.98)
        journey = f"e{seed % 2**28:07x}{number:024x}"
        yield from _journey(
            rng, definition.slug, journey, label(experiment, variant), pages, changed, at
        )


def _journey(
    rng: random.Random,
    slug: str,
    journey: str,
    variant: str,
    pages: list[str],
    changed: int,
    began: datetime,
) -> Iterator[ServiceEvent]:
    def event(
        kind: EventKind, at: datetime, page: str | None = None, duration_ms: int | None = None
    ) -> ServiceEvent:
        return ServiceEvent(slug, kind, at, journey, page, variant=variant, duration_ms=duration_ms)

    yield event("started", began)
    minutes = max(2.0, rng.gauss(MINUTES[changed], 2.5))
    ends = began + timedelta(minutes=minutes)
    completes = rng.random() < COMPLETION[changed]
    stop_at = len(pages) if completes else rng.randrange(1, len(pages))
    for index, page in enumerate(pages[:stop_at]):
        yield event("page", began + (ends - began) * (index / len(pages)), page=page)
    duration = round((ends - began).total_seconds() * 1000)
    if completes:
        yield event("completed", ends, duration_ms=duration)
        if rng.random() < RATED:
            value = rng.choices(range(1, 6), RATING_WEIGHTS[changed])[0]
            # A satisfaction answer is about the journey; its variant is its started event's.
            yield ServiceEvent(slug, "rated", ends + timedelta(seconds=20), journey, value=value)
    elif rng.random() < 0.5:
        yield event("left", ends, page=pages[stop_at - 1], duration_ms=duration)


def seed_experiment_journeys(
    session: Session, definition: ServiceDefinition, *, seed: int, now: datetime
) -> int:
    """Write the demo's journeys of definition's first experiment, unless the database has
    events of it already; how many events were written."""
    if not definition.experiments:
        return 0
    experiment = definition.experiments[0]
    labels = [label(experiment, variant) for variant in experiment.variants]
    there = session.scalar(
        select(ServiceEventRow.id).where(ServiceEventRow.variant.in_(labels)).limit(1)
    )
    if there is not None:
        return 0
    events = list(experiment_journeys(definition, experiment, seed=seed, now=now))
    record(session, *events)
    return len(events)
