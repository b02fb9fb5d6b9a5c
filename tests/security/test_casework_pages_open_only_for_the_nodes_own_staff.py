"""The queue, case, assisted digital and story pages open only for the node's own signed-in
staff, and every form of theirs needs the staff session's CSRF token (DESIGN §8, §10).

Every staff route of the node (read from its own route table, as security/support.py
classifies them) is called with real values in its path (an application, its file, an
assisted case, a story): by a person signed in on the node's own pages, by a member of
another node's staff with their cookie, and, for each POST, by the node's own staff without
the CSRF token. Each must give nothing and change nothing. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digitalstate.feedback.models import Story, StoryResponse, StorySubscription
from digitalstate.services.models import Application, ApplicationEvent, ApplicationNote
from integration.casework_support import (
    ADA,
    ASSISTED,
    QUEUE,
    Browser,
    CaseworkNode,
    casework_node,
)
from integration.journey_support import PDF
from integration.staff_support import TAX, running_staff_node, staff_node_settings
from security.support import STAFF, fill, routes_of_kind
from support.federation import nodes_document

BUS_SLUG = "apply-for-a-bus-pass"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[CaseworkNode]:
    with casework_node(tmp_path, migrated_database_url) as running:
        yield running


def staff_routes(node: CaseworkNode) -> list[tuple[str, str]]:
    """Every staff route of the node, its path filled with a real application, file and case."""
    reference = node.apply(ADA, proof=("bill.pdf", PDF, "application/pdf"))
    jo = node.staff("jo@pensions.example.org")
    file_link = re.search(r"/files/([0-9a-f]{32})", jo.get(f"{QUEUE}/{reference}").text)
    started = jo.send(ASSISTED, f"{ASSISTED}/{BUS_SLUG}/start")
    case = started.headers["location"].split("/")[4]
    assert file_link and started.status_code == 303
    teller = node.browser()
    told = teller.send(
        "/stories/tell",
        "/stories/tell",
        {"about": f"service:{BUS_SLUG}", "title": "A story", "body": "It went well."},
    )
    assert told.status_code == 303, told.text
    with node.runtime.sessions.begin() as session:
        story = session.scalar(select(Story.id))
    values = {
        "reference": reference,
        "file_id": file_link.group(1),
        "slug": BUS_SLUG,
        "case": case,
        "page_id": "name",
        "story_id": str(story),
    }
    routes = [
        (method, fill(path, values))
        for method, path in routes_of_kind(node.journeys.node.app, STAFF)
    ]
    assert len(routes) >= 15, routes
    return routes


def state(node: CaseworkNode) -> tuple[int, int, int, list[str], list[str], int, int]:
    """What a refused call must leave as it was: applications, events, notes, statuses; the
    stories' statuses, their responses, staff's subscriptions."""
    with node.runtime.sessions.begin() as session:
        return (
            session.scalar(select(func.count()).select_from(Application)) or 0,
            session.scalar(select(func.count()).select_from(ApplicationEvent)) or 0,
            session.scalar(select(func.count()).select_from(ApplicationNote)) or 0,
            list(session.scalars(select(Application.status).order_by(Application.id))),
            list(session.scalars(select(Story.status).order_by(Story.id))),
            session.scalar(select(func.count()).select_from(StoryResponse)) or 0,
            session.scalar(select(func.count()).select_from(StorySubscription)) or 0,
        )


def signed_in_person(node: CaseworkNode) -> tuple[Browser, str]:
    """A browser signed in as Ada on the node's own pages, and her session's CSRF token."""
    person = node.browser()
    assert person.get("/test/sign-in", params={"sub": ADA}).status_code == 204
    page = person.get(f"/services/{BUS_SLUG}/name").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return person, token.group(1)


FORM = {
    "decision": "approved",
    "note": "A note",
    "full-name": "Eve",
    "submission_token": "x",
    "edit": "no",
    "reason": "A reason",
    "response": "An answer",
    "change": "made",
    "services": BUS_SLUG,
}


def test_a_person_signed_in_on_the_nodes_pages_opens_no_staff_page(node: CaseworkNode) -> None:
    routes = staff_routes(node)
    before = state(node)
    person, token = signed_in_person(node)

    for method, path in routes:
        data = {"csrf_token": token, **FORM} if method == "POST" else None
        answer = person.request(method, path, data=data) if data else person.get(path)
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/staff/sign-in?next="), (method, path)
    assert state(node) == before


def test_a_member_of_another_nodes_staff_opens_nothing_here(
    node: CaseworkNode, tmp_path: Path, more_databases: Callable[[], str]
) -> None:
    routes = staff_routes(node)
    before = state(node)
    tax = staff_node_settings(tmp_path / "tax", more_databases(), TAX, port=8104)
    with running_staff_node(tax, nodes_document(tax)) as at_tax:
        at_tax.add_staff("jo@pensions.example.org")  # the same address, the other node's account
        at_tax.sign_in("jo@pensions.example.org")
        stolen = at_tax.cookie(at_tax.staff_cookie_name)
    here = f"ds-{node.journeys.settings.node.id}.staff"

    for name in (at_tax.staff_cookie_name, here):  # under its own name, or renamed as ours
        browser = node.browser()
        browser.client.cookies.set(name, stolen, path="/staff")
        for method, path in routes:
            answer = browser.request(method, path, data=FORM if method == "POST" else None)
            assert answer.status_code == 303, (name, method, path, answer.status_code)
            assert answer.headers["location"].startswith("/staff/sign-in?next=")
    assert state(node) == before


def test_every_staff_form_needs_the_staff_sessions_csrf_token(node: CaseworkNode) -> None:
    routes = staff_routes(node)
    before = state(node)
    sam = node.staff("sam@pensions.example.org", "manager", "Sam Manager")
    _, peoples = signed_in_person(node)

    posts = [path for method, path in routes if method == "POST"]
    assert len(posts) >= 6, posts
    for path in posts:
        for token in ({}, {"csrf_token": "forged"}, {"csrf_token": peoples}):
            answer = sam.post(path, data={**FORM, **token})
            assert answer.status_code == 403, (path, token, answer.status_code)
            assert "This form has expired" in answer.text
    assert state(node) == before
