"""The open data portal's harvest (opendata/): a member served on loopback, the portal calling
it over the signed exchange; versions kept, files checked and validated, Parquet written, and
failures recorded with the last good version kept; the portal's database on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest
from sqlalchemy import text

from digitalstate.exchange.client import ExchangeError
from digitalstate.opendata import service
from digitalstate.opendata.domain import Listed, read_package
from digitalstate.opendata.harvest import Harvester
from digitalstate.opendata.store import Store
from digitalstate.settings import NodeSettings
from digitalstate.spending.domain import Payment
from digitalstate.spending.service import import_payments
from support.federation import hold, nodes_document
from support.nodes import InProcessNode, ServedNode, node_settings, running_node
from support.servers import bound_socket, port_of

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def payment(number: str, amount: str, expense: str = "Rent") -> Payment:
    return Payment(
        number, date(2026, 4, 1), expense, "Estates", "Acme Ltd", "organisation", "01234567",
        Decimal(amount), "Property",
    )  # fmt: skip


@dataclass
class Portal:
    care: ServedNode
    portal: InProcessNode
    harvester: Harvester

    def add(self, *payments: Payment) -> None:
        with self.care.runtime.sessions.begin() as session:
            import_payments(session, list(enumerate(payments, start=2)), NOW)

    def harvest(self) -> set[str]:
        """One harvest; the members that failed."""

        async def run() -> set[str]:
            try:
                return await self.harvester.harvest_all()
            finally:
                await self.portal.runtime.client.close()

        return asyncio.run(run())

    def statuses(self, publisher: str = "birmingham-care") -> dict[str, service.Status]:
        """The harvest status of publisher's list ("") and datasets, by dataset."""
        with self.portal.runtime.sessions.begin() as session:
            return {s.dataset: s for s in service.statuses(session) if s.publisher == publisher}


def care_settings(directory: Path, url: str, port: int) -> NodeSettings:
    return node_settings(
        directory,
        "birmingham-care",
        url,
        name="Birmingham: social care",
        port=port,
        extra={"publishing": {"refresh_seconds": 0}},
    )


@contextmanager
def served_portal(
    directory: Path, portal_url: str, care_url: str, *, portal_first: bool = False
) -> Iterator[Portal]:
    """The portal and a member, birmingham-care, listed in the federation in that order when
    portal_first, else the member first."""
    sock = bound_socket()
    care = care_settings(directory / "care", care_url, port_of(sock))
    settings = node_settings(
        directory / "portal",
        "opendata",
        portal_url,
        name="Open data",
        roles=("opendata",),
        port=8109,
    )
    document = nodes_document(*((settings, care) if portal_first else (care, settings)))
    hold(document, care)
    with (
        ServedNode(care, sock) as served,
        running_node(settings, document, background=False) as node,
    ):
        yield Portal(served, node, node.app.state.opendata_harvester)


@pytest.fixture
def portal(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[Portal]:
    with served_portal(tmp_path, migrated_database_url, more_databases()) as served:
        yield served


def test_a_new_version_is_harvested_checked_and_stored_as_parquet(portal: Portal) -> None:
    portal.add(payment("T1", "1200"), payment("T2", "-640.5"))

    portal.harvest()

    statuses = portal.statuses()
    assert statuses[""].last_harvested_at is not None and not statuses[""].failing
    spending = statuses["spending"]
    assert spending.version == "1.0.0" and not spending.failing
    with portal.portal.runtime.sessions.begin() as session:
        package = service.current_package(session, "birmingham-care", "spending")
    assert package is not None and package["name"] == "birmingham-care-spending"
    parquet = portal.harvester.store.path("birmingham-care", "spending", "1.0.0", "payments")
    rows = duckdb.sql(
        f"SELECT transaction_number, amount, date FROM read_parquet('{parquet}') ORDER BY 1"
    ).fetchall()
    assert rows == [("T1", 1200.0, date(2026, 4, 1)), ("T2", -640.5, date(2026, 4, 1))]


def test_the_portal_keeps_a_members_csv_as_served_and_its_text_as_written(
    portal: Portal,
) -> None:
    """A member's CSV puts a ' before a text that starts like a formula, for spreadsheets only
    (publishing.domain.spreadsheet_safe): the portal's CSV download keeps it, its Parquet (so
    its JSON, the Action API and its pages) holds the text as the member's JSON does. It held
    "'=SUM(A1)" where the member's JSON says "=SUM(A1)"."""
    portal.add(payment("T1", "-640.5", expense="=SUM(A1)"), payment("T2", "1200", expense="'+1"))

    assert portal.harvest() == set()

    store = portal.harvester.store
    parquet = store.path("birmingham-care", "spending", "1.0.0", "payments")
    assert duckdb.sql(
        f"SELECT expense_type, amount FROM read_parquet('{parquet}') ORDER BY 1"
    ).fetchall() == [("'+1", 1200.0), ("=SUM(A1)", -640.5)]
    served = store.path("birmingham-care", "spending", "1.0.0", "payments", "csv").read_text()
    assert ",'=SUM(A1)," in served and ",''+1," in served and ",-640.50," in served
    member = httpx.get(f"{portal.care.url}/datasets/spending/payments.json").json()
    portal_json = store.path("birmingham-care", "spending", "1.0.0", "payments", "json")
    assert sorted(r["expense_type"] for r in json.loads(portal_json.read_text())) == sorted(
        r["expense_type"] for r in member
    )


def test_the_portal_harvests_its_own_datasets_in_process_like_a_members(portal: Portal) -> None:
    with portal.portal.runtime.sessions.begin() as session:
        import_payments(session, [(2, payment("P1", "900"))], NOW)

    assert portal.harvest() == set()

    own = portal.statuses("opendata")
    assert own[""].last_harvested_at is not None and not own[""].failing
    assert own["spending"].version == "1.0.0" and not own["spending"].failing
    parquet = portal.harvester.store.path("opendata", "spending", "1.0.0", "payments")
    assert duckdb.sql(
        f"SELECT transaction_number, amount FROM read_parquet('{parquet}')"
    ).fetchall() == [("P1", Decimal("900"))]
    # It is not served here: nothing of its own went over the exchange.
    assert portal.statuses()[""].last_harvested_at is not None


def test_an_unchanged_version_is_not_fetched_again_and_a_new_one_is_kept_beside_it(
    portal: Portal,
) -> None:
    portal.add(payment("T1", "1200"))
    portal.harvest()
    first = portal.statuses()["spending"].last_harvested_at
    portal.harvest()
    assert portal.statuses()["spending"].version == "1.0.0"
    assert portal.statuses()["spending"].last_harvested_at != first

    portal.add(payment("T3", "900"))
    portal.harvest()

    assert portal.statuses()["spending"].version == "1.1.0"
    with portal.portal.runtime.sessions.begin() as session:
        assert service.known_versions(session, "birmingham-care") == {
            ("spending", "1.0.0"),
            ("spending", "1.1.0"),
        }
    store = portal.harvester.store
    newer = store.path("birmingham-care", "spending", "1.1.0", "payments")
    older = store.path("birmingham-care", "spending", "1.0.0", "payments")
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{newer}')").fetchall() == [(2,)]
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{older}')").fetchall() == [(1,)]


def test_a_package_that_does_not_validate_is_refused_and_the_last_good_version_kept(
    portal: Portal,
) -> None:
    portal.add(payment("T1", "1200"))
    portal.harvest()
    # A publisher's fault: a payment with no expense type, which the schema requires.
    with portal.care.runtime.sessions.begin() as session:
        session.execute(
            text("UPDATE spending_payments SET expense_type = '' WHERE transaction_number = 'T1'")
        )

    assert portal.harvest() == {"birmingham-care"}  # a dataset's failure is the member's

    status = portal.statuses()["spending"]
    assert status.failing and status.version == "1.0.0"
    assert status.last_failure is not None
    assert status.last_failure.startswith("version 1.1.0: the package does not validate")
    assert "constraint-error" in status.last_failure and "expense_type" in status.last_failure
    store = portal.harvester.store
    assert not store.path("birmingham-care", "spending", "1.1.0", "payments").parent.exists()
    assert [p.name for p in (store.root / "birmingham-care" / "spending").iterdir()] == ["1.0.0"]


def test_a_member_that_does_not_answer_is_recorded_and_its_datasets_kept(
    portal: Portal,
) -> None:
    portal.add(payment("T1", "1200"))
    assert portal.harvest() == set()
    portal.care.stop()

    assert portal.harvest() == {"birmingham-care"}

    statuses = portal.statuses()
    assert statuses[""].failing
    assert statuses[""].last_failure is not None and "did not answer" in statuses[""].last_failure
    assert statuses["spending"].version == "1.0.0" and not statuses["spending"].failing


def test_a_member_whose_file_is_larger_than_allowed_is_refused(portal: Portal) -> None:
    portal.add(*(payment(f"T{i}", "1200") for i in range(40)))
    portal.harvester.settings = portal.harvester.settings.model_copy(
        update={"max_file_bytes": 1024}
    )

    assert portal.harvest() == {"birmingham-care"}

    status = portal.statuses()["spending"]
    assert status.failing and status.version is None
    assert status.last_failure is not None
    assert "more than the 1024 read ([opendata] max_file_bytes)" in status.last_failure
    assert json.dumps(status.last_failure)  # plain text, storable and shown as such


def test_the_exchange_client_reads_no_more_than_it_is_allowed(portal: Portal) -> None:
    portal.add(payment("T1", "1200"))
    client = portal.portal.runtime.client
    path = "/exchange/v1/datasets/spending/payments.csv"

    async def call(max_bytes: int | None) -> bytes:
        try:
            return (await client.call("birmingham-care", "GET", path, max_bytes=max_bytes)).body
        finally:
            await client.close()

    whole = asyncio.run(call(None))
    assert asyncio.run(call(len(whole))) == whole
    with pytest.raises(ExchangeError, match=f"answered {len(whole)} bytes, more than the 100"):
        asyncio.run(call(100))


def stored_kpis(directory: Path, body: bytes, missing: list[str]) -> list[tuple[object, ...]]:
    """The rows of a package of one table, kpis (service, started), with these missingValues,
    once the store has written body as Parquet."""
    listed = Listed("performance", "1.0.0", "0" * 64)
    package = {
        "name": "care-performance",
        "version": "1.0.0",
        "resources": [
            {
                "name": "kpis",
                "path": "http://care.example/datasets/performance/kpis.csv",
                "format": "csv",
                "bytes": len(body),
                "hash": f"sha256:{hashlib.sha256(body).hexdigest()}",
                "schema": {
                    "fields": [
                        {"name": "service", "type": "string"},
                        {"name": "started", "type": "integer"},
                    ],
                    "missingValues": missing,
                },
            }
        ],
    }
    files = read_package(package, listed, "care")
    store = Store(directory)

    store.write("care", listed, package, files, {"kpis": body})

    parquet = store.path("care", "performance", "1.0.0", "kpis")
    return duckdb.sql(f"SELECT service, started FROM read_parquet('{parquet}')").fetchall()


def test_a_figure_held_back_by_a_missing_value_marker_is_stored_as_missing(
    tmp_path: Path,
) -> None:
    """A performance dataset marks a count held back by its rule 'c' (its schema's
    missingValues): valid to frictionless, and stored as NULL, not refused by the loader."""
    body = b"service,started\r\nrenew,12\r\nvote,c\r\napply,\r\n"

    rows = stored_kpis(tmp_path, body, ["", "c"])

    assert rows == [("renew", 12), ("vote", None), ("apply", None)]


def test_a_table_whose_schema_has_no_missing_values_is_stored_as_written(
    tmp_path: Path,
) -> None:
    """missingValues [] (Table Schema: no cell is missing, an empty text is a text) is valid
    to frictionless; the loader refused it ("nullstr requires a non-empty list")."""
    body = b"service,started\r\nrenew,12\r\n,3\r\n"

    rows = stored_kpis(tmp_path, body, [])

    assert rows == [("renew", 12), ("", 3)]


def test_an_unforeseen_error_is_the_datasets_failure_not_the_harvests(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of the portal's own (here its store, made to fail) is recorded as the dataset's
    failure and the harvest goes on: it once stopped the whole harvest, every member after
    the first such dataset left out."""
    portal.add(payment("T1", "1200"))

    def broken(*_args: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(portal.harvester.store, "write", broken)
    assert portal.harvest() == {"birmingham-care"}

    statuses = portal.statuses()
    assert not statuses[""].failing and statuses["spending"].failing
    assert statuses["spending"].last_failure == (
        "version 1.0.0: the portal failed on it (RuntimeError; its log says more)"
    )
    monkeypatch.undo()
    assert portal.harvest() == set()
    assert portal.statuses()["spending"].version == "1.0.0"


def test_a_fault_reading_the_portals_own_list_is_its_failure_and_the_harvest_goes_on(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> None:
    """The portal reads its own list in-process, through its features' code (a dataset's rows
    read from its database): a fault there is recorded as the portal's list failing, and the
    members listed after it are harvested all the same. It once escaped the harvest, every
    member after the portal left out and nothing recorded."""
    with served_portal(
        tmp_path, migrated_database_url, more_databases(), portal_first=True
    ) as portal:
        portal.add(payment("T1", "1200"))
        datasets = portal.portal.runtime.datasets

        def broken(_session: object) -> dict[str, list[list[object]]]:
            raise RuntimeError("the spending table could not be read")

        datasets["spending"] = replace(datasets["spending"], read=broken)

        assert portal.harvest() == {"opendata"}

        own = portal.statuses("opendata")[""]
        assert own.failing and own.last_failure == (
            "the portal failed on it (RuntimeError; its log says more)"
        )
        assert portal.statuses()["spending"].version == "1.0.0"
