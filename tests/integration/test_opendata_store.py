"""The portal's store (opendata/store.py): a long resource is also written as a DuckDB file,
which workers keep open read-only (Readers); it answers as the Parquet file does, from many
threads at once, and a new version is read from its own file."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from digitalstate.opendata.ckan import ROW_ID, Datastore, datastore_of
from digitalstate.opendata.domain import Listed, read_package
from digitalstate.opendata.store import Readers, Store, search_rows

# As the API gives them: CKAN's row id first, then the resource's columns.
TYPES = {ROW_ID: "BIGINT", "ward": "VARCHAR", "month": "DATE", "count": "BIGINT"}


def body(rows: int, bump: int = 0) -> bytes:
    lines = ["ward,month,count"]
    lines += [f"ward {n % 7},2026-{1 + n % 12:02d}-01,{n + bump}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def write(store: Store, version: str, data: bytes) -> Listed:
    digest = hashlib.sha256(data).hexdigest()
    package: dict[str, Any] = {
        "name": "member-counts",
        "version": version,
        "resources": [
            {
                "name": "counts",
                "path": "counts.csv",
                "format": "csv",
                "bytes": len(data),
                "hash": f"sha256:{digest}",
                "schema": {
                    "fields": [
                        {"name": "ward", "type": "string"},
                        {"name": "month", "type": "date"},
                        {"name": "count", "type": "integer"},
                    ]
                },
            }
        ],
    }
    listed = Listed("counts", version, digest)
    store.write(
        "member", listed, package, read_package(package, listed, "member"), {"counts": data}
    )
    return listed


QUERIES = [
    {},
    {"filters": {"ward": "ward 3"}, "sort": "count desc", "limit": 5},
    {"filters": {"ward": ["ward 1", "ward 2"]}, "offset": 10, "limit": 4, "sort": "count"},
    {"q": "ward 6", "limit": 3, "sort": "count desc"},
    {"q": {"ward": "5"}, "include_total": "false", "sort": "count"},
    {"filters": {"count": "17"}},
    {"filters": {"count": "not a number"}},
    # CKAN's _id: the row's place in the file, from 1, in the DuckDB file as in the Parquet
    {"filters": {"_id": ["1", "150", "300"]}, "fields": ["_id", "count"]},
    {"sort": "_id desc", "limit": 3, "offset": 2},
    {"filters": {"ward": "ward 4"}, "sort": "_id", "limit": 5, "fields": "_id,ward"},
]


@pytest.mark.parametrize("params", QUERIES)
def test_the_duckdb_file_answers_as_the_parquet_file_does(
    tmp_path: Path, params: dict[str, Any]
) -> None:
    store = Store(tmp_path, table_rows=100)
    write(store, "1.0.0", body(300))
    table = store.path("member", "counts", "1.0.0", "counts", "duckdb")
    assert table.exists()
    query = datastore_of(params, list(TYPES))

    from_table = store.search("member", "counts", "1.0.0", "counts", TYPES, query)

    parquet = store.path("member", "counts", "1.0.0", "counts")
    assert from_table == search_rows(parquet, TYPES, query)
    assert store.readers.open_count() == 1


def test_a_short_resource_is_read_from_its_parquet_file_alone(tmp_path: Path) -> None:
    store = Store(tmp_path, table_rows=100)
    write(store, "1.0.0", body(99))

    rows, total = store.search("member", "counts", "1.0.0", "counts", TYPES, Datastore(("ward",)))

    assert not store.path("member", "counts", "1.0.0", "counts", "duckdb").exists()
    assert total == 99 and len(rows) == 99
    assert store.readers.open_count() == 0


def test_many_threads_read_at_once_and_a_new_version_is_read_from_its_own_file(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path, table_rows=10)
    store.readers = Readers(most=1)  # every other version read evicts the one before
    write(store, "1.0.0", body(500))
    write(store, "1.1.0", body(500, bump=1000))
    query = datastore_of({"filters": {"ward": "ward 0"}, "sort": "count", "limit": 1}, list(TYPES))

    def first_count(version: str) -> int:
        rows, total = store.search("member", "counts", version, "counts", TYPES, query)
        assert total == 72
        return int(rows[0]["count"])

    versions = ["1.0.0", "1.1.0"] * 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(first_count, versions))

    assert counts == [0 if v == "1.0.0" else 1000 for v in versions]
    assert store.readers.open_count() == 1


@pytest.mark.parametrize("table_rows", [100, 1_000_000])  # from the DuckDB file; from Parquet
def test_the_total_is_every_row_found_whatever_the_page(tmp_path: Path, table_rows: int) -> None:
    store = Store(tmp_path, table_rows=table_rows)
    write(store, "1.0.0", body(300))

    def total_of(params: dict[str, Any]) -> tuple[int, int | None]:
        query = datastore_of(params, list(TYPES))
        rows, total = store.search("member", "counts", "1.0.0", "counts", TYPES, query)
        return len(rows), total

    assert total_of({"filters": {"ward": "ward 3"}, "limit": 5}) == (5, 43)
    assert total_of({"filters": {"ward": "ward 3"}, "offset": 40}) == (3, 43)
    assert total_of({"filters": {"ward": "ward 3"}, "offset": 1000}) == (0, 43)
    assert total_of({"filters": {"ward": "nobody"}}) == (0, 0)
    assert total_of({"q": "ward 3", "sort": "count desc", "limit": 1}) == (1, 43)
    assert total_of({"limit": 7}) == (7, 300)
    assert total_of({"offset": 299}) == (1, 300)
    assert total_of({"filters": {"ward": "ward 3"}, "include_total": "false"}) == (43, None)


def test_the_row_id_is_the_rows_place_in_its_file_from_1_in_the_duckdb_file(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path, table_rows=100)
    write(store, "1.0.0", body(300))
    query = datastore_of({"filters": {"_id": ["1", "300"]}, "sort": "_id"}, list(TYPES))

    rows, total = store.search("member", "counts", "1.0.0", "counts", TYPES, query)

    assert store.path("member", "counts", "1.0.0", "counts", "duckdb").exists()
    assert total == 2
    assert [(r["_id"], r["count"]) for r in rows] == [(1, 0), (300, 299)]  # count n on row n+1
