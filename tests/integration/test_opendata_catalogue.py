"""The portal's catalogue pages (opendata/pages.py): search with facets, a dataset's page with
its resources, columns, preview and harvest, and the downloads as CSV, JSON and Parquet; over
HTTP against the portal served on loopback after its own harvest of two served members."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from digitalstate.opendata import service
from digitalstate.opendata.domain import LIST
from integration.opendata_support import harvested_portal
from support.nodes import ServedNode


@pytest.fixture
def portal(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[ServedNode]:
    with harvested_portal(tmp_path, migrated_database_url, more_databases) as served:
        yield served


def test_the_catalogue_searches_and_narrows_by_facets(portal: ServedNode) -> None:
    everything = httpx.get(f"{portal.url}/catalogue")
    assert everything.status_code == 200
    assert "2 datasets" in everything.text
    for facet in ("Publisher", "Theme", "Format", "Licence", "Tags"):
        assert f">{facet}</h3>" in everything.text
    assert "Leeds: housing" in everything.text and "(2)" in everything.text

    narrowed = httpx.get(f"{portal.url}/catalogue", params={"publisher": "leeds-housing"})
    assert "1 dataset<" in narrowed.text
    assert 'href="/catalogue/leeds-housing/spending"' in narrowed.text
    assert 'href="/catalogue/birmingham-care/spending"' not in narrowed.text
    assert "Remove leeds-housing" in narrowed.text
    searched = httpx.get(f"{portal.url}/catalogue", params={"q": "nothing like it"})
    assert "0 datasets" in searched.text and "No dataset matches your search." in searched.text
    odd = httpx.get(f"{portal.url}/catalogue", params={"q": "<script>", "page": "x"})
    assert odd.status_code == 200 and "<script>" not in odd.text


def test_a_datasets_page_shows_its_resources_columns_preview_and_harvest(
    portal: ServedNode,
) -> None:
    page = httpx.get(f"{portal.url}/catalogue/birmingham-care/spending")

    assert page.status_code == 200
    assert "Spending over £500" in page.text and "Birmingham: social care" in page.text
    assert "Last harvested" in page.text and "5 rows." in page.text
    assert "Columns of Payments" in page.text and "The first 5 rows of Payments" in page.text
    assert "O&#39;Brien Ltd" in page.text
    assert "The last harvest failed" not in page.text
    missing = httpx.get(f"{portal.url}/catalogue/birmingham-care/nothing")
    assert missing.status_code == 200 and "Dataset not found" in missing.text


def test_a_failed_harvest_is_shown_beside_the_last_good_version(portal: ServedNode) -> None:
    with portal.runtime.sessions.begin() as session:
        service.record_failure(
            session, "birmingham-care", LIST, "birmingham-care did not answer", datetime.now(UTC)
        )

    page = httpx.get(f"{portal.url}/catalogue/birmingham-care/spending")

    assert "The last harvest failed" in page.text
    assert "birmingham-care did not answer" in page.text and "5 rows." in page.text


def test_downloads_as_csv_json_and_parquet(portal: ServedNode, tmp_path: Path) -> None:
    base = f"{portal.url}/catalogue/birmingham-care/spending/payments"
    as_csv = httpx.get(base + ".csv")
    as_json = httpx.get(base + ".json")
    as_parquet = httpx.get(base + ".parquet")

    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["x-dataset-version"] == "1.0.0"
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["transaction_number"] for r in rows] == ["C1", "C2", "C3", "C4", "C5"]
    assert [r["transaction_number"] for r in as_json.json()] == ["C1", "C2", "C3", "C4", "C5"]
    assert as_json.json()[3]["amount"] == -640.5
    saved = tmp_path / "payments.parquet"
    saved.write_bytes(as_parquet.content)
    assert duckdb.sql(f"SELECT count(*), sum(amount) FROM '{saved}'").fetchall() == [(5, 32159.5)]
    for wrong in ("payments.xml", "other.csv", "..%2F..%2Fnode.db"):
        answer = httpx.get(f"{portal.url}/catalogue/birmingham-care/spending/{wrong}")
        assert answer.status_code == 404
