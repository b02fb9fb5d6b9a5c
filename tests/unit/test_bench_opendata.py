"""The open data benchmark's members and searches: each synthetic dataset is one the portal
accepts, and each search the benchmark times is one package_search accepts."""

from __future__ import annotations

from datetime import UTC, datetime

from digitalstate.benchmarks.opendata import search_params
from digitalstate.benchmarks.opendata_member import synthetic_dataset
from digitalstate.opendata.ckan import search_of
from digitalstate.opendata.domain import Listed, check_file, read_package
from digitalstate.publishing.domain import (
    LICENCES,
    Content,
    Publisher,
    data_package,
    next_version,
    tabulate,
)

PUBLISHER = Publisher("bench-member-1", "Bench member 1", "http://127.0.0.1:1", LICENCES["CC0-1.0"])


def test_every_synthetic_dataset_is_one_the_portal_accepts() -> None:
    for number in (0, 1, 4321):
        dataset = synthetic_dataset(number)
        rows = dataset.read(None)  # type: ignore[arg-type]  # reads no database
        tables = tuple(tabulate(r, rows[r.name]) for r in dataset.spec.resources)
        content = Content(dataset.spec, tables)
        version = next_version(None, dataset.spec, content, datetime(2026, 12, 1, tzinfo=UTC))
        assert version is not None
        package = data_package(dataset.spec, PUBLISHER, version, content, "http://127.0.0.1:1")
        listed = Listed(dataset.spec.name, version.number, content.digest())

        files = read_package(package, listed, PUBLISHER.member_id)

        for resource, table in zip(files, tables, strict=True):
            check_file(resource, table.csv)
            assert table.rows == 12
        assert dataset.spec.keywords and dataset.spec.themes
    assert synthetic_dataset(7).spec == synthetic_dataset(7).spec  # the same on every member


def test_every_search_the_benchmark_times_is_accepted() -> None:
    used = {name for index in range(8) for name in search_params(index, 4)}
    assert used == {"q", "fq", "facet.field", "facet.limit", "sort", "start", "rows"}
    for index in range(40):
        search = search_of(search_params(index, 4))
        assert not search.warnings
