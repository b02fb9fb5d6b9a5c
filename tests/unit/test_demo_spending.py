"""The demo's synthetic year of spending (demo/spending.py): the same on every run, every
payment a good one, individuals only at social care, and something over each threshold."""

from __future__ import annotations

from datetime import date

from digitalstate.demo.federation import DEMO_NODES
from digitalstate.demo.spending import synthetic_payments
from digitalstate.spending.domain import REDACTED, Rules, company_number, publish


def test_each_node_has_the_same_year_on_every_run_and_each_its_own() -> None:
    care = synthetic_payments("birmingham-social-care")

    assert care == synthetic_payments("birmingham-social-care")
    assert care != synthetic_payments("manchester-planning")
    assert {p.day for p in care} <= {
        date.fromordinal(d)
        for d in range(date(2025, 4, 1).toordinal(), date(2026, 4, 1).toordinal())
    }
    assert len({p.transaction_number for p in care}) == len(care)


def test_every_node_publishes_payments_and_only_social_care_pays_individuals() -> None:
    for node in DEMO_NODES:
        payments = synthetic_payments(node.id)
        shown = publish(payments, Rules())
        individuals = [p for p in payments if p.supplier_type == "individual"]
        assert 0 < len(shown) < len(payments), node.id  # some under the threshold
        assert any(p.over_contracts_threshold for p in shown), node.id
        assert any(p.amount < 0 for p in payments), node.id  # credits
        assert all(
            p.company_number is None or company_number(p.company_number) == p.company_number
            for p in payments
        )
        assert bool(individuals) == (node.id == "birmingham-social-care")
        redacted = [p for p in shown if p.supplier_name == REDACTED]
        assert len(redacted) == len([p for p in individuals if abs(p.amount) >= 500])
