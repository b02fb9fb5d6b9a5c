"""A real SMTP server on a loopback port, for tests that send email.

aiosmtpd serves SMTP in a thread with the mail catcher's own handler (mail/catcher.py), so every
message it takes is kept in a Maildir and read back with the catcher's reader. A test can take
it down and bring it back on the same port (a mail server outage), and make it refuse at RCPT
TO or DATA with any answer (a 5xx refusal for good, a 4xx "try later"), for every recipient or
some. Later slices that send email (confirmations, bookings, alerts) use it as it is:

    with SmtpServer(tmp_path / "smtp") as smtp:
        settings = node_settings(..., extra={"email": smtp.email_settings()})
        ...
        [message] = smtp.wait_for(1)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from digitalstate.mail.catcher import CatchingHandler, CaughtMessage, read_caught
from support.servers import bound_socket, port_of

Stage = Literal["rcpt", "data"]
FROM_ADDRESS = "node@digitalstate.test"


class RefusingHandler(CatchingHandler):
    """The catcher's handler, which a test can make refuse at RCPT TO or DATA."""

    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self._lock = threading.Lock()
        self._answer: str | None = None
        self._stage: Stage = "rcpt"
        self._only: frozenset[str] = frozenset()

    def refuse(self, answer: str | None, at: Stage = "rcpt", only: Collection[str] = ()) -> None:
        """Answer with `answer` at `at` (for the addresses in only, or all); None: take all."""
        with self._lock:
            self._answer, self._stage, self._only = answer, at, frozenset(only)

    def _refusal(self, stage: Stage, address: str | None = None) -> str | None:
        with self._lock:
            if self._answer is None or stage != self._stage:
                return None
            if self._only and address not in self._only:
                return None
            return self._answer

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Take the recipient, unless told to refuse it."""
        refusal = self._refusal("rcpt", address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message, unless told to refuse it."""
        refusal = self._refusal("data")
        if refusal is not None:
            return refusal
        return await super().handle_DATA(server, session, envelope)


class SmtpServer:
    """An aiosmtpd server on one loopback port: start(), stop() and start() again on it."""

    def __init__(self, directory: Path) -> None:
        sock = bound_socket()
        self.port = port_of(sock)
        sock.close()  # aiosmtpd binds it itself; the port stays this server's for the test
        self.mail_dir = directory / "maildir"
        self.handler = RefusingHandler(self.mail_dir)
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        """True while it takes connections."""
        return self._controller is not None

    def start(self) -> SmtpServer:
        """Take connections on the port (again)."""
        if self._controller is None:
            controller = Controller(
                self.handler,
                hostname="127.0.0.1",
                port=self.port,
                server_hostname="test-smtp",
                ready_timeout=10,
            )
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        """Stop taking connections: a client is refused at once, as when the server is down."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def refuse(self, answer: str | None, at: Stage = "rcpt", only: Collection[str] = ()) -> None:
        """Refuse with answer ("550 5.1.1 No such mailbox") at RCPT TO or DATA; None: stop."""
        self.handler.refuse(answer, at, only)

    def messages(self) -> list[CaughtMessage]:
        """Every message taken so far, oldest first."""
        return list(reversed(read_caught(self.mail_dir, limit=10_000)))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CaughtMessage]:
        """The messages once there are at least count of them; fail after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, the server has {len(found)}")
            time.sleep(0.02)

    def email_settings(self, **overrides: Any) -> dict[str, Any]:
        """[email] settings of a node that sends to this server (no TLS, short retries)."""
        return {
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "from_address": FROM_ADDRESS,
            "starttls": False,
            "timeout_seconds": 5,
            **overrides,
        }
