"""Operator pages and /metrics need the operator token, besides coming from loopback.

Finding E3 of the security review (issue 8): they rested on the socket address alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from digitalstate.problems import PROBLEM_BASE
from digitalstate.web.operator_token import OPERATOR_TOKEN_FILE, issue_operator_token
from integration.operator_support import operator_headers
from integration.registers_support import RegisterNode, start_register

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: object) -> Iterator[RegisterNode]:
    yield from start_register(tmp_path / "register", database_url)


def sign_in(node: RegisterNode, token: str, next_path: str = "/operator/log") -> int:
    """Fill in the operator sign-in form; the status of the answer."""
    form = node.http.request("GET", f"/operator/sign-in?next={next_path}")
    found = CSRF.search(form.text)
    assert found, form.text
    data = {"csrf_token": found.group(1), "token": token, "next": next_path}
    answer = node.http.request("POST", "/operator/sign-in", data=data)
    return answer.status_code


def test_an_operator_page_without_the_token_sends_the_browser_to_the_sign_in_form(
    node: RegisterNode,
) -> None:
    answer = node.http.request("GET", "/operator/log")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/operator/sign-in?next=/operator/log"
    form = node.http.request("GET", answer.headers["location"])
    assert form.status_code == 200 and "digitalstate node operator-token" in form.text


def test_metrics_without_the_token_are_refused_with_401(node: RegisterNode) -> None:
    answer = node.http.request("GET", "/metrics")
    assert answer.status_code == 401
    assert answer.json()["type"] == PROBLEM_BASE + "operator-credential-missing"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    wrong = node.http.request("GET", "/metrics", headers={"authorization": "Bearer guessed"})
    assert wrong.status_code == 401


def test_with_the_token_as_a_bearer_the_page_and_metrics_answer(node: RegisterNode) -> None:
    headers = operator_headers(node.settings.data_dir)
    assert node.http.request("GET", "/operator/log", headers=headers).status_code == 200
    metrics = node.http.request("GET", "/metrics", headers=headers)
    assert metrics.status_code == 200 and "digitalstate_" in metrics.text


def test_only_the_hash_of_the_token_is_kept(node: RegisterNode) -> None:
    token = issue_operator_token(node.settings.data_dir)
    kept = (node.settings.data_dir / OPERATOR_TOKEN_FILE).read_text()
    assert token not in kept and len(kept.strip()) == 64
    assert (node.settings.data_dir / OPERATOR_TOKEN_FILE).stat().st_mode & 0o077 == 0


def test_the_sign_in_form_sets_an_operator_cookie_that_opens_the_pages(node: RegisterNode) -> None:
    token = issue_operator_token(node.settings.data_dir)
    assert sign_in(node, "wrong") == 401
    assert node.http.request("GET", "/operator/log").status_code == 303
    assert sign_in(node, token) == 303
    assert node.http.request("GET", "/operator/log").status_code == 200
    assert node.http.request("GET", "/metrics").status_code == 200


def test_the_sign_in_form_is_csrf_protected(node: RegisterNode) -> None:
    token = issue_operator_token(node.settings.data_dir)
    data = {"csrf_token": "forged", "token": token}
    assert node.http.request("POST", "/operator/sign-in", data=data).status_code == 403
    assert node.http.request("GET", "/operator/log").status_code == 303


def test_a_new_token_ends_the_old_token_and_its_sign_ins(node: RegisterNode) -> None:
    old = issue_operator_token(node.settings.data_dir)
    assert sign_in(node, old) == 303
    new = issue_operator_token(node.settings.data_dir)
    assert node.http.request("GET", "/operator/log").status_code == 303
    stale = {"authorization": f"Bearer {old}"}
    assert node.http.request("GET", "/metrics", headers=stale).status_code == 401
    fresh = {"authorization": f"Bearer {new}"}
    assert node.http.request("GET", "/metrics", headers=fresh).status_code == 200


def test_after_sign_in_the_browser_goes_back_only_to_a_path_on_this_node(
    node: RegisterNode,
) -> None:
    token = issue_operator_token(node.settings.data_dir)
    form = node.http.request("GET", "/operator/sign-in")
    found = CSRF.search(form.text)
    assert found
    data = {"csrf_token": found.group(1), "token": token, "next": "//evil.example/"}
    answer = node.http.request("POST", "/operator/sign-in", data=data)
    assert answer.headers["location"] == "/operator/log"
