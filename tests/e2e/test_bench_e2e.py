"""The exchange benchmark runs end to end. It measures; the targets are judged in bench/."""

from __future__ import annotations

import json

import pytest
from e2e_support import run_cli

pytestmark = pytest.mark.e2e


def test_the_exchange_benchmark_reports_both_rates_from_real_processes_without_errors() -> None:
    done = run_cli(
        "bench",
        "exchange",
        "--seconds",
        "1",
        "--connections",
        "4",
        "--json",
        timeout=90,
        process=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("signed_rps", "bare_rps", "overhead_ratio", "p50_ms", "p99_ms"):
        assert figures[name] > 0, name
    assert figures["errors"] == 0
    assert figures["signed_requests"] > 0 and figures["bare_requests"] > 0
    assert figures["overhead_ratio"] == pytest.approx(
        figures["bare_rps"] / figures["signed_rps"], rel=0.01
    )
