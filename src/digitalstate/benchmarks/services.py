"""`digitalstate bench services`: simulated people completing the demo's declared services.

The demo federation itself (demo/federation.py, demo/run.py) in a temporary directory, on a
block of free loopback ports: the trust anchor, the mail catcher and the ten nodes, each its
own process with its own SQLite file, seeded with enough demo people. Then N simulated
people at once (services_browser.py: aiohttp, a cookie jar each), each signed in as a
different demo person, complete every declared service with pages (services_journeys.py):
sign-in at the charter, consent and pre-fill included. Before them, one more person walks
every service once, unmeasured, so that the figures are of warm processes.

What it reports:
- render_p95_ms: the server's own time per response (redirects included), read from the
  Server-Timing header every node sends (web/timing.py): the 95th percentile over every
  response of every journey.
- journeys_per_s: journeys completed over the wall seconds of the load.
- max_page_kb: the largest first load of a service's start page, its HTML and every asset
  it loads, as transferred to a browser that accepts gzip (page_weight.py).
- errors: journeys that did not end on their confirmation page (the first reasons kept).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from digitalstate.benchmarks.load import percentile
from digitalstate.benchmarks.page_weight import weigh
from digitalstate.benchmarks.ports import free_port_block
from digitalstate.benchmarks.services_browser import Browser, JourneyError, Timings
from digitalstate.benchmarks.services_journeys import (
    SERVICES,
    complete,
    start_url,
    takes_everyone,
)
from digitalstate.demo.federation import DEFAULT_SEED, DEMO_NODES, DemoLayout, prepare
from digitalstate.demo.run import children, start
from digitalstate.demo.supervisor import StartError, stop_all
from digitalstate.demo.synthetic import SyntheticPerson, make_person

Progress = Callable[[str, int, int], None]
ERRORS_KEPT = 5
# Eleven processes starting at once on a busy 2-core machine take minutes, not seconds.
START_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Options:
    """How many people at once, which demo seed they come from, and over how many seconds
    they arrive (person k of n starts at k/n of ramp_seconds: a crowd does not press sign-in
    in the same millisecond, and the charter checks only so many passwords at once)."""

    people: int = 50
    seed: int = DEFAULT_SEED
    ramp_seconds: float = 10.0


def choose_people(count: int, seed: int, today: date) -> list[SyntheticPerson]:
    """The first count demo people of seed whom every service takes, in number order."""
    chosen: list[SyntheticPerson] = []
    number = 0
    while len(chosen) < count:
        who = make_person(seed, number)
        if takes_everyone(who, today):
            chosen.append(who)
        number += 1
    return chosen


def run_services_bench(options: Options, on_progress: Progress | None = None) -> dict[str, Any]:
    """Start the demo federation, weigh the start pages, run the people; the figures."""
    report = on_progress or (lambda _stage, _done, _total: None)
    today = datetime.now(UTC).date()
    warm, *people = choose_people(options.people + 1, options.seed, today)
    seeded = max(who.number for who in people) + 1
    with tempfile.TemporaryDirectory(prefix="digitalstate-bench-") as tmp:
        probe = DemoLayout(Path(tmp), 0)
        layout = DemoLayout(Path(tmp), free_port_block(len(probe.ports())))
        report("seed", 0, seeded)
        prepare(
            layout,
            datetime.now(UTC),
            people=seeded,
            seed=options.seed,
            progress=lambda done, total: report("seed", done, total),
        )
        first, nodes = children(layout)
        everyone = [*first, *nodes]
        try:
            # The nodes say their time per response (Server-Timing), which is off by default.
            env = {**os.environ, "DIGITALSTATE_WEB__SERVER_TIMING": "true"}
            start(first, nodes, threading.Event(), timeout=START_TIMEOUT_S, env=env)
            urls = {node.id: layout.url(node) for node in DEMO_NODES}
            figures = uvloop.run(_measure(urls, warm, people, today, options, report))
        except StartError as exc:
            raise RuntimeError(f"the demo did not start: {exc}") from exc
        finally:
            stop_all(everyone)
    return {**figures, "people": options.people, "seeded_people": seeded}


async def _measure(
    urls: dict[str, str],
    warm: SyntheticPerson,
    people: list[SyntheticPerson],
    today: date,
    options: Options,
    report: Progress,
) -> dict[str, Any]:
    weights = {s.slug: await weigh(start_url(urls, s)) for s in SERVICES}
    connector = aiohttp.TCPConnector(limit=0)
    try:
        warm_up = await _walk(connector, urls, [warm], today, 0, lambda _done: None)
        if warm_up.errors:
            raise RuntimeError(f"a person could not complete the services: {warm_up.reasons[0]}")
        total = len(people) * len(SERVICES)
        report("journeys", 0, total)
        load_before = os.getloadavg()
        run = await _walk(
            connector,
            urls,
            people,
            today,
            options.ramp_seconds,
            lambda done: report("journeys", done, total),
        )
        load_after = os.getloadavg()
    finally:
        await connector.close()
    server = sorted(run.timings.server_ms)
    if not server:
        raise RuntimeError("no response said its server time: is [web] server_timing on?")
    client = sorted(run.timings.client_ms)
    journeys = sorted(run.journey_s)
    heaviest = max(weights.values(), key=lambda w: w.total_bytes)
    return {
        "render_p95_ms": round(percentile(server, 0.95), 1),
        "render_p50_ms": round(percentile(server, 0.50), 1),
        "render_max_ms": round(server[-1], 1) if server else None,
        "journeys_per_s": round(len(journeys) / run.seconds, 2),
        "max_page_kb": heaviest.kb,
        "max_page": heaviest.url,
        "errors": run.errors,
        "error_reasons": run.reasons,
        "journeys": len(journeys),
        "journeys_by_service": run.by_service,
        "responses_timed": len(server),
        "responses_untimed": run.timings.untimed,
        "requests": len(client),
        "client_p50_ms": round(percentile(client, 0.50), 1),
        "client_p95_ms": round(percentile(client, 0.95), 1),
        "journey_p50_s": round(percentile(journeys, 0.50), 2),
        "journey_p95_s": round(percentile(journeys, 0.95), 2),
        "slowest_pages": slowest(run.timings.by_page),
        "page_kb": {slug: weight.kb for slug, weight in weights.items()},
        "page_kb_uncompressed": round(heaviest.uncompressed_bytes / 1000, 1),
        "seconds": round(run.seconds, 1),
        "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
        "services": len(SERVICES),
        "ramp_seconds": options.ramp_seconds,
    }


def slowest(by_page: dict[str, list[float]], count: int = 8) -> dict[str, dict[str, float]]:
    """The count kinds of page with the highest p95 server time: their p95, p50 and number."""
    figures = {}
    for kind, times in by_page.items():
        ordered = sorted(times)
        figures[kind] = {
            "p95_ms": round(percentile(ordered, 0.95), 1),
            "p50_ms": round(percentile(ordered, 0.50), 1),
            "count": len(ordered),
        }
    ranked = sorted(figures.items(), key=lambda item: item[1]["p95_ms"], reverse=True)
    return dict(ranked[:count])


@dataclass
class _Run:
    timings: Timings
    seconds: float
    journey_s: list[float]
    by_service: dict[str, int]
    errors: int
    reasons: list[str]


async def _walk(
    connector: aiohttp.BaseConnector,
    urls: dict[str, str],
    people: list[SyntheticPerson],
    today: date,
    ramp_seconds: float,
    on_journey: Callable[[int], None],
) -> _Run:
    """Every person at once, each through every service, person k starting at service k
    once k/len(people) of ramp_seconds have passed."""
    run = _Run(Timings(), 0.0, [], {s.slug: 0 for s in SERVICES}, 0, [])

    async def person(k: int, who: SyntheticPerson) -> None:
        await asyncio.sleep(ramp_seconds * k / len(people))
        browser = Browser(connector, run.timings)
        try:
            for step in range(len(SERVICES)):
                service = SERVICES[(k + step) % len(SERVICES)]
                began = time.perf_counter()
                try:
                    await complete(browser, urls, service, who, today)
                except (JourneyError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                    run.errors += 1
                    if len(run.reasons) < ERRORS_KEPT:
                        run.reasons.append(f"{service.slug} as {who.email}: {exc}"[:300])
                else:
                    run.journey_s.append(time.perf_counter() - began)
                    run.by_service[service.slug] += 1
                on_journey(len(run.journey_s) + run.errors)
        finally:
            await browser.close()

    began = time.perf_counter()
    await asyncio.gather(*(person(k, who) for k, who in enumerate(people)))
    run.seconds = time.perf_counter() - began
    return run
