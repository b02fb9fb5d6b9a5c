"""Checking a log from the outside: what witnesses, `digitalstate log verify` and the charter
share. Pure: the callers fetch, this decides.

- check_checkpoint: the note is the log's checkpoint, signed by a key the federation lists.
- cosigners: which witnesses' cosignatures on it verify.
- check_extends: a new checkpoint extends the last one seen (no shrinking, no fork).
- audit: re-compute a root from leaf hashes (each hashed from entry bytes by the node) and
  compare it with a signed root: a changed, deleted or reordered entry shows up here.
- verify_entry: an entry's bytes are in the tree a checkpoint states.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import PublicKey
from digitalstate.transparency.entries import log_origin, witness_name
from digitalstate.transparency.merkle import (
    CompactRange,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from digitalstate.transparency.note import (
    Checkpoint,
    NoteError,
    SignedNote,
    verify_cosignature,
    verify_log_signature,
)

KINDS = ("bad-signature", "fork", "shrunk", "audit", "malformed", "unreachable")
"""What can be wrong with a log, as alarms and `log verify` name it."""


class VerifyError(ValueError):
    """A log failed a check: kind is one of KINDS, the message says what and where."""

    def __init__(self, kind: str, message: str) -> None:
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class LogIdentity:
    """Whose log it is, the origin its checkpoints must state, the keys that may sign them."""

    member: str
    origin: str
    keys: tuple[PublicKey, ...]


@dataclass(frozen=True)
class WitnessKey:
    """A witness: its member id, the name it cosigns under, and its keys."""

    member: str
    name: str
    keys: tuple[PublicKey, ...]


def _usable_keys(
    federation: FederationDocument, member_id: str, at: datetime | None
) -> tuple[PublicKey, ...]:
    """The member's keys: none once it is revoked; those not revoked, valid at `at` if given."""
    member = federation.member(member_id)
    if member is None or member.revoked_at is not None:
        return ()
    return tuple(
        PublicKey.from_b64(k.public_key)
        for k in member.keys
        if k.revoked_at is None and (at is None or k.valid_at(at))
    )


def log_identity(
    federation: FederationDocument, member_id: str, at: datetime | None = None
) -> LogIdentity:
    """The identity of member_id's log; with at, only the keys valid at that time sign."""
    return LogIdentity(
        member_id,
        log_origin(federation.federation, member_id),
        _usable_keys(federation, member_id, at),
    )


def witness_keys(
    federation: FederationDocument, *, besides: str, at: datetime | None = None
) -> dict[str, WitnessKey]:
    """Every other unrevoked member as a witness, by the name it cosigns under."""
    out: dict[str, WitnessKey] = {}
    for member in federation.members:
        if member.id == besides or member.revoked_at is not None:
            continue
        name = witness_name(federation.federation, member.id)
        out[name] = WitnessKey(member.id, name, _usable_keys(federation, member.id, at))
    return out


def check_checkpoint(note_text: str, log: LogIdentity) -> tuple[SignedNote, Checkpoint]:
    """The note and its checkpoint, when it is log's checkpoint under one of its keys."""
    try:
        note = SignedNote.parse(note_text)
        checkpoint = note.checkpoint
    except NoteError as exc:
        raise VerifyError(
            "malformed", f"{log.member}: the checkpoint cannot be read: {exc}"
        ) from exc
    if checkpoint.origin != log.origin:
        raise VerifyError(
            "bad-signature",
            f"{log.member}: the checkpoint is for {checkpoint.origin!r}, not {log.origin!r}",
        )
    try:
        verify_log_signature(note, log.origin, log.keys)
    except NoteError as exc:
        raise VerifyError("bad-signature", f"{log.member}: {exc}") from exc
    return note, checkpoint


def cosigners(note: SignedNote, witnesses: Mapping[str, WitnessKey]) -> list[str]:
    """The member ids of the witnesses whose cosignature of note verifies."""
    found: list[str] = []
    for signature in note.signatures:
        witness = witnesses.get(signature.name)
        if witness is None or witness.member in found:
            continue
        for key in witness.keys:
            try:
                verify_cosignature(note, signature, key)
            except NoteError:
                continue
            found.append(witness.member)
            break
    return found


def check_extends(
    member: str, old_size: int, old_root: bytes, new: Checkpoint, proof: Sequence[bytes]
) -> None:
    """Raise unless new extends the tree (old_size, old_root) as proof shows."""
    if new.size < old_size:
        raise VerifyError(
            "shrunk", f"{member}: the log shrank from {old_size} to {new.size} leaves"
        )
    try:
        verify_consistency(old_size, new.size, proof, old_root, new.root)
    except ProofError as exc:
        raise VerifyError(
            "fork",
            f"{member}: the checkpoint of size {new.size} does not extend the one of "
            f"size {old_size} seen before: {exc}",
        ) from exc


def audit(border: CompactRange, leaves: Iterable[bytes]) -> CompactRange:
    """A copy of border with the leaf hashes appended (in order)."""
    extended = border.copy()
    extended.extend(leaves)
    return extended


def check_audited_root(member: str, border: CompactRange, checkpoint: Checkpoint) -> None:
    """Raise unless the leaf hashes folded into border give the checkpoint's root."""
    if border.size != checkpoint.size:
        raise VerifyError(
            "audit",
            f"{member}: {border.size} leaves audited, the checkpoint says {checkpoint.size}",
        )
    if border.root() != checkpoint.root:
        raise VerifyError(
            "audit",
            f"{member}: the {border.size} stored entries do not hash to the signed root: an "
            "entry was changed, deleted or moved after it was logged",
        )


def verify_entry(entry: bytes, index: int, proof: Sequence[bytes], checkpoint: Checkpoint) -> None:
    """Raise ProofError unless entry is leaf index of the tree checkpoint states."""
    verify_inclusion(leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root)


def encode_border(border: CompactRange) -> bytes:
    """A compact range as bytes (8-byte size, then the hashes), for state kept between runs."""
    return struct.pack(">Q", border.size) + b"".join(border.hashes)


def decode_border(data: bytes) -> CompactRange:
    """The compact range encode_border wrote; an empty value is the empty tree."""
    if not data:
        return CompactRange()
    if len(data) < 8 or (len(data) - 8) % 32:
        raise ValueError("the stored audit state is damaged")
    (size,) = struct.unpack(">Q", data[:8])
    hashes = [data[i : i + 32] for i in range(8, len(data), 32)]
    if len(hashes) != bin(size).count("1") or any(len(h) != 32 for h in hashes):
        raise ValueError("the stored audit state is damaged")
    return CompactRange(size, hashes)
