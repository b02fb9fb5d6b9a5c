"""The portal's analytical store: each harvested resource as a Parquet file, read with DuckDB.

A version's files are written once, under the node's data directory, and never changed:
``opendata/{publisher}/{dataset}/{version}/{resource}.parquet`` (ADR 0029), beside the CSV
file as the member served it and the same rows as JSON, the catalogue's downloads. A resource
of at least ``table_rows`` rows is also written as a DuckDB database file
(``{resource}.duckdb``, one table), which each worker opens read-only and keeps open
(Readers below, ADR 0030): a filter over a million rows is then a scan of DuckDB's own columns
in memory, not a read of the Parquet file per request. Any number of workers read the files at
once, and the one worker that harvests writes a new version beside the old with no lock on the
readers: a new version is a new path, so a worker never reads a version it did not ask for, and
the versions no longer asked for are closed as newer ones are opened. Before a version is
written the frictionless library validates its package against the CSV files as received.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from frictionless import Package

from digitalstate.opendata.ckan import ROW_ID, Datastore
from digitalstate.opendata.domain import Listed, RefusedError, ResourceFile, local_package
from digitalstate.publishing.domain import FORMULA_STARTS

MAX_ERRORS_SHOWN = 3
NOTHING_MISSING = "\x00"  # the missing value of a schema that has none (_convert)
TABLE_ROWS = 100_000  # a resource this long is also written as a DuckDB database file
TABLE = '"records"'  # the one table of a resource's DuckDB file, quoted
# The table keeps each row's number in the Parquet file (CKAN's _id, column_sql).
CREATE_TABLE = 'CREATE TABLE "records" AS SELECT * FROM read_parquet(?, file_row_number = true)'
OPEN_TABLES = 8  # DuckDB files a worker keeps open at most
TABLE_MEMORY = "256MB"  # DuckDB's memory limit for each file kept open


@dataclass
class _Open:
    connection: duckdb.DuckDBPyConnection
    users: int = 0
    evicted: bool = False


class Readers:
    """The DuckDB files a worker keeps open, read-only: the most recently read, at most most.

    Safe across threads: each read has its own cursor; a file evicted while a read uses it is
    closed when the last such read ends.
    """

    def __init__(self, most: int = OPEN_TABLES) -> None:
        self.most = most
        self._lock = threading.Lock()
        self._open: OrderedDict[Path, _Open] = OrderedDict()

    @contextmanager
    def cursor(self, path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the DuckDB file at path, opened read-only (or kept open) for the block."""
        with self._lock:
            kept = self._open.pop(path, None)
            if kept is None:
                config: dict[str, Any] = {"memory_limit": TABLE_MEMORY}
                kept = _Open(duckdb.connect(str(path), read_only=True, config=config))
            self._open[path] = kept
            kept.users += 1
            done = self._evict()
        _close(done)
        try:
            cursor = kept.connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        finally:
            with self._lock:
                kept.users -= 1
                done = [kept] if kept.evicted and kept.users == 0 else []
            _close(done)

    def open_count(self) -> int:
        """How many files are open now."""
        with self._lock:
            return len(self._open)

    def _evict(self) -> list[_Open]:
        done = []
        while len(self._open) > self.most:
            _path, old = self._open.popitem(last=False)
            old.evicted = True
            if old.users == 0:
                done.append(old)
        return done


def _close(done: list[_Open]) -> None:
    for old in done:
        old.connection.close()


class Store:
    """The Parquet (and DuckDB) files of every harvested version, under root."""

    def __init__(self, root: Path, *, table_rows: int = TABLE_ROWS) -> None:
        self.root = root
        self.table_rows = table_rows
        self.readers = Readers()
        self._memory: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

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
            with self._cursor() as db:
                for resource in files:
                    _convert(db, work, resource, self.table_rows)
            target = folder / listed.version
            if target.exists():  # written before, its version not recorded (a stop between)
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def search(
        self,
        publisher: str,
        dataset: str,
        version: str,
        resource: str,
        types: dict[str, str],
        query: Datastore,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """The rows of a resource that query asks for, and their total: from its DuckDB file
        kept open when it has one, else from its Parquet file."""
        table = self.path(publisher, dataset, version, resource, "duckdb")
        if table.exists():
            with self.readers.cursor(table) as db:
                return _search(db, TABLE, TABLE, [], types, query)
        parquet = self.path(publisher, dataset, version, resource)
        with self._cursor() as db:
            return _search(db, *PARQUET_SOURCES, [str(parquet)], types, query)

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the store's own in-memory DuckDB, for one thread (opening a connection
        costs tens of milliseconds; a cursor, nothing), opened at the first."""
        with self._lock:
            if self._memory is None:
                self._memory = duckdb.connect(config={"memory_limit": TABLE_MEMORY})
            cursor = self._memory.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def _convert(
    db: duckdb.DuckDBPyConnection, work: Path, resource: ResourceFile, table_rows: int
) -> None:
    """Write the resource's validated CSV file in work as Parquet and JSON, and as a DuckDB file
    too when it has table_rows rows or more."""
    parquet = str(work / f"{resource.name}.parquet")
    types = {c.name: c.store_type for c in resource.columns}
    # DuckDB takes a non-empty list of missing values: a schema whose missingValues are [] (no
    # cell is missing, an empty text is a text) gives it a cell of the one character NUL,
    # which a text CSV does not hold.
    missing = list(resource.missing_values) or [NOTHING_MISSING]
    # COPY takes no parameter for its target: the paths are ours, quotes doubled.
    target = parquet.replace("'", "''")
    try:
        columns = as_written_sql(resource)  # checked column names, quoted; no value of theirs
        read = f"SELECT {columns} FROM read_csv(?, header = true, types = ?, nullstr = ?)"  # noqa: S608
        db.execute(
            f"COPY ({read}) TO '{target}' (FORMAT parquet)",
            [str(work / f"{resource.name}.csv"), types, missing],
        )
    except duckdb.Error as exc:  # valid to frictionless, yet not loadable
        first = str(exc).splitlines()[0][:300]
        raise RefusedError(f"{resource.name}.csv cannot be loaded: {first}") from exc
    # The downloads: the CSV as the member served it, JSON written once here.
    json_path = str(work / f"{resource.name}.json").replace("'", "''")
    copy = f"COPY (SELECT * FROM read_parquet(?)) TO '{json_path}'"  # noqa: S608
    db.execute(copy + " (FORMAT json, ARRAY true)", [parquet])
    counted = db.execute("SELECT count(*) FROM read_parquet(?)", [parquet])
    if int(counted.fetchall()[0][0]) >= table_rows:
        _write_table(parquet, work / f"{resource.name}.duckdb")


def as_written_sql(resource: ResourceFile) -> str:
    """The resource's columns as SQL, each text (string) column's cells as written: without the
    ' a member's CSV puts before a text that starts like a formula, for spreadsheets only
    (publishing.domain.spreadsheet_safe; this is its as_written in SQL)."""
    starts = "[" + ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS) + "]"
    columns = []
    for column in resource.columns:
        name = quoted(column.name)
        if column.type == "string":
            guarded = f"list_contains({starts}, left(ltrim({name}, chr(39)), 1))"
            name = (
                f"CASE WHEN starts_with({name}, chr(39)) AND {guarded}"
                f" THEN substr({name}, 2) ELSE {name} END AS {name}"
            )
        columns.append(name)
    return ", ".join(columns)


def _write_table(parquet: str, path: Path) -> None:
    """The rows of the Parquet file as the one table of a new DuckDB file at path."""
    with duckdb.connect(str(path)) as db:
        db.execute(CREATE_TABLE, [parquet])


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
    file_row_number, counted from 0, kept as a column of a resource's DuckDB table; no column
    of a harvested resource has either name)."""
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
    with duckdb.connect() as db:
        return _search(db, *PARQUET_SOURCES, [str(path)], types, query)


# A Parquet file read plain, and read with each row's number (which costs a little: only where
# a query names ROW_ID).
PARQUET_SOURCES = ("read_parquet(?)", "read_parquet(?, file_row_number = true)")


def _search(
    db: duckdb.DuckDBPyConnection,
    plain: str,
    numbered: str,
    bound: list[Any],
    types: dict[str, str],
    query: Datastore,
) -> tuple[list[dict[str, Any]], int | None]:
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
    named = {c for c, _ in (*query.filters, *query.q_fields, *query.sort)} | set(query.fields)
    source = numbered if ROW_ID in named else plain
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    order = ", ".join(f"{column_sql(c)} {'DESC' if d else 'ASC'}" for c, d in query.sort)
    # Identifiers are checked columns, quoted; every value is a bound parameter.
    chosen = ", ".join(column_sql(f) for f in query.fields)
    # With a condition, the total is counted in the same scan as the rows (a window over the
    # rows found); with none, by itself (DuckDB knows a table's or file's count).
    together = bool(where) and query.include_total
    if together:
        chosen += ", count(*) OVER ()"
    select = f"SELECT {chosen} FROM {source}{condition}"  # noqa: S608
    select += f" ORDER BY {order} LIMIT ? OFFSET ?" if order else " LIMIT ? OFFSET ?"
    count = f"SELECT count(*) FROM {source}{condition}"  # noqa: S608
    found = db.execute(select, [*bound, *values, query.limit, query.offset]).fetchall()
    width = len(query.fields)
    rows = [dict(zip(query.fields, row[:width], strict=True)) for row in found]
    total = None
    if together and found:
        total = int(found[0][width])
    elif query.include_total:  # no condition, or no row on this page to carry the total
        counted = db.execute(count, [*bound, *values])
        total = int(counted.fetchall()[0][0])
    return rows, total
