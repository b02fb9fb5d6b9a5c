"""A node's copy of the federation document: verified, kept on disk, refused when bad.

The trust anchor's transport is replaced by a fake `fetch` that hands over envelopes signed
with sign_document; everything else (verification, the cache file, the clock) is real.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digitalstate import files as files_module
from digitalstate.federation import keeper as keeper_module
from digitalstate.federation.domain import sign_document
from digitalstate.federation.keeper import FederationKeeper
from digitalstate.keys import KeyPair
from digitalstate.problems import Problem
from support.federation import federation_document

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
ANCHOR = KeyPair.from_seed(bytes(range(1, 33)))
IMPOSTOR = KeyPair.from_seed(bytes(range(33, 65)))


def envelope(
    version: int,
    *,
    issued_at: datetime = NOW,
    valid_for: timedelta = timedelta(hours=24),
    key: KeyPair = ANCHOR,
    federation: str = "test federation",
) -> dict[str, Any]:
    """A signed envelope of an otherwise empty federation document."""
    document = federation_document(
        federation=federation,
        version=version,
        issued_at=issued_at,
        expires_at=issued_at + valid_for,
        catalogue=False,
    )
    return sign_document(document, key)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeAnchor:
    """Stands in for the trust anchor's HTTP endpoint: answers what it is told to."""

    def __init__(self, answer: Any = None) -> None:
        self.answer: Any = answer
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def anchor() -> FakeAnchor:
    return FakeAnchor()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "node" / "federation.json"


@pytest.fixture
def keeper(anchor: FakeAnchor, cache: Path, clock: Clock) -> FederationKeeper:
    return FederationKeeper(ANCHOR.public, cache, anchor, clock=clock)


def disk_full(_src: object, _dst: object) -> None:
    raise OSError(28, "No space left on device")


def refresh(keeper: FederationKeeper) -> keeper_module.RefreshOutcome:
    return asyncio.run(keeper.refresh())


def accept_version_one(keeper: FederationKeeper, anchor: FakeAnchor, cache: Path) -> bytes:
    """Give keeper a good version 1 and return the cache file's bytes."""
    anchor.answer = envelope(1)
    assert refresh(keeper).accepted
    return cache.read_bytes()


def test_a_good_document_is_accepted_and_kept_on_disk(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    anchor.answer = envelope(1)

    outcome = refresh(keeper)

    assert outcome == keeper_module.RefreshOutcome(True, 1)
    assert keeper.current().version == 1
    assert keeper.is_fresh()
    assert keeper.last_error == ""
    assert json.loads(cache.read_bytes()) == anchor.answer
    assert sorted(p.name for p in cache.parent.iterdir()) == ["federation.json"]


def test_the_cache_file_is_replaced_atomically_or_not_at_all(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = accept_version_one(keeper, anchor, cache)

    monkeypatch.setattr(files_module.os, "replace", disk_full)
    anchor.answer = envelope(2)
    refresh(keeper)

    assert cache.read_bytes() == before
    assert sorted(p.name for p in cache.parent.iterdir()) == ["federation.json"]


def test_a_document_that_cannot_be_kept_on_disk_is_still_used_and_the_failure_reported(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept_version_one(keeper, anchor, cache)
    monkeypatch.setattr(files_module.os, "replace", disk_full)
    anchor.answer = envelope(2)

    outcome = refresh(keeper)

    assert outcome.accepted
    assert keeper.current().version == 2
    assert str(cache) in keeper.last_error
    assert "No space left on device" in keeper.last_error


def test_a_document_with_a_bad_signature_is_refused_and_the_last_good_one_kept(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    before = accept_version_one(keeper, anchor, cache)
    anchor.answer = envelope(2, key=IMPOSTOR)

    outcome = refresh(keeper)

    assert outcome == keeper_module.RefreshOutcome(False, 1, "bad-signature")
    assert keeper.current().version == 1
    assert "bad-signature" in keeper.last_error
    assert cache.read_bytes() == before


def test_a_tampered_document_is_refused(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    before = accept_version_one(keeper, anchor, cache)
    tampered = envelope(2)
    tampered["document"]["federation"] = "someone else's federation"
    anchor.answer = tampered

    assert refresh(keeper).reason == "bad-signature"
    assert keeper.current().federation == "test federation"
    assert cache.read_bytes() == before


def test_an_older_version_is_refused_and_the_newer_one_kept(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    anchor.answer = envelope(5)
    refresh(keeper)
    before = cache.read_bytes()
    anchor.answer = envelope(4, issued_at=NOW + timedelta(minutes=1))

    outcome = refresh(keeper)

    assert outcome == keeper_module.RefreshOutcome(False, 5, "older-version")
    assert keeper.current().version == 5
    assert cache.read_bytes() == before


def test_an_expired_document_is_refused_and_the_last_good_one_kept(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    before = accept_version_one(keeper, anchor, cache)
    anchor.answer = envelope(2, issued_at=NOW - timedelta(hours=2), valid_for=timedelta(hours=1))

    outcome = refresh(keeper)

    assert outcome.reason == "expired"
    assert keeper.current().version == 1
    assert cache.read_bytes() == before


def test_a_malformed_answer_is_refused(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    before = accept_version_one(keeper, anchor, cache)
    for answer in ({"document": {}}, [], "federation", {"document": {}, "signature": {}}):
        anchor.answer = answer
        assert refresh(keeper).reason == "malformed"
    assert keeper.current().version == 1
    assert cache.read_bytes() == before


def test_the_same_document_again_is_accepted_without_rewriting_the_cache(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    accept_version_one(keeper, anchor, cache)
    os.utime(cache, (0, 0))

    outcome = refresh(keeper)

    assert outcome == keeper_module.RefreshOutcome(True, 1, "unchanged")
    assert cache.stat().st_mtime == 0


def test_a_newer_version_replaces_the_one_held(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    accept_version_one(keeper, anchor, cache)
    anchor.answer = envelope(2, issued_at=NOW + timedelta(minutes=1))

    assert refresh(keeper) == keeper_module.RefreshOutcome(True, 2)
    assert keeper.current().version == 2
    assert json.loads(cache.read_bytes())["document"]["version"] == 2


def test_an_unreachable_anchor_keeps_the_last_good_copy(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    before = accept_version_one(keeper, anchor, cache)
    anchor.answer = OSError("Connection refused")

    outcome = refresh(keeper)

    assert outcome == keeper_module.RefreshOutcome(False, 1, "unreachable")
    assert "trust anchor unreachable: Connection refused" in keeper.last_error
    assert keeper.current().version == 1
    assert cache.read_bytes() == before


def test_an_anchor_that_times_out_counts_as_unreachable(
    keeper: FederationKeeper, anchor: FakeAnchor
) -> None:
    anchor.answer = TimeoutError()
    assert refresh(keeper) == keeper_module.RefreshOutcome(False, None, "unreachable")
    assert "TimeoutError" in keeper.last_error


def test_the_cached_copy_is_restored_after_a_restart(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path, clock: Clock
) -> None:
    accept_version_one(keeper, anchor, cache)

    restarted = FederationKeeper(ANCHOR.public, cache, FakeAnchor(OSError("down")), clock=clock)

    assert restarted.load_cache()
    assert restarted.current().version == 1
    assert restarted.envelope == json.loads(cache.read_bytes())


def test_after_a_restart_a_version_older_than_the_cached_one_is_refused(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path, clock: Clock
) -> None:
    anchor.answer = envelope(3)
    refresh(keeper)

    restarted = FederationKeeper(ANCHOR.public, cache, FakeAnchor(envelope(2)), clock=clock)
    restarted.load_cache()

    assert refresh(restarted).reason == "older-version"
    assert restarted.current().version == 3


def test_without_a_cache_file_nothing_is_loaded(keeper: FederationKeeper) -> None:
    assert not keeper.load_cache()
    assert keeper.last_error == ""


def test_a_tampered_cache_file_is_not_loaded(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path, clock: Clock
) -> None:
    accept_version_one(keeper, anchor, cache)
    stored = json.loads(cache.read_bytes())
    stored["document"]["version"] = 99
    cache.write_text(json.dumps(stored))

    restarted = FederationKeeper(ANCHOR.public, cache, anchor, clock=clock)

    assert not restarted.load_cache()
    assert str(cache) in restarted.last_error
    assert "refused" in restarted.last_error
    with pytest.raises(Problem) as refused:
        restarted.current()
    assert refused.value.slug == "federation-unavailable"


def test_an_unreadable_cache_file_is_not_loaded(keeper: FederationKeeper, cache: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text("{ not json")

    assert not keeper.load_cache()
    assert "unreadable" in keeper.last_error


def test_an_expired_cached_copy_loads_but_cannot_be_exchanged_under(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path, clock: Clock
) -> None:
    accept_version_one(keeper, anchor, cache)
    clock.now = NOW + timedelta(days=2)

    restarted = FederationKeeper(ANCHOR.public, cache, anchor, clock=clock)

    assert restarted.load_cache()
    with pytest.raises(Problem) as refused:
        restarted.current()
    assert refused.value.slug == "federation-expired"


def test_current_without_any_document_is_federation_unavailable(
    keeper: FederationKeeper,
) -> None:
    with pytest.raises(Problem) as refused:
        keeper.current()
    assert refused.value.slug == "federation-unavailable"
    assert refused.value.status == 503
    assert not keeper.is_fresh()


def test_current_once_the_document_has_expired_is_federation_expired(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path, clock: Clock
) -> None:
    accept_version_one(keeper, anchor, cache)
    clock.now = NOW + timedelta(hours=24) - timedelta(seconds=1)
    assert keeper.current().version == 1

    clock.now = NOW + timedelta(hours=24)

    with pytest.raises(Problem) as refused:
        keeper.current()
    assert refused.value.slug == "federation-expired"
    assert "version 1" in refused.value.detail
    assert not keeper.is_fresh()


def test_the_refresh_loop_keeps_going_after_an_unexpected_failure(
    cache: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    answers: list[Any] = [RuntimeError("a bug in the transport"), envelope(1), envelope(1)]
    done = asyncio.Event()

    async def fetch() -> Any:
        answer = answers.pop(0) if answers else envelope(1)
        if not answers:
            done.set()  # the previous answer has been fully handled by now
        if isinstance(answer, BaseException):
            raise answer
        return answer

    keeper = FederationKeeper(ANCHOR.public, cache, fetch, clock=clock)

    async def run_until_answered() -> None:
        task = asyncio.create_task(keeper.run(0.001))
        await asyncio.wait_for(done.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_until_answered())

    assert keeper.current().version == 1
    assert "a bug in the transport" in caplog.text


def test_a_different_document_under_the_same_version_is_refused_and_the_held_one_kept(
    keeper: FederationKeeper, anchor: FakeAnchor, cache: Path
) -> None:
    before = accept_version_one(keeper, anchor, cache)
    anchor.answer = envelope(1, federation="a forked history")
    outcome = refresh(keeper)
    assert (outcome.accepted, outcome.reason) == (False, "conflicting-version")
    assert keeper.document is not None and keeper.document.federation == "test federation"
    assert cache.read_bytes() == before
    assert "conflicting-version" in keeper.last_error
