"""The mail catcher: takes SMTP, keeps each message, and shows them behind the operator token.

Its real app is served by uvicorn on a loopback port in a thread, with its SMTP server on
another; messages are handed to it with aiosmtplib, as a node's worker does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from email.message import EmailMessage, Message
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from digitalstate.mail.catcher import CatchingHandler, create_catcher_app, read_caught
from digitalstate.web.operator_token import issue_operator_token
from support.servers import LoopbackServer, bound_socket, port_of

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Catcher:
    """The catcher served on loopback, its SMTP port and its operator token."""

    def __init__(self, directory: Path) -> None:
        probe = bound_socket()
        self.smtp_port = port_of(probe)
        probe.close()
        self.token = issue_operator_token(directory)
        sock = bound_socket()
        base_url = f"http://127.0.0.1:{port_of(sock)}"
        app = create_catcher_app(
            directory, base_url=base_url, smtp_host="127.0.0.1", smtp_port=self.smtp_port
        )
        self.server = LoopbackServer(app, sock)
        self.url = base_url

    def send(self, subject: str, body: str, to: list[str]) -> None:
        message = EmailMessage()
        message["From"] = "prisons@example.test"
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Message-ID"] = "<email-1-abc@example.test>"
        message.set_content(body)
        asyncio.run(
            aiosmtplib.send(message, hostname="127.0.0.1", port=self.smtp_port, start_tls=False)
        )

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[Catcher]:
    running = Catcher(tmp_path / "catcher")
    with running.server:
        yield running


def test_a_message_handed_over_smtp_is_shown_as_json_and_on_the_page(catcher: Catcher) -> None:
    catcher.send("Your visit", "Visit at <2pm> on 3 March.\nBring ID.\n", ["a@example.test"])
    catcher.send("Second", "Another", ["b@example.test", "c@example.test"])

    with catcher.http() as http:
        listed = http.get("/operator/mail.json", headers=catcher.bearer())
        page = http.get("/operator/mail", headers=catcher.bearer())

    assert listed.status_code == 200
    second, first = listed.json()["messages"]
    assert first["subject"] == "Your visit"
    assert first["mail_from"] == "prisons@example.test"
    assert first["rcpt_to"] == ["a@example.test"]
    assert first["message_id"] == "<email-1-abc@example.test>"
    assert first["body"].replace("\r\n", "\n") == "Visit at <2pm> on 3 March.\nBring ID.\n"
    assert second["rcpt_to"] == ["b@example.test", "c@example.test"]
    assert page.status_code == 200
    assert "Visit at &lt;2pm&gt; on 3 March." in page.text
    assert page.text.index("Second") < page.text.index("Your visit"), "newest first"


def test_the_messages_need_the_operator_token(catcher: Catcher) -> None:
    catcher.send("Private", "Body", ["a@example.test"])
    with catcher.http() as http:
        missing = http.get("/operator/mail.json")
        wrong = http.get("/operator/mail.json", headers={"authorization": "Bearer nope"})
        page = http.get("/operator/mail")

    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["type"].endswith("operator-credential-missing")
    assert "Private" not in missing.text + wrong.text + page.text
    assert page.status_code == 303
    assert page.headers["location"] == "/operator/sign-in?next=/operator/mail"


def test_the_sign_in_form_opens_the_page_in_a_browser(catcher: Catcher) -> None:
    catcher.send("For the browser", "Body", ["a@example.test"])
    with catcher.http() as http:
        form = http.get("/operator/sign-in?next=/operator/mail")
        assert form.status_code == 200 and "digitalstate mail catch" in form.text
        token = CSRF.search(form.text)
        assert token is not None
        data = {"csrf_token": token.group(1), "next": "/operator/mail"}
        refused = http.post("/operator/sign-in", data={**data, "token": "wrong"})
        signed_in = http.post("/operator/sign-in", data={**data, "token": catcher.token})
        page = http.get("/operator/mail")

    assert refused.status_code == 401
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/operator/mail"
    assert page.status_code == 200 and "For the browser" in page.text


def test_the_catcher_keeps_only_the_newest_messages(tmp_path: Path) -> None:
    handler = CatchingHandler(tmp_path / "maildir", keep=3)
    for n in range(5):
        message = Message()
        message["Subject"] = f"Message {n}"
        message.set_payload("Body")
        handler.handle_message(message)

    kept = read_caught(tmp_path / "maildir")

    assert [m.subject for m in kept] == ["Message 4", "Message 3", "Message 2"]
