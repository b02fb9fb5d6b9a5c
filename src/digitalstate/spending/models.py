"""Tables of a node's public spending: every payment imported, under its transaction number.

Amounts are kept in pence as integers (exact on SQLite and PostgreSQL alike). A payment to an
individual keeps the name the file gave, which is never published (spending/domain.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class SpendingPayment(Base):
    """One payment the node made, as imported from a spending file."""

    __tablename__ = "spending_payments"

    transaction_number: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    expense_type: Mapped[str] = mapped_column(String(255))
    service_area: Mapped[str] = mapped_column(String(255))
    supplier_name: Mapped[str] = mapped_column(String(255))
    supplier_type: Mapped[str] = mapped_column(String(16))
    company_number: Mapped[str | None] = mapped_column(String(8))
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    purchase_category: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint(
            "supplier_type IN ('organisation', 'individual')", name="supplier_type_known"
        ),
        Index("ix_spending_payments_day", "day"),
    )
