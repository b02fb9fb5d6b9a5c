"""A node's open data (publishing/): the list, Data Packages that Frictionless validates, the
files, versions that follow what changed, the pages, and the signed exchange routes; on SQLite
and PostgreSQL, the spending dataset as the example."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from frictionless import validate

from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.settings import NodeSettings
from digitalstate.spending.domain import REDACTED, Payment
from digitalstate.spending.service import import_payments
from digitalstate.web.i18n import PSEUDO
from integration.languages_support import assert_marked, offer
from integration.opendata_support import SPENDING_TEXTS
from support.federation import hold, nodes_document
from support.nodes import InProcessNode, ServedNode, node_settings, running_node
from support.pages import shared_texts
from support.servers import bound_socket, port_of

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
# What the open data pages show that is data, not the page's words: the node's name, the
# dataset as published, its licence and source, and (in the pseudo-locale: CLDR's English) dates.
PUBLISHED = [
    "Birmingham: social care",
    "Open Government Licence v3.0",
    "The institution's finance system, imported monthly",
    r"(datasets|datapackage|versions)\.json|/datasets\.json",
    r"T\d",
    r"\d{1,2} [A-Z][a-z]+ \d{4}( at \d\d:\d\d( UTC)?)?",
    *SPENDING_TEXTS,
]


def payment(number: str, amount: str, kind: str = "organisation", day: int = 1) -> Payment:
    company = None if kind == "individual" else "01234567"
    return Payment(
        number, date(2026, 4, day), "Rent", "Estates", "Acme Ltd" if company else "Ann Smith",
        kind, company, Decimal(amount), "Property",
    )  # fmt: skip


@dataclass
class Federation:
    care: InProcessNode
    portal: NodeSettings
    document: FederationDocument

    def add(self, *payments: Payment) -> None:
        with self.care.runtime.sessions.begin() as session:
            import_payments(session, list(enumerate(payments, start=2)), NOW)


@pytest.fixture
def federation(
    tmp_path: Path, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Federation]:
    offer(monkeypatch, "en", "cy", PSEUDO)  # English first: the pages' default
    care = node_settings(
        tmp_path / "care",
        "birmingham-care",
        migrated_database_url,
        name="Birmingham: social care",
        extra={"publishing": {"refresh_seconds": 0}},
    )
    portal = node_settings(
        tmp_path / "portal", "opendata", f"sqlite:///{tmp_path}/portal.db", roles=("opendata",)
    )
    document = nodes_document(care, portal)
    with running_node(care, document, background=False) as node:
        yield Federation(node, portal, document)


def test_a_node_with_no_payments_lists_no_dataset(federation: Federation) -> None:
    http = federation.care.http

    assert http.get("/datasets.json").json()["datasets"] == []
    missing = http.get("/datasets/spending/datapackage.json")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:digitalstate:problem:not-found"
    page = http.get("/datasets")
    assert page.status_code == 200 and "publishes no datasets yet" in page.text


def test_the_spending_dataset_is_listed_packaged_and_downloadable(federation: Federation) -> None:
    federation.add(payment("T1", "1200"), payment("T2", "80"), payment("T3", "900", "individual"))
    http = federation.care.http

    listed = http.get("/datasets.json").json()
    assert listed["publisher"] == {"id": "birmingham-care", "name": "Birmingham: social care"}
    [entry] = listed["datasets"]
    assert entry["name"] == "spending" and entry["version"] == "1.0.0"
    package = http.get("/datasets/spending/datapackage.json").json()
    assert package["name"] == "birmingham-care-spending"
    assert package["licenses"][0]["name"] == "OGL-UK-3.0"
    [resource] = package["resources"]
    assert resource["schema"]["primaryKey"] == ["transaction_number"]
    assert resource["path"] == "http://127.0.0.1:8101/datasets/spending/payments.csv"
    body = http.get("/datasets/spending/payments.csv")
    assert body.headers["content-type"] == "text/csv; charset=utf-8"
    assert resource["hash"] == "sha256:" + hashlib.sha256(body.content).hexdigest()
    rows = list(csv.DictReader(io.StringIO(body.text)))
    assert [r["transaction_number"] for r in rows] == ["T1", "T3"]  # T2 is under £500
    assert rows[1]["supplier_name"] == REDACTED and rows[1]["amount"] == "900.00"
    as_json = http.get("/datasets/spending/payments.json").json()
    assert as_json[0] == {
        "transaction_number": "T1",
        "date": "2026-04-01",
        "expense_type": "Rent",
        "service_area": "Estates",
        "supplier_name": "Acme Ltd",
        "company_number": "01234567",
        "amount": 1200,
        "purchase_category": "Property",
        "over_contracts_threshold": False,
    }
    assert http.get("/datasets/spending/payments.xml").status_code == 404
    assert http.get("/datasets/spending/nothing.csv").status_code == 404


def test_new_rows_make_a_new_minor_version_and_the_history_says_what_changed(
    federation: Federation,
) -> None:
    federation.add(payment("T1", "1200"))
    http = federation.care.http
    assert http.get("/datasets.json").json()["datasets"][0]["version"] == "1.0.0"
    assert http.get("/datasets.json").json()["datasets"][0]["version"] == "1.0.0"  # unchanged

    federation.add(payment("T4", "5000"), payment("T5", "650"))

    assert http.get("/datasets.json").json()["datasets"][0]["version"] == "1.1.0"
    history = http.get("/datasets/spending/versions.json").json()["versions"]
    assert [(v["version"], v["rows"]["payments"]) for v in history] == [
        ("1.1.0", {"before": 1, "after": 3}),
        ("1.0.0", {"before": None, "after": 1}),
    ]
    page = http.get("/datasets/spending")
    assert page.status_code == 200
    assert "payments: 1 rows before, 3 now" in page.text and "1.1.0" in page.text


def test_the_dataset_page_shows_the_schema_and_first_rows(federation: Federation) -> None:
    federation.add(*(payment(f"T{i:02d}", "700", day=i) for i in range(1, 13)))

    page = federation.care.http.get("/datasets/spending")

    assert "Spending over £500" in page.text
    assert "The first 10 rows of Payments" in page.text
    assert page.text.count('<code class="ds-code">') == 9  # one per column
    # A row's reference is a cell's whole text (the page's own times hold "T11" at 11 o'clock).
    cells = re.findall(r">\s*(T\d\d)\s*<", page.text)
    assert "T10" in cells and "T11" not in cells
    unknown = federation.care.http.get("/datasets/nothing")
    assert unknown.status_code == 404 and "publishes no dataset called nothing" in unknown.text


def test_the_open_data_pages_are_wholly_welsh_and_in_the_catalogue(
    federation: Federation,
) -> None:
    federation.add(payment("T1", "1200"), payment("T2", "700", "individual", day=2))
    assert federation.care.http.get("/datasets/spending").status_code == 200  # version 1.0.0
    federation.add(payment("T3", "900", day=3))
    pages: dict[str, list[httpx.Response]] = {}
    for code in ("en", "cy", PSEUDO):
        pages[code] = [
            federation.care.http.get(path, params={"lang": code})
            for path in ("/datasets", "/datasets/spending", "/datasets/nothing")
        ]
    for english, welsh, pseudo in zip(pages["en"], pages["cy"], pages[PSEUDO], strict=True):
        assert '<html lang="cy"' in welsh.text
        assert shared_texts(english.text, welsh.text, PUBLISHED) == set(), welsh.request.url
        assert_marked(pseudo, *PUBLISHED)
    listed, dataset, missing = (p.text for p in pages["cy"])
    assert "Data agored" in listed and "Setiau data" in listed
    assert "Fersiynau'r set ddata hon, y mwyaf newydd yn gyntaf" in dataset
    assert "payments: 2 rhes cyn hynny, 3 nawr" in dataset and "Bob mis" in dataset
    assert "Nid yw'r nod hwn yn cyhoeddi set ddata o'r enw nothing." in missing


def test_the_list_package_and_files_are_served_signed_to_a_member(
    federation: Federation,
) -> None:
    federation.add(payment("T1", "1200"))
    http = federation.care.http
    key = KeyPair.load(federation.portal.key_path)

    def signed(path: str) -> httpx.Response:
        return http.signed("opendata", key, federation.document, "GET", path)

    listed = signed("/exchange/v1/datasets")
    package = signed("/exchange/v1/datasets/spending/datapackage.json")
    data = signed("/exchange/v1/datasets/spending/payments.csv")

    assert listed.status_code == 200 and "signature" in listed.headers
    assert listed.json()["datasets"][0]["name"] == "spending"
    assert package.json()["version"] == "1.0.0"
    assert data.text.startswith("transaction_number,date,")
    unsigned = http.get("/exchange/v1/datasets")
    assert unsigned.status_code == 401


def test_frictionless_validates_the_package_served_over_http(
    tmp_path: Path, migrated_database_url: str
) -> None:
    sock = bound_socket()
    settings = node_settings(
        tmp_path / "care", "birmingham-care", migrated_database_url, port=port_of(sock)
    )
    hold(nodes_document(settings), settings)
    with ServedNode(settings, sock) as served:
        with served.runtime.sessions.begin() as session:
            import_payments(
                session,
                [(2, payment("T1", "1200")), (3, payment("T2", "-640.5", "individual"))],
                NOW,
            )
        report = validate(f"{served.url}/datasets/spending/datapackage.json")

    assert report.valid, json.dumps(report.flatten(["rowNumber", "fieldName", "type", "note"]))
