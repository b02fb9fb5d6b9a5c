"""A member of staff of one service node is nobody at another: the cookie names and keys differ."""

from __future__ import annotations

from pathlib import Path

from support.federation import nodes_document

from .staff_support import (
    CASEWORKER,
    PENSIONS,
    TAX,
    running_staff_node,
    staff_node_settings,
)


def test_a_staff_cookie_of_one_node_opens_nothing_at_another(
    tmp_path: Path, migrated_database_url: str
) -> None:
    pensions = staff_node_settings(tmp_path, migrated_database_url, PENSIONS, port=8105)
    tax = staff_node_settings(tmp_path, f"sqlite:///{tmp_path / 'tax.db'}", TAX, port=8104)
    document = nodes_document(pensions, tax)
    with (
        running_staff_node(pensions, document) as at_pensions,
        running_staff_node(tax, document) as at_tax,
    ):
        at_pensions.add_staff(CASEWORKER)
        at_tax.add_staff(CASEWORKER)  # the same email address, another node's account
        at_pensions.sign_in(CASEWORKER)
        stolen = at_pensions.cookie(at_pensions.staff_cookie_name)
        assert at_pensions.staff_cookie_name != at_tax.staff_cookie_name

        # Sent to the other node under its own name (nodes on one host share cookies by name)
        at_tax.holding_only(at_pensions.staff_cookie_name, stolen, "/staff")
        assert not at_tax.is_signed_in_as_staff()
        # ... or renamed as the other node's staff cookie: sealed under another node's key.
        at_tax.holding_only(at_tax.staff_cookie_name, stolen, "/staff")
        assert not at_tax.is_signed_in_as_staff()
        assert at_pensions.is_signed_in_as_staff()
