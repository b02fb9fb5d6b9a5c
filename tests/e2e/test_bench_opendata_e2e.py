"""The open data benchmark runs end to end, small. It measures; the targets are judged in bench/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_support import run_cli

pytestmark = pytest.mark.e2e


def test_the_opendata_benchmark_reports_every_figure_beside_datasette() -> None:
    done = run_cli(
        "bench", "opendata", "--rows", "2000", "--datasets", "12", "--members", "2",
        "--requests", "20", "--json", timeout=170, process=True,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["rows"], figures["datasets"], figures["members"]) == (2000, 12, 2)
    assert figures["datasette_version"] == "0.65.5"
    for ours, theirs in (
        ("datastore_search_p50_ms", "datasette_p50_ms"),
        ("first_page_p50_ms", "datasette_first_page_p50_ms"),
    ):
        assert figures[ours] > 0 and figures[theirs] > 0
    assert figures["ratio_vs_datasette"] == pytest.approx(
        figures["datastore_search_p50_ms"] / figures["datasette_p50_ms"], abs=0.01
    )
    assert 0 < figures["package_search_p50_ms"] <= figures["package_search_p95_ms"]
    assert figures["harvest_seconds"] > 0
    assert len(figures["load_average"]) == 2
