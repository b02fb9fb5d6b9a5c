"""Ed25519 key pairs for nodes and the trust anchor: make, store, load, sign, verify.

PyNaCl (libsodium) does the cryptography; this module only adds the file format and the
encodings the federation uses (standard padded base64 of the raw 32-byte keys).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from nacl.bindings import crypto_sign, crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

KEY_FILE_HEADER = "digitalstate-ed25519-private-key-v1"


class KeyFileError(ValueError):
    """A key file is missing, unreadable, too open or malformed."""


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as RFC 9421 and the federation document use."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64; raises ValueError on anything else."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not valid base64: {exc}") from exc


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key, kept as its raw 32 bytes."""

    raw: bytes

    @classmethod
    def from_b64(cls, text: str) -> PublicKey:
        """Read a base64 public key, checking its length."""
        return _public_key_from_b64(text)

    @property
    def b64(self) -> str:
        """The key as standard base64."""
        return b64encode(self.raw)

    def verifier(self) -> VerifyKey:
        """A PyNaCl verifier for this key."""
        return VerifyKey(self.raw)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when signature is this key's Ed25519 signature of message."""
        # The binding directly, not VerifyKey(...).verify: this runs on every exchange call in
        # both directions, and building the wrapper objects cost as much as a third of it.
        if len(signature) != 64:
            return False
        try:
            crypto_sign_open(signature + message, self.raw)
        except (BadSignatureError, ValueError):
            return False
        return True


class KeyPair:
    """An Ed25519 signing key and its public half."""

    __slots__ = ("_secret", "_signing", "public")

    def __init__(self, signing: SigningKey) -> None:
        self._signing = signing
        self.public = PublicKey(bytes(signing.verify_key))
        # libsodium's 64-byte secret key (seed followed by public key), for crypto_sign.
        self._secret = bytes(signing) + self.public.raw

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh key pair from the operating system's random source."""
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """A key pair from a 32-byte seed (tests and fixed vectors only)."""
        return cls(SigningKey(seed))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of message."""
        return crypto_sign(message, self._secret)[:64]

    def seed(self) -> bytes:
        """The 32-byte private seed."""
        return bytes(self._signing)

    def save(self, path: Path) -> None:
        """Write the private key to path with mode 0600, refusing to overwrite a key."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"{KEY_FILE_HEADER}\n{b64encode(self.seed())}\n"
        # O_EXCL: never silently replace a node's identity; 0o600 from the first byte.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)

    @classmethod
    def load(cls, path: Path) -> KeyPair:
        """Read a private key file written by save(), checking its mode and format."""
        try:
            # Check the mode of the file actually read (fstat on the open descriptor), not
            # of whatever the path named a moment earlier.
            with path.open("rb") as handle:
                mode = os.fstat(handle.fileno()).st_mode & 0o777
                data = handle.read()
            text = data.decode("ascii")
        except FileNotFoundError as exc:
            raise KeyFileError(
                f"{path}: no such key file; make one with 'digitalstate node init'"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"{path}: cannot read the key file ({exc})") from exc
        if mode & 0o077:
            raise KeyFileError(
                f"{path}: private key is open to others (mode {mode:o}); "
                f"fix with 'chmod 600 {path}'"
            )
        lines = text.split()
        if len(lines) != 2 or lines[0] != KEY_FILE_HEADER:
            raise KeyFileError(f"{path}: not a digitalstate Ed25519 key file")
        try:
            seed = b64decode(lines[1])
        except ValueError as exc:
            raise KeyFileError(f"{path}: {exc}") from exc
        if len(seed) != 32:
            raise KeyFileError(f"{path}: the key seed must be 32 bytes, found {len(seed)}")
        return cls.from_seed(seed)


@functools.lru_cache(maxsize=4096)
def _public_key_from_b64(text: str) -> PublicKey:
    # Cached: the federation document names the same few keys on every exchange call.
    raw = b64decode(text)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}")
    return PublicKey(raw)
