"""The consent benchmark runs end to end. It measures; the targets are judged in bench/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from consent_e2e_support import require_postgres
from e2e_support import run_cli

pytestmark = pytest.mark.e2e

FIGURES = (
    "consented_reads_rps",
    "bare_reads_rps",
    "overhead_ratio",
    "consent_check_p99_ms",
    "fanout_p99_s",
    "p50_ms",
    "p99_ms",
)


def _bench(*extra: str) -> dict[str, Any]:
    done = run_cli(
        "bench", "consent", "--people", "200", "--seconds", "1", "--connections", "4",
        "--changes", "5", "--subscribers", "2", "--json", *extra, timeout=110, process=True,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _check(figures: dict[str, Any], database: str) -> None:
    assert figures["people"] == 200
    assert figures["consents"] == 200
    assert figures["database"] == database
    for name in FIGURES:
        assert figures[name] > 0, name
    assert figures["fill_seconds"] >= 0
    assert figures["errors"] == 0
    assert figures["consented_reads"] > 0 and figures["bare_reads"] > 0
    assert figures["consent_checks_timed"] >= figures["consented_reads"]
    assert figures["fanout_changes"] == 5 and figures["fanout_subscribers"] == 2
    assert figures["overhead_ratio"] == pytest.approx(
        figures["bare_reads_rps"] / figures["consented_reads_rps"], rel=0.01
    )


def test_the_consent_benchmark_reports_every_figure_from_real_processes_on_sqlite() -> None:
    _check(_bench(), "sqlite")


@pytest.mark.postgres
def test_the_consent_benchmark_reports_every_figure_with_the_register_on_postgresql() -> None:
    figures = _bench("--database-url", require_postgres(), "--workers", "2")
    _check(figures, "postgresql")
    # The reads again with the register on two workers, side by side with one.
    assert figures["workers"] == 2
    assert figures["consented_reads_rps_1_worker"] == figures["consented_reads_rps"]
    assert figures["bare_reads_rps_1_worker"] == figures["bare_reads_rps"]
    assert figures["consented_reads_rps_2_workers"] > 0
    assert figures["bare_reads_rps_2_workers"] > 0
    assert figures["errors_2_workers"] == 0


def test_the_consent_benchmark_refuses_several_workers_on_sqlite_in_one_line() -> None:
    done = run_cli("bench", "consent", "--people", "10", "--workers", "2", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "digitalstate: error: --workers: 2 workers need PostgreSQL (SQLite has one writer); "
        "fix: give --database-url postgresql://..., or leave --workers out"
    )
