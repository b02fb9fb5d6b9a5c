"""The portal's analytical store: each harvested resource as a Parquet file, read with DuckDB.

A version's files are written once, under the node's data directory, and never changed:
``opendata/{publisher}/{dataset}/{version}/{resource}.parquet`` (ADR 0029). Any number of
workers read them at once (DuckDB in memory over the files), and the one worker that harvests
writes a new version beside the old with no lock on the readers. Before a version is written
the frictionless library validates its package against the CSV files as received.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from frictionless import Package

from digitalstate.opendata.domain import Listed, RefusedError, ResourceFile, local_package

MAX_ERRORS_SHOWN = 3


class Store:
    """The Parquet files of every harvested version, under root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, publisher: str, dataset: str, version: str, resource: str) -> Path:
        """The Parquet file of a resource of a version."""
        return self.root / publisher / dataset / version / f"{resource}.parquet"

    def write(
        self,
        publisher: str,
        listed: Listed,
        package: dict[str, Any],
        files: list[ResourceFile],
        bodies: dict[str, bytes],
    ) -> None:
        """Validate the package against the CSV bodies, then write each resource as Parquet.

        RefusedError (nothing written) when frictionless finds the package or a file invalid.
        """
        folder = self.root / publisher / listed.name
        folder.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{listed.version}-", dir=folder))
        try:
            for resource in files:
                (work / f"{resource.name}.csv").write_bytes(bodies[resource.name])
            validate(local_package(package, files), work)
            with duckdb.connect() as db:
                for resource in files:
                    source = work / f"{resource.name}.csv"
                    db.read_csv(
                        str(source),
                        header=True,
                        dtype={c.name: c.store_type for c in resource.columns},
                    ).write_parquet(str(work / f"{resource.name}.parquet"))
                    source.unlink()
            target = folder / listed.version
            if target.exists():  # written before, its version not recorded (a stop between)
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def validate(descriptor: dict[str, Any], folder: Path) -> None:
    """RefusedError unless frictionless finds the package and its files in folder valid."""
    try:
        report = Package(descriptor, basepath=str(folder)).validate(limit_errors=MAX_ERRORS_SHOWN)
    except Exception as exc:  # frictionless raises its own errors for a broken descriptor
        raise RefusedError(f"the package is not a valid Data Package: {str(exc)[:300]}") from exc
    if not report.valid:
        errors = report.flatten(["rowNumber", "fieldName", "type", "note"])[:MAX_ERRORS_SHOWN]
        raise RefusedError(
            "the package does not validate: "
            + "; ".join(json.dumps(e, default=str)[:200] for e in errors)
        )
