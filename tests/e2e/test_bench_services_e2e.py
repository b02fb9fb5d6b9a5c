"""The services benchmark runs end to end. It measures; the targets are judged in bench/."""

from __future__ import annotations

import json

import pytest
from e2e_support import run_cli

from digitalstate.benchmarks.services_journeys import SERVICES

# A bound, not a speed target: it starts the whole demo federation, eleven processes, which
# takes seconds on a quiet machine and minutes on a busy one.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

PEOPLE = 2


def test_the_services_benchmark_reports_every_figure_from_the_demo_federation() -> None:
    done = run_cli(
        "bench", "services", "--people", str(PEOPLE), "--ramp-seconds", "0", "--json",
        timeout=380, process=True,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["errors"] == 0, figures["error_reasons"]
    assert figures["journeys"] == PEOPLE * len(SERVICES) == figures["services"] * PEOPLE
    assert figures["journeys_by_service"] == {s.slug: PEOPLE for s in SERVICES}
    for name in ("render_p95_ms", "render_p50_ms", "journeys_per_s", "client_p95_ms"):
        assert figures[name] > 0, name
    assert figures["render_p50_ms"] <= figures["render_p95_ms"] <= figures["render_max_ms"]
    # Every response carried the server's time: sign-in, consent and redirects included.
    assert figures["responses_untimed"] == 0
    assert figures["responses_timed"] > figures["requests"] > figures["journeys"] * 5
    assert "POST /sign-in" in figures["slowest_pages"] or len(figures["slowest_pages"]) == 8
    # gzipped, a start page and all it loads is far smaller than the stylesheet alone.
    assert 5 < figures["max_page_kb"] < figures["page_kb_uncompressed"] / 3
    assert set(figures["page_kb"]) == {s.slug for s in SERVICES}
    assert figures["max_page_kb"] == max(figures["page_kb"].values())
    assert figures["people"] == PEOPLE and figures["seeded_people"] > PEOPLE
    assert len(figures["load_average"]) == 2
