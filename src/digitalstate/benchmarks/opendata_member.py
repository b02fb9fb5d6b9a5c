"""A member node for `digitalstate bench opendata`: the production node app publishing many
small synthetic datasets (as a council's many small ones), which the portal harvests over the
signed exchange.

`python -m digitalstate.benchmarks.opendata_member CONFIG` serves it; how many datasets it
publishes, and from which number, is read from `opendata-bench.json` beside the node.toml
(written by benchmarks/opendata.py). Each dataset's title, description, keywords and themes are
drawn from small vocabularies, so that the portal's package_search has words, tags, groups and
organisations to find and count.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI
from sqlalchemy.orm import Session

from digitalstate.benchmarks.app import create_bench_node_app
from digitalstate.cli.common import one_line_errors
from digitalstate.cli.node import serve_node
from digitalstate.publishing.domain import DatasetSpec, Field, ResourceSpec, Row
from digitalstate.publishing.service import PublishedDataset
from digitalstate.settings import NodeSettings, SettingsError

PLAN_FILE = "opendata-bench.json"
ROWS_PER_DATASET = 12
TOPICS = (
    "bus", "school", "housing", "library", "parking", "waste", "care", "planning",
    "licensing", "council tax", "roads", "parks", "recycling", "flooding", "health",
    "leisure", "elections", "trees", "cycling", "noise",
)  # fmt: skip
KINDS = (
    "journeys", "admissions", "repairs", "loans", "permits", "collections", "assessments",
    "applications", "payments", "complaints", "inspections", "visits",
)  # fmt: skip
AREAS = (
    "north", "south", "east", "west", "central", "riverside", "harbour", "uplands",
    "old town", "new town",
)  # fmt: skip
TAGS = tuple(
    f"{t}-{k}" for t in ("open", "local", "monthly", "spatial", "statistics") for k in range(10)
)
THEMES = ("transport", "education", "housing", "environment", "health", "economy", "society")


def plan_path(config: Path) -> Path:
    """Where the bench writes how many datasets the member at config publishes."""
    return config.parent / PLAN_FILE


def write_plan(config: Path, count: int, first: int) -> None:
    """Have the member at config publish count datasets, numbered from first."""
    plan_path(config).write_text(json.dumps({"count": count, "first": first}))


def synthetic_dataset(number: int) -> PublishedDataset:
    """Dataset number: a title, keywords and themes drawn from its number, and a few rows."""
    rng = random.Random(number)  # noqa: S311 - not a secret
    topic, kind, area = rng.choice(TOPICS), rng.choice(KINDS), rng.choice(AREAS)
    spec = DatasetSpec(
        name=f"d{number:05d}",
        title=f"{topic.capitalize()} {kind} in {area} {number}",
        description=(
            f"Monthly counts of {topic} {kind} in the {area} area, by ward; "
            f"published for the open data benchmark (dataset {number})."
        ),
        resources=(
            ResourceSpec(
                name="counts",
                title=f"{topic.capitalize()} {kind} by ward",
                description="One row per ward and month.",
                fields=(
                    Field("ward", "string", "Ward", required=True),
                    Field("month", "date", "Month", required=True),
                    Field("count", "integer", "Count", required=True),
                ),
            ),
        ),
        update_frequency=rng.choice(("monthly", "quarterly", "annual")),
        keywords=tuple(sorted(set(rng.sample(TAGS, 3)) | {topic.replace(" ", "-")})),
        themes=(rng.choice(THEMES),),
    )
    rows: list[Row] = [
        (f"{area} ward {ward}", f"2026-{month:02d}-01", rng.randrange(1000))
        for ward in range(3)
        for month in range(1, ROWS_PER_DATASET // 3 + 1)
    ]

    def read(_session: Session) -> Mapping[str, Iterable[Row]]:
        return {"counts": rows}

    return PublishedDataset(spec, read)


def create_member_app(settings: NodeSettings) -> FastAPI:
    """The bench node app, publishing the datasets its plan file names as well as its own."""
    if settings.config_path is None:
        raise SettingsError("the open data bench's member is served from a node.toml")
    app = create_bench_node_app(settings)
    plan = json.loads(plan_path(settings.config_path).read_text())
    for number in range(plan["first"], plan["first"] + plan["count"]):
        dataset = synthetic_dataset(number)
        app.state.node.datasets[dataset.spec.name] = dataset
    return app


def serve(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
) -> None:
    """Run a member for the open data benchmark."""
    serve_node(config, create_member_app)


if __name__ == "__main__":
    typer.run(one_line_errors(serve))
