"""A portal served on loopback that has harvested two members served on loopback (for the
tests of the portal's CKAN API and catalogue pages)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from digitalstate.opendata import service
from digitalstate.spending.domain import Payment
from digitalstate.spending.service import import_payments
from support.federation import hold, nodes_document
from support.nodes import ServedNode, node_settings
from support.servers import bound_socket, port_of

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
# The texts of the spending dataset's pages that are the dataset as published, not the page's
# words (for the tests of the pages' languages): its title, descriptions, columns and values.
SPENDING_TEXTS = (
    "Spending over £500",
    r"Every payment of £500 or more that .*",
    r"One row per payment of £500 or more.*",
    "Payments",
    r"payments(\.(csv|json))?",
    r"transaction_number|date|expense_type|service_area|supplier_name|company_number|amount"
    r"|purchase_category|over_contracts_threshold",
    "string|number|date|boolean",
    r"(Transaction number|Date paid|Expense type|Service area|Supplier|Companies House number"
    r"|Amount \(GBP\)|Purchase category|At or over £25,000)(\. .*)?",
    r"[\d.:-]+",
    r"Rent|Estates|Acme Ltd|Property|Redacted personal data",
    "True|False|true|false",
)


def payment(number: str, amount: str, supplier: str, day: int, area: str = "Estates") -> Payment:
    return Payment(
        number, date(2026, 4, day), "Rent", area, supplier, "organisation", "01234567",
        Decimal(amount), "Property",
    )  # fmt: skip


CARE = [
    payment("C1", "1200", "Acme Ltd", 1),
    payment("C2", "900", "Bolt & Co", 2, "Care homes"),
    payment("C3", "30000", "Acme Ltd", 3, "Care homes"),
    payment("C4", "-640.5", "100% Supplies", 4),
    payment("C5", "700", "O'Brien Ltd", 5),
]
HOUSING = [payment("H1", "5000", "Roofs Ltd", 1)]


@contextmanager
def harvested_portal(
    directory: Path, portal_url: str, more_databases: Callable[[], str]
) -> Iterator[ServedNode]:
    """The portal on portal_url's database, served, once its own harvest at its start holds
    the spending of birmingham-care (CARE) and leeds-housing (HOUSING), both served."""
    members = []
    for member_id, name, payments in (
        ("birmingham-care", "Birmingham: social care", CARE),
        ("leeds-housing", "Leeds: housing", HOUSING),
    ):
        sock = bound_socket()
        settings = node_settings(
            directory / member_id, member_id, more_databases(), name=name, port=port_of(sock)
        )
        members.append((ServedNode(settings, sock), payments))
    sock = bound_socket()
    portal = node_settings(
        directory / "portal",
        "opendata",
        portal_url,
        name="Open data",
        roles=("opendata",),
        port=port_of(sock),
        extra={"opendata": {"retry_seconds": 1}},
    )
    document = nodes_document(*(m.settings for m, _ in members), portal)
    hold(document, portal, *(m.settings for m, _ in members))
    for member, payments in members:
        member.start()
        with member.runtime.sessions.begin() as session:
            import_payments(session, list(enumerate(payments, start=2)), NOW)
    try:
        with ServedNode(portal, sock) as served:
            wait_for_harvest(served, {"birmingham-care", "leeds-housing"})
            yield served
    finally:
        for member, _ in members:
            member.stop()


def wait_for_harvest(portal: ServedNode, publishers: set[str], seconds: float = 90) -> None:
    """Wait until the portal's own harvest holds a dataset of each publisher (a bound, not a
    speed target: on a loaded machine a PostgreSQL portal takes its harvest role late)."""
    deadline = time.monotonic() + seconds
    done: set[str] = set()
    failures: list[str] = []
    while time.monotonic() < deadline:
        with portal.runtime.sessions.begin() as session:
            statuses = service.statuses(session)
        done = {s.publisher for s in statuses if s.version}
        if done >= publishers:
            return
        failures = [f"{s.publisher} {s.dataset!r}: {s.last_failure}" for s in statuses if s.failing]
        time.sleep(0.1)
    raise AssertionError(f"the portal harvested only {done} in {seconds} s; failing: {failures}")
