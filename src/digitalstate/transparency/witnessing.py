"""What a witness decides about another member's log in one round. Pure: no HTTP, no database.

A round, for one member:

1. Fetch its newest checkpoint and check it is signed by the member's log key
   (verify.check_checkpoint). Compare it with the last one this witness verified: the same size
   and root is fine; a bigger tree must come with a consistency proof that it extends the old
   one (verify.check_extends); a smaller tree has shrunk; the same size with another root is a
   fork. What passes becomes the new state and is to be cosigned; what fails is a finding
   (an alarm) and the last good state is kept.
2. Audit (the monitor role): re-read up to audit_leaves leaf hashes from where the last round
   stopped, fold them into the stored right border, and when the pass reaches the size it
   started at compare the root with the root this witness verified for that size. A changed,
   deleted or reordered stored entry shows up here; so does a node that says its log is
   damaged. Then the next pass starts at the newest verified size.
3. A log that cannot be fetched is failing; once it has failed longer than alarm_after seconds
   the round says so (an "unreachable" finding). Nothing verified is forgotten meanwhile: when
   the node answers again its checkpoint is checked against the last good state.

The fetching is behind LogSource, so this runs over HTTP in a node (witness.py) and over a
list of hashes in the unit tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from digitalstate.transparency.merkle import CompactRange
from digitalstate.transparency.note import Checkpoint, SignedNote
from digitalstate.transparency.verify import (
    LogIdentity,
    VerifyError,
    audit,
    check_audited_root,
    check_checkpoint,
    check_extends,
    decode_border,
    encode_border,
)

MAX_LEAVES_PER_REQUEST = 65_536
"""The most leaf hashes one request may ask a node for (its /log/leaves limit)."""


class SourceUnavailableError(Exception):
    """The log could not be fetched: no answer, a timeout, or an answer that says 'not now'."""


class SourceDamagedError(Exception):
    """The node says it lacks what its signed tree holds, or refuses a range it signed."""


class SourceMalformedError(Exception):
    """The node answered something that cannot be read as what was asked for."""


class LogSource(Protocol):
    """Where a witness reads one member's log from."""

    async def checkpoint(self) -> str:
        """The newest checkpoint as a signed note (with any cosignatures)."""
        ...

    async def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of size old to the tree of size new."""
        ...

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of [start, end) (at most MAX_LEAVES_PER_REQUEST)."""
        ...


@dataclass(frozen=True)
class WatchState:
    """What a witness keeps about one member's log between rounds (a log_witnessed row)."""

    member: str
    origin: str
    size: int = 0
    root: bytes = b""
    note: str = ""  # the last checkpoint verified, as served; empty until one was
    checked_at: datetime | None = None
    cosigned_size: int = 0
    audit_size: int = 0
    audit_root: bytes = b""
    audit_position: int = 0
    audit_border: bytes = b""
    audited_size: int = 0
    audited_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str = ""

    @property
    def verified(self) -> bool:
        """True once a checkpoint of this log has been verified."""
        return bool(self.note)

    @property
    def auditing(self) -> bool:
        """True while an audit pass is under way."""
        return self.audit_position < self.audit_size


@dataclass(frozen=True)
class Finding:
    """Something wrong with a log: an alarm's kind (verify.KINDS), what and the evidence."""

    kind: str
    detail: str
    evidence: str = ""


@dataclass(frozen=True)
class Round:
    """What one round found: the state to keep, findings, and the checkpoint to cosign."""

    state: WatchState
    findings: tuple[Finding, ...]
    to_cosign: SignedNote | None
    recovered: bool  # it was failing before this round and answered in it

    @property
    def failing(self) -> bool:
        """True when the log could not be fetched in this round."""
        return self.state.failing_since is not None


async def witness_round(
    state: WatchState,
    log: LogIdentity,
    source: LogSource,
    now: datetime,
    *,
    audit_leaves: int,
    alarm_after: float,
) -> Round:
    """Check, audit and judge one member's log once (see the module docstring)."""
    findings: list[Finding] = []
    was_failing = state.failing_since is not None
    try:
        state, to_cosign = await check_newest(state, log, source, now, findings)
    except SourceUnavailableError as exc:
        return _unreachable(state, str(exc), now, alarm_after, findings)
    try:
        state = await audit_some(state, source, now, audit_leaves, findings)
    except _AuditInterruptedError as exc:
        return _unreachable(exc.state, exc.reason, now, alarm_after, findings, to_cosign)
    state = replace(state, failing_since=None, last_error="")
    return Round(state, tuple(findings), to_cosign, recovered=was_failing)


async def check_newest(
    state: WatchState,
    log: LogIdentity,
    source: LogSource,
    now: datetime,
    findings: list[Finding],
) -> tuple[WatchState, SignedNote | None]:
    """Fetch and check the newest checkpoint against state: the new state, the note to cosign.

    Raises SourceUnavailableError when something could not be fetched; adds a finding and keeps
    state as it was when the checkpoint fails a check.
    """
    text = await source.checkpoint()
    try:
        note, checkpoint = check_checkpoint(text, log)
    except VerifyError as exc:
        findings.append(Finding(exc.kind, str(exc), _evidence(state, text)))
        return state, None
    if state.verified and (checkpoint.size, checkpoint.root) == (state.size, state.root):
        return replace(state, note=text, checked_at=now), note
    if state.verified:
        proof: list[bytes] = []
        if 0 < state.size < checkpoint.size:
            try:
                proof = await source.consistency(state.size, checkpoint.size)
            except SourceDamagedError as exc:
                findings.append(Finding("audit", f"{log.member}: {exc}", _evidence(state, text)))
                return state, None
            except SourceMalformedError as exc:
                findings.append(Finding("malformed", f"{log.member}: {exc}"))
                return state, None
        try:
            check_extends(log.member, state.size, state.root, checkpoint, proof)
        except VerifyError as exc:
            findings.append(Finding(exc.kind, str(exc), _evidence(state, text)))
            return state, None
    # The first checkpoint seen is taken on trust; every later one must extend it.
    return (
        replace(state, size=checkpoint.size, root=checkpoint.root, note=text, checked_at=now),
        note,
    )


class _AuditInterruptedError(Exception):
    """The audit could not fetch leaves: the state with the progress made, and why."""

    def __init__(self, state: WatchState, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


async def audit_some(
    state: WatchState,
    source: LogSource,
    now: datetime,
    budget: int,
    findings: list[Finding],
) -> WatchState:
    """Re-read up to budget leaf hashes of the audit pass; finish the pass when it gets there.

    Raises _AuditInterruptedError (with the progress kept) when leaves could not be fetched.
    """
    if budget <= 0 or not state.verified:
        return state
    if not state.auditing:
        if state.size == 0:
            return state
        state = start_pass(state)
    try:
        border = decode_border(state.audit_border)
    except (ValueError, struct.error):
        state, border = start_pass(state), CompactRange()
    if border.size != state.audit_position:
        state, border = start_pass(state), CompactRange()
    position = state.audit_position
    while budget > 0 and position < state.audit_size:
        end = min(state.audit_size, position + min(budget, MAX_LEAVES_PER_REQUEST))
        try:
            hashes = await source.leaves(position, end)
        except SourceUnavailableError as exc:
            kept = replace(state, audit_position=position, audit_border=encode_border(border))
            raise _AuditInterruptedError(kept, str(exc)) from exc
        except SourceDamagedError as exc:
            findings.append(
                Finding("audit", f"{state.member}: {exc}", _audit_evidence(state, position, end))
            )
            return _end_pass(state)
        except SourceMalformedError as exc:
            findings.append(Finding("malformed", f"{state.member}: {exc}"))
            return _end_pass(state)
        if any(len(h) != 32 for h in hashes):
            findings.append(Finding("malformed", f"{state.member}: a leaf hash is not 32 bytes"))
            return _end_pass(state)
        if len(hashes) != end - position:
            # It signed a tree holding these leaves and no longer serves them all.
            findings.append(
                Finding(
                    "audit",
                    f"{state.member}: asked for the {end - position} leaf hashes of "
                    f"[{position}, {end}), it served {len(hashes)}",
                    _audit_evidence(state, position, end),
                )
            )
            return _end_pass(state)
        border = audit(border, hashes)
        budget -= end - position
        position = end
    state = replace(state, audit_position=position, audit_border=encode_border(border))
    if position < state.audit_size:
        return state
    try:
        check_audited_root(
            state.member, border, Checkpoint(state.origin, state.audit_size, state.audit_root)
        )
    except VerifyError as exc:
        findings.append(
            Finding(exc.kind, str(exc), _audit_evidence(state, 0, state.audit_size, border))
        )
        return _end_pass(state)
    return replace(_end_pass(state), audited_size=state.audit_size, audited_at=now)


def start_pass(state: WatchState) -> WatchState:
    """A new audit pass over the newest verified tree."""
    return replace(
        state,
        audit_size=state.size,
        audit_root=state.root,
        audit_position=0,
        audit_border=encode_border(CompactRange()),
    )


def _end_pass(state: WatchState) -> WatchState:
    """No pass under way: the next round starts one at the newest verified size."""
    return replace(state, audit_position=state.audit_size, audit_border=b"")


def _unreachable(
    state: WatchState,
    reason: str,
    now: datetime,
    alarm_after: float,
    findings: list[Finding],
    to_cosign: SignedNote | None = None,
) -> Round:
    since = state.failing_since or now
    state = replace(state, failing_since=since, last_error=reason)
    if (now - since).total_seconds() >= alarm_after:
        findings.append(
            Finding(
                "unreachable",
                f"{state.member}: its log could not be fetched since {since.isoformat()}: {reason}",
            )
        )
    return Round(state, tuple(findings), to_cosign, recovered=False)


def _evidence(state: WatchState, served: str) -> str:
    before = state.note or "(no checkpoint verified before)\n"
    return f"Verified before:\n{before}\nServed now:\n{served}"


def _audit_evidence(
    state: WatchState, start: int, end: int, border: CompactRange | None = None
) -> str:
    lines = [
        f"Audited against the checkpoint of size {state.audit_size} with root "
        f"{state.audit_root.hex()}, verified before.",
        f"Leaves [{start}, {end}) were read.",
    ]
    if border is not None:
        lines.append(f"They hash to the root {border.root().hex()}.")
    return "\n".join(lines) + "\n"
