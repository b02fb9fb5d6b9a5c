"""The performance dashboards: public pages of a node's services' KPIs, by month.

/performance shows every service the node runs with its year's figures; /performance/<slug>
one service's months: applications completed by channel, completion rate, user satisfaction,
time to complete and the pages where people give up most (the figures as open data: the
dataset `performance`, docs/opendata.md).
Each chart is SVG drawn on the server (no JavaScript), followed by its data table and a
sentence that says what it shows. The pages read the counts kept by month
(performance/service.py), never the events, and publish them by the suppression rule, which
each page states.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.charts import Chart, bar_chart
from digitalstate.performance.publish import ServiceYear
from digitalstate.performance.reports import MeasuredService, Reports, costs_of
from digitalstate.performance.suppression import RULE
from digitalstate.routing import Router
from digitalstate.web.error_pages import not_found_page
from digitalstate.web.i18n import _, current_language, month_name

PERFORMANCE_PATH = "/performance"


def month_label(month: date, lang: str) -> str:
    """A month as a chart's axis says it: its name's first three letters and the year's end."""
    return f"{month_name(month.month, lang)[:3]} {month.year % 100:02d}"


def month_names(months: Sequence[date], lang: str) -> list[str]:
    """Each month as a table says it: "March 2026"."""
    return [f"{month_name(m.month, lang)} {m.year}" for m in months]


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def service_charts(year: ServiceYear, labels: list[str]) -> dict[str, Chart]:
    """A service page's charts: completed by channel, completion rate, satisfaction, time."""
    months = year.months
    completed = [[m.completed_digital for m in months], [m.completed_assisted for m in months]]
    completion = [[m.kpis.completion_rate.value for m in months]]
    satisfaction = [[m.kpis.satisfaction.value for m in months]]
    time = [
        [_minutes(m.kpis.median_seconds.value) for m in months],
        [_minutes(m.kpis.p90_seconds.value) for m in months],
    ]
    return {
        "completed": bar_chart(labels, completed),
        "completion": bar_chart(labels, completion, top=100, unit="%"),
        "satisfaction": bar_chart(labels, satisfaction, top=100, unit="%"),
        "time": bar_chart(labels, time),
    }


class Dashboards:
    """The route handlers of the dashboards."""

    def __init__(self, node: NodeRuntime, templates: Jinja2Templates, reports: Reports) -> None:
        self.node = node
        self.templates = templates
        self.reports = reports

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        """A page of performance/ with what every one shows."""
        base = {"node": self.node.settings.node, "rule": _(RULE), "lang": current_language()}
        return self.templates.TemplateResponse(
            request, f"performance/{template}.html", base | context, status_code=status
        )

    async def node_page(self, request: Request) -> Response:
        """Every service's year, and the node's applications completed by month."""
        year = await self.reports.year()
        lang = current_language()
        labels = [month_label(m, lang) for m in year.months]
        node = year.node.months
        chart = bar_chart(
            labels, [[m.completed_digital for m in node], [m.completed_assisted for m in node]]
        )
        services = self.reports.services
        return self.render(
            request,
            "node",
            services=[(services[y.service], y) for y in year.services],
            year=year,
            names=month_names(year.months, lang),
            chart=chart,
            costs=costs_of(self.node),
        )

    async def service_page(self, request: Request, slug: str) -> Response:
        """A service's months: its KPIs, charts, tables and where people give up."""
        service = self.reports.services.get(slug)
        if service is None:
            return not_found_page(self.templates, request)
        year = await self.reports.year([slug])
        published = year.services[0]
        lang = current_language()
        labels = [month_label(m, lang) for m in year.months]
        return self.render(
            request,
            "service",
            service=service,
            year=published,
            names=month_names(year.months, lang),
            computed_at=year.computed_at,
            costs=costs_of(self.node),
            charts=service_charts(published, labels),
        )


def make_dashboards_router(
    node: NodeRuntime, templates: Jinja2Templates, services: Sequence[MeasuredService]
) -> APIRouter:
    """GET /performance and /performance/<slug>."""
    pages = Dashboards(node, templates, Reports(node, services))
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    router.add_api_route(PERFORMANCE_PATH, pages.node_page, methods=["GET"])
    router.add_api_route(PERFORMANCE_PATH + "/{slug}", pages.service_page, methods=["GET"])
    return router
