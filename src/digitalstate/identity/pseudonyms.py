"""Node-specific pseudonyms: the only way any node but the charter knows a person (DESIGN §3).

A pseudonym is a keyed hash of the node's member id and the person's internal id, under a
secret only the charter holds. Two nodes' pseudonyms for one person share nothing, so they
cannot join their records; only the charter can link them, inside a consent or a basis read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from digitalstate import files
from digitalstate.files import SecretFileError

SECRET_FILE = "pseudonym.key"  # noqa: S105 - a file name, not a secret
SECRET_WHAT = "pseudonym secret"  # noqa: S105 - its name in messages
PSEUDONYM_LENGTH = 32


class PseudonymSecretError(SecretFileError):
    """The pseudonym secret file is missing, too open or malformed."""


def pseudonym(secret: bytes, member_id: str, person_id: str) -> str:
    """The pseudonym of person_id at member_id: 32 lower-case base32 characters."""
    digest = hmac.new(secret, f"{member_id}\x00{person_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:PSEUDONYM_LENGTH]


def load_or_create_secret(directory: Path) -> bytes:
    """The charter's pseudonym secret from directory, made (mode 0600) on first use."""
    return files.load_or_create_secret(
        directory / SECRET_FILE, what=SECRET_WHAT, error=PseudonymSecretError
    )


def load_secret(path: Path) -> bytes:
    """Read a pseudonym secret, refusing one others can read."""
    return files.read_secret(path, what=SECRET_WHAT, error=PseudonymSecretError)
