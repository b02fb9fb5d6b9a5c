"""The demo gives every service node a caseworker and a manager, whose printed credentials work."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digitalstate.demo.federation import DEMO_NODES, DemoLayout, prepare
from digitalstate.demo.run import staff_accounts
from digitalstate.federation.service import latest_document
from digitalstate.identity.service import verify_password
from digitalstate.keys import KeyPair
from digitalstate.settings import load_anchor_settings, load_node_settings
from digitalstate.staff.service import list_staff
from digitalstate.storage.engine import make_engine, make_sessions
from support.demo import FEW_JOURNEYS
from support.nodes import running_node

from .staff_support import csrf_of


def staff_of(layout: DemoLayout, member_id: str) -> list[tuple[str, str, str, str]]:
    """(id, email, role, password hash) of every staff account at the demo node member_id."""
    node = next(n for n in DEMO_NODES if n.id == member_id)
    engine = make_engine(load_node_settings(layout.node_config(node)).database_url)
    try:
        with make_sessions(engine).begin() as db:
            return [(a.id, a.email, a.role, a.password_hash) for a in list_staff(db)]
    finally:
        engine.dispose()


def test_every_service_node_has_a_caseworker_and_a_manager_once(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    prepare(layout, datetime.now(UTC), people=0, journeys=FEW_JOURNEYS)
    printed = staff_accounts(layout)
    service_nodes = [n.id for n in DEMO_NODES if "service" in n.roles]

    assert [(a["node"], a["role"]) for a in printed] == [
        (node, role) for node in service_nodes for role in ("caseworker", "manager")
    ]
    for node in service_nodes:
        kept = staff_of(layout, node)
        assert [(email, role) for _, email, role, _ in kept] == [
            (a["email"], a["role"]) for a in printed if a["node"] == node
        ]
        assert all(verify_password(hashed, printed[0]["password"]) for *_, hashed in kept)
    first = staff_of(layout, "prisons")

    # Run again: the same accounts, with the same ids (every demo has the same), none added.
    prepare(layout, datetime.now(UTC), people=0, journeys=FEW_JOURNEYS)
    assert staff_of(layout, "prisons") == first
    other = DemoLayout(tmp_path / "other", 18200)
    prepare(other, datetime.now(UTC), people=0, journeys=FEW_JOURNEYS)
    assert [row[:3] for row in staff_of(other, "prisons")] == [row[:3] for row in first]


def test_the_printed_credentials_sign_in_at_the_node(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    prepare(layout, datetime.now(UTC), people=0, journeys=FEW_JOURNEYS)
    manager = next(a for a in staff_accounts(layout) if a["role"] == "manager")
    node = next(n for n in DEMO_NODES if n.id == manager["node"])
    settings = load_node_settings(layout.node_config(node))
    anchor = load_anchor_settings(layout.anchor_config)
    engine = make_engine(anchor.database_url)
    try:
        with make_sessions(engine).begin() as db:
            document = latest_document(db)
    finally:
        engine.dispose()
    assert document is not None
    assert manager["url"] == f"{settings.node.base_url}/staff/sign-in"

    with running_node(
        settings, document, anchor=KeyPair.load(anchor.key_path), background=False
    ) as running:
        page = running.http.get("/staff/sign-in")
        answer = running.http.post(
            "/staff/sign-in",
            data={
                "csrf_token": csrf_of(page),
                "email": manager["email"],
                "password": manager["password"],
            },
        )
        assert answer.status_code == 303, answer.text
        home = running.http.get("/staff")
        assert "Alex Manager" in home.text and "Manager" in home.text
