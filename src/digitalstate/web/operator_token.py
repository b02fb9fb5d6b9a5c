"""The node's operator token, kept as its SHA-256 in the data directory (docs/adr/0011).

Only the standard library: the demo and the CLI use it without loading the web stack.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

OPERATOR_TOKEN_FILE = "operator-token.sha256"  # noqa: S105 - a file name, not a secret


def token_digest(token: str) -> str:
    """The SHA-256 (hex) of an operator token: what the node keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_operator_token(data_dir: Path) -> str:
    """Make a new operator token, keep only its hash (mode 0600) and return it, once."""
    token = secrets.token_urlsafe(32)
    keep_operator_token(data_dir, token)
    return token


def keep_operator_token(data_dir: Path, token: str) -> None:
    """Keep token's hash as the node's operator token; the one before stops working at once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / OPERATOR_TOKEN_FILE
    spare = path.with_suffix(".new")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token_digest(token) + "\n")
    os.replace(spare, path)


def stored_digest(data_dir: Path) -> str | None:
    """The kept hash of the operator token, or None when none was issued."""
    try:
        value = (data_dir / OPERATOR_TOKEN_FILE).read_text().strip()
    except OSError:
        return None
    return value if len(value) == 64 else None
