"""How performance is installed on a service node (docs/performance.md).

The services feature installs it with the services it runs (their titles and pages' titles,
which only it reads): the dashboards under /performance, the dataset `performance` (served
by the publishing feature at /datasets/performance), and the background work that computes
each service's counts by month from its events, in one worker of the node at a time, every
[performance] refresh_seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.datasets import (
    KPIS,
    NAME,
    SATISFACTION,
    kpi_rows,
    performance_spec,
    satisfaction_rows,
)
from digitalstate.performance.pages import make_dashboards_router
from digitalstate.performance.reports import MeasuredService, costs_of, read_year
from digitalstate.performance.service import refresh_months
from digitalstate.publishing.domain import Row
from digitalstate.publishing.service import PublishedDataset
from digitalstate.routing import install_routes
from digitalstate.storage.threads import run_blocking

log = logging.getLogger("digitalstate.performance")

FIGURES_ROLE = "performance-figures"
FIGURES_EVENT = "performance-figures"


def install_performance(
    app: FastAPI,
    node: NodeRuntime,
    templates: Jinja2Templates,
    services: Sequence[MeasuredService],
) -> None:
    """Add the dashboards, the datasets and the computing of the services' figures."""
    install_routes(app, make_dashboards_router(node, templates, services))
    node.datasets[NAME] = performance_dataset(node, services)

    async def refresh() -> None:
        computed = await run_blocking(refresh_months, node.engine, datetime.now(UTC))
        log.info("performance figures: %d service months computed", computed)

    async def work() -> None:
        await node.run_when_woken(
            FIGURES_EVENT,
            refresh,
            lambda: node.settings.performance.refresh_seconds,
            logger=log,
            failed="computing the performance figures failed; trying again later",
        )

    node.exclusive(FIGURES_ROLE, work, wakes=FIGURES_EVENT)


def performance_dataset(node: NodeRuntime, services: Sequence[MeasuredService]) -> PublishedDataset:
    """The dataset `performance`: the year of every service the node measures, as published."""
    slugs = [service.slug for service in services]
    currency = node.settings.performance.currency

    def read(session: Session) -> Mapping[str, Iterable[Row]]:
        year = read_year(session, slugs, datetime.now(UTC).date(), costs_of(node))
        return {
            KPIS: kpi_rows(year.services, currency),
            SATISFACTION: satisfaction_rows(year.services),
        }

    return PublishedDataset(performance_spec(node.settings.node.name), read)
