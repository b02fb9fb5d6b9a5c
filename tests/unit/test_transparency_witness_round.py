"""What a witness decides in one round, against a log kept in memory (no HTTP, no database).

Each case: a log signs checkpoints of its leaves; the witness's state from the round before;
what the round finds, keeps and would cosign.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import log_origin
from digitalstate.transparency.merkle import consistency_plan, leaf_hash, tree_root
from digitalstate.transparency.note import Checkpoint, sign_checkpoint
from digitalstate.transparency.rolling_audit import (
    SourceDamagedError,
    SourceMalformedError,
    SourceUnavailableError,
)
from digitalstate.transparency.verify import LogIdentity
from digitalstate.transparency.witness_round import Round, WatchState, witness_round

MEMBER = "people-register"
ORIGIN = log_origin("unit federation", MEMBER)
LOG_KEY = KeyPair.from_seed(bytes(range(1, 33)))
OTHER_KEY = KeyPair.from_seed(bytes(range(40, 72)))
IDENTITY = LogIdentity(MEMBER, ORIGIN, (LOG_KEY.public,))
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALARM_AFTER = 60.0


def leaves(start: int, end: int, tag: str = "entry") -> list[bytes]:
    return [leaf_hash(f"{tag} {i}".encode()) for i in range(start, end)]


class MemoryLog:
    """A log in memory: the leaves it signed, and the leaves it stores (an insider may differ)."""

    def __init__(self, count: int = 0) -> None:
        self.signed: list[bytes] = leaves(0, count)
        self.stored: list[bytes] | None = None  # None: the same as signed
        self.served: str | None = None  # a note to serve instead of a fresh checkpoint
        self.down = False
        self.leaves_down = False  # its checkpoint answers, its leaf hashes do not
        self.damaged = False
        self.garbled = False
        self.requests: list[tuple[str, int, int]] = []

    def add(self, count: int) -> None:
        self.signed += leaves(len(self.signed), len(self.signed) + count)

    def note(
        self, size: int | None = None, key: KeyPair = LOG_KEY, hashes: list[bytes] | None = None
    ) -> str:
        chosen = self.signed if hashes is None else hashes
        size = len(chosen) if size is None else size
        checkpoint = Checkpoint(ORIGIN, size, tree_root(chosen[:size]))
        return sign_checkpoint(checkpoint, ORIGIN, key).render()

    async def checkpoint(self) -> str:
        if self.down:
            raise SourceUnavailableError("connection refused")
        return self.served if self.served is not None else self.note()

    async def consistency(self, old: int, new: int) -> list[bytes]:
        self.requests.append(("consistency", old, new))
        if self.down:
            raise SourceUnavailableError("connection refused")
        if self.damaged:
            raise SourceDamagedError("answered 500 log-damaged: lacks tree nodes")
        plan = consistency_plan(old, new)
        return plan.assemble({c: self._subtree(c) for c in plan.coords()})

    async def leaves(self, start: int, end: int) -> list[bytes]:
        self.requests.append(("leaves", start, end))
        if self.down:
            raise SourceUnavailableError("connection refused")
        if self.leaves_down:
            raise SourceUnavailableError("timed out")
        if self.damaged:
            raise SourceDamagedError("answered 500 log-damaged: lacks leaf 3")
        if self.garbled:
            raise SourceMalformedError("its leaf hashes are 33 bytes")
        stored = self.signed if self.stored is None else self.stored
        return stored[start:end]

    def _subtree(self, coord: tuple[int, int]) -> bytes:
        level, index = coord
        return tree_root(self.signed[index << level : (index + 1) << level])


def run(
    log: MemoryLog,
    state: WatchState | None = None,
    now: datetime = T0,
    audit_leaves: int = 1000,
) -> Round:
    return asyncio.run(
        witness_round(
            state or WatchState(MEMBER, ORIGIN),
            IDENTITY,
            log,
            now,
            audit_leaves=audit_leaves,
            alarm_after=ALARM_AFTER,
        )
    )


def kinds(result: Round) -> list[str]:
    return [f.kind for f in result.findings]


# --- checkpoints ---------------------------------------------------------------------------


def test_the_first_checkpoint_is_taken_on_trust_and_cosigned() -> None:
    log = MemoryLog(5)
    result = run(log, audit_leaves=0)
    assert result.findings == ()
    assert (result.state.size, result.state.root) == (5, tree_root(log.signed))
    assert result.state.note == log.note() and result.state.checked_at == T0
    assert result.to_cosign is not None and result.to_cosign.checkpoint.size == 5
    assert not result.failing and not result.recovered


def test_the_same_checkpoint_again_is_fine_and_asks_for_no_proof() -> None:
    log = MemoryLog(5)
    first = run(log, audit_leaves=0)
    again = run(log, first.state, T0 + timedelta(seconds=10), audit_leaves=0)
    assert again.findings == ()
    assert again.state.checked_at == T0 + timedelta(seconds=10)
    assert again.to_cosign is not None
    assert log.requests == []


def test_a_bigger_tree_is_checked_with_a_consistency_proof_from_the_last_one() -> None:
    log = MemoryLog(5)
    first = run(log, audit_leaves=0)
    log.add(8)
    grown = run(log, first.state, audit_leaves=0)
    assert grown.findings == ()
    assert log.requests == [("consistency", 5, 13)]
    assert (grown.state.size, grown.state.root) == (13, tree_root(log.signed))
    assert grown.to_cosign is not None and grown.to_cosign.checkpoint.size == 13


def test_a_bigger_tree_with_another_history_is_a_fork_and_the_good_state_is_kept() -> None:
    log = MemoryLog(5)
    first = run(log, audit_leaves=0)
    rewritten = leaves(0, 9, tag="rewritten")
    log.signed = rewritten
    forked = run(log, first.state, audit_leaves=0)
    assert kinds(forked) == ["fork"]
    assert forked.to_cosign is None
    assert forked.state == first.state
    assert "does not extend" in forked.findings[0].detail
    assert first.state.note in forked.findings[0].evidence
    assert log.note() in forked.findings[0].evidence


def test_the_same_size_with_another_root_is_a_fork() -> None:
    log = MemoryLog(6)
    first = run(log, audit_leaves=0)
    log.served = log.note(hashes=leaves(0, 6, tag="other"))
    forked = run(log, first.state, audit_leaves=0)
    assert kinds(forked) == ["fork"]
    assert forked.state.root == first.state.root and forked.to_cosign is None
    assert log.requests == []  # equal sizes need no proof to tell


def test_a_smaller_tree_has_shrunk() -> None:
    log = MemoryLog(10)
    first = run(log, audit_leaves=0)
    log.served = log.note(size=7)
    shrunk = run(log, first.state, audit_leaves=0)
    assert kinds(shrunk) == ["shrunk"]
    assert "shrank from 10 to 7" in shrunk.findings[0].detail
    assert shrunk.state == first.state and shrunk.to_cosign is None


def test_a_checkpoint_signed_by_another_key_is_a_bad_signature() -> None:
    log = MemoryLog(4)
    first = run(log, audit_leaves=0)
    log.add(2)
    log.served = log.note(key=OTHER_KEY)
    result = run(log, first.state, audit_leaves=0)
    assert kinds(result) == ["bad-signature"]
    assert result.state == first.state and result.to_cosign is None


def test_a_checkpoint_that_cannot_be_read_is_malformed() -> None:
    log = MemoryLog(4)
    log.served = "not a checkpoint\n"
    result = run(log, audit_leaves=0)
    assert kinds(result) == ["malformed"]
    assert not result.state.verified and result.to_cosign is None


def test_a_node_that_cannot_prove_consistency_for_damage_raises_an_audit_alarm() -> None:
    log = MemoryLog(5)
    first = run(log, audit_leaves=0)
    log.add(3)
    log.damaged = True
    result = run(log, first.state, audit_leaves=0)
    assert kinds(result) == ["audit"]
    assert "log-damaged" in result.findings[0].detail
    assert result.state == first.state and result.to_cosign is None


# --- reachability ------------------------------------------------------------------------------


def test_an_unreachable_log_alarms_only_after_the_configured_time_and_keeps_its_state() -> None:
    log = MemoryLog(5)
    good = run(log, audit_leaves=0).state
    log.down = True
    first = run(log, good, T0 + timedelta(seconds=1), audit_leaves=0)
    assert first.findings == () and first.failing and first.to_cosign is None
    assert first.state.failing_since == T0 + timedelta(seconds=1)
    assert first.state.last_error == "connection refused"
    assert (first.state.size, first.state.root, first.state.note) == (
        good.size,
        good.root,
        good.note,
    )

    still = run(log, first.state, T0 + timedelta(seconds=30), audit_leaves=0)
    assert still.findings == ()
    assert still.state.failing_since == T0 + timedelta(seconds=1)  # since the first failure

    late = run(log, still.state, T0 + timedelta(seconds=61), audit_leaves=0)
    assert kinds(late) == ["unreachable"]
    assert "could not be fetched since" in late.findings[0].detail


def test_a_log_never_reached_is_failing_and_raises_no_alarm_however_long_it_takes() -> None:
    log = MemoryLog(5)
    log.down = True  # its node has not started yet
    state = WatchState(MEMBER, ORIGIN)
    for seconds in (0, 30, 61, 600):
        result = run(log, state, T0 + timedelta(seconds=seconds), audit_leaves=0)
        assert result.findings == () and result.failing, seconds
        state = result.state
    assert state.failing_since == T0 and state.last_error == "connection refused"
    assert not state.verified

    log.down = False
    up = run(log, state, T0 + timedelta(seconds=601), audit_leaves=0)
    assert up.recovered and not up.failing and up.findings == ()
    assert up.state.size == 5 and up.to_cosign is not None

    # Once verified, it can go out of sight: an outage of it alarms as before.
    log.down = True
    gone = run(log, up.state, T0 + timedelta(seconds=602), audit_leaves=0)
    late = run(log, gone.state, T0 + timedelta(seconds=602 + ALARM_AFTER), audit_leaves=0)
    assert gone.findings == () and kinds(late) == ["unreachable"]


def test_a_log_first_reached_whose_audit_is_cut_short_is_failing_from_then_on() -> None:
    log = MemoryLog(8)
    log.down = True
    state = run(log, now=T0, audit_leaves=4).state
    log.down, log.leaves_down = False, True  # it answers its checkpoint, then times out
    first = run(log, state, T0 + timedelta(seconds=600), audit_leaves=4)
    assert first.findings == () and first.failing and first.to_cosign is not None
    assert first.state.verified and first.state.failing_since == T0 + timedelta(seconds=600)
    # Its leaves withheld for longer than the alarm time are an outage like any other.
    late = run(log, first.state, T0 + timedelta(seconds=600 + ALARM_AFTER), audit_leaves=4)
    assert kinds(late) == ["unreachable"] and "timed out" in late.findings[0].detail


def test_a_log_that_answers_again_is_checked_from_the_last_good_state() -> None:
    log = MemoryLog(5)
    good = run(log, audit_leaves=0).state
    log.down = True
    failing = run(log, good, T0 + timedelta(seconds=100), audit_leaves=0).state
    log.down = False
    log.add(4)
    back = run(log, failing, T0 + timedelta(seconds=200), audit_leaves=0)
    assert back.recovered and not back.failing and back.findings == ()
    assert back.state.last_error == ""
    assert log.requests == [("consistency", 5, 9)]
    assert back.state.size == 9 and back.to_cosign is not None


def test_a_log_that_comes_back_with_another_history_is_a_fork() -> None:
    log = MemoryLog(5)
    good = run(log, audit_leaves=0).state
    log.down = True
    failing = run(log, good, T0 + timedelta(seconds=5), audit_leaves=0).state
    log.down = False
    log.signed = leaves(0, 9, tag="rewritten while away")
    back = run(log, failing, T0 + timedelta(seconds=10), audit_leaves=0)
    assert back.recovered and kinds(back) == ["fork"]
    assert back.state.size == 5 and back.state.root == good.root


# --- the rolling audit -------------------------------------------------------------------------


def test_an_audit_pass_runs_over_several_rounds_and_ends_at_the_verified_root() -> None:
    log = MemoryLog(10)
    state = run(log, audit_leaves=4).state
    assert (state.audit_size, state.audit_position) == (10, 4)
    assert state.audit_root == tree_root(log.signed)
    log.add(5)  # the pass keeps to the size it started at
    state = run(log, state, audit_leaves=4).state
    assert (state.size, state.audit_size, state.audit_position) == (15, 10, 8)
    done = run(log, state, T0 + timedelta(seconds=3), audit_leaves=4)
    assert done.findings == ()
    assert (done.state.audited_size, done.state.audited_at) == (10, T0 + timedelta(seconds=3))
    assert not done.state.auditing
    assert [r for r in log.requests if r[0] == "leaves"] == [
        ("leaves", 0, 4),
        ("leaves", 4, 8),
        ("leaves", 8, 10),
    ]
    # The next pass starts at the newest verified size.
    following = run(log, done.state, audit_leaves=4)
    assert (following.state.audit_size, following.state.audit_position) == (15, 4)


@pytest.mark.parametrize(
    ("what", "tamper"),
    [
        ("changed", lambda s: s.__setitem__(3, leaf_hash(b"rewritten entry"))),
        ("deleted", lambda s: s.pop(3)),
        ("swapped", lambda s: s.insert(7, s.pop(2))),
    ],
)
def test_an_audit_finds_a_stored_entry_changed_deleted_or_moved(what: str, tamper: object) -> None:
    log = MemoryLog(12)
    good = run(log).state
    assert good.audited_size == 12
    log.stored = list(log.signed)
    tamper(log.stored)  # type: ignore[operator]
    result = run(log, good)
    assert kinds(result) == ["audit"], what
    assert result.state.audited_size == 12 and not result.state.auditing
    assert result.to_cosign is not None  # the checkpoint itself still verifies
    assert f"root {good.root.hex()}" in result.findings[0].evidence


def test_a_node_that_says_its_log_is_damaged_fails_the_audit() -> None:
    log = MemoryLog(8)
    good = run(log, audit_leaves=0).state
    log.damaged = True
    result = run(log, good)
    assert kinds(result) == ["audit"]
    assert "log-damaged" in result.findings[0].detail
    assert not result.state.auditing  # a new pass starts next round


def test_leaf_hashes_that_cannot_be_read_are_malformed() -> None:
    log = MemoryLog(8)
    good = run(log, audit_leaves=0).state
    log.garbled = True
    assert kinds(run(log, good)) == ["malformed"]


def test_an_audit_interrupted_by_an_outage_keeps_its_progress_and_the_new_checkpoint() -> None:
    log = MemoryLog(10)
    state = run(log, audit_leaves=4).state
    log.add(2)
    calls = 0
    original = log.leaves

    async def fail_now(start: int, end: int) -> list[bytes]:
        nonlocal calls
        calls += 1
        raise SourceUnavailableError("timed out")

    log.leaves = fail_now  # type: ignore[method-assign]
    result = run(log, state, T0 + timedelta(seconds=1), audit_leaves=4)
    assert calls == 1 and result.failing and result.findings == ()
    assert result.state.size == 12 and result.to_cosign is not None
    assert (result.state.audit_size, result.state.audit_position) == (10, 4)
    log.leaves = original  # type: ignore[method-assign]
    resumed = run(log, result.state, T0 + timedelta(seconds=2), audit_leaves=4)
    assert resumed.recovered and resumed.state.audit_position == 8


def test_a_damaged_audit_state_starts_a_new_pass() -> None:
    log = MemoryLog(6)
    state = run(log, audit_leaves=2).state
    broken = replace(state, audit_border=b"\x00" * 5)
    result = run(log, broken, audit_leaves=2)
    assert result.findings == ()
    assert (result.state.audit_size, result.state.audit_position) == (6, 2)


def test_no_audit_when_it_is_turned_off() -> None:
    log = MemoryLog(6)
    result = run(log, audit_leaves=0)
    assert result.state.audit_size == 0 and log.requests == []
