"""The nonce cache that refuses replayed signatures."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from digitalstate.exchange.replay import NonceCache


def test_a_new_nonce_is_accepted_and_remembered() -> None:
    cache = NonceCache(ttl_seconds=120)
    assert cache.check_and_remember("a", "n1", now=1000)
    assert len(cache) == 1


def test_a_replayed_nonce_is_refused() -> None:
    cache = NonceCache(ttl_seconds=120)
    cache.check_and_remember("a", "n1", now=1000)
    assert not cache.check_and_remember("a", "n1", now=1001)


def test_the_same_nonce_from_another_signer_is_accepted() -> None:
    cache = NonceCache(ttl_seconds=120)
    assert cache.check_and_remember("a", "n1", now=1000)
    assert cache.check_and_remember("b", "n1", now=1000)


def test_a_nonce_is_refused_up_to_and_including_the_instant_it_expires() -> None:
    # A signature created skew ahead of this clock is still acceptable at first-seen + 2 * skew;
    # forgetting its nonce at that very instant admitted one replay.
    cache = NonceCache(ttl_seconds=120)
    cache.check_and_remember("a", "n1", now=1000)
    assert not cache.check_and_remember("a", "n1", now=1120)


def test_a_nonce_is_forgotten_after_it_expires() -> None:
    cache = NonceCache(ttl_seconds=120)
    cache.check_and_remember("a", "n1", now=1000)
    assert cache.check_and_remember("a", "n1", now=1120.001)


def test_expired_entries_are_dropped() -> None:
    cache = NonceCache(ttl_seconds=10)
    for i in range(5):
        cache.check_and_remember("a", f"n{i}", now=1000 + i)
    cache.check_and_remember("a", "late", now=1013)
    assert len(cache) == 3  # n3 (expires at 1013, kept at that instant), n4 and late


def test_a_full_cache_refuses_new_nonces_rather_than_forget_live_ones() -> None:
    cache = NonceCache(ttl_seconds=120, max_entries=2)
    assert cache.check_and_remember("a", "n1", now=1000)
    assert cache.check_and_remember("a", "n2", now=1001)
    assert not cache.check_and_remember("a", "n3", now=1002)
    # n1 is still inside its window, so it must still be refused.
    assert not cache.check_and_remember("a", "n1", now=1003)
    assert len(cache) == 2


def test_a_full_cache_accepts_again_once_entries_expire() -> None:
    cache = NonceCache(ttl_seconds=120, max_entries=2)
    cache.check_and_remember("a", "n1", now=1000)
    cache.check_and_remember("a", "n2", now=1001)
    assert cache.check_and_remember("a", "n3", now=1120.5)
    assert len(cache) == 2


def test_concurrent_callers_accept_a_nonce_exactly_once() -> None:
    cache = NonceCache(ttl_seconds=120)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(cache.check_and_remember("a", "shared", now=1000))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]), st.sampled_from(["n1", "n2", "n3"]), st.integers(0, 50)
        ),
        max_size=30,
    )
)
def test_a_nonce_is_accepted_only_when_unseen_within_the_ttl(
    calls: list[tuple[str, str, int]],
) -> None:
    ttl = 10
    cache = NonceCache(ttl_seconds=ttl)
    accepted_at: dict[tuple[str, str], int] = {}
    now = 0
    for keyid, nonce, step in calls:
        now += step % 7  # time never goes backwards
        expected = (keyid, nonce) not in accepted_at or now > accepted_at[(keyid, nonce)] + ttl
        assert cache.check_and_remember(keyid, nonce, now) == expected
        if expected:
            accepted_at[(keyid, nonce)] = now
