"""The performance benchmark runs end to end. It measures; the targets are judged in bench/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from consent_e2e_support import require_postgres
from e2e_support import run_cli

pytestmark = pytest.mark.e2e

EVENTS = 5000


def _bench(*extra: str) -> dict[str, Any]:
    done = run_cli(
        "bench", "performance", "--events", str(EVENTS), "--requests", "20",
        "--stories", "200", "--json", *extra, timeout=170, process=True,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _check(figures: dict[str, Any], database: str) -> None:
    assert figures["events"] == EVENTS and figures["database"] == database
    assert figures["service_months"] == 12  # one service, every month of the year
    assert figures["kpi_seconds"] > 0 and figures["current_month_seconds"] >= 0
    assert figures["kpi_read_ms"] > 0
    assert 0 < figures["dashboard_p50_ms"] <= figures["dashboard_p95_ms"]
    assert len(figures["load_average"]) == 2
    assert figures["stories"] == 200
    assert 0 < figures["stories_page_p50_ms"] <= figures["stories_page_p95_ms"]


def test_the_performance_benchmark_reports_every_figure_on_sqlite() -> None:
    _check(_bench(), "sqlite")


@pytest.mark.postgres
def test_the_performance_benchmark_reports_every_figure_on_postgresql() -> None:
    _check(_bench("--database-url", require_postgres()), "postgresql")
