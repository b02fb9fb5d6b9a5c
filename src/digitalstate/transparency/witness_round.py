"""What a witness decides about another member's log in one round. Pure: no HTTP, no database.

A round, for one member:

1. Fetch its newest checkpoint and check it is signed by the member's log key
   (verify.check_checkpoint). Compare it with the last one this witness verified: the same size
   and root is fine; a bigger tree must come with a consistency proof that it extends the old
   one (verify.check_extends); a smaller tree has shrunk; the same size with another root is a
   fork. What passes becomes the new state and is to be cosigned; what fails is a finding
   (an alarm) and the last good state is kept.
2. Audit (the monitor role): the rolling audit (rolling_audit.py, which `digitalstate log
   verify` runs too) re-reads up to audit_leaves leaf hashes from where the last round
   stopped, and when the pass reaches the size it started at compares the root with the root
   this witness verified for that size. A changed, deleted or reordered stored entry shows up
   here; so does a node that says its log is damaged. The next round starts the next pass,
   at the newest verified size.
3. A log that cannot be fetched is failing; once it has failed longer than alarm_after seconds
   the round says so (an "unreachable" finding), if this witness has verified a checkpoint of
   it before: a log it has never reached (a member whose node has not started yet, or was
   added to the federation before it was deployed) has no history to hide from it, so it is
   only failing until it answers. Nothing verified is forgotten meanwhile: when the node
   answers again its checkpoint is checked against the last good state.

The fetching is behind rolling_audit.LogSource, so this runs over HTTP in a node
(witness_service.py, with log_source.py) and over a list of hashes in the unit tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from datetime import datetime

from digitalstate.transparency.merkle import CompactRange
from digitalstate.transparency.note import Checkpoint, SignedNote
from digitalstate.transparency.rolling_audit import (
    AuditPass,
    LogSource,
    RollingAudit,
    SourceDamagedError,
    SourceMalformedError,
    SourceUnavailableError,
)
from digitalstate.transparency.verify import (
    LogIdentity,
    VerifyError,
    check_checkpoint,
    check_extends,
    decode_border,
    encode_border,
)


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

    def audit_pass(self) -> AuditPass:
        """The rolling audit's cursor kept in this state (a damaged one starts a new pass)."""
        cursor = AuditPass(
            self.audit_size,
            self.audit_root,
            self.audit_position,
            CompactRange(),
            self.audited_size,
            self.audited_at,
        )
        if not self.auditing:
            return cursor
        try:
            border = decode_border(self.audit_border)
        except (ValueError, struct.error):
            return cursor.restart(self.size, self.root)
        if border.size != self.audit_position:
            return cursor.restart(self.size, self.root)
        return replace(cursor, border=border)

    def with_pass(self, cursor: AuditPass) -> WatchState:
        """This state keeping the rolling audit's cursor."""
        return replace(
            self,
            audit_size=cursor.size,
            audit_root=cursor.root,
            audit_position=cursor.position,
            audit_border=encode_border(cursor.border),
            audited_size=cursor.covered_size,
            audited_at=cursor.covered_at,
        )


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
    first_reached = not state.verified
    try:
        state, to_cosign = await check_newest(state, log, source, now, findings)
    except SourceUnavailableError as exc:
        return _unreachable(state, str(exc), now, alarm_after, findings)
    if first_reached and state.verified:
        # Reached for the first time: the time it could not be reached before does not count
        # against it; if the audit cannot go on, its outage starts now.
        state = replace(state, failing_since=None)
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
    """Run the rolling audit for up to budget leaf hashes; a new pass starts when none is on.

    Raises _AuditInterruptedError (with the progress kept) when leaves could not be fetched;
    a failed pass is a finding, and the next round starts a new one.
    """
    if budget <= 0 or not state.verified:
        return state
    rolling = RollingAudit(state.member, state.origin, state.audit_pass())
    newest = Checkpoint(state.origin, state.size, state.root)
    try:
        cursor = await rolling.run(source, newest, budget, now, keep_on=False)
    except SourceUnavailableError as exc:
        raise _AuditInterruptedError(state.with_pass(rolling.cursor), str(exc)) from exc
    except SourceDamagedError as exc:
        state = state.with_pass(rolling.cursor)
        evidence = _audit_evidence(state, *rolling.reading)
        findings.append(Finding("audit", f"{state.member}: {exc}", evidence))
        return _end_pass(state)
    except SourceMalformedError as exc:
        findings.append(Finding("malformed", f"{state.member}: {exc}"))
        return _end_pass(state.with_pass(rolling.cursor))
    except VerifyError as exc:
        state = state.with_pass(rolling.cursor)
        if rolling.cursor.complete:  # the pass read every leaf: they hash to another root
            evidence = _audit_evidence(state, 0, state.audit_size, rolling.cursor.border)
        else:
            evidence = _audit_evidence(state, *rolling.reading) if exc.kind == "audit" else ""
        findings.append(Finding(exc.kind, str(exc), evidence))
        return _end_pass(state)
    state = state.with_pass(cursor)
    return replace(state, audit_border=b"") if cursor.complete else state


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
    # Only a log seen before can go out of sight: one never reached is failing, not an alarm.
    if state.verified and (now - since).total_seconds() >= alarm_after:
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
