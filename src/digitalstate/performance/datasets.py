"""The datasets a node publishes about its services: KPIs and satisfaction by service and
month, as CSV and JSON rows, each with its Frictionless table schema (pure).

Every count is as published (performance/suppression.py): held back ("c" in CSV, null in
JSON) or rounded; a figure with no data is empty (CSV) or null (JSON). The schemas say so, and
each dataset carries the rule.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from digitalstate.performance.figures import HELD_BACK, Figure
from digitalstate.performance.publish import RATING_NAMES, PublishedMonth, ServiceYear
from digitalstate.performance.suppression import RULE
from digitalstate.web.i18n import N_

HELD = "c"  # in CSV: a count or figure held back by the rule
MISSING_VALUES = ["", HELD]


@dataclass(frozen=True)
class Field:
    """A column of a dataset."""

    name: str
    type: str  # a Frictionless field type
    description: str
    minimum: float | None = None
    maximum: float | None = None


COUNT = "integer"
SHARE = "number"
KEY = [
    Field("service", "string", "the service's slug"),
    Field("month", "yearmonth", "the month (UTC)"),
]
KPI_FIELDS = [
    *KEY,
    Field("started", COUNT, "journeys started in the month", 0),
    Field("completed", COUNT, "applications completed in the month", 0),
    Field("completed_digital", COUNT, "of those, completed online", 0),
    Field("completed_assisted", COUNT, "of those, completed with staff (assisted digital)", 0),
    Field("completion_rate", SHARE, "% of the journeys started in the month completed", 0, 100),
    Field("digital_take_up", SHARE, "% of the month's completed applications online", 0, 100),
    Field("user_satisfaction", SHARE, "% of the month's ratings satisfied or very", 0, 100),
    Field("cost_per_transaction", SHARE, "what a completed application cost", 0),
    Field("currency", "string", "ISO 4217 code of cost_per_transaction"),
    Field("median_seconds", SHARE, "median time to complete, in seconds", 0),
    Field("p90_seconds", SHARE, "90th percentile time to complete, in seconds", 0),
]
SATISFACTION_FIELDS = [
    *KEY,
    *(Field(name, COUNT, f"ratings {name.replace('_', ' ')}", 0) for name in RATING_NAMES),
    Field("rated", COUNT, "ratings in the month", 0),
    Field("user_satisfaction", SHARE, "% satisfied or very satisfied", 0, 100),
]


@dataclass(frozen=True)
class Dataset:
    """A dataset: its name (the stable part of its addresses), title and columns."""

    name: str
    title: str
    fields: list[Field]


KPIS = Dataset("kpis", N_("Service KPIs by month"), KPI_FIELDS)
SATISFACTION = Dataset("satisfaction", N_("User satisfaction by month"), SATISFACTION_FIELDS)
DATASETS = (KPIS, SATISFACTION)


def table_schema(dataset: Dataset) -> dict[str, Any]:
    """dataset's Frictionless table schema."""
    fields = []
    for field in dataset.fields:
        entry: dict[str, Any] = {
            "name": field.name,
            "type": field.type,
            "description": field.description,
        }
        constraints = {
            key: value
            for key, value in (("minimum", field.minimum), ("maximum", field.maximum))
            if value is not None
        }
        if constraints:
            entry["constraints"] = constraints
        if field.name in ("service", "month"):
            entry["constraints"] = {"required": True}
        fields.append(entry)
    return {
        "fields": fields,
        "missingValues": MISSING_VALUES,
        "primaryKey": ["service", "month"],
        "description": f"{dataset.title}. {RULE} '{HELD}': held back by that rule; empty: no "
        "data (nothing happened in the month, or no cost configured).",
    }


def _figure(figure: Figure) -> float | str:
    if figure.value is not None:
        return figure.value
    return HELD if figure.reason == HELD_BACK else ""


def _count(count: int | None) -> int | str:
    return HELD if count is None else count


def kpi_rows(years: Sequence[ServiceYear], currency: str) -> list[list[Any]]:
    """The KPI dataset's rows (CSV values: HELD or "" for what is not shown)."""
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
            currency if m.kpis.cost_per_transaction.shown else "",
            _figure(m.kpis.median_seconds),
            _figure(m.kpis.p90_seconds),
        ]
        for year in years
        for m in year.months
    ]


def satisfaction_rows(years: Sequence[ServiceYear]) -> list[list[Any]]:
    """The satisfaction dataset's rows."""
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


def as_csv(dataset: Dataset, rows: Sequence[Sequence[Any]]) -> str:
    """rows as CSV, with a header of dataset's field names."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(field.name for field in dataset.fields)
    writer.writerows(rows)
    return out.getvalue()


def as_json(dataset: Dataset, rows: Sequence[Sequence[Any]], schema_url: str) -> dict[str, Any]:
    """rows as a JSON document: each row an object, what is not shown null, with the rule."""
    names = [field.name for field in dataset.fields]
    return {
        "name": dataset.name,
        "title": dataset.title,
        "schema": schema_url,
        "suppression": RULE,
        "rows": [
            {n: (None if v in MISSING_VALUES else v) for n, v in zip(names, row, strict=True)}
            for row in rows
        ],
    }
