"""Experiments for tests: the bus pass service with an experiment on its name page, a node
running it (the real app, its staff and experiment pages), and people in either variant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from digitalstate.performance.domain import ServiceEvent
from digitalstate.performance.models import ServiceEventRow
from digitalstate.performance.service import record
from digitalstate.services.variants import bucket
from support.experiments import half_and_half
from support.federation import federation_document, member_of
from support.nodes import node_settings, running_node

from .casework_support import BUS_SLUG, CaseworkNode
from .journey_support import (
    BUS_PASS,
    VIEWING,
    JourneyNode,
    Offer,
    journey_node,
    write_definitions,
)
from .services_support import add_sign_in_route

EXPERIMENT = "name-label"
PAGE = f"/staff/experiments/{BUS_SLUG}/{EXPERIMENT}"
CONTROL_LABEL = "Full name"
PLAIN_LABEL = "Your full name, as it is on your passport"
WITH_EXPERIMENT = BUS_PASS + half_and_half(
    EXPERIMENT,
    "name",
    f"""
[[experiments.variants.questions]]
id = "full-name"
label = "{PLAIN_LABEL}"
""",
)
FILES = {"bus-pass.toml": WITH_EXPERIMENT, "viewing.toml": VIEWING}


def person_in(variant: str, start: int = 0) -> str:
    """A pseudonym whose holder sees variant ("as-now": the first 50 places, "plain" the rest)."""
    for n in range(start, start + 1000):
        sub = f"person-{n}-at-pensions"
        if (bucket(EXPERIMENT, sub) < 50) == (variant == "as-now"):
            return sub
    raise AssertionError("no such person in 1000")


@contextmanager
def experiment_node(directory: Path, database_url: str) -> Iterator[CaseworkNode]:
    """The pensions node running the bus pass (with its experiment) and the viewing service,
    in-process."""
    with journey_node(directory, database_url, FILES) as running:
        yield CaseworkNode(running)


@contextmanager
def another_node(directory: Path, database_url: str, member: str) -> Iterator[CaseworkNode]:
    """Another node running the bus pass with the same experiment (without the viewing
    service, whose slot source the first node's test holds), in-process."""
    files = write_definitions(directory / "definitions", {"bus-pass.toml": WITH_EXPERIMENT})
    settings = node_settings(
        directory / member,
        member,
        database_url,
        name=member,
        roles=["service"],
        extra={"services": {"files": files}},
    )
    document = federation_document((member_of(settings),), federation="another federation")
    with running_node(settings, document, background=False, prepare=add_sign_in_route) as node:
        yield CaseworkNode(JourneyNode(node, Offer()))


def events_of(node: CaseworkNode, kind: str | None = None) -> list[ServiceEventRow]:
    """The bus pass's events (of kind), oldest first."""
    with node.runtime.sessions.begin() as session:
        query = select(ServiceEventRow).where(ServiceEventRow.service == BUS_SLUG)
        if kind is not None:
            query = query.where(ServiceEventRow.kind == kind)
        rows = list(session.scalars(query.order_by(ServiceEventRow.id)))
        session.expunge_all()
        return rows


def add_journeys(
    node: CaseworkNode,
    variant: str,
    *,
    started: int,
    completed: int,
    ratings: dict[int, int],
    seconds: int,
    at: datetime,
) -> None:
    """Journeys of the bus pass in variant, recorded as its pages record them: started ones,
    the first completed ones seconds (and a second more each) after, and ratings of those."""
    label = f"{EXPERIMENT}:{variant}"
    values = [value for value, count in sorted(ratings.items()) for _ in range(count)]
    events: list[ServiceEvent] = []
    for n in range(started):
        journey = f"{variant}-{n}"
        events.append(ServiceEvent(BUS_SLUG, "started", at, journey, variant=label))
        if n < completed:
            done = at + timedelta(seconds=seconds + n)
            events.append(
                ServiceEvent(
                    BUS_SLUG,
                    "completed",
                    done,
                    journey,
                    variant=label,
                    duration_ms=1000 * (seconds + n),
                )
            )
        if n < len(values):
            events.append(ServiceEvent(BUS_SLUG, "rated", at, journey, value=values[n]))
    with node.runtime.sessions.begin() as session:
        record(session, *events)
