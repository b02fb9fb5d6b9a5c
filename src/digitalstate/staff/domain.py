"""The rules of staff accounts: roles and what each may do, and what makes a password weak.

Plain values and functions: no web framework, database or HTTP client (the domain contract).
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

from digitalstate.web.i18n import N_

Role = Literal["caseworker", "manager"]
ROLES: tuple[Role, ...] = get_args(Role)
"""Every role, from the least to the most a member of staff may do."""
ROLE_LABELS: dict[str, str] = {"caseworker": N_("Caseworker"), "manager": N_("Manager")}
MAX_EMAIL = 320
MAX_NAME = 200
MAX_PASSWORD = 1024  # argon2 hashes any length; a bound keeps the input bounded
REQUESTER_PREFIX = "staff:"
UNKNOWN_REQUESTER = "staff:unknown"
"""The requester of a failed sign-in whose email names no account."""
# Passwords long enough to pass the length rule that are still among the first tried.
COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "qwertyuiopasdfgh",
        "qwertyuiop123",
        "iloveyou1234",
        "letmeinletmein",
        "administrator",
        "administrator1",
        "changemechangeme",
        "welcome12345",
        "correcthorsebatterystaple",
        "correct horse battery staple",
    }
)
MIN_DISTINCT_CHARACTERS = 5


@dataclass(frozen=True)
class StaffMember:
    """A member of the node's staff whose account is not disabled."""

    id: str
    email: str
    display_name: str
    role: str

    @property
    def role_label(self) -> str:
        """The role as people read it."""
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def requester(self) -> str:
        """Who they are in a log entry: staff:<account id>."""
        return staff_requester(self.id)


def staff_requester(account_id: str) -> str:
    """The requester of a log entry made by the account account_id."""
    return REQUESTER_PREFIX + account_id


def may_act_as(held: str, needed: str | None) -> bool:
    """True when a member of staff with the role held may do what needed asks (None: any role).

    A manager may do everything a caseworker may.
    """
    if needed is None:
        return held in ROLES
    if held not in ROLES or needed not in ROLES:
        return False
    return ROLES.index(held) >= ROLES.index(needed)


def role_problem(role: str) -> str | None:
    """Why role is no role, or None."""
    if role in ROLES:
        return None
    return f"{role!r} is not a role; use one of {', '.join(ROLES)}"


def email_problem(email: str) -> str | None:
    """Why email (normalised) cannot be a staff account's address, or None."""
    if not email:
        return "the email address is empty"
    if len(email) > MAX_EMAIL:
        return f"the email address is longer than {MAX_EMAIL} characters"
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain:
        return f"{email!r} is not an email address (name@example.org)"
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in email):
        return f"{email!r} holds spaces or control characters"
    return None


def name_problem(name: str) -> str | None:
    """Why name cannot be a member of staff's display name, or None."""
    if not name.strip():
        return "the name is empty"
    if len(name) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    if any(unicodedata.category(c).startswith("C") for c in name):
        return "the name holds control characters"
    return None


def password_problem(password: str, *, min_length: int, email: str, name: str) -> str | None:
    """Why password is too weak for a staff account, or None.

    Long enough (min_length characters: three or four random words are), not absurdly long,
    not a few characters repeated, not a well-known password or a run of the keyboard or the
    alphabet, and not the account's own email address or name.
    """
    if len(password) < min_length:
        return f"the password has {len(password)} characters; use at least {min_length}"
    if len(password) > MAX_PASSWORD:
        return f"the password is longer than {MAX_PASSWORD} characters"
    lowered = password.casefold()
    if len(set(lowered)) < MIN_DISTINCT_CHARACTERS:
        return "the password repeats too few different characters"
    if lowered in COMMON_PASSWORDS or _is_run(lowered):
        return "the password is one of the first that guessers try"
    local = email.casefold().partition("@")[0]
    if email.casefold() in lowered or (len(local) >= 4 and local in lowered):
        return "the password holds the account's email address"
    if any(len(part) >= 4 and part in lowered for part in name.casefold().split()):
        return "the password holds the account's name"
    return None


def _is_run(text: str) -> bool:
    """True for text that steps up or down by one character throughout (abcd..., 4321...)."""
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return steps <= {1} or steps <= {-1}
