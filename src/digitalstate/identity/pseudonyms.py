"""Node-specific pseudonyms: the only way any node but the charter knows a person (DESIGN §3).

A pseudonym is a keyed hash of the node's member id and the person's internal id, under a
secret only the charter holds. Two nodes' pseudonyms for one person share nothing, so they
cannot join their records; only the charter can link them, inside a consent or a basis read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_FILE = "pseudonym.key"  # noqa: S105 - a file name, not a secret
PSEUDONYM_LENGTH = 32


class PseudonymSecretError(ValueError):
    """The pseudonym secret file is missing, too open or malformed."""


def pseudonym(secret: bytes, member_id: str, person_id: str) -> str:
    """The pseudonym of person_id at member_id: 32 lower-case base32 characters."""
    digest = hmac.new(secret, f"{member_id}\x00{person_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:PSEUDONYM_LENGTH]


def load_or_create_secret(directory: Path) -> bytes:
    """The charter's pseudonym secret from directory, made (mode 0600) on first use."""
    path = directory / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_secret(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    return load_secret(path)


def load_secret(path: Path) -> bytes:
    """Read a pseudonym secret, refusing one others can read."""
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as exc:
        raise PseudonymSecretError(f"{path}: cannot read the pseudonym secret ({exc})") from exc
    if mode & 0o077:
        raise PseudonymSecretError(
            f"{path}: the pseudonym secret is readable by others (mode {mode:o}); "
            f"fix with 'chmod 600 {path}'"
        )
    if len(data) != 32:
        raise PseudonymSecretError(f"{path}: a pseudonym secret is 32 bytes, found {len(data)}")
    return data
