"""`digitalstate bench performance`: the KPIs of a year of 10,000,000 service events, and a
service's dashboard over them (docs/benchmarks.md, ADR 0025).

The events are the demo's synthetic journeys (demo/journeys.py) through one of its services,
written into a fresh node database (SQLite in a temporary directory, or a fresh PostgreSQL
schema). Then:

- kpi_seconds: every KPI of every service for the 12 months, computed from the events and
  kept by month (performance/service.py's refresh_months, as a node's first pass does);
- current_month_seconds: the pass a node runs every [performance] refresh_seconds after it
  (the months already settled are not computed again);
- kpi_read_ms: reading the year's KPIs of every service as the pages and datasets do;
- dashboard_p95_ms (and p50): GET /performance/<slug> from a real node process
  (`digitalstate node serve`) over loopback HTTP, one request at a time.

stories_page_p95_ms is measured by the feedback benchmark (issue 12's stories).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from digitalstate.benchmarks.ports import free_port
from digitalstate.benchmarks.schemas import fresh_database
from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.demo.journeys import ServicePages, synthetic_journeys, write_events
from digitalstate.keys import KeyPair
from digitalstate.node.setup import init_node
from digitalstate.performance.figures import Costs, year_start
from digitalstate.performance.reports import read_year
from digitalstate.performance.service import refresh_months
from digitalstate.services.definitions import read_definition
from digitalstate.storage.engine import make_engine
from digitalstate.storage.migrate import upgrade

Progress = Callable[[str, int, int], None]
SERVICE_FILE = DEMO_SERVICES / "ask-for-a-care-assessment.toml"
SAMPLE_JOURNEYS = 2000  # to learn how many events a journey makes, so as to fill the year
COSTS = Costs("GBP", 0.45, 6.5)


@dataclass(frozen=True)
class Options:
    """What to measure with."""

    events: int = 10_000_000
    requests: int = 200
    seed: int = 1
    database_url: str | None = None


def run_performance_bench(options: Options, on_progress: Progress | None = None) -> dict[str, Any]:
    """Write the events, time the KPIs and the dashboard; the figures."""
    report = on_progress or (lambda _stage, _done, _total: None)
    definition = read_definition(SERVICE_FILE)
    service = ServicePages(definition.slug, tuple(page.id for page in definition.pages))
    now = datetime.now(UTC)
    start = datetime.combine(year_start(now.date()), datetime.min.time(), UTC)
    with fresh_database(options.database_url, "bench-performance") as url:
        engine = make_engine(url)
        upgrade(engine)
        sample = synthetic_journeys(
            [service], seed=options.seed, journeys=SAMPLE_JOURNEYS, start=start, end=now
        )
        per_journey = sum(1 for _ in sample) / SAMPLE_JOURNEYS
        journeys = int(options.events / per_journey * 1.01) + 1  # the year, a little over
        rows = synthetic_journeys(
            [service], seed=options.seed, journeys=journeys, start=start, end=now
        )
        written = 0
        while chunk := list(islice(rows, 500_000)):
            written += write_events(engine, iter(chunk[: options.events - written]))
            report("events", written, options.events)
            if written >= options.events:
                break
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        months = refresh_months(engine, now)
        kpi_seconds = time.perf_counter() - began
        report("kpis", 1, 1)
        began = time.perf_counter()
        refresh_months(engine, now)
        current_month_seconds = time.perf_counter() - began
        reads = []
        for _ in range(20):
            began = time.perf_counter()
            with Session(engine) as session:
                read_year(session, [service.slug], now.date(), COSTS)
            reads.append(time.perf_counter() - began)
        engine.dispose()
        with tempfile.TemporaryDirectory(prefix="digitalstate-bench-node-") as tmp:
            pages = _dashboard_times(Path(tmp), url, service.slug, options.requests, report)
        load_after = os.getloadavg()[0]
    return {
        "events": written,
        "service_months": months,
        "kpi_seconds": round(kpi_seconds, 2),
        "current_month_seconds": round(current_month_seconds, 2),
        "kpi_read_ms": round(1000 * statistics.median(reads), 2),
        "dashboard_p50_ms": round(1000 * statistics.median(pages), 1),
        "dashboard_p95_ms": round(1000 * statistics.quantiles(pages, n=20)[-1], 1),
        "database": "postgresql" if options.database_url else "sqlite",
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "cores": os.cpu_count(),
    }


def _dashboard_times(
    directory: Path, url: str, slug: str, requests: int, report: Progress
) -> list[float]:
    """Seconds of each GET of slug's dashboard from a node process on url's database."""
    port = free_port()
    (directory / SERVICE_FILE.name).write_text(SERVICE_FILE.read_text())
    init_node(
        directory,
        member_id="bench-performance",
        name="Performance bench",
        roles=["service"],
        host="127.0.0.1",
        port=port,
        base_url=f"http://127.0.0.1:{port}",
        anchor_url=f"http://127.0.0.1:{free_port()}",  # none: the pages need no document
        anchor_public_key=KeyPair.generate().public.b64,
        database_url=url,
        extra={
            "services": {"files": [SERVICE_FILE.name]},
            "performance": {
                "digital_cost": COSTS.digital,
                "assisted_cost": COSTS.assisted,
                "refresh_seconds": 86_400,
            },
        },
    )
    command = [sys.executable, "-m", "digitalstate", "node", "serve"]
    command += ["--config", str(directory / "node.toml")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            _wait_for(client, process)
            path = f"/performance/{slug}"
            for _ in range(10):  # warm: templates compiled, connections open
                client.get(path).raise_for_status()
            times = []
            for done in range(requests):
                began = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - began)
                report("dashboard", done + 1, requests)
            return times
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the node exited while starting: {errors[-500:]}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the node did not answer /healthz within 60 s")
