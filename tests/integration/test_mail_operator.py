"""The operator's email page and the email metrics, on a node app running in-process.

The node's [email] points at a real SMTP server on a loopback port. Where a test needs the
rows to stay as it wrote them, the node runs without background work; where it needs a
message sent, the node's own worker sends it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from digitalstate.mail.models import OutboxEmail
from digitalstate.mail.service import queue_email
from digitalstate.node.roles import worker_id
from integration.mail_support import ALICE, mail_node_settings
from integration.operator_support import operator_headers
from support.federation import nodes_document
from support.nodes import InProcessNode, node_settings, running_node
from support.smtp import SmtpServer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path / "smtp") as server:
        yield server


def start(
    tmp_path: Path, database_url: str, smtp: SmtpServer, *, background: bool
) -> AbstractContextManager[InProcessNode]:
    settings = mail_node_settings(tmp_path / "node", database_url, smtp)
    return running_node(settings, nodes_document(settings), background=background)


@pytest.fixture
def still(
    tmp_path: Path, database_url: str, engine: object, smtp: SmtpServer
) -> Iterator[InProcessNode]:
    """The node with no background work: the outbox stays as the test writes it."""
    with start(tmp_path, database_url, smtp, background=False) as node:
        yield node


@pytest.fixture
def sending(
    tmp_path: Path, database_url: str, engine: object, smtp: SmtpServer
) -> Iterator[InProcessNode]:
    """The node with its email worker running."""
    with start(tmp_path, database_url, smtp, background=True) as node:
        yield node


def add(node: InProcessNode, key: str, subject: str, **state: object) -> int:
    """A message in the outbox, then set to a state (sent_at=..., attempts=..., ...)."""
    with node.runtime.sessions.begin() as session:
        queued = queue_email(session, ALICE, subject, "Body", key=key, now=NOW)
        if state:
            session.execute(update(OutboxEmail).where(OutboxEmail.id == queued.id).values(**state))
        return queued.id


def section(html: str, heading_id: str) -> str:
    """The part of the page from the heading with heading_id to the next h2."""
    start_at = html.index(f'id="{heading_id}"')
    end = html.find("<h2", start_at)
    return html[start_at : end if end != -1 else len(html)]


def test_the_page_lists_failed_retrying_waiting_and_sent_messages(
    still: InProcessNode, smtp: SmtpServer
) -> None:
    add(still, "a", "Refused one", attempts=1, failed_at=NOW, last_error="550 5.1.1 No <such> box")
    add(still, "b", "Retried one", attempts=2, last_error="connection refused")
    add(still, "c", "Waiting one")
    add(still, "d", "Sent one", sent_at=NOW)

    page = still.http.get("/operator/email", headers=operator_headers(still.settings.data_dir))

    assert page.status_code == 200
    html = page.text
    assert "Refused one" in section(html, "failed")
    assert "550 5.1.1 No &lt;such&gt; box" in section(html, "failed")
    assert "Retried one" in section(html, "retrying")
    assert "connection refused" in section(html, "retrying")
    assert "Waiting one" in section(html, "queued")
    assert "Sent one" in section(html, "sent")
    assert ALICE in section(html, "sent")
    assert f"127.0.0.1:{smtp.port}, no TLS" in html
    assert "node@digitalstate.test" in html


def test_the_page_needs_the_operator_token_and_loopback(still: InProcessNode) -> None:
    answer = still.http.get("/operator/email")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/operator/sign-in?next=/operator/email"
    remote = still.http.from_address("203.0.113.9", 50000)
    refused = still.http.run(
        remote.get("/operator/email", headers=operator_headers(still.settings.data_dir))
    )
    still.http.run(remote.aclose())
    assert refused.status_code == 403


def test_a_test_message_from_the_page_reaches_the_mail_server(
    sending: InProcessNode, smtp: SmtpServer
) -> None:
    headers = operator_headers(sending.settings.data_dir)
    page = sending.http.get("/operator/email", headers=headers)
    token = CSRF.search(page.text)
    assert token is not None

    answer = sending.http.post(
        "/operator/email/test",
        data={"csrf_token": token.group(1), "to": "operator@example.test"},
        headers=headers,
    )

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/operator/email?queued=")
    # The app's loop runs only while the test drives it: let the node's worker run meanwhile.
    deadline = time.monotonic() + 10
    while not smtp.messages():
        assert time.monotonic() < deadline, "the node's worker never sent the test message"
        sending.http.run(asyncio.sleep(0.02))
    [caught] = smtp.messages()
    assert caught.subject == "Test message from Prisons"
    assert caught.rcpt_to == ["operator@example.test"]
    assert "sent from its operator page" in caught.body
    while "operator@example.test" not in section(
        sending.http.get("/operator/email", headers=headers).text, "sent"
    ):
        assert time.monotonic() < deadline, "the message never showed as sent"
        sending.http.run(asyncio.sleep(0.02))
    shown = sending.http.get(answer.headers["location"], headers=headers)
    assert "is queued" in shown.text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the email address to send a test message to"),
        ("not an address", "Enter an email address in the correct format, like name@example.com"),
    ],
)
def test_a_test_message_to_a_wrong_address_shows_the_error_and_queues_nothing(
    still: InProcessNode, typed: str, message: str
) -> None:
    headers = operator_headers(still.settings.data_dir)
    token = CSRF.search(still.http.get("/operator/email", headers=headers).text)
    assert token is not None

    answer = still.http.post(
        "/operator/email/test", data={"csrf_token": token.group(1), "to": typed}, headers=headers
    )

    assert answer.status_code == 400
    assert "There is a problem" in answer.text
    assert f'<a href="#to">{message}</a>' in answer.text
    assert answer.text.count(message) == 2  # the summary and the field
    assert "<title>Error: Email" in answer.text
    with still.runtime.sessions() as session:
        assert session.query(OutboxEmail).count() == 0


def test_a_test_message_without_the_csrf_token_is_refused(still: InProcessNode) -> None:
    headers = operator_headers(still.settings.data_dir)
    still.http.get("/operator/email", headers=headers)
    answer = still.http.post(
        "/operator/email/test", data={"to": "operator@example.test"}, headers=headers
    )
    assert answer.status_code == 403


def test_metrics_count_the_messages_waiting_and_those_sent(
    still: InProcessNode,
) -> None:
    add(still, "a", "Waiting")
    add(still, "b", "Retrying", attempts=3)
    add(still, "c", "Sent", sent_at=NOW)

    metrics = still.http.get("/metrics", headers=operator_headers(still.settings.data_dir)).text

    assert f'digitalstate_email_outbox_pending{{worker="{worker_id()}"}} 2.0' in metrics
    assert f'digitalstate_email_sent_total{{worker="{worker_id()}"}} 0.0' in metrics
    assert f'digitalstate_email_failed_total{{worker="{worker_id()}"}} 0.0' in metrics
    assert f'digitalstate_email_send_errors_total{{worker="{worker_id()}"}} 0.0' in metrics


def test_a_node_without_email_settings_has_no_email_page_worker_or_metrics(
    tmp_path: Path, database_url: str, engine: object
) -> None:
    settings = node_settings(tmp_path / "plain", "plain-node", database_url)
    assert settings.email is None
    with running_node(settings, nodes_document(settings), background=False) as node:
        headers = operator_headers(settings.data_dir)
        assert node.http.get("/operator/email", headers=headers).status_code == 404
        assert "digitalstate_email" not in node.http.get("/metrics", headers=headers).text
