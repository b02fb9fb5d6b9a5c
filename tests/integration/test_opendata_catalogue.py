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
from digitalstate.web.i18n import PSEUDO
from integration.languages_support import assert_marked, offer
from integration.opendata_support import SPENDING_TEXTS, harvested_portal
from support.nodes import ServedNode
from support.pages import shared_texts

# What the catalogue pages show that is data, not the portal's words: what the members publish
# (names, themes, tags, licence ids) and the spending dataset as published.
DATA = [
    "Open data",
    r"(Birmingham: social care|Leeds: housing)( ·)?",
    r"(· )?Open Government Licence v3\.0",
    "OGL-UK-3.0",
    r"http://127\.0\.0\.1:\d+/datasets/spending",
    r"payments\.parquet",
    "CSV",
    r"(government|finance|spending|transparency|payments|suppliers)(, [a-z]+)*",
    r"C\d|Care homes|Bolt & Co|100% Supplies|O'Brien Ltd",
    *SPENDING_TEXTS,
]


@pytest.fixture
def portal(
    tmp_path: Path,
    migrated_database_url: str,
    more_databases: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ServedNode]:
    offer(monkeypatch, "en", "cy", PSEUDO)  # English first: the pages' default
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


def test_the_catalogue_pages_are_wholly_welsh_and_in_the_catalogue(portal: ServedNode) -> None:
    with portal.runtime.sessions.begin() as session:
        service.record_failure(
            session, "birmingham-care", LIST, "birmingham-care did not answer", datetime.now(UTC)
        )
    pages: dict[str, list[httpx.Response]] = {}
    for code in ("en", "cy", PSEUDO):
        pages[code] = [
            httpx.get(f"{portal.url}{path}", params={**params, "lang": code})
            for path, params in (
                ("/catalogue", {"publisher": "leeds-housing"}),
                ("/catalogue", {"q": "nothing like it"}),
                ("/catalogue/birmingham-care/spending", {}),
                ("/catalogue/birmingham-care/nothing", {}),
            )
        ]
    for english, welsh, pseudo in zip(pages["en"], pages["cy"], pages[PSEUDO], strict=True):
        assert welsh.status_code == 200 and '<html lang="cy"' in welsh.text
        assert shared_texts(english.text, welsh.text, DATA) == set(), welsh.request.url
        assert_marked(pseudo, *DATA)
    narrowed, nothing, dataset, missing = (p.text for p in pages["cy"])
    assert "Catalog data agored" in narrowed and "1 set ddata" in narrowed
    assert "Tynnu leeds-housing" in narrowed and "Cyfyngu ar y canlyniadau" in narrowed
    assert "Nid oes set ddata yn cyfateb i'ch chwiliad." in nothing
    assert "Cynaeafwyd ddiwethaf" in dataset and "5 rhes." in dataset
    assert "Colofnau Payments" in dataset and "Y 5 rhes gyntaf o Payments" in dataset
    assert "Methodd y cynaeafu diwethaf ar" in dataset
    # The harvest's reason is in its own words, marked as English for a screen reader.
    assert '<span lang="en">birmingham-care did not answer</span>' in dataset
    assert "Heb ddod o hyd i'r set ddata" in missing
