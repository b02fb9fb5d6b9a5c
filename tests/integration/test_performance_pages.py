"""The performance dashboards and datasets of a service node, through the real app on SQLite
and PostgreSQL: a year of synthetic journeys' events, their counts computed by month, the
pages and datasets published by the suppression rule (docs/performance.md)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from frictionless import Resource, Schema, validate

from digitalstate.demo.journeys import ServicePages, synthetic_journeys, write_events
from digitalstate.performance.figures import year_start
from digitalstate.performance.service import refresh_months
from digitalstate.performance.suppression import RULE
from integration.journey_support import JourneyNode, journey_node

BUS = ServicePages(
    "apply-for-a-bus-pass",
    ("name", "date-of-birth", "address", "contact", "email", "proof", "notes"),
)
VIEW = ServicePages("book-a-viewing", ("times",))


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[JourneyNode]:
    with journey_node(tmp_path, migrated_database_url) as running:
        yield running


def seed(node: JourneyNode, journeys: int, services: tuple[ServicePages, ...] = (BUS,)) -> None:
    """journeys synthetic journeys over the last 12 months, and their counts computed."""
    now = datetime.now(UTC)
    start = datetime.combine(year_start(now.date()), datetime.min.time(), UTC)
    engine = node.node.runtime.engine
    rows = synthetic_journeys(services, seed=3, journeys=journeys, start=start, end=now)
    write_events(engine, rows)
    refresh_months(engine, now)


def test_the_service_dashboard_shows_each_kpi_by_month_with_charts_and_tables(
    node: JourneyNode,
) -> None:
    seed(node, 6000)
    page = node.get("/performance/apply-for-a-bus-pass")
    assert page.status_code == 200
    text = page.text
    for heading in (
        "Applications completed",
        "Completion rate",
        "User satisfaction",
        "Time to complete",
        "Where people give up",
    ):
        assert f">{heading}</h2>" in text
    assert text.count('role="img"') == 4 and text.count("<table") == 5
    assert "Counts under 10 are not shown" in text
    assert "What is your date of birth?" in text  # a page where people give up, by its title
    assert "not configured" in text  # no costs in this node's settings
    assert "<script" not in text.split("<footer")[0].split("</header>")[1]


def test_a_node_with_no_events_says_there_is_no_data(node: JourneyNode) -> None:
    page = node.get("/performance/apply-for-a-bus-pass")
    assert page.status_code == 200
    assert "No data: nothing was recorded in the last 12 months." in page.text
    assert "The figures have not been computed yet." in page.text
    assert node.get("/performance").status_code == 200
    assert node.get("/performance/no-such-service").status_code == 404


def test_small_numbers_are_held_back_on_the_pages_and_in_the_datasets(node: JourneyNode) -> None:
    seed(node, 40, (BUS, VIEW))  # a few journeys a month: every count is under 10
    page = node.get("/performance")
    assert page.status_code == 200 and "held back" in page.text
    rows = list(csv.DictReader(io.StringIO(node.get("/datasets/performance/kpis.csv").text)))
    assert rows and {row["completed"] for row in rows} == {"c"}
    assert {row["completion_rate"] for row in rows} <= {"c", ""}


def test_the_dataset_validates_against_its_table_schemas(node: JourneyNode) -> None:
    seed(node, 6000, (BUS, VIEW))
    listed = node.get("/datasets.json").json()
    assert "performance" in [d["name"] for d in listed["datasets"]]
    package = node.get("/datasets/performance/datapackage.json").json()
    assert [r["name"] for r in package["resources"]] == ["kpis", "satisfaction"]
    assert RULE in package["description"]
    for resource in package["resources"]:
        schema = Schema.from_descriptor(resource["schema"])
        body = node.get(f"/datasets/performance/{resource['name']}.csv")
        assert body.headers["content-type"].startswith("text/csv")
        report = validate(Resource(data=body.content, format="csv", schema=schema))
        assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
        rows = node.get(f"/datasets/performance/{resource['name']}.json").json()
        assert len(rows) == 24  # 12 months of two services
        inline = Resource(
            data=[list(rows[0])] + [[row[k] for k in row] for row in rows], schema=schema
        )
        assert validate(inline).valid
    kpis = node.get("/datasets/performance/kpis.json").json()
    shown = [row for row in kpis if row["completed"] is not None]
    assert shown and all(row["completed"] % 5 == 0 and row["completed"] >= 10 for row in shown)


def test_an_unknown_table_is_a_problem(node: JourneyNode) -> None:
    answer = node.get("/datasets/performance/people.csv")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "kpis.csv" in json.loads(answer.text)["detail"]


def test_a_settled_month_is_not_computed_again(node: JourneyNode) -> None:
    now = datetime.now(UTC)
    engine = node.node.runtime.engine
    assert refresh_months(engine, now) == 0  # no service has events yet
    seed(node, 500)
    later = now + timedelta(minutes=5)
    assert refresh_months(engine, later) == 1  # only this month: the others are settled
