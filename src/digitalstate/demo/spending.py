"""The demo's public spending: a financial year of synthetic payments at every demo node.

The same on every run (random.Random seeded with the node's id): each node pays a handful of
suppliers (fictional companies with Companies House numbers in the right format) for the
things its service areas buy, month by month from April 2025 to March 2026, with a few large
works contracts over £25,000, some small payments under the £500 threshold (kept, not
published), credits, and, at the social care node, direct payments to individuals (published
as "Redacted personal data"). Importing them again adds nothing (spending/service.py).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from digitalstate.spending.domain import Payment
from digitalstate.spending.service import Imported, import_payments

YEAR_START = date(2025, 4, 1)  # the financial year 2025 to 2026
MONTHS = 12
PAYMENTS_PER_MONTH = 60

SUPPLIERS: tuple[tuple[str, str, str], ...] = (
    # name, Companies House number, what they sell (an expense type)
    ("Northgate Office Supplies Ltd", "04512873", "Stationery"),
    ("Harbour Cloud Services Ltd", "09876120", "Software licences"),
    ("Pennine Facilities Management Ltd", "03344556", "Cleaning and facilities"),
    ("Clyde Digital Partners Ltd", "SC412907", "Consultancy"),
    ("Lagan Print and Post Ltd", "NI634512", "Printing and postage"),
    ("Severn Energy Supply plc", "02987654", "Gas and electricity"),
    ("Tyne Legal LLP", "OC389021", "Legal fees"),
    ("Mersey Travel Services Ltd", "07765432", "Travel"),
    ("Brindley Construction Ltd", "05123098", "Building works"),
    ("Dee Valley Translation Ltd", "08877112", "Translation and interpreting"),
    ("Hallam Recruitment Ltd", "06655443", "Agency staff"),
    ("Cairn Security Ltd", "SC298765", "Security"),
)
WORKS = ("Brindley Construction Ltd", "05123098", "Building works")
SERVICE_AREAS: dict[str, tuple[str, ...]] = {
    "birmingham-social-care": ("Adult social care", "Children's services", "Commissioning"),
    "manchester-planning": ("Development management", "Planning policy", "Building control"),
    "liverpool-pensions": ("Pension payments administration", "Customer contact"),
    "swansea-motoring": ("Driver licensing", "Vehicle registration", "Customer contact"),
    "newcastle-tax": ("Tax collection", "Compliance", "Customer contact"),
    "prisons": ("Visits", "Prison estate", "Education and work"),
}
CORPORATE = ("Corporate services", "Digital", "Estates")
CARERS = (
    "Ann Patel", "David Jones", "Fatima Khan", "George Williams", "Helen Brown",
    "Ian Davies", "Joy Okafor", "Karen Taylor",
)  # fmt: skip


def synthetic_payments(node_id: str) -> list[Payment]:
    """A year of the node's payments, the same on every run."""
    rng = random.Random(f"digitalstate demo spending/{node_id}")  # noqa: S311 - not secret
    areas = SERVICE_AREAS.get(node_id, ()) + CORPORATE
    prefix = "".join(part[0] for part in node_id.split("-")).upper()
    payments: list[Payment] = []
    for month in range(MONTHS):
        first = _add_months(YEAR_START, month)
        days = (_add_months(YEAR_START, month + 1) - first).days
        for _ in range(PAYMENTS_PER_MONTH):
            day = first + timedelta(days=rng.randrange(days))
            area = rng.choice(areas)
            name, number, expense = rng.choice(SUPPLIERS)
            amount = Decimal(rng.lognormvariate(7.0, 1.1)).quantize(Decimal("0.01"))
            payments.append(
                _payment(prefix, len(payments), day, expense, area, name, number, amount)
            )
        if month % 3 == 2:  # a works contract each quarter
            amount = Decimal(rng.randrange(25_000_00, 180_000_00)) / 100
            name, number, expense = WORKS
            day = first + timedelta(days=rng.randrange(days))
            payments.append(
                _payment(prefix, len(payments), day, expense, "Estates", name, number, amount)
            )
        if month % 4 == 1:  # a credit note from a supplier
            name, number, expense = rng.choice(SUPPLIERS)
            amount = -Decimal(rng.randrange(500_00, 5_000_00)) / 100
            day = first + timedelta(days=rng.randrange(days))
            payments.append(
                _payment(prefix, len(payments), day, expense, areas[0], name, number, amount)
            )
        if node_id == "birmingham-social-care":
            for carer in CARERS:  # direct payments: published with the name redacted
                amount = Decimal(rng.randrange(400_00, 2_400_00)) / 100
                payments.append(
                    Payment(
                        transaction_number=f"{prefix}-{len(payments) + 1:06d}",
                        day=first + timedelta(days=27),
                        expense_type="Direct payments",
                        service_area="Adult social care",
                        supplier_name=carer,
                        supplier_type="individual",
                        company_number=None,
                        amount=amount,
                        purchase_category="Care and support",
                    )
                )
    return payments


def seed_spending(session: Session, node_id: str, now: datetime) -> Imported:
    """Import the node's year of synthetic payments: what it lacks (none, after the first run)."""
    payments = synthetic_payments(node_id)
    return import_payments(session, list(enumerate(payments, start=2)), now)


def _payment(
    prefix: str,
    index: int,
    day: date,
    expense: str,
    area: str,
    name: str,
    number: str,
    amount: Decimal,
) -> Payment:
    return Payment(
        transaction_number=f"{prefix}-{index + 1:06d}",
        day=day,
        expense_type=expense,
        service_area=area,
        supplier_name=name,
        supplier_type="organisation",
        company_number=number,
        amount=amount,
        purchase_category=expense,
    )


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)
