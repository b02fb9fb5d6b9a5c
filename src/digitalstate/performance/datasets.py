"""The dataset a node publishes about its services, `performance` (docs/performance.md,
docs/opendata.md): KPIs and satisfaction by service and month, each a table of the dataset,
described for the publishing feature (pure).

Every count is as published (performance/suppression.py): held back ("c" in CSV, null in
JSON) or rounded; a figure with no data is empty (CSV) or null (JSON). The description says
so, and states the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from digitalstate.performance.figures import HELD_BACK, Figure
from digitalstate.performance.publish import RATING_NAMES, PublishedMonth, ServiceYear
from digitalstate.performance.suppression import RULE
from digitalstate.publishing.domain import DatasetSpec, Field, Missing, ResourceSpec

NAME = "performance"
HELD = Missing("c")  # a count or figure held back by the rule
NO_DATA = Missing("")
MISSING_VALUES = ("", HELD.marker)

COUNT = "integer"
SHARE = "number"
KEY = (
    Field("service", "string", "Service", "the service's slug", required=True),
    Field("month", "yearmonth", "Month", "the month (UTC)", required=True),
)
KPI_FIELDS = (
    *KEY,
    Field("started", COUNT, "Started", "journeys started in the month", minimum=0),
    Field("completed", COUNT, "Completed", "applications completed in the month", minimum=0),
    Field("completed_digital", COUNT, "Completed online", "of those, online", minimum=0),
    Field(
        "completed_assisted",
        COUNT,
        "Completed with staff",
        "of those, completed with staff (assisted digital)",
        minimum=0,
    ),
    Field(
        "completion_rate",
        SHARE,
        "Completion rate (%)",
        "% of the journeys started in the month completed",
        minimum=0,
        maximum=100,
    ),
    Field(
        "digital_take_up",
        SHARE,
        "Digital take-up (%)",
        "% of the month's completed applications online",
        minimum=0,
        maximum=100,
    ),
    Field(
        "user_satisfaction",
        SHARE,
        "User satisfaction (%)",
        "% of the month's ratings satisfied or very satisfied",
        minimum=0,
        maximum=100,
    ),
    Field(
        "cost_per_transaction",
        SHARE,
        "Cost per transaction",
        "what a completed application cost, in currency",
        minimum=0,
    ),
    Field("currency", "string", "Currency", "ISO 4217 code of cost_per_transaction"),
    Field("median_seconds", SHARE, "Median time", "median time to complete, in seconds", minimum=0),
    Field(
        "p90_seconds",
        SHARE,
        "90th percentile time",
        "90th percentile time to complete, in seconds",
        minimum=0,
    ),
)
SATISFACTION_FIELDS = (
    *KEY,
    *(
        Field(
            name,
            COUNT,
            name.replace("_", " ").capitalize(),
            f"ratings {name.replace('_', ' ')}",
            minimum=0,
        )
        for name in RATING_NAMES
    ),
    Field("rated", COUNT, "Ratings", "ratings in the month", minimum=0),
    Field(
        "user_satisfaction",
        SHARE,
        "User satisfaction (%)",
        "% satisfied or very satisfied",
        minimum=0,
        maximum=100,
    ),
)
KPIS = "kpis"
SATISFACTION = "satisfaction"
NOTE = (
    f"{RULE} 'c': held back by that rule; empty: no data (nothing happened in the month, or no "
    "cost configured)."
)


def performance_spec(node_name: str) -> DatasetSpec:
    """The dataset's description."""
    return DatasetSpec(
        name=NAME,
        title="Service performance by month",
        description=(
            f"The four KPIs of the UK service standard for each service {node_name} runs, by "
            "month for the last 12 months (cost per transaction, user satisfaction, completion "
            "rate, digital take-up), with the times to complete, and the answers to the "
            f"satisfaction question. {NOTE}"
        ),
        resources=(
            ResourceSpec(
                KPIS,
                "Service KPIs by month",
                f"One row per service and month. {NOTE}",
                KPI_FIELDS,
                primary_key=("service", "month"),
                missing_values=MISSING_VALUES,
            ),
            ResourceSpec(
                SATISFACTION,
                "User satisfaction by month",
                f"The satisfaction question's answers, one row per service and month. {NOTE}",
                SATISFACTION_FIELDS,
                primary_key=("service", "month"),
                missing_values=MISSING_VALUES,
            ),
        ),
        update_frequency="daily",
        keywords=("performance", "KPI", "user satisfaction", "completion rate", "digital take-up"),
        themes=("government", "public services"),
    )


def _figure(figure: Figure) -> float | Missing:
    if figure.value is not None:
        return figure.value
    return HELD if figure.reason == HELD_BACK else NO_DATA


def _count(count: int | None) -> int | Missing:
    return HELD if count is None else count


def kpi_rows(years: Sequence[ServiceYear], currency: str) -> list[list[Any]]:
    """The KPI table's rows."""
    return [
        [
            year.service,
            _month(m),
            _count(m.started),
            _count(m.completed),
            _count(m.completed_digital),
            _count(m.completed_assisted),
            _figure(m.kpis.completion_rate),
            _figure(m.kpis.digital_take_up),
            _figure(m.kpis.satisfaction),
            _figure(m.kpis.cost_per_transaction),
            currency if m.kpis.cost_per_transaction.shown else NO_DATA,
            _figure(m.kpis.median_seconds),
            _figure(m.kpis.p90_seconds),
        ]
        for year in years
        for m in year.months
    ]


def satisfaction_rows(years: Sequence[ServiceYear]) -> list[list[Any]]:
    """The satisfaction table's rows."""
    return [
        [
            year.service,
            _month(m),
            *(_count(c) for c in m.ratings),
            _count(m.rated),
            _figure(m.kpis.satisfaction),
        ]
        for year in years
        for m in year.months
    ]


def _month(month: PublishedMonth) -> str:
    return month.month.strftime("%Y-%m")
