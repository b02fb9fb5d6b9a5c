"""Public spending use cases: import a spending file's payments whole, read what is published.

Every function takes the caller's session and never commits: an import is one transaction, so a
file with one conflicting row leaves the node's payments as they were.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from digitalstate.spending.domain import (
    Payment,
    PublishedPayment,
    RowError,
    Rules,
    changed_fields,
    published,
)
from digitalstate.spending.models import SpendingPayment

CHUNK = 500  # transaction numbers per look-up (well under every driver's parameter limit)


class SpendingImportError(ValueError):
    """Rows that cannot be imported as they are (a transaction number kept with other values)."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class Imported:
    """What an import did: payments added, and payments already kept exactly as read."""

    added: int
    unchanged: int


def import_payments(
    session: Session, payments: Sequence[tuple[int, Payment]], now: datetime
) -> Imported:
    """Add each (row number, payment) not kept yet; one kept under its transaction number with
    the same values is left alone (importing a file again adds nothing twice), and one kept with
    other values makes the whole import a SpendingImportError naming every such row."""
    numbers = [payment.transaction_number for _, payment in payments]
    kept = {payment.transaction_number: payment for payment in _kept(session, numbers)}
    errors: list[RowError] = []
    new: list[Payment] = []
    for row, payment in payments:
        before = kept.get(payment.transaction_number)
        if before is None:
            new.append(payment)
            continue
        changed = changed_fields(before, payment)
        if changed:
            errors.append(
                RowError(
                    row,
                    changed[0],
                    f"transaction {payment.transaction_number!r} was imported before with "
                    f"another {', '.join(changed)}; a payment once published is corrected by a "
                    "new transaction (a credit), not changed",
                )
            )
    if errors:
        raise SpendingImportError(errors)
    if new:
        session.execute(insert(SpendingPayment), [_row(payment, now) for payment in new])
    return Imported(added=len(new), unchanged=len(payments) - len(new))


def published_payments(
    session: Session, rules: Rules, *, start: date | None = None, end: date | None = None
) -> Iterator[PublishedPayment]:
    """The payments published under rules, by date then transaction number, from start to end
    (both included) when given."""
    query = select(SpendingPayment).order_by(
        SpendingPayment.day, SpendingPayment.transaction_number
    )
    if start is not None:
        query = query.where(SpendingPayment.day >= start)
    if end is not None:
        query = query.where(SpendingPayment.day <= end)
    for row in session.scalars(query.execution_options(yield_per=2_000)):
        shown = published(_payment(row), rules)
        if shown is not None:
            yield shown


def payments_count(session: Session) -> int:
    """How many payments the node keeps."""
    return session.scalar(select(func.count()).select_from(SpendingPayment)) or 0


def _kept(session: Session, numbers: Sequence[str]) -> Iterator[Payment]:
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        rows = session.scalars(
            select(SpendingPayment).where(SpendingPayment.transaction_number.in_(chunk))
        )
        yield from (_payment(row) for row in rows)


def _row(payment: Payment, now: datetime) -> dict[str, object]:
    return {
        "transaction_number": payment.transaction_number,
        "day": payment.day,
        "expense_type": payment.expense_type,
        "service_area": payment.service_area,
        "supplier_name": payment.supplier_name,
        "supplier_type": payment.supplier_type,
        "company_number": payment.company_number,
        "amount_pence": int(payment.amount * 100),
        "purchase_category": payment.purchase_category,
        "imported_at": now,
    }


def _payment(row: SpendingPayment) -> Payment:
    return Payment(
        transaction_number=row.transaction_number,
        day=row.day,
        expense_type=row.expense_type,
        service_area=row.service_area,
        supplier_name=row.supplier_name,
        supplier_type=row.supplier_type,
        company_number=row.company_number,
        amount=(Decimal(row.amount_pence) / 100).quantize(Decimal("0.01")),
        purchase_category=row.purchase_category,
    )
