"""A declared service's routes, tried with another person's reference, draft and forms.

Ada sends an application and starts another; Bea, signed in at the same node, tries Ada's
reference on every route that takes one (read from the app's route table, so a new route is
tried too), and Ada's submission token: each answers 404 or leads to Bea's own things, and
nothing of Ada's changes. Every POST needs the session's CSRF token; slots outside what the
source offers are refused; and forms are bounded in fields and bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from digitalstate.services.definitions import read_definition
from digitalstate.services.journeys import upload_body_limit
from digitalstate.services.models import Application, ServiceDraft
from integration.journey_support import BUS, BUS_PASS, PDF, VIEW, JourneyNode, journey_node
from security.support import PERSON, fill, route_table, routes_of_kind

ADA, BEA = "ada-at-pensions", "bea-at-pensions"
SLUG = "apply-for-a-bus-pass"


@dataclass(frozen=True)
class Adas:
    """What Ada has at the node: an application and a draft of another."""

    reference: str
    token: str  # her draft's submission token


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JourneyNode]:
    directory = tmp_path_factory.mktemp("journeys")
    with journey_node(directory, f"sqlite:///{directory / 'pensions.db'}") as running:
        yield running


@pytest.fixture(scope="module")
def adas(node: JourneyNode) -> Adas:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    reference = node.submit().headers["location"].rsplit("/", 1)[1]
    node.type_answers()
    node.fill_in()
    node.answer("name", {"full-name": "Ada Draftsworth"}, query="?return=check")
    return Adas(reference, node.token())


def untouched(node: JourneyNode, adas: Adas) -> None:
    with node.node.runtime.sessions.begin() as session:
        application = session.scalars(
            select(Application).where(Application.reference == adas.reference)
        ).one()
        assert application.status == "submitted" and application.subject == ADA
        draft = session.scalars(select(ServiceDraft).where(ServiceDraft.subject == ADA)).one()
        assert draft.submission_token == adas.token
        assert json.loads(draft.answers)["full-name"] == "Ada Draftsworth"
        assert session.scalars(select(Application).where(Application.subject == BEA)).all() == []


def test_every_route_with_a_reference_answers_404_for_another_persons(
    node: JourneyNode, adas: Adas
) -> None:
    node.sign_in(BEA)
    routes = [r for r in routes_of_kind(node.node.app, PERSON) if "{reference}" in r[1]]
    assert len(routes) >= 5, routes
    ids = {"slug": SLUG, "reference": adas.reference}
    for method, path in routes:
        url = fill(path, ids)
        form = {"csrf_token": node.csrf(f"{BUS}/name")} if method == "POST" else None
        answer = node.node.http.request(method, url, data=form)
        assert answer.status_code == 404, f"{method} {path}: {answer.status_code}"
        # Nothing of hers: not her answers, nor her application's status or history.
        leaked = [
            w for w in ("Lovelace", "Dale Street", "Submitted", "submitted") if w in answer.text
        ]
        assert not leaked, f"{method} {path} shows {leaked}"
    assert adas.reference not in node.get("/applications").text
    assert node.get("/api/v1/applications").json() == {"applications": []}
    untouched(node, adas)


def test_another_persons_draft_is_never_shown_nor_sent(node: JourneyNode, adas: Adas) -> None:
    node.sign_in(BEA)
    assert node.get(f"{BUS}/check-answers").headers["location"] == f"{BUS}/begin"
    assert "Draftsworth" not in node.get(f"{BUS}/name").text
    # Ada's submission token, sent by Bea, makes nothing and shows nothing.
    form = {"csrf_token": node.csrf(f"{BUS}/name"), "submission_token": adas.token}
    sent = node.post(f"{BUS}/submit", data=form)
    assert sent.status_code == 303 and sent.headers["location"] == f"{BUS}/check-answers"
    untouched(node, adas)


def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(
    node: JourneyNode, adas: Adas
) -> None:
    node.sign_in(ADA)
    posts = [
        (method, path)
        for method, path in route_table(node.node.app)
        if method == "POST" and path.startswith(("/services/", "/applications/"))
    ]
    assert len(posts) == 5, posts  # page answers, consent, leave, submit, withdraw
    ids = {"slug": SLUG, "page_id": "name", "reference": adas.reference}
    for _, path in posts:
        data = {"full-name": "Forged", "choice": "type", "submission_token": adas.token}
        answer = node.post(fill(path, ids), data=data)
        assert answer.status_code == 403, f"POST {path}: {answer.status_code}"
        assert "This form has expired" in answer.text
    untouched(node, adas)


def test_a_slot_the_source_does_not_offer_is_refused(node: JourneyNode) -> None:
    node.sign_in(BEA)
    forged = node.answer("times", {"times": ["2026-12-25T09:00"]}, base=VIEW)
    assert forged.status_code == 400 and "Select times from the list" in forged.text
    with node.node.runtime.sessions.begin() as session:
        drafts = session.scalars(select(ServiceDraft).where(ServiceDraft.subject == BEA)).all()
        assert all("times" not in json.loads(d.answers) for d in drafts)


def test_a_form_is_bounded_in_fields_and_in_bytes(node: JourneyNode, adas: Adas) -> None:
    node.sign_in(ADA)
    token = node.csrf(f"{BUS}/name")
    many = {"csrf_token": token, **{f"f{n}": "x" for n in range(2_000)}}
    answer = node.post(f"{BUS}/name", data=many)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")

    limit = node.settings.web.max_body_bytes
    big = {"csrf_token": token, "full-name": "x" * (limit + 1)}
    assert node.post(f"{BUS}/name", data=big).status_code == 413
    # The upload page takes its files' bytes, past the usual limit, and no more.
    files = {"proof": ("bill.pdf", PDF + b"0" * (limit + 100), "application/pdf")}
    proof = node.post(f"{BUS}/proof", data={"csrf_token": token}, files=files)
    assert proof.status_code == 400 and "must be smaller than" in proof.text
    huge = {"proof": ("bill.pdf", PDF + b"0" * (limit + 30_000), "application/pdf")}
    assert node.post(f"{BUS}/proof", data={"csrf_token": token}, files=huge).status_code == 413
    # A browser is told the upload page's own limit, not the usual form's.
    html = {"accept": "text/html"}
    too_large = node.post(f"{BUS}/proof", data={"csrf_token": token}, files=huge, headers=html)
    assert too_large.status_code == 413
    said = re.search(r"accepts at most (\d+) bytes", too_large.text)
    assert said is not None, too_large.text[:500]
    assert int(said.group(1)) > limit
    untouched(node, adas)


def test_the_upload_limit_of_a_page_is_its_files_and_the_usual_form(tmp_path: Path) -> None:
    path = tmp_path / "bus.toml"
    path.write_text(BUS_PASS)
    page = read_definition(path).page("proof")
    assert page is not None
    assert upload_body_limit(page, cap=10_000, base=65_536) == 75_536
    assert upload_body_limit(page, cap=10**7, base=65_536) == 85_536
