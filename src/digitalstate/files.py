"""Writing files so that a crash leaves the old content or the new, never half of either.

And the secrets a node keeps in files: made whole on first use, readable by their owner only.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write data to path through a synced temporary file in the same folder and a rename."""
    tmp = _synced_copy(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class SecretFileError(ValueError):
    """A secret file cannot be read, is open to others, or is not the size it must be."""


def create_exclusively(path: Path, data: bytes) -> bool:
    """Make path hold data, readable by its owner only, unless path exists; True if made.

    The bytes go to a private (0600) temporary file in the same folder, synced, which is then
    hard-linked to path: the link fails when path exists, so a file is never replaced, and
    nobody (a second process starting at the same moment, or this one after a crash) ever
    finds path empty or half written.
    """
    tmp = _synced_copy(path, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _synced_copy(path: Path, data: bytes) -> Path:
    """A new temporary file (mode 0600) beside path holding data, synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def load_or_create_secret(
    path: Path, *, what: str, error: type[SecretFileError] = SecretFileError, size: int = 32
) -> bytes:
    """The secret kept in path: `size` random bytes, made (mode 0600) on first use.

    what names the secret in messages ("session key"). Raises error when the file cannot be
    read, when its group or others have any access to it, or when it is not `size` bytes.
    """
    if not path.exists():
        create_exclusively(path, secrets.token_bytes(size))
    return read_secret(path, what=what, error=error, size=size)


def read_secret(
    path: Path, *, what: str, error: type[SecretFileError] = SecretFileError, size: int = 32
) -> bytes:
    """The `size` bytes of the secret in path, refusing a file open to others (see above)."""
    try:
        # The mode of the file actually read (fstat on the open descriptor), not of whatever
        # the path named a moment earlier.
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode & 0o777
            data = handle.read()
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc})") from exc
    if mode & 0o077:
        raise error(
            f"{path}: the {what} is open to others (mode {mode:o}); fix with 'chmod 600 {path}'"
        )
    if len(data) != size:
        raise error(f"{path}: a {what} is {size} bytes, found {len(data)}")
    return data
