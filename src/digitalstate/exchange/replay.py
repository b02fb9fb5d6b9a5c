"""A nonce cache that refuses a signature seen before within the acceptance window."""

from __future__ import annotations

import threading
from collections import OrderedDict


class NonceCache:
    """Remembers (key id, nonce) pairs for ttl seconds; bounded in size.

    A signature older than the clock-skew window is refused on its time alone, so a nonce
    need only be remembered for that window: twice the skew, because a signature created
    skew seconds ahead of the receiver's clock stays acceptable for 2 * skew seconds. An
    entry is kept up to and including the instant it expires, since the signature is still
    acceptable at that instant.

    The bound protects memory under a flood. Forgetting a nonce that is still inside its
    window would let that signature be replayed, so a cache full of live entries fails
    closed: it refuses new nonces until entries expire.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 1_000_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_remember(self, keyid: str, nonce: str, now: float) -> bool:
        """True the first time (keyid, nonce) is seen within ttl; False on a replay or when full."""
        item = (keyid, nonce)
        with self._lock:
            self._expire(now)
            if item in self._seen or len(self._seen) >= self.max_entries:
                return False
            self._seen[item] = now + self.ttl
            return True

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            key, expiry = next(iter(seen.items()))
            if expiry >= now:
                return
            del seen[key]
