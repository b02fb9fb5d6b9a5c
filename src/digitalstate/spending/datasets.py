"""The node's payments as the open dataset `spending` (docs/spending.md, docs/opendata.md):
one resource, `payments`, of the payments at or over the threshold, individuals redacted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from sqlalchemy.orm import Session

from digitalstate.publishing.domain import DatasetSpec, Field, ResourceSpec, Row, Source
from digitalstate.publishing.service import PublishedDataset
from digitalstate.settings import SpendingSection
from digitalstate.spending.domain import REDACTED, Rules
from digitalstate.spending.service import published_payments

DATASET = "spending"
RESOURCE = "payments"


def rules_of(section: SpendingSection) -> Rules:
    """The publication rules of [spending]."""
    return Rules(
        threshold=Decimal(section.threshold),
        contracts_threshold=Decimal(section.contracts_threshold),
    )


def spending_spec(rules: Rules, publisher: str) -> DatasetSpec:
    """The dataset's description under rules."""
    threshold = f"£{rules.threshold:,.0f}"
    contracts = f"£{rules.contracts_threshold:,.0f}"
    return DatasetSpec(
        name=DATASET,
        title=f"Spending over {threshold}",
        description=(
            f"Every payment of {threshold} or more that {publisher} made, as the Local "
            "Government Transparency Code asks: when, for what, by which service area, to whom "
            f"and how much. Payments to individuals are shown as '{REDACTED}', the amount kept."
        ),
        resources=(
            ResourceSpec(
                name=RESOURCE,
                title="Payments",
                description=f"One row per payment of {threshold} or more (credits by their size).",
                fields=(
                    Field(
                        "transaction_number",
                        "string",
                        "Transaction number",
                        required=True,
                        unique=True,
                    ),
                    Field("date", "date", "Date paid", required=True),
                    Field("expense_type", "string", "Expense type", required=True),
                    Field("service_area", "string", "Service area", required=True),
                    Field(
                        "supplier_name",
                        "string",
                        "Supplier",
                        f"'{REDACTED}' for a payment to an individual",
                        required=True,
                    ),
                    Field(
                        "company_number",
                        "string",
                        "Companies House number",
                        "empty when not known or for an individual",
                    ),
                    Field(
                        "amount", "number", "Amount (GBP)", "negative for a credit", required=True
                    ),
                    Field("purchase_category", "string", "Purchase category"),
                    Field(
                        "over_contracts_threshold",
                        "boolean",
                        f"At or over {contracts}",
                        "the payment is at or over the contracts threshold",
                        required=True,
                    ),
                ),
                primary_key=("transaction_number",),
            ),
        ),
        update_frequency="monthly",
        keywords=("spending", "transparency", "payments", "suppliers"),
        themes=("government", "finance"),
        sources=(Source("The institution's finance system, imported monthly"),),
    )


def spending_dataset(section: SpendingSection, publisher: str) -> PublishedDataset:
    """The dataset as the node publishes it: its description and how its rows are read."""
    rules = rules_of(section)

    def read(session: Session) -> Mapping[str, Iterable[Row]]:
        rows = [
            (
                p.transaction_number,
                p.day,
                p.expense_type,
                p.service_area,
                p.supplier_name,
                p.company_number,
                p.amount,
                p.purchase_category,
                p.over_contracts_threshold,
            )
            for p in published_payments(session, rules)
        ]
        return {RESOURCE: rows}

    return PublishedDataset(spending_spec(rules, publisher), read)
