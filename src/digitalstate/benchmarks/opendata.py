"""`digitalstate bench opendata`: the open data portal's harvest, package_search and
datastore_search, the last side by side with Datasette (issue 13, docs/benchmarks.md).

Real processes on loopback: a trust anchor, `members` member nodes each publishing its share of
`datasets` small synthetic datasets (benchmarks/opendata_member.py), the portal
(`digitalstate node serve`, the opendata role, SQLite) and Datasette 0.65.5
(`datasette serve`). Then:

- harvest_seconds: from the portal's start until every dataset is current at it, harvested by
  its own harvest worker from every member over the signed exchange (each package and file
  checked, validated by frictionless and stored);
- package_search_p95_ms (and p50): `package_search` over the harvested catalogue, one request at
  a time, with q, fq, facets, sort and paging (search_params below);
- datastore_search_p50_ms beside datasette_p50_ms: the same table of `rows` payments in the
  portal's store (written through Store.write, validated as a harvest does, and recorded as a
  version of one member's dataset: harvesting a million rows is not what harvest_seconds
  measures) and in a SQLite file Datasette serves with an index on the filtered column; the
  same query to each, in turn, in the same run: an equality filter returning 100 rows (with its
  total). first_page_p50_ms and datasette_first_page_p50_ms: the first 100 rows and the total.
  ratio_vs_datasette is ours ÷ Datasette's for the filter, first_page_ratio for the first page.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
from sqlalchemy import text

from digitalstate.benchmarks.opendata_member import AREAS, KINDS, TAGS, TOPICS, write_plan
from digitalstate.benchmarks.ports import free_port
from digitalstate.demo.supervisor import Child, python_command, stop_all, wait_until
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.service import add_node_member
from digitalstate.federation.setup import init_anchor
from digitalstate.keys import KeyPair
from digitalstate.node.setup import init_node
from digitalstate.opendata import service
from digitalstate.opendata.domain import Listed, read_package
from digitalstate.opendata.feature import STORE_FOLDER
from digitalstate.opendata.store import Store
from digitalstate.settings import NodeSettings, load_anchor_settings, load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade

Progress = Callable[[str, int, int], None]
HOST = "127.0.0.1"
PORTAL = "bench-portal"
TABLE = "payments"  # the dataset, its resource, and Datasette's table
FILTERED = "supplier_name"
PAGE = 100
# The payments: each supplier has exactly PAGE of them, spread through the table.
GENERATED = """
SELECT 'T' || lpad(i::VARCHAR, 8, '0') AS transaction_number,
       DATE '2026-01-01' + (i % 365)::INTEGER AS date,
       ['Rent', 'Repairs', 'Agency staff', 'Software', 'Fuel'][1 + i % 5] AS expense_type,
       ['Estates', 'Care', 'Highways', 'Schools'][1 + i % 4] AS service_area,
       'Supplier ' || lpad(((i * 7919) % $suppliers)::VARCHAR, 6, '0') AS supplier_name,
       round(((i * 7907) % 1000000) / 100.0, 2) AS amount
FROM range($rows) t(i)
"""
QUIET = {"server": {"log_level": "warning", "access_log": False}}


@dataclass(frozen=True)
class Options:
    """What to measure with."""

    rows: int = 1_000_000
    datasets: int = 10_000
    members: int = 4
    requests: int = 200


@dataclass(frozen=True)
class Federation:
    """The configs of the anchor, the members and the portal, under root."""

    root: Path
    anchor: Path
    members: list[Path]
    portal: Path


def run_opendata_bench(options: Options, on_progress: Progress | None = None) -> dict[str, Any]:
    """Set up the federation and the table, run the processes, time them; the figures."""
    report = on_progress or (lambda _stage, _done, _total: None)
    if options.rows < PAGE * 10:
        raise RuntimeError(f"--rows: at least {PAGE * 10} rows, so that a filter finds {PAGE}")
    with tempfile.TemporaryDirectory(prefix="digitalstate-bench-opendata-") as tmp:
        federation = _setup(Path(tmp), options)
        portal = load_node_settings(federation.portal)
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        database = _write_table(federation, portal, options.rows)
        table_seconds = time.perf_counter() - began
        report("table", 1, 1)
        anchor = Child(
            "anchor",
            python_command("federation", "serve", "--config", str(federation.anchor)),
            f"http://{HOST}:{load_anchor_settings(federation.anchor).anchor.port}",
            federation.root / "anchor.log",
        )
        members = [
            Child(
                config.parent.name,
                [sys.executable, "-m", "digitalstate.benchmarks.opendata_member", str(config)],
                load_node_settings(config).node.base_url,
                federation.root / f"{config.parent.name}.log",
            )
            for config in federation.members
        ]
        node = Child(
            PORTAL,
            python_command("node", "serve", "--config", str(federation.portal)),
            portal.node.base_url,
            federation.root / "portal.log",
        )
        datasette_port = free_port()
        datasette = Child(
            "datasette",
            [
                *(str(Path(sys.executable).parent / "datasette"), "serve", str(database)),
                *("--host", HOST, "--port", str(datasette_port)),
            ],
            f"http://{HOST}:{datasette_port}",
            federation.root / "datasette.log",
        )
        children = [anchor, *members, node, datasette]
        try:
            anchor.start()
            wait_until([anchor], "/healthz", time.monotonic() + 60)
            for member in members:
                member.start()
            wait_until(members, "/readyz", time.monotonic() + 120)
            _warm_members(members)
            harvest_seconds = _harvest(node, portal, options, report)
            searches = _package_searches(portal.node.base_url, options, report)
            datasette.start()
            wait_until([datasette], "/-/versions.json", time.monotonic() + 60)
            versions = httpx.get(f"{datasette.url}/-/versions.json", timeout=30).json()
            compared = _datastore_searches(portal.node.base_url, datasette.url, options, report)
        except Exception as exc:
            tails = "; ".join(f"{c.name}: {c.log_tail(3)}" for c in children if c.process)
            raise RuntimeError(f"{exc} ({tails[-1500:]})") from exc
        finally:
            stop_all(children)
        load_after = os.getloadavg()[0]
    ours, theirs = compared["filter"]
    our_page, their_page = compared["first_page"]
    return {
        "rows": options.rows,
        "datasets": options.datasets,
        "members": options.members,
        "datastore_search_p50_ms": _p50(ours),
        "datasette_p50_ms": _p50(theirs),
        "ratio_vs_datasette": round(_p50(ours) / _p50(theirs), 3),
        "first_page_p50_ms": _p50(our_page),
        "datasette_first_page_p50_ms": _p50(their_page),
        "first_page_ratio": round(_p50(our_page) / _p50(their_page), 3),
        "package_search_p50_ms": _p50(searches),
        "package_search_p95_ms": round(1000 * statistics.quantiles(searches, n=20)[-1], 1),
        "harvest_seconds": round(harvest_seconds, 1),
        "table_write_seconds": round(table_seconds, 1),
        "datasette_version": versions["datasette"]["version"],
        "sqlite_version": versions["sqlite"]["version"],
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "cores": os.cpu_count(),
    }


def _p50(seconds: list[float]) -> float:
    return round(1000 * statistics.median(seconds), 1)


def _setup(root: Path, options: Options) -> Federation:
    """An anchor, the members (each with its share of the datasets) and the portal."""
    now = datetime.now(UTC)
    port = free_port()
    anchor_settings, _ = init_anchor(
        root / "anchor",
        federation="bench-opendata",
        base_url=f"http://{HOST}:{port}",
        host=HOST,
        port=port,
        catalogue=load_catalogue(None),
        validity_hours=6,
        now=now,
    )
    anchor_key = KeyPair.load(anchor_settings.key_path)
    share = -(-options.datasets // options.members)
    members: list[Path] = []
    portal = root / PORTAL / "node.toml"
    for index in range(options.members + 1):
        member_id = PORTAL if index == options.members else f"bench-member-{index + 1}"
        port = free_port()
        extra: dict[str, Any] = {**QUIET, "publishing": {"refresh_seconds": 86_400}}
        if member_id == PORTAL:
            extra["opendata"] = {
                "max_datasets": max(share, 1000),
                "member_seconds": 86_400,
                "harvest_seconds": 86_400,
            }
        init_node(
            root / member_id,
            member_id=member_id,
            name=f"Bench member {index + 1}" if member_id != PORTAL else "Open data portal",
            roles=["opendata"] if member_id == PORTAL else ["register"],
            host=HOST,
            port=port,
            base_url=f"http://{HOST}:{port}",
            anchor_url=anchor_settings.anchor.base_url,
            anchor_public_key=anchor_key.public.b64,
            extra=extra,
        )
        if member_id != PORTAL:
            config = root / member_id / "node.toml"
            first = index * share
            write_plan(config, max(0, min(share, options.datasets - first)), first)
            members.append(config)
    engine = make_engine(anchor_settings.database_url)
    with make_sessions(engine).begin() as session:
        for config in [*members, portal]:
            add_node_member(
                session,
                anchor_key,
                load_node_settings(config),
                now=now,
                validity=timedelta(hours=6),
            )
    engine.dispose()
    return Federation(root, root / "anchor" / "anchor.toml", members, portal)


def _write_table(federation: Federation, portal: NodeSettings, rows: int) -> Path:
    """The payments table as a CSV file, in the portal's store (as the first member's dataset
    `payments`, version 1.0.0, validated and written by Store.write and recorded as current)
    and as a SQLite file for Datasette with an index on the filtered column; the SQLite file."""
    suppliers = rows // PAGE  # each supplier has exactly PAGE payments
    csv_path = federation.root / f"{TABLE}.csv"
    sizes = {"suppliers": suppliers, "rows": suppliers * PAGE}
    with duckdb.connect() as db:
        db.sql(GENERATED, params=sizes).write_csv(str(csv_path), header=True)
        body = csv_path.read_bytes()
        database = federation.root / f"{TABLE}.db"
        with sqlite3.connect(database) as lite:
            lite.execute(
                f"CREATE TABLE {TABLE} (transaction_number TEXT PRIMARY KEY, date TEXT, "
                f"expense_type TEXT, service_area TEXT, {FILTERED} TEXT, amount REAL)"
            )
            cursor = db.execute(GENERATED, sizes)
            while chunk := cursor.fetchmany(50_000):
                lite.executemany(
                    f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608 - our name
                    [(r[0], r[1].isoformat(), *r[2:]) for r in chunk],
                )
            lite.execute(f"CREATE INDEX {TABLE}_{FILTERED} ON {TABLE} ({FILTERED})")
    publisher = federation.members[0].parent.name
    digest = hashlib.sha256(body).hexdigest()
    package = {
        "name": f"{publisher}-{TABLE}",
        "title": "Payments over 500 pounds",
        "description": "Every payment of the benchmark's council.",
        "version": "1.0.0",
        "profile": "tabular-data-package",
        "licenses": [{"name": "OGL-UK-3.0", "title": "Open Government Licence v3.0"}],
        "resources": [
            {
                "name": TABLE,
                "path": f"{TABLE}.csv",
                "format": "csv",
                "profile": "tabular-data-resource",
                "bytes": len(body),
                "hash": f"sha256:{digest}",
                "schema": {
                    "fields": [
                        {"name": "transaction_number", "type": "string"},
                        {"name": "date", "type": "date"},
                        {"name": "expense_type", "type": "string"},
                        {"name": "service_area", "type": "string"},
                        {"name": FILTERED, "type": "string"},
                        {"name": "amount", "type": "number"},
                    ]
                },
            }
        ],
    }
    listed = Listed(TABLE, "1.0.0", digest)
    store = Store(portal.data_dir / STORE_FOLDER)
    store.write(publisher, listed, package, read_package(package, listed, publisher), {TABLE: body})
    engine = make_engine(portal.database_url)
    upgrade(engine)
    with make_sessions(engine).begin() as session:
        service.record_version(session, publisher, listed, package, datetime.now(UTC))
    engine.dispose()
    return database


def _warm_members(members: list[Child]) -> None:
    """Each member's list read once, so that its versions are recorded before the harvest."""

    def warm(member: Child) -> None:
        httpx.get(f"{member.url}/datasets.json", timeout=600).raise_for_status()

    threads = [threading.Thread(target=warm, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _harvest(node: Child, portal: NodeSettings, options: Options, report: Progress) -> float:
    """Start the portal; seconds until its harvest has made every dataset current."""
    engine = make_engine(portal.database_url)
    wanted = options.datasets + 1  # and the payments table written before
    count = text(
        "SELECT count(*) FROM opendata_harvests WHERE dataset != '' AND current_id IS NOT NULL"
    )
    failed = text(
        "SELECT publisher, dataset, last_failure FROM opendata_harvests "
        "WHERE last_failure IS NOT NULL LIMIT 1"
    )
    began = time.perf_counter()
    node.start()
    deadline = time.monotonic() + 600 + options.datasets
    try:
        while True:
            with engine.connect() as connection:
                current = int(connection.scalar(count) or 0)
                failure = connection.execute(failed).first()
            report("harvest", current, wanted)
            if failure is not None:
                raise RuntimeError(f"the harvest of {failure[0]}/{failure[1]} failed: {failure[2]}")
            if current >= wanted:
                return time.perf_counter() - began
            if not node.alive():
                raise RuntimeError("the portal exited while harvesting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the harvest had {current} of {wanted} datasets in time")
            time.sleep(0.25)
    finally:
        engine.dispose()


def search_params(index: int, members: int) -> dict[str, str]:
    """The index-th package_search of the bench: q, fq, facets, sort and paging in turn."""
    topic, kind, area = (
        TOPICS[index % len(TOPICS)],
        KINDS[index % len(KINDS)],
        AREAS[index % len(AREAS)],
    )
    tag = TAGS[index % len(TAGS)]
    member = f"bench-member-{1 + index % members}"
    shapes: list[dict[str, str]] = [
        {"q": topic},
        {"q": f"{kind} {area}"},
        {"q": kind, "fq": f"tags:{tag}", "facet.field": '["organization","tags"]'},
        {
            "fq": f"organization:{member}",
            "facet.field": '["tags","groups","res_format","license_id"]',
            "rows": "20",
        },
        {"q": topic, "sort": "title asc", "start": "20"},
        {"sort": "metadata_modified desc", "start": str(10 * index), "rows": "50"},
        {"q": "*:*", "facet.field": '["organization","tags","groups"]', "facet.limit": "10"},
        {"q": area, "fq": f"organization:{member}", "sort": "name desc"},
    ]
    return shapes[index % len(shapes)]


def _package_searches(base: str, options: Options, report: Progress) -> list[float]:
    """Seconds of each package_search, one at a time, after a few to warm the worker."""
    url = f"{base}/api/3/action/package_search"
    times = []
    with httpx.Client(timeout=120) as client:
        for index in range(8):
            client.get(url, params=search_params(index, options.members)).raise_for_status()
        found = client.get(url, params={"rows": "0"}).json()["result"]["count"]
        if found != options.datasets + 1:
            raise RuntimeError(f"package_search counts {found}, not {options.datasets + 1}")
        for index in range(options.requests):
            params = search_params(index, options.members)
            began = time.perf_counter()
            answer = client.get(url, params=params)
            times.append(time.perf_counter() - began)
            if answer.status_code != 200 or not answer.json()["success"]:
                raise RuntimeError(f"package_search {params} answered {answer.text[:300]}")
            report("package_search", index + 1, options.requests)
    return times


def _datastore_searches(
    base: str, datasette: str, options: Options, report: Progress
) -> dict[str, tuple[list[float], list[float]]]:
    """Seconds of each filter and first page, ours then Datasette's, in turn."""
    suppliers = options.rows // PAGE
    resource = f"bench-member-1.{TABLE}.{TABLE}"
    ours_url = f"{base}/api/3/action/datastore_search"
    theirs_url = f"{datasette}/{TABLE}/{TABLE}.json"
    times: dict[str, tuple[list[float], list[float]]] = {
        "filter": ([], []),
        "first_page": ([], []),
    }

    def timed(client: httpx.Client, url: str, params: dict[str, str]) -> tuple[float, Any]:
        began = time.perf_counter()
        answer = client.get(url, params=params)
        took = time.perf_counter() - began
        if answer.status_code != 200:
            raise RuntimeError(f"{url} {params} answered {answer.status_code}: {answer.text[:300]}")
        return took, answer.json()

    with httpx.Client(timeout=120) as ours, httpx.Client(timeout=120) as theirs:
        for index in range(-5, options.requests):  # the first five warm both
            supplier = f"Supplier {(index * 7) % suppliers:06d}"
            filter_ours = {
                "resource_id": resource,
                "filters": json.dumps({FILTERED: supplier}),
                "limit": str(PAGE),
            }
            took_ours, answer = timed(ours, ours_url, filter_ours)
            result = answer["result"]
            if len(result["records"]) != PAGE or result["total"] != PAGE:
                raise RuntimeError(f"datastore_search found {result.get('total')} rows, not {PAGE}")
            filter_theirs = {FILTERED: supplier, "_size": str(PAGE)}
            took_theirs, answer = timed(theirs, theirs_url, filter_theirs)
            if len(answer["rows"]) != PAGE:
                raise RuntimeError(f"Datasette found {len(answer['rows'])} rows, not {PAGE}")
            page_ours, answer = timed(ours, ours_url, {"resource_id": resource, "limit": str(PAGE)})
            if answer["result"]["total"] != options.rows // PAGE * PAGE:
                raise RuntimeError(f"datastore_search counts {answer['result']['total']} rows")
            page_theirs, answer = timed(theirs, theirs_url, {"_size": str(PAGE)})
            if len(answer["rows"]) != PAGE:
                raise RuntimeError(f"Datasette's first page has {len(answer['rows'])} rows")
            if index >= 0:
                times["filter"][0].append(took_ours)
                times["filter"][1].append(took_theirs)
                times["first_page"][0].append(page_ours)
                times["first_page"][1].append(page_theirs)
                report("datastore_search", index + 1, options.requests)
    return times
