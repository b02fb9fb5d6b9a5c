"""Checkpoints as C2SP signed notes, and witness cosignatures (C2SP tlog-cosignature v1).

A checkpoint (c2sp.org/tlog-checkpoint) is the note text

    <origin>\\n<tree size>\\n<base64 root hash>\\n

followed by a blank line and one signature line per signer (c2sp.org/signed-note):

    — <key name> base64(4-byte key id || signature)

The log signs with key type 0x01 (Ed25519): key id = SHA-256(name || "\\n" || 0x01 || key)[:4],
signature over the note text. A witness cosigns with type 0x04: key id = SHA-256(name || "\\n" ||
0x04 || key)[:4], signature = 8-byte big-endian time || Ed25519 over
"cosignature/v1\\ntime <time>\\n" || note text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from digitalstate.keys import KeyPair, PublicKey

SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
ED25519 = 0x01
COSIGNATURE_V1 = 0x04
MAX_NOTE_BYTES = 64 * 1024
# A tree size: ASCII decimal, no leading zero, below 2**63 (19 digits at most, checked after).
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
# A key name (signed-note): printable ASCII or other non-space Unicode, no "+", no whitespace.
_KEY_NAME = re.compile(r"[^\s+\x00-\x1f\x7f]+")


class NoteError(ValueError):
    """A checkpoint or signature that cannot be read, or does not verify."""


def key_id(name: str, key: PublicKey, kind: int) -> bytes:
    """The 4-byte key id of a signer's key (signed-note §key id)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + key.raw).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed statement of its size and root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text the signatures cover, ending in a newline."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        """Read a checkpoint's note text (without signatures)."""
        if not text.endswith("\n"):
            raise NoteError("the checkpoint text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has an origin, a size and a root hash line")
        origin, size, root, *extensions = lines
        if not origin or origin != origin.strip() or _has_control(text):
            raise NoteError("the checkpoint's origin line is empty or padded, or it has controls")
        if not _SIZE.fullmatch(size) or int(size) >= 2**63:
            raise NoteError(
                f"the checkpoint size {size[:24]!r} is not a decimal number below 2**63"
            )
        try:
            digest = base64.b64decode(root, validate=True)
        except binascii.Error as exc:
            raise NoteError("the checkpoint's root hash is not base64") from exc
        if len(digest) != 32:
            raise NoteError("the checkpoint's root hash is not 32 bytes")
        if any(not line for line in extensions):
            raise NoteError("the checkpoint has an empty extension line")
        return cls(origin, int(size), digest, tuple(extensions))


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the signer's name, its key id and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        """Read one signature line (without its newline)."""
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line[:80]!r}")
        name, _, payload = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        if not _KEY_NAME.fullmatch(name):
            raise NoteError(f"a signature line has a bad key name: {line[:80]!r}")
        try:
            raw = base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"a signature of {name} is not base64") from exc
        if len(raw) < 5:
            raise NoteError(f"a signature of {name} is too short")
        return cls(name, raw[:4], raw[4:])

    def line(self) -> str:
        """The signature line, without its newline."""
        payload = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {payload}"


@dataclass(frozen=True)
class SignedNote:
    """A note's text and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        """The note as served: text, blank line, signature lines."""
        return self.text + "\n" + "".join(s.line() + "\n" for s in self.signatures)

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint the text states."""
        return Checkpoint.parse_text(self.text)

    def with_signatures(self, extra: Iterable[NoteSignature]) -> SignedNote:
        """This note with more signature lines (duplicates dropped)."""
        lines = list(self.signatures)
        for signature in extra:
            if signature not in lines:
                lines.append(signature)
        return SignedNote(self.text, tuple(lines))

    @classmethod
    def parse(cls, note: str) -> SignedNote:
        """Read a signed note: text, a blank line, one or more signature lines."""
        if len(note.encode()) > MAX_NOTE_BYTES:
            raise NoteError("the note is too large")
        if not note.endswith("\n"):
            raise NoteError("the note does not end with a newline")
        split = note.rfind("\n\n")
        if split < 0:
            raise NoteError("the note has no blank line before its signatures")
        text, block = note[: split + 1], note[split + 2 :]
        signatures = [NoteSignature.parse_line(line) for line in block[:-1].split("\n")]
        if not signatures:
            raise NoteError("the note has no signatures")
        return cls(text, tuple(signatures))


def _has_control(text: str) -> bool:
    """True when text has a control character other than the newlines that end lines."""
    return any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in text)


def sign_checkpoint(checkpoint: Checkpoint, name: str, key: KeyPair) -> SignedNote:
    """The checkpoint signed by the log's key under name."""
    text = checkpoint.text()
    signature = NoteSignature(name, key_id(name, key.public, ED25519), key.sign(text.encode()))
    return SignedNote(text, (signature,))


def verify_log_signature(note: SignedNote, name: str, keys: Sequence[PublicKey]) -> Checkpoint:
    """The checkpoint, if a signature line by name verifies under one of keys; else NoteError."""
    checkpoint = note.checkpoint
    for key in keys:
        wanted = key_id(name, key, ED25519)
        for signature in note.signatures:
            if signature.name != name or signature.key_id != wanted:
                continue
            if key.verify(note.text.encode(), signature.signature):
                return checkpoint
            raise NoteError(f"the signature of {name} does not verify")
    raise NoteError(f"no signature of {name} by a key it holds")


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosign(note: SignedNote, name: str, key: KeyPair, timestamp: int) -> NoteSignature:
    """A witness's cosignature of the note's checkpoint at timestamp (POSIX seconds)."""
    if not 0 <= timestamp < 2**63:
        raise ValueError("the cosignature time is out of range")
    signed = key.sign(_cosigned_message(note.text, timestamp))
    return NoteSignature(
        name, key_id(name, key.public, COSIGNATURE_V1), struct.pack(">Q", timestamp) + signed
    )


def verify_cosignature(note: SignedNote, signature: NoteSignature, key: PublicKey) -> int:
    """The time of a valid cosignature of the note by key; NoteError when it is not one."""
    if signature.key_id != key_id(signature.name, key, COSIGNATURE_V1):
        raise NoteError(f"the cosignature of {signature.name} is not by the key it holds")
    if len(signature.signature) != 8 + 64:
        raise NoteError(f"the cosignature of {signature.name} has the wrong length")
    (timestamp,) = struct.unpack(">Q", signature.signature[:8])
    if timestamp >= 2**63:
        raise NoteError(f"the cosignature of {signature.name} has an impossible time")
    if not key.verify(_cosigned_message(note.text, timestamp), signature.signature[8:]):
        raise NoteError(f"the cosignature of {signature.name} does not verify")
    return int(timestamp)
