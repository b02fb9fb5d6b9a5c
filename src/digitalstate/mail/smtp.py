"""Handing a message to the SMTP server of [email], with aiosmtplib: the one place that does.

aiosmtplib rather than the standard library's smtplib: it runs on the node's event loop, so a
slow server holds no thread, and the worker can send several messages at once and be cancelled
while waiting. Each send is one connection: EHLO, STARTTLS when [email] starttls is on (then
required, with the server's certificate checked), AUTH when a username is set, one message,
QUIT. What went wrong is raised as SendError, which says whether to try again
(mail/domain.py, is_permanent).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from digitalstate.mail.domain import (
    MAX_REASON_CHARS,
    Stage,
    describe_refusals,
    is_permanent,
    parse_address,
)
from digitalstate.settings import NodeSettings, SettingsError

MAX_PASSWORD_BYTES = 4096
# A send takes a few answers of at most timeout_seconds each; all of it is bounded by this many.
TIMEOUTS_PER_SEND = 4


class SendError(Exception):
    """A message the server did not take: why, and whether trying again can help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_REASON_CHARS]
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how this node sends email, read from [email] once at start."""

    host: str
    port: int
    from_address: str
    starttls: bool
    username: str
    password: str
    timeout: float

    @property
    def send_bound(self) -> float:
        """The longest one send may take, connection to QUIT, in seconds."""
        return self.timeout * TIMEOUTS_PER_SEND

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> SmtpConfig:
        """[email] as the sender needs it; SettingsError (one line) when it cannot be used."""
        section = settings.email
        where = settings.config_path or Path("node.toml")
        if section is None:
            raise SettingsError(f"{where}: [email]: not set; add the table to send email")
        address = parse_address(section.from_address)
        if address is None:
            raise SettingsError(
                f"{where}: [email] from_address: {section.from_address!r} is not an email "
                "address; fix: write it as name@example.org in the file or set "
                "DIGITALSTATE_EMAIL__FROM_ADDRESS"
            )
        path = settings.email_password_path
        return cls(
            host=section.smtp_host,
            port=section.smtp_port,
            from_address=address,
            starttls=section.starttls,
            username=section.username,
            password="" if path is None else read_password(path),
            timeout=section.timeout_seconds,
        )


def read_password(path: Path) -> str:
    """The SMTP password in path (one line), refusing a file others can read."""
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode & 0o777
            data = handle.read(MAX_PASSWORD_BYTES + 1)
    except OSError as exc:
        raise SettingsError(
            f"{path}: [email] password_file cannot be read ({exc.strerror}); fix: write the "
            "password there, or correct password_file"
        ) from exc
    if mode & 0o077:
        raise SettingsError(
            f"{path}: [email] password_file is open to others (mode {mode:o}); "
            f"fix: chmod 600 {path}"
        )
    if len(data) > MAX_PASSWORD_BYTES:
        raise SettingsError(
            f"{path}: [email] password_file is longer than {MAX_PASSWORD_BYTES} bytes; "
            "fix: keep only the password in it"
        )
    try:
        password = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: [email] password_file is not UTF-8 text") from exc
    if not password:
        raise SettingsError(f"{path}: [email] password_file is empty; fix: write the password")
    return password


def _refused(stage: Stage, exc: aiosmtplib.SMTPResponseException) -> SendError:
    what = {"mail": "the sender", "data": "the message"}.get(stage, f"at {stage.upper()}")
    return SendError(
        f"the server refused {what}: {exc.code} {exc.message}".strip(),
        permanent=is_permanent(exc.code, stage),
    )


async def send(config: SmtpConfig, message: EmailMessage, recipients: list[str]) -> str:
    """Hand message to the server for recipients; return a note of those it refused, if any.

    Raises SendError when the server took it for none of them, or the conversation failed.
    """
    try:
        async with asyncio.timeout(config.send_bound):
            return await _converse(config, message, recipients)
    except TimeoutError as exc:
        raise SendError(
            f"{config.host}:{config.port} took longer than {config.send_bound:g} s",
            permanent=False,
        ) from exc


async def _converse(config: SmtpConfig, message: EmailMessage, recipients: list[str]) -> str:
    client = aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        timeout=config.timeout,
        start_tls=config.starttls,
        use_tls=False,
    )
    try:
        errors = await _exchange(client, config, message, recipients)
        # Taken: say goodbye, but a server slow to answer QUIT changes nothing.
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
    finally:
        client.close()  # after a failure, or when cancelled: no QUIT, the connection just ends
    if errors:
        refused = [(address, answer.code, answer.message) for address, answer in errors.items()]
        return "taken for some recipients only; refused: " + describe_refusals(refused)
    return ""


async def _exchange(
    client: aiosmtplib.SMTP, config: SmtpConfig, message: EmailMessage, recipients: list[str]
) -> dict[str, aiosmtplib.SMTPResponse]:
    """EHLO, STARTTLS, AUTH and one message: the recipients refused; SendError if none took it."""
    stage: Stage = "connect"
    try:
        await client.connect()
        if config.username:
            stage = "auth"
            await client.login(config.username, config.password)
        errors, _answer = await client.send_message(
            message, sender=config.from_address, recipients=recipients
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = [(r.recipient, r.code, r.message) for r in exc.recipients]
        raise _every_recipient_refused(refused) from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        raise _refused("mail", exc) from exc
    except aiosmtplib.SMTPDataError as exc:
        raise _refused("data", exc) from exc
    except aiosmtplib.SMTPResponseException as exc:
        # At connect: EHLO or STARTTLS refused; at auth: the username or password.
        raise _refused("auth" if stage == "auth" else "helo", exc) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SendError(
            f"{config.host}:{config.port}: {type(exc).__name__}: {exc}", permanent=False
        ) from exc
    return errors


def _every_recipient_refused(refused: list[tuple[str, int, str]]) -> SendError:
    """Every recipient refused: permanent only when every refusal was permanent (5xx)."""
    permanent = all(is_permanent(code, "rcpt") for _address, code, _text in refused)
    return SendError(
        "the server refused every recipient: " + describe_refusals(refused), permanent=permanent
    )
