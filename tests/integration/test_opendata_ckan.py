"""The portal's CKAN-compatible Action API (opendata/api.py), driven by the real ckanapi client
against the portal served on loopback, after its own background harvest of two members served
on loopback; the portal's database on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from ckanapi import NotFound, RemoteCKAN, SearchQueryError, ValidationError

from integration.opendata_support import harvested_portal

CARE_PAYMENTS = "birmingham-care.spending.payments"


@pytest.fixture
def ckan(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[RemoteCKAN]:
    with harvested_portal(tmp_path, migrated_database_url, more_databases) as portal:
        yield RemoteCKAN(portal.url)


def test_packages_organisations_and_resources_are_listed_and_shown(ckan: RemoteCKAN) -> None:
    assert ckan.action.package_list() == ["birmingham-care-spending", "leeds-housing-spending"]
    package = ckan.action.package_show(id="birmingham-care-spending")
    assert package["title"] == "Spending over £500" and package["version"] == "1.0.0"
    assert package["organization"]["title"] == "Birmingham: social care"
    assert package["license_id"] == "OGL-UK-3.0" and package["num_resources"] == 1
    [resource] = package["resources"]
    assert resource["id"] == CARE_PAYMENTS and resource["datastore_active"] is True
    # Its url is the portal's own download (as a CKAN portal's datastore resources), not the
    # member's file, which is its source_url.
    assert resource["url"] == f"{ckan.address}/catalogue/birmingham-care/spending/payments.csv"
    download = httpx.get(resource["url"])
    assert download.status_code == 200 and "O'Brien Ltd" in download.text
    assert resource["source_url"].endswith("/spending/payments.csv")
    assert not resource["source_url"].startswith(ckan.address)
    assert ckan.action.resource_show(id=CARE_PAYMENTS)["package_id"] == package["id"]
    assert ckan.action.organization_list() == ["birmingham-care", "leeds-housing"]
    shown = ckan.action.organization_show(id="leeds-housing", include_datasets=True)
    assert shown["title"] == "Leeds: housing" and shown["package_count"] == 1
    assert [p["name"] for p in shown["packages"]] == ["leeds-housing-spending"]
    assert ckan.action.organization_list(all_fields=True)[0]["is_organization"] is True


def test_unknown_ids_are_ckans_not_found(ckan: RemoteCKAN) -> None:
    for action, params in (
        ("package_show", {"id": "nothing"}),
        ("organization_show", {"id": "nobody"}),
        ("resource_show", {"id": "a.b.c"}),
        ("datastore_search", {"resource_id": "a.b.c"}),
    ):
        with pytest.raises(NotFound):
            ckan.call_action(action, params)
    answer = httpx.get(f"{ckan.address}/api/3/action/package_show", params={"id": "nothing"})
    assert answer.status_code == 404
    assert answer.json() == {
        "help": answer.json()["help"],
        "success": False,
        "error": {"__type": "Not Found Error", "message": "Not found: Dataset not found"},
    }
    assert answer.json()["help"].endswith("/api/3/action/help_show?name=package_show")
    unknown = httpx.get(f"{ckan.address}/api/3/action/package_delete")
    assert unknown.status_code == 400 and unknown.json()["success"] is False
    action = f"{ckan.address}/api/3/action/package_show"
    not_json = httpx.post(action, content=b"[1, 2]")
    assert not_json.status_code == 400
    assert not_json.json()["error"]["__type"] == "Bad request"


def test_package_search_queries_filters_sorts_pages_and_counts_facets(ckan: RemoteCKAN) -> None:
    everything = ckan.action.package_search(
        facet_field=None, **{"facet.field": ["organization", "res_format", "license_id", "tags"]}
    )
    assert everything["count"] == 2
    assert everything["facets"]["organization"] == {"birmingham-care": 1, "leeds-housing": 1}
    assert everything["facets"]["res_format"] == {"CSV": 2}
    items = everything["search_facets"]["license_id"]["items"]
    assert items == [{"name": "OGL-UK-3.0", "display_name": "OGL-UK-3.0", "count": 2}]
    leeds = ckan.action.package_search(q="leeds")
    assert [p["name"] for p in leeds["results"]] == ["leeds-housing-spending"]
    care = ckan.action.package_search(fq="organization:birmingham-care tags:spending")
    assert [p["name"] for p in care["results"]] == ["birmingham-care-spending"]
    named = ckan.action.package_search(sort="name desc", rows=1, start=1)
    assert named["count"] == 2
    assert [p["name"] for p in named["results"]] == ["birmingham-care-spending"]
    clamped = ckan.action.package_search(rows=5000)
    assert clamped["rows"] == 1000
    assert clamped["warnings"] == ["rows 5000 is more than the most returned, 1000: 1000 given"]
    with pytest.raises(ValidationError):
        ckan.action.package_search(rows="many")


def test_datastore_search_filters_finds_sorts_and_pages_the_rows(ckan: RemoteCKAN) -> None:
    found = ckan.action.datastore_search(
        resource_id=CARE_PAYMENTS,
        filters={"supplier_name": "Acme Ltd"},
        fields=["transaction_number", "amount", "date"],
        sort="amount desc",
    )
    assert found["total"] == 2
    assert found["records"] == [
        {"transaction_number": "C3", "amount": 30000.0, "date": "2026-04-03"},
        {"transaction_number": "C1", "amount": 1200.0, "date": "2026-04-01"},
    ]
    assert [f["id"] for f in found["fields"]] == ["transaction_number", "amount", "date"]
    several = ckan.action.datastore_search(
        resource_id=CARE_PAYMENTS,
        filters={"service_area": ["Care homes"], "amount": "900"},
        fields="transaction_number",
    )
    assert several["records"] == [{"transaction_number": "C2"}]
    text = ckan.action.datastore_search(
        resource_id=CARE_PAYMENTS, q="bolt", fields=["transaction_number"]
    )
    assert text["records"] == [{"transaction_number": "C2"}]
    by_column = ckan.action.datastore_search(
        resource_id=CARE_PAYMENTS, q={"supplier_name": "acme"}, fields=["transaction_number"]
    )
    assert by_column["total"] == 2
    page = ckan.action.datastore_search(
        resource_id=CARE_PAYMENTS,
        sort="transaction_number asc",
        limit=2,
        offset=2,
        include_total=False,
        fields=["transaction_number"],
    )
    assert page["records"] == [{"transaction_number": "C3"}, {"transaction_number": "C4"}]
    assert "total" not in page and page["limit"] == 2 and page["offset"] == 2
    clamped = ckan.action.datastore_search(resource_id=CARE_PAYMENTS, limit=10**6)
    assert clamped["limit"] == 32000 and clamped["total"] == 5 and len(clamped["records"]) == 5
    assert clamped["warnings"] == [
        "limit 1000000 is more than the most returned, 32000: 32000 given"
    ]


def test_every_record_has_ckans_row_id_which_filters_and_sorts(ckan: RemoteCKAN) -> None:
    search = ckan.action.datastore_search
    every = search(resource_id=CARE_PAYMENTS)
    assert every["fields"][0] == {"id": "_id", "type": "int"}
    assert [list(r)[:2] for r in every["records"]] == [["_id", "transaction_number"]] * 5
    numbered = [(r["_id"], r["transaction_number"]) for r in every["records"]]
    assert numbered == [(1, "C1"), (2, "C2"), (3, "C3"), (4, "C4"), (5, "C5")]
    # A row's id is its own, whatever the query finds around it.
    acme = search(
        resource_id=CARE_PAYMENTS,
        filters={"supplier_name": "Acme Ltd"},
        fields=["transaction_number", "_id"],
    )
    assert acme["records"] == [
        {"transaction_number": "C1", "_id": 1},
        {"transaction_number": "C3", "_id": 3},
    ]
    assert [f["id"] for f in acme["fields"]] == ["transaction_number", "_id"]
    chosen = search(
        resource_id=CARE_PAYMENTS, filters={"_id": [4, "2"]}, sort="_id desc", fields="_id"
    )
    assert chosen["records"] == [{"_id": 4}, {"_id": 2}] and chosen["total"] == 2
    last = search(resource_id=CARE_PAYMENTS, sort="_id desc", limit=1, offset=1)
    assert last["records"][0]["_id"] == 4 and last["sort"] == "_id desc"
    assert search(resource_id=CARE_PAYMENTS, filters={"_id": "1 OR 1=1"})["total"] == 0
    without = search(resource_id=CARE_PAYMENTS, fields=["amount"], limit=1)
    assert without["records"] == [{"amount": 1200.0}]


def test_injection_attempts_are_text_or_refused_never_run(ckan: RemoteCKAN) -> None:
    search = ckan.action.datastore_search
    # Values are bound: as text they match nothing, or match exactly what they say.
    assert (
        search(resource_id=CARE_PAYMENTS, filters={"supplier_name": "x' OR '1'='1"})["total"] == 0
    )
    quoted = search(resource_id=CARE_PAYMENTS, filters={"supplier_name": "O'Brien Ltd"})
    assert [r["transaction_number"] for r in quoted["records"]] == ["C5"]
    assert search(resource_id=CARE_PAYMENTS, q="'; DROP TABLE x; --")["total"] == 0
    percent = search(resource_id=CARE_PAYMENTS, q="100%", fields=["transaction_number"])
    assert percent["records"] == [{"transaction_number": "C4"}]  # % is a character, not a wildcard
    assert search(resource_id=CARE_PAYMENTS, q="_")["total"] == 0
    # Column names are checked against the resource's columns.
    for params in (
        {"fields": ['amount" FROM t; --']},
        {"fields": "amount, (SELECT 1)"},
        {"filters": {"1=1 OR supplier_name": "x"}},
        {"sort": "amount; DROP TABLE x"},
        {"sort": "amount desc, (SELECT 1) asc"},
        {"q": {"amount) OR (1=1": "x"}},
    ):
        with pytest.raises(ValidationError):
            search(resource_id=CARE_PAYMENTS, **params)
    assert ckan.action.package_search(q="' OR 1=1 --")["count"] == 0
    for fq in ("organization:x OR 1=1:", "owner:me", 'tags:"unclosed'):
        with pytest.raises(SearchQueryError):
            ckan.action.package_search(fq=fq)
    with pytest.raises(ValidationError):
        ckan.action.package_search(sort="name; DROP TABLE x")
    assert search(resource_id=CARE_PAYMENTS)["total"] == 5  # all still there
