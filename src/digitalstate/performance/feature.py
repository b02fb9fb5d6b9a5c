"""How performance is installed on a service node (docs/performance.md).

The services feature installs it with the services it runs (their titles and pages' titles,
which only it reads): the dashboards under /performance, the datasets under
/performance/data, and the background work that computes each service's counts by month
from its events, in one worker of the node at a time, every [performance] refresh_seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.api import make_datasets_router
from digitalstate.performance.pages import make_dashboards_router
from digitalstate.performance.reports import MeasuredService
from digitalstate.performance.service import refresh_months
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
    # The datasets first: /performance/data.json is not the dashboard of a service "data.json".
    app.include_router(make_datasets_router(node, services))
    app.include_router(make_dashboards_router(node, templates, services))

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
