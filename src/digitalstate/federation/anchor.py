"""The running trust anchor: its key, its database and the document it publishes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.federation.domain import FederationDocument
from digitalstate.federation.service import latest_envelope, reissue_if_due
from digitalstate.keys import KeyPair
from digitalstate.settings import AnchorSettings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade
from digitalstate.storage.threads import run_blocking

log = logging.getLogger(__name__)


def strong_etag(body: bytes) -> str:
    """A strong entity tag of body: its SHA-256, quoted (RFC 9110 §8.8.3)."""
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an If-None-Match header names etag, so the answer is 304 Not Modified."""
    if if_none_match is None:
        return False
    # RFC 9110 §13.1.2: If-None-Match compares weakly, so a W/ prefix still matches.
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


@dataclass
class AnchorRuntime:
    """The trust anchor's parts, wired once by the app factory."""

    settings: AnchorSettings
    key: KeyPair
    engine: Engine
    sessions: sessionmaker[Session]
    document: FederationDocument | None = None
    # The envelope's bytes and their ETag, replaced together (reload runs in a thread).
    published: tuple[bytes, str] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: AnchorSettings) -> AnchorRuntime:
        """Load the anchor's key and open its database."""
        key = KeyPair.load(settings.key_path)
        engine = make_engine(
            settings.database_url,
            echo=settings.database.echo,
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
        )
        return cls(settings=settings, key=key, engine=engine, sessions=make_sessions(engine))

    @property
    def validity(self) -> timedelta:
        """How long each issued version is valid."""
        return timedelta(hours=self.settings.anchor.validity_hours)

    def reload(self) -> None:
        """Re-sign the document if due, then publish the newest version."""
        with self.sessions.begin() as session:
            issued = reissue_if_due(
                session,
                self.key,
                now=datetime.now(UTC),
                validity=self.validity,
                reissue_fraction=self.settings.anchor.reissue_fraction,
            )
            if issued is not None:
                log.info("re-signed the federation document as version %s", issued.version)
            envelope = latest_envelope(session)
        if envelope is None:
            self.document, self.published = None, None
            return
        self.document = FederationDocument.model_validate(envelope["document"])
        body = json.dumps(envelope, sort_keys=True).encode()
        self.published = (body, strong_etag(body))

    async def _keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.settings.anchor.reload_seconds)
            try:
                await run_blocking(self.reload)
            except Exception:  # keep serving the last version; say why in the log
                log.exception("could not reload or re-sign the federation document")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Publish the document and keep it re-signed while the app runs."""
        if self.settings.database.upgrade_on_start:
            await run_blocking(upgrade, self.engine)
        await run_blocking(self.reload)
        self._tasks.append(asyncio.create_task(self._keep_fresh()))
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.engine.dispose()
