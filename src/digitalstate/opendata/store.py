"""The portal's analytical store: each harvested resource as a Parquet file, read with DuckDB.

A version's files are written once, under the node's data directory, and never changed:
``opendata/{publisher}/{dataset}/{version}/{resource}.parquet`` (ADR 0029), beside the CSV
file as the member served it and the same rows as JSON, the catalogue's downloads. Any number of
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

from digitalstate.opendata.ckan import ROW_ID, Datastore
from digitalstate.opendata.domain import Listed, RefusedError, ResourceFile, local_package

MAX_ERRORS_SHOWN = 3


class Store:
    """The Parquet files of every harvested version, under root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(
        self, publisher: str, dataset: str, version: str, resource: str, kind: str = "parquet"
    ) -> Path:
        """The file of a resource of a version: parquet (what is queried), csv or json."""
        return self.root / publisher / dataset / version / f"{resource}.{kind}"

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
                    try:
                        db.read_csv(
                            str(source),
                            header=True,
                            dtype={c.name: c.store_type for c in resource.columns},
                            na_values=list(resource.missing_values),
                        ).write_parquet(str(work / f"{resource.name}.parquet"))
                    except duckdb.Error as exc:  # valid to frictionless, yet not loadable
                        first = str(exc).splitlines()[0][:300]
                        raise RefusedError(
                            f"{resource.name}.csv cannot be loaded: {first}"
                        ) from exc
                    # The downloads: the CSV as the member served it, JSON written once here.
                    # COPY takes no parameter for its target: the path is ours, quotes doubled.
                    json_path = str(work / f"{resource.name}.json").replace("'", "''")
                    copy = f"COPY (SELECT * FROM read_parquet(?)) TO '{json_path}'"  # noqa: S608
                    db.execute(
                        copy + " (FORMAT json, ARRAY true)",
                        [str(work / f"{resource.name}.parquet")],
                    )
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


def quoted(column: str) -> str:
    """A column name as a DuckDB identifier (names are checked identifiers; quotes doubled)."""
    return '"' + column.replace('"', '""') + '"'


def column_sql(column: str) -> str:
    """A column as SQL: a checked name quoted, or ROW_ID, the row's number in its file from 1.

    A version's file never changes, so a row's number is stable for the version (DuckDB's
    file_row_number, counted from 0; no column of a harvested resource has either name)."""
    return "(file_row_number + 1)" if column == ROW_ID else quoted(column)


def like(text: str) -> str:
    """text as a LIKE pattern matching it anywhere, its wildcards escaped."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_rows(
    path: Path, types: dict[str, str], query: Datastore
) -> tuple[list[dict[str, Any]], int | None]:
    """The rows of a resource's Parquet file that query asks for, and their total.

    Every column named is one of types (datastore_of checked it) and every value is bound as
    a parameter: nothing a caller sends is read as SQL.
    """
    where: list[str] = []
    values: list[Any] = []
    for column, wanted in query.filters:
        marks = ", ".join(f"TRY_CAST(? AS {types[column]})" for _ in wanted)
        where.append(f"{column_sql(column)} IN ({marks})")
        values.extend(wanted)
    if query.q:
        every = ", ".join(f"CAST({quoted(c)} AS VARCHAR)" for c in types if c != ROW_ID)
        where.append(f"concat_ws(' ', {every}) ILIKE ? ESCAPE '\\'")
        values.append(like(query.q))
    for column, wanted_text in query.q_fields:
        where.append(f"CAST({column_sql(column)} AS VARCHAR) ILIKE ? ESCAPE '\\'")
        values.append(like(wanted_text))
    # The row number (ROW_ID) is read only where the query names it: it costs a little.
    numbered = "read_parquet(?, file_row_number = true)"
    in_where = any(c == ROW_ID for c, _ in (*query.filters, *query.q_fields))
    in_select = ROW_ID in query.fields or any(c == ROW_ID for c, _ in query.sort)
    counted_from = numbered if in_where else "read_parquet(?)"
    source = numbered if in_where or in_select else "read_parquet(?)"
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    order = ", ".join(f"{column_sql(c)} {'DESC' if d else 'ASC'}" for c, d in query.sort)
    # Identifiers are checked columns, quoted; every value is a bound parameter.
    chosen = ", ".join(column_sql(f) for f in query.fields)
    select = f"SELECT {chosen} FROM {source}{condition}"  # noqa: S608
    select += f" ORDER BY {order} LIMIT ? OFFSET ?" if order else " LIMIT ? OFFSET ?"
    count = f"SELECT count(*) FROM {counted_from}{condition}"  # noqa: S608
    with duckdb.connect() as db:
        cursor = db.execute(select, [str(path), *values, query.limit, query.offset])
        rows = [dict(zip(query.fields, row, strict=True)) for row in cursor.fetchall()]
        total = None
        if query.include_total:
            counted = db.execute(count, [str(path), *values])
            total = int(counted.fetchall()[0][0])
    return rows, total
