"""A node's copy of the federation document: fetched, verified, kept on disk, refreshed.

A node trusts only documents signed by the pinned trust-anchor key. It keeps the last good
copy on disk, so that it can start while the anchor is down; it refuses a document with a bad
signature or an older version (keeping what it had); and it refuses to exchange once its copy
has expired, because it can no longer know who is still a member.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digitalstate.federation.domain import DocumentRefusedError, FederationDocument, verify_document
from digitalstate.files import write_atomically
from digitalstate.keys import PublicKey
from digitalstate.problems import Problem, failure_reason

log = logging.getLogger(__name__)

FEDERATION_PATH = "/.well-known/digitalstate/federation"
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""The most of an answer read as the federation document, before its signature is checked:
ample for a country's members, keys and catalogue (the demo's is 14 KiB)."""

RETRY_UNFED_SECONDS = 2.0
"""How soon to try again while no valid document is held: nothing can be exchanged till then."""
BACKOFF_MAX_SECONDS = 15.0
"""The longest wait after failures (unless the interval is longer): with the anchor's reload
(5 s) and one request (10 s), a revocation still takes effect within 30 s once it answers."""


@dataclass(frozen=True)
class Fetched:
    """The anchor's signed envelope as parsed JSON, with the ETag it was served under."""

    envelope: Any
    etag: str | None = None


NOT_MODIFIED = object()
"""What a fetch returns when the anchor answers 304: the document held is still current."""

Fetch = Callable[[], Awaitable[Any]]
"""Fetch the anchor's envelope: a Fetched, plain parsed JSON or NOT_MODIFIED (raises
OSError-like errors when the anchor is down)."""


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh did: accepted a new version, kept the same, or refused and why."""

    accepted: bool
    version: int | None
    reason: str = ""


class FederationKeeper:
    """Holds the verified federation document a node currently trusts."""

    def __init__(
        self,
        anchor_key: PublicKey,
        cache_path: Path,
        fetch: Fetch,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.anchor_key = anchor_key
        self.cache_path = cache_path
        self.fetch = fetch
        self.clock = clock
        self.document: FederationDocument | None = None
        self.envelope: dict[str, Any] | None = None
        self.last_error: str = ""
        # The anchor's ETag of the envelope held, sent as If-None-Match: a 304 costs no body.
        self.etag: str | None = None
        self.failures = 0

    def load_cache(self) -> bool:
        """Load the last good copy from disk, if there is one that verifies."""
        try:
            envelope = json.loads(self.cache_path.read_bytes())
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            self.last_error = f"{self.cache_path}: unreadable cached document ({exc})"
            log.error("%s", self.last_error)
            return False
        try:
            document = verify_document(
                envelope, self.anchor_key, now=self.clock(), allow_expired=True
            )
        except DocumentRefusedError as exc:
            self.last_error = f"{self.cache_path}: cached document refused ({exc.detail})"
            log.error("%s", self.last_error)
            return False
        self.document, self.envelope = document, envelope
        return True

    def accept(self, envelope: Any) -> RefreshOutcome:
        """Verify an envelope and adopt it if it is at least as new as the one held."""
        last = self.document.version if self.document else None
        try:
            document = verify_document(
                envelope, self.anchor_key, now=self.clock(), last_version=last
            )
        except DocumentRefusedError as exc:
            self.last_error = f"federation document refused ({exc.reason}): {exc.detail}"
            log.warning("%s", self.last_error)
            return RefreshOutcome(False, last, exc.reason)
        if self.document is not None and document.version == self.document.version:
            if document == self.document:
                self.last_error = ""
                return RefreshOutcome(True, document.version, "unchanged")
            # The anchor re-signs a change as a new version; two contents under one version
            # means the anchor's history was reset or forked. Keep what we hold and say so.
            self.last_error = (
                f"federation document refused (conflicting-version): version "
                f"{document.version} differs from the copy already held under that version"
            )
            log.error("%s", self.last_error)
            return RefreshOutcome(False, document.version, "conflicting-version")
        self.document, self.envelope = document, envelope
        self.last_error = ""
        try:
            write_atomically(self.cache_path, json.dumps(envelope, sort_keys=True).encode())
        except OSError as exc:
            # The document verified, so exchange under it; only the copy for restarts is stale.
            self.last_error = f"{self.cache_path}: cannot keep the document on disk ({exc})"
            log.error("%s", self.last_error)
        log.info("federation document version %s accepted", document.version)
        return RefreshOutcome(True, document.version)

    async def refresh(self) -> RefreshOutcome:
        """Fetch the document from the trust anchor and accept it if it verifies."""
        try:
            fetched = await self.fetch()
        except (TimeoutError, OSError, ValueError) as exc:
            self.last_error = f"trust anchor unreachable: {str(exc) or type(exc).__name__}"
            log.warning("%s", self.last_error)
            return self._counted(
                RefreshOutcome(
                    False, self.document.version if self.document else None, "unreachable"
                )
            )
        if fetched is NOT_MODIFIED and self.document is not None:
            self.last_error = ""
            return self._counted(RefreshOutcome(True, self.document.version, "not-modified"))
        if not isinstance(fetched, Fetched):
            fetched = Fetched(fetched)
        outcome = self.accept(fetched.envelope)
        if outcome.accepted:
            self.etag = fetched.etag
        return self._counted(outcome)

    def _counted(self, outcome: RefreshOutcome) -> RefreshOutcome:
        # Back off only while the anchor does not answer: that is when asking again adds load
        # to something already struggling. A refused document is an answer; it is asked for
        # again at the usual interval, so that a corrected one is taken up as soon as any.
        self.failures = self.failures + 1 if outcome.reason == "unreachable" else 0
        return outcome

    def next_wait(self, interval: float) -> float:
        """Seconds until the next refresh: the interval, or after a failure at most twice it."""
        wait = interval
        if self.failures:
            wait = max(interval, min(interval * 2, BACKOFF_MAX_SECONDS))
        return wait if self.is_fresh() else min(wait, RETRY_UNFED_SECONDS)

    def current(self) -> FederationDocument:
        """The document to exchange under; raises a Problem when none is valid now."""
        document = self.document
        if document is None:
            raise Problem(
                "federation-unavailable",
                "this node has not yet obtained a federation document from the trust anchor",
            )
        if document.is_expired(self.clock()):
            raise Problem(
                "federation-expired",
                f"this node's federation document (version {document.version}) expired at "
                f"{document.expires_at.isoformat()} and the trust anchor has not given a newer one",
            )
        return document

    def is_fresh(self) -> bool:
        """True when a current, unexpired document is held."""
        return self.document is not None and not self.document.is_expired(self.clock())

    async def run(self, interval: float) -> None:
        """Refresh every interval seconds, forever, backing off while the anchor is unreachable.

        The last good document stays in use through failures, until it expires; while no
        valid copy is held, it tries every 2 s.
        """
        while True:
            await asyncio.sleep(self.next_wait(interval))
            try:
                await self.refresh()
            except Exception as exc:  # one bad refresh must not end refreshing for good
                self.failures += 1
                self.last_error = f"federation refresh failed: {failure_reason(exc)}"
                log.exception("federation refresh failed")
