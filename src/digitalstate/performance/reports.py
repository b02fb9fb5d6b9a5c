"""What the dashboards and the datasets both read: the year's counts of the node's services,
published by the rule (performance/publish.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.figures import (
    Costs,
    fill_months,
    months_of,
    sum_counts,
    year_start,
)
from digitalstate.performance.publish import ServiceYear, publish_service
from digitalstate.performance.service import YEAR, last_computed, stored_gave_up, stored_months
from digitalstate.storage.retrying import run_step

Texted = Callable[[str], str]  # a text in a language


@dataclass(frozen=True)
class MeasuredService:
    """A service the node measures: its slug, its title and its pages' titles by language."""

    slug: str
    title: Texted
    pages: Mapping[str, Texted]


@dataclass(frozen=True)
class Year:
    """A year of the node's services as published, and when its counts were last computed."""

    months: list[date]
    services: list[ServiceYear]
    node: ServiceYear  # every service together (slug "")
    computed_at: datetime | None


def costs_of(node: NodeRuntime) -> Costs | None:
    """The node's configured costs per transaction, or None."""
    section = node.settings.performance
    if section.digital_cost is None or section.assisted_cost is None:
        return None
    return Costs(section.currency, section.digital_cost, section.assisted_cost)


def read_year(session: Session, slugs: Sequence[str], today: date, costs: Costs | None) -> Year:
    """The year of slugs up to today's month, as published."""
    months = months_of(year_start(today, YEAR), YEAR)
    found = stored_months(session, months)
    counts = {slug: fill_months(slug, months, found) for slug in slugs}
    services = [
        publish_service(slug, counts[slug], stored_gave_up(session, slug, months), costs)
        for slug in slugs
    ]
    together = [
        sum_counts("", m, [counts[slug][i] for slug in slugs]) for i, m in enumerate(months)
    ]
    node = publish_service("", together, {}, costs)
    return Year(months, services, node, last_computed(session))


class Reports:
    """The node's year, read for a request."""

    def __init__(
        self,
        node: NodeRuntime,
        services: Sequence[MeasuredService],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.node = node
        self.services = {service.slug: service for service in services}
        self.clock = clock

    async def year(self, slugs: Sequence[str] | None = None) -> Year:
        """The year of slugs (every service's by default), read in one transaction."""
        chosen = list(self.services) if slugs is None else list(slugs)
        today, costs = self.clock().date(), costs_of(self.node)
        return await run_step(self.node.sessions, lambda s: read_year(s, chosen, today, costs))
