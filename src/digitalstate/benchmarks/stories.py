"""`stories_page_p95_ms`: a service node's public stories pages with 100,000 published stories.

A trust anchor and one service node, each its own process on loopback (as `digitalstate node
serve` runs them), in a temporary directory; the node's SQLite database is migrated and filled
before it starts with `stories` published stories (a year of them, each with two of a few
tags, one in five answered, one in ten marked with a change), written in bulk through the
models' tables. Then one client asks, one request at a time, for the public pages a reader
asks for most: `/stories` (the node's newest), `/stories/nodes/<member>` and the first pages
after them (`?page=2..20`), after WARM_UP unmeasured requests. The figure is the 95th
percentile of each request's wall time as the client sees it (loopback HTTP, rendering, the
count and the page's queries), in milliseconds; its target is 50 ms (issue 12).
"""

from __future__ import annotations

import random
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from digitalstate.benchmarks.anchor import bench_anchor
from digitalstate.benchmarks.load import percentile
from digitalstate.benchmarks.ports import free_port
from digitalstate.demo.supervisor import Child, python_command, stop_all, wait_until
from digitalstate.federation.service import add_node_member
from digitalstate.feedback.models import Story, StoryCount, StoryResponse, StoryTag
from digitalstate.node.setup import init_node
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade

HOST = "127.0.0.1"
MEMBER = "bench-stories"
QUIET = {"server": {"log_level": "warning", "access_log": False}}
TAGS = ("waiting times", "staff", "online", "letters", "phone", "forms", "accessibility")
CHUNK = 5_000
WARM_UP = 20
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Options:
    """How many published stories the node holds, and how many pages are asked for."""

    stories: int = 100_000
    requests: int = 400
    seed: int = 12


def _story_rows(start: int, count: int, now: datetime, rng: random.Random) -> Iterator[Any]:
    for n in range(start, start + count):
        published = now - timedelta(minutes=5 * n + rng.randrange(5))
        change = "made" if n % 20 == 0 else "planned" if n % 20 == 1 else "none"
        yield {
            "id": f"b{n:011d}",
            "node": MEMBER,
            "service": None,
            "title": f"Story {n}: how it went",
            "body": "I applied online and it went well. " * rng.randrange(2, 12),
            "public_title": f"Story {n}: how it went",
            "public_body": "I applied online and it went well. " * rng.randrange(2, 12),
            "tags": "[]",
            "public_tags": "[]",
            "status": "published",
            "flags": "[]",
            "deidentified": False,
            "change": change,
            "told_at": published - timedelta(hours=1),
            "moderated_at": published,
            "published_at": published,
        }


def fill_stories(
    database_url: str, options: Options, now: datetime, on_chunk: Callable[[int], None]
) -> None:
    """Migrate the node's database and write options.stories published stories, their tags
    and a response to one in five."""
    engine = make_engine(database_url)
    upgrade(engine)
    rng = random.Random(options.seed)  # noqa: S311 - a repeatable load, not a secret
    with make_sessions(engine).begin() as db:
        for start in range(0, options.stories, CHUNK):
            count = min(CHUNK, options.stories - start)
            rows = list(_story_rows(start, count, now, rng))
            db.execute(insert(Story), rows)
            tags = [
                {"story_id": row["id"], "tag": tag} for row in rows for tag in rng.sample(TAGS, 2)
            ]
            db.execute(insert(StoryTag), tags)
            answers = [
                {
                    "story_id": row["id"],
                    "role": "manager",
                    "body": "Thank you for telling us.",
                    "change": row["change"],
                    "staff_id": "bench",
                    "at": row["published_at"] + timedelta(hours=2),
                }
                for index, row in enumerate(rows)
                if index % 5 == 0
            ]
            db.execute(insert(StoryResponse), answers)
            on_chunk(start + count)
        # The counts publishing keeps (feedback/service.count_published), for all at once.
        db.execute(
            insert(StoryCount),
            [
                {"scope": "all", "key": "", "published": options.stories},
                {"scope": "node", "key": MEMBER, "published": options.stories},
            ],
        )
    engine.dispose()


def _setup(root: Path) -> tuple[Path, str, NodeSettings]:
    """The anchor's config and URL, and the node's settings, made and the node a member."""
    now = datetime.now(UTC)
    anchor, key = bench_anchor(root / "anchor", now)
    node_port = free_port()
    node = init_node(
        root / MEMBER,
        member_id=MEMBER,
        name="Bench stories",
        roles=["service"],
        host=HOST,
        port=node_port,
        base_url=f"http://{HOST}:{node_port}",
        anchor_url=anchor.anchor.base_url,
        anchor_public_key=key.public.b64,
        extra=QUIET,  # type: ignore[arg-type]
    )
    engine = make_engine(anchor.database_url)
    with make_sessions(engine).begin() as session:
        add_node_member(session, key, node, now=now, validity=timedelta(hours=2))
    engine.dispose()
    return root / "anchor" / "anchor.toml", anchor.anchor.base_url, node


def _paths(options: Options) -> list[str]:
    rng = random.Random(options.seed)  # noqa: S311 - a repeatable load, not a secret
    firsts = ["/stories", f"/stories/nodes/{MEMBER}"]
    return [
        rng.choice(firsts) + ("" if rng.random() < 0.5 else f"?page={rng.randrange(2, 21)}")
        for _ in range(WARM_UP + options.requests)
    ]


def _time(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback, ours
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status}")
    return (time.perf_counter() - began) * 1000


def run_stories_bench(options: Options, on_progress: Progress | None = None) -> dict[str, Any]:
    """Fill a node with published stories, serve it, and time its public pages."""
    report = on_progress or (lambda _stage, _done, _total: None)
    with tempfile.TemporaryDirectory(prefix="digitalstate-bench-") as tmp:
        root = Path(tmp)
        anchor_config, anchor_url, node = _setup(root)
        began = time.perf_counter()
        fill_stories(
            node.database_url,
            options,
            datetime.now(UTC),
            lambda done: report("fill", done, options.stories),
        )
        fill_seconds = time.perf_counter() - began
        anchor = Child(
            "anchor",
            python_command("federation", "serve", "--config", str(anchor_config)),
            anchor_url,
            root / "anchor.log",
        )
        serve = python_command("node", "serve", "--config", str(node.config_path))
        served = Child(MEMBER, serve, node.node.base_url, root / f"{MEMBER}.log")
        try:
            anchor.start()
            wait_until([anchor], "/healthz", time.monotonic() + 60)
            served.start()
            wait_until([served], "/readyz", time.monotonic() + 120)
            timings = []
            paths = _paths(options)
            for index, path in enumerate(paths):
                took = _time(node.node.base_url + path)
                if index >= WARM_UP:
                    timings.append(took)
                report("pages", index + 1, len(paths))
        finally:
            stop_all([served, anchor])
    timings.sort()
    return {
        "stories": options.stories,
        "stories_page_p95_ms": round(percentile(timings, 0.95), 1),
        "stories_page_p50_ms": round(percentile(timings, 0.50), 1),
        "stories_pages_timed": len(timings),
        "fill_seconds": round(fill_seconds, 1),
        "database": "sqlite",
    }
