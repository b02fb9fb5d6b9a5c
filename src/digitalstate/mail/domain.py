"""The rules of a message this node sends: addresses, bounds, its headers, and failures.

Plain computation: no database, no SMTP connection. The standard library's `email` package
builds the message (absolute imports: this package is `digitalstate.mail`, which shadows
nothing).
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

MAX_RECIPIENTS = 10
MAX_SUBJECT_CHARS = 200
MAX_BODY_BYTES = 64 * 1024
MAX_KEY_CHARS = 200
MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit, less the angle brackets
MAX_LOCAL_PART_CHARS = 64
# A reason kept for a failed try: the server's answer, cut to this length.
MAX_REASON_CHARS = 1000

ADDRESS_MESSAGE = "Enter an email address in the correct format, like name@example.com"
LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Any control character (C0, DEL, C1) or a Unicode line or paragraph separator: none of them
# belongs in a one-line header such as the subject.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

EmailField = Literal["to", "subject", "body", "key"]
# Where in an SMTP conversation an answer came: what a refusal there means (is_permanent).
Stage = Literal["connect", "helo", "starttls", "auth", "mail", "rcpt", "data"]


class InvalidEmailError(ValueError):
    """A message that cannot be sent as asked: which part is wrong, and a message to act on."""

    def __init__(self, field: EmailField, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_address(value: str) -> str | None:
    """An email address in its one normal form (the domain in lower case), or None if invalid.

    Only the plain `local@domain` form, in ASCII: no display name, no comments, no quoted local
    part, no address literal. The local part is kept as given (it may be case-sensitive).
    """
    text = value.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or len(text) > MAX_ADDRESS_CHARS or len(local) > MAX_LOCAL_PART_CHARS:
        return None
    if not LOCAL_PART.match(local) or ".." in local or local[0] == "." or local[-1] == ".":
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None
    return f"{local}@{domain.lower()}"


@dataclass(frozen=True)
class Email:
    """A message to send, within bounds: its recipients, one-line subject and plain-text body."""

    recipients: tuple[str, ...]
    subject: str
    body: str


def compose(to: str | Iterable[str], subject: str, body: str) -> Email:
    """The message to send, checked and normalised; InvalidEmailError names what is wrong.

    to is one address or several (at most MAX_RECIPIENTS once repeats are dropped); the subject
    is one line of at most MAX_SUBJECT_CHARS characters; the body is plain text of at most
    MAX_BODY_BYTES bytes in UTF-8, its line endings made "\\n".
    """
    return Email(_recipients(to), _subject(subject), _body(body))


def _recipients(to: str | Iterable[str]) -> tuple[str, ...]:
    given = [to] if isinstance(to, str) else list(to)
    if not given:
        raise InvalidEmailError("to", "Give at least one address to send the message to")
    if len(given) > MAX_RECIPIENTS * 4:  # bound the work before looking at each one
        raise InvalidEmailError("to", f"Send a message to at most {MAX_RECIPIENTS} addresses")
    found: list[str] = []
    for value in given:
        address = parse_address(value) if isinstance(value, str) else None
        if address is None:
            raise InvalidEmailError("to", f"{str(value)[:80]!r}: {ADDRESS_MESSAGE}")
        if address not in found:
            found.append(address)
    if len(found) > MAX_RECIPIENTS:
        raise InvalidEmailError("to", f"Send a message to at most {MAX_RECIPIENTS} addresses")
    return tuple(found)


def _subject(subject: str) -> str:
    text = subject.strip()
    if not text:
        raise InvalidEmailError("subject", "Give the message a subject")
    if CONTROL.search(text):
        raise InvalidEmailError("subject", "A subject is one line, with no control characters")
    if len(text) > MAX_SUBJECT_CHARS:
        raise InvalidEmailError(
            "subject", f"A subject is at most {MAX_SUBJECT_CHARS} characters, not {len(text)}"
        )
    return text


def _body(body: str) -> str:
    if len(body) > MAX_BODY_BYTES:  # a character is at least one byte: no need to encode it
        raise InvalidEmailError("body", f"A body is at most {MAX_BODY_BYTES} bytes in UTF-8")
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InvalidEmailError("body", "Give the message a body")
    if "\x00" in text:
        raise InvalidEmailError("body", "A body holds text, with no NUL characters")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate
        raise InvalidEmailError("body", "A body is text that UTF-8 can hold") from exc
    if size > MAX_BODY_BYTES:
        raise InvalidEmailError(
            "body", f"A body is at most {MAX_BODY_BYTES} bytes in UTF-8, not {size}"
        )
    return text


def check_key(key: str) -> str:
    """A dedupe key as given, if it is 1 to MAX_KEY_CHARS printable characters."""
    if not key or len(key) > MAX_KEY_CHARS or CONTROL.search(key):
        raise InvalidEmailError(
            "key", f"A key is 1 to {MAX_KEY_CHARS} characters, with no control characters"
        )
    return key


def message_id(outbox_id: int, key: str, from_address: str) -> str:
    """The Message-ID of an outbox message: the same at every try, so a resend is recognisable."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<email-{outbox_id}-{digest}@{domain}>"


def build_message(message: Email, *, sender: str, message_id: str, date: datetime) -> EmailMessage:
    """The message as it goes over SMTP: UTF-8 plain text, marked as sent automatically."""
    built = EmailMessage(policy=email.policy.SMTP)
    built["From"] = sender
    built["To"] = ", ".join(message.recipients)
    built["Subject"] = message.subject
    built["Date"] = email.utils.format_datetime(date)
    built["Message-ID"] = message_id
    built["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    built.set_content(message.body)
    return built


# --- what a failure means ------------------------------------------------------------------


def is_permanent(code: int | None, stage: Stage) -> bool:
    """True when an SMTP answer means this message will never be taken as it is.

    A 5xx answer to MAIL FROM, RCPT TO or DATA is about this message (a recipient that does not
    exist, a message refused): trying again sends the same thing. Anything else is transient:
    a connection refused or dropped, a timeout, a 4xx answer (try later), and a 5xx answer to
    EHLO, STARTTLS or AUTH, which says this node's [email] settings are wrong, not the message.
    """
    return code is not None and 500 <= code <= 599 and stage in ("mail", "rcpt", "data")


def describe_refusals(refused: Sequence[tuple[str, int, str]]) -> str:
    """The recipients a server refused, with its answers, in one line (for the outbox)."""
    parts = [f"{address}: {code} {text}".strip() for address, code, text in refused]
    return "; ".join(parts)[:MAX_REASON_CHARS]
