"""The log benchmark runs end to end. It measures; the targets are judged in bench/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from consent_e2e_support import require_postgres
from e2e_support import run_cli

pytestmark = pytest.mark.e2e

ENTRIES = 3000


def _bench(*extra: str) -> dict[str, Any]:
    done = run_cli(
        "bench", "log", "--entries", str(ENTRIES), "--batch-size", "250", "--append-batch",
        "100", "--people", "50", "--json", *extra, timeout=110, process=True,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _check(figures: dict[str, Any], database: str) -> None:
    assert figures["entries"] == ENTRIES
    assert figures["database"] == database
    assert figures["batch_size"] == 250 and figures["append_batch"] == 100
    assert figures["people"] == 50
    for name in ("appends_per_s", "appended_per_s", "inclusion_proof_ms", "seconds"):
        assert figures[name] > 0, name
    for name in ("checkpoint_delay_s", "append_to_checkpoint_s", "commit_p99_s"):
        assert figures[name] >= 0, name
    assert figures["inclusion_proof_p50_ms"] <= figures["inclusion_proof_ms"]
    assert figures["checkpoint_delay_p50_s"] <= figures["checkpoint_delay_s"]
    assert figures["append_to_checkpoint_p50_s"] <= figures["append_to_checkpoint_s"]
    # Full batches of 250, except where the sequencer caught up with the appender.
    assert figures["batches"] >= ENTRIES // 250
    assert figures["proofs_verified"] == 2000
    assert figures["database_bytes"] > 0
    assert len(figures["load_average"]) == 2


def test_the_log_benchmark_reports_every_figure_on_sqlite() -> None:
    figures = _bench()
    _check(figures, "sqlite")
    assert figures["written_bytes_per_entry"] is None or figures["written_bytes_per_entry"] > 0


@pytest.mark.postgres
def test_the_log_benchmark_reports_every_figure_with_the_log_on_postgresql() -> None:
    figures = _bench("--database-url", require_postgres())
    _check(figures, "postgresql")
    assert figures["written_bytes_per_entry"] is None
