"""A mail catcher: an SMTP server that keeps what it is handed and sends nothing on.

For development and the demo (`digitalstate mail catch`, started by `digitalstate demo`): point
a node's [email] at it and every message the node sends lands here instead of in someone's
inbox. It keeps each message in a Maildir (so any mail reader can open them too), the newest
KEEP of them, and shows them on an operator page, /operator/mail (and as JSON at
/operator/mail.json), behind an operator token as a node's operator pages are: loopback only,
the token as 'Authorization: Bearer' or the cookie its /operator/sign-in form sets.

It listens for SMTP without TLS or sign-in, on loopback by default, and takes messages of at
most MAX_MESSAGE_BYTES: it is not a mail server to expose.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import mailbox
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate import __version__
from digitalstate.routing import Router, install_routes
from digitalstate.settings import EdgeSection
from digitalstate.storage.threads import run_blocking
from digitalstate.web.compression import install_compression
from digitalstate.web.hardening import install_hardening
from digitalstate.web.health import make_health_router
from digitalstate.web.i18n import N_
from digitalstate.web.operator import (
    OperatorGate,
    install_operator_refusal,
    metrics_refusal,
    operator_only,
)
from digitalstate.web.operator_pages import make_operator_sign_in_router
from digitalstate.web.problem_handlers import install_problem_handlers
from digitalstate.web.session import NodeSessionMiddleware, load_or_create_session_key
from digitalstate.web.templating import make_templates, mount_static
from digitalstate.web.timing import install_server_timing

CATCHER_ID = "mail-catcher"
CATCHER_NAME = "Mail catcher"
MAIL_PAGE = "/operator/mail"
MAIL_JSON = "/operator/mail.json"
MAILDIR = "maildir"
KEEP = 1000  # the newest messages kept; older ones are deleted as new ones come
SHOWN = 200  # the newest messages shown or answered
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_SHOWN_BODY_CHARS = 64 * 1024
SMTP_TIMEOUT_SECONDS = 30
SESSION_SECONDS = 8 * 3600
SIGN_IN_HINT = N_(
    "It is the token 'digitalstate mail catch' printed when it first started, or the demo's "
    "operator token when 'digitalstate demo' started the catcher."
)
# Python's mailbox.Maildir names a message "<seconds>.M<microseconds>P<pid>Q<count>.<host>".
MAILDIR_KEY = re.compile(r"^(\d+)\.M(\d+)P\d+Q(\d+)")


@dataclass(frozen=True)
class CaughtMessage:
    """A message the catcher was handed, as its page and JSON show it."""

    key: str
    received_at: datetime
    mail_from: str
    rcpt_to: list[str]
    sender: str
    to: str
    subject: str
    message_id: str
    date: str
    body: str

    def as_json(self) -> dict[str, Any]:
        """The message as /operator/mail.json answers it."""
        return {
            "key": self.key,
            "received_at": self.received_at.isoformat(),
            "mail_from": self.mail_from,
            "rcpt_to": self.rcpt_to,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "message_id": self.message_id,
            "date": self.date,
            "body": self.body,
        }


class CatchingHandler(Mailbox):
    """aiosmtpd's Maildir handler, keeping only the newest KEEP messages."""

    def __init__(self, mail_dir: Path, keep: int = KEEP) -> None:
        for part in ("tmp", "new", "cur"):  # Maildir makes them only for a folder it makes
            (mail_dir / part).mkdir(parents=True, exist_ok=True)
        super().__init__(mail_dir)
        self.keep = keep

    def handle_message(self, message: Message) -> None:
        """Keep message (with the envelope as X-MailFrom and X-RcptTo), then trim the oldest."""
        self.mailbox.add(message)
        keys = _newest_first(self.mailbox.keys())
        for key in keys[self.keep :]:
            with contextlib.suppress(KeyError):
                self.mailbox.remove(key)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        """Keep the message; answer 250 so the sender counts it as sent."""
        await super().handle_DATA(server, session, envelope)
        return "250 OK: caught, and kept by the mail catcher"


def _order(key: str) -> tuple[int, int, int, str]:
    match = MAILDIR_KEY.match(key)
    if match is None:
        return (0, 0, 0, key)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)), key)


def _newest_first(keys: list[str]) -> list[str]:
    return sorted(keys, key=_order, reverse=True)


def read_caught(mail_dir: Path, limit: int = SHOWN) -> list[CaughtMessage]:
    """The newest messages kept in mail_dir, newest first, at most limit."""
    if not mail_dir.exists():
        return []
    box = mailbox.Maildir(mail_dir, create=False)
    found: list[CaughtMessage] = []
    for key in _newest_first(box.keys())[:limit]:
        try:
            raw = box.get_bytes(key)
        except (KeyError, OSError):
            continue  # trimmed meanwhile
        found.append(_caught(key, raw))
    return found


def _caught(key: str, raw: bytes) -> CaughtMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    seconds, micros, _count, _ = _order(key)
    return CaughtMessage(
        key=key,
        received_at=datetime.fromtimestamp(seconds + micros / 1e6, UTC),
        mail_from=str(parsed.get("X-MailFrom", "")),
        rcpt_to=[a for a in str(parsed.get("X-RcptTo", "")).split(", ") if a],
        sender=str(parsed.get("From", "")),
        to=str(parsed.get("To", "")),
        subject=str(parsed.get("Subject", "")),
        message_id=str(parsed.get("Message-ID", "")),
        date=str(parsed.get("Date", "")),
        body=_text_of(parsed)[:MAX_SHOWN_BODY_CHARS],
    )


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        return "(the body cannot be decoded)"
    return content if isinstance(content, str) else ""


async def start_smtp(handler: CatchingHandler, host: str, port: int) -> asyncio.Server:
    """The catcher's SMTP server, listening on host:port on the running loop."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            handler,
            hostname=CATCHER_ID,
            data_size_limit=MAX_MESSAGE_BYTES,
            timeout=SMTP_TIMEOUT_SECONDS,
            loop=loop,
        ),
        host=host,
        port=port,
    )


def catcher_gate(data_dir: Path) -> OperatorGate:
    """Who may see the caught messages: the holder of the token whose hash is in data_dir."""
    return OperatorGate(
        data_dir=data_dir,
        member_id=CATCHER_ID,
        name=CATCHER_NAME,
        remote=False,
        session_seconds=SESSION_SECONDS,
        secure=False,
        sign_in_hint=SIGN_IN_HINT,
    )


def create_catcher_app(
    data_dir: Path, *, base_url: str, smtp_host: str, smtp_port: int | None
) -> FastAPI:
    """The catcher's web app; with smtp_port, its lifespan also runs the SMTP server."""
    mail_dir = data_dir / MAILDIR
    handler = CatchingHandler(mail_dir)
    gate = catcher_gate(data_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if smtp_port is None:
            yield
            return
        server = await start_smtp(handler, smtp_host, smtp_port)
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    app = FastAPI(
        title="digitalstate mail catcher",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_problem_handlers(app)
    mount_static(app)
    templates = make_templates()
    install_operator_refusal(app, templates)
    install_routes(app, make_health_router(lambda: {}))
    install_routes(app, make_operator_sign_in_router(gate, templates, default_next=MAIL_PAGE))
    install_routes(app, _make_mail_router(gate, templates, mail_dir, smtp_host, smtp_port))
    app.add_middleware(
        NodeSessionMiddleware,  # type: ignore[arg-type]
        sealing_key=load_or_create_session_key(data_dir),
        session_cookie=f"ds-{CATCHER_ID}",
        max_age=SESSION_SECONDS,
        same_site="lax",
        https_only=False,
    )
    install_compression(app)
    install_hardening(app, base_url=base_url, edge=EdgeSection(), templates=templates)
    install_server_timing(app)
    return app


def _make_mail_router(
    gate: OperatorGate,
    templates: Jinja2Templates,
    mail_dir: Path,
    smtp_host: str,
    smtp_port: int | None,
) -> APIRouter:
    router = Router(include_in_schema=False)

    @router.get("/")
    async def home() -> Response:
        """The caught messages are the catcher's one page."""
        return RedirectResponse(MAIL_PAGE, status_code=303)

    @router.get(MAIL_PAGE, response_class=HTMLResponse, dependencies=[Depends(operator_only(gate))])
    async def mail_page(request: Request) -> Response:
        """The newest caught messages, newest first."""
        messages = await run_blocking(read_caught, mail_dir)
        return templates.TemplateResponse(
            request,
            "mail/caught.html",
            {
                "messages": messages,
                "shown": SHOWN,
                "smtp": f"{smtp_host}:{smtp_port}" if smtp_port is not None else None,
                "mail_dir": str(mail_dir),
            },
        )

    @router.get(MAIL_JSON)
    async def mail_json(request: Request) -> Response:
        """The newest caught messages as JSON, newest first (for tests and scripts)."""
        refusal = metrics_refusal(request, gate)
        if refusal is not None:
            return refusal
        messages = await run_blocking(read_caught, mail_dir)
        return JSONResponse({"messages": [m.as_json() for m in messages]})

    return router
