"""The portal's harvest: every member's published datasets, read over the signed exchange.

For each member (but revoked ones), at most every ``[opendata] harvest_seconds``, in one
worker of the node (the opendata-harvest role):

1. its list, ``GET /exchange/v1/datasets``;
2. for each dataset whose listed version the portal does not hold, the package and each
   resource's CSV file, every answer read no further than ``[opendata] max_file_bytes``;
3. each file's size and SHA-256 checked against the package, the package validated by
   frictionless against the files, each resource written as Parquet (opendata/store.py);
4. the version recorded and made current.

The portal's own datasets (it is a node that spends and publishes too) go through the same
steps, the list, packages and files read in-process from its own publishing shelf as the
exchange would serve them.

A member that cannot be reached, or serves something refused, is recorded as a failure with
the reason; the versions harvested before stay current, and the harvest runs again after
``[opendata] retry_seconds``, doubled after each harvest that fails again, up to
``harvest_seconds`` (one slow answer does not leave a member's data an hour old). A member's
whole harvest is bounded by ``[opendata] member_seconds``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi.encoders import jsonable_encoder

from digitalstate.exchange.bounded import parse_json
from digitalstate.exchange.client import ExchangeError
from digitalstate.node.runtime import NodeRuntime
from digitalstate.opendata import service
from digitalstate.opendata.domain import (
    LIST,
    Listed,
    RefusedError,
    check_file,
    read_listing,
    read_package,
    retry_delay,
)
from digitalstate.opendata.store import Store
from digitalstate.publishing import service as publishing
from digitalstate.storage.threads import run_blocking

log = logging.getLogger(__name__)

EXCHANGE_DATASETS_PATH = "/exchange/v1/datasets"  # publishing/api.py serves it
LIST_BYTES_PER_DATASET = 4096
PACKAGE_MAX_BYTES = 1024 * 1024
T = TypeVar("T")


class Harvester:
    """The harvest of every member's datasets into store, recorded in the node's database."""

    def __init__(
        self,
        node: NodeRuntime,
        store: Store,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        own: publishing.Shelf | None = None,
    ) -> None:
        self.node = node
        self.store = store
        self.clock = clock
        self.own = own  # the portal's own datasets, harvested in-process; None: not harvested
        self.me = node.settings.node.id
        self.settings = node.settings.opendata

    async def run(self) -> None:
        """Background: harvest every member, then again every harvest_seconds, or sooner after
        a harvest with failures (retry_delay); forever."""
        failed_runs = 0
        while True:
            try:
                failed = bool(await self.harvest_all())
            except Exception:
                log.exception("the open data harvest failed; trying again")
                failed = True
            failed_runs = failed_runs + 1 if failed else 0
            await asyncio.sleep(
                retry_delay(failed_runs, self.settings.retry_seconds, self.settings.harvest_seconds)
            )

    async def harvest_all(self) -> set[str]:
        """Harvest every current member, this node too when it has its own shelf, one after
        another; the members whose list or a dataset failed."""
        federation = self.node.keeper.current()
        failed: set[str] = set()
        for member in federation.members:
            if member.revoked_at is not None or (member.id == self.me and self.own is None):
                continue
            why = ""
            try:
                async with asyncio.timeout(self.settings.member_seconds):
                    whole = await self.harvest_member(member.id)
            except TimeoutError:
                why = f"the harvest took longer than {self.settings.member_seconds:g} seconds"
            except Exception as exc:  # unforeseen (the portal's own list is read by its
                # features' code): this member's failure, not the harvest's
                log.exception("harvesting %s failed", member.id)
                why = unforeseen(exc)
            if why:
                whole = False
                await self._in_transaction(
                    service.record_failure, member.id, LIST, why, self.clock()
                )
            if not whole:
                failed.add(member.id)
        return failed

    async def harvest_member(self, publisher: str) -> bool:
        """Harvest one member's list and every dataset in it the portal does not hold; whether
        none failed."""
        try:
            listing = await self._json(
                publisher,
                EXCHANGE_DATASETS_PATH,
                LIST_BYTES_PER_DATASET * self.settings.max_datasets,
            )
            listed = read_listing(listing, publisher, self.settings.max_datasets)
        except (ExchangeError, RefusedError) as exc:
            await self._in_transaction(
                service.record_failure, publisher, LIST, str(exc), self.clock()
            )
            return False
        await self._in_transaction(service.record_harvested, publisher, LIST, self.clock())
        known = await self._in_transaction(service.known_versions, publisher)
        whole = True
        for item in listed:
            if (item.name, item.version) in known:
                await self._in_transaction(
                    service.record_harvested, publisher, item.name, self.clock()
                )
                continue
            try:
                package = await self._version(publisher, item)
            except (ExchangeError, RefusedError) as exc:
                why = str(exc)
            except Exception as exc:  # unforeseen: this dataset's failure, not the harvest's
                log.exception("harvesting %s's %s %s failed", publisher, item.name, item.version)
                why = unforeseen(exc)
            else:
                await self._in_transaction(
                    service.record_version, publisher, item, package, self.clock()
                )
                continue
            await self._in_transaction(
                service.record_failure,
                publisher,
                item.name,
                f"version {item.version}: {why}",
                self.clock(),
            )
            whole = False
        return whole

    async def _version(self, publisher: str, item: Listed) -> dict[str, Any]:
        """Fetch, check, validate and store a new version; its package."""
        base = f"{EXCHANGE_DATASETS_PATH}/{item.name}"
        package = await self._json(publisher, f"{base}/datapackage.json", PACKAGE_MAX_BYTES)
        files = read_package(package, item, publisher)
        bodies: dict[str, bytes] = {}
        for resource in files:
            if resource.bytes > self.settings.max_file_bytes:
                raise RefusedError(
                    f"{resource.name}.csv is {resource.bytes} bytes, more than the "
                    f"{self.settings.max_file_bytes} read ([opendata] max_file_bytes)"
                )
            body = await self._get(publisher, f"{base}/{resource.name}.csv", resource.bytes)
            check_file(resource, body)
            bodies[resource.name] = body
        await run_blocking(self.store.write, publisher, item, package, files, bodies)
        return dict(package)

    async def _json(self, publisher: str, path: str, max_bytes: int) -> Any:
        body = await self._get(publisher, path, max_bytes)
        try:
            return parse_json(body)
        except ValueError as exc:
            raise RefusedError(f"{path} is not JSON") from exc

    async def _get(self, publisher: str, path: str, max_bytes: int) -> bytes:
        """The body of a GET of path at publisher, read no further than max_bytes: over the
        signed exchange, or in-process for this node's own datasets."""
        if publisher == self.me and self.own is not None:
            body = await run_blocking(self._own_body, self.own, path)
            if len(body) > max_bytes:
                raise RefusedError(f"{path} is longer than the {max_bytes} bytes read")
            return body
        answer = await self.node.client.call(publisher, "GET", path, max_bytes=max_bytes)
        if not answer.ok:
            raise RefusedError(f"{path} answered {answer.status}")
        return answer.body

    @staticmethod
    def _own_body(shelf: publishing.Shelf, path: str) -> bytes:
        """What the node's exchange routes (publishing/api.py) answer at path, read from its
        shelf."""
        rest = path.removeprefix(EXCHANGE_DATASETS_PATH).strip("/")
        if not rest:
            return _json_body(publishing.listing(shelf))
        name, _, file = rest.partition("/")
        published = shelf.get(name)
        if published is None:
            raise RefusedError(f"{path}: the node publishes no dataset {name!r} now")
        if file == "datapackage.json":
            return _json_body(publishing.package(shelf, published))
        table = published.content.table(file.removesuffix(".csv"))
        if table is None or not file.endswith(".csv"):
            raise RefusedError(f"{path}: dataset {name!r} has no such file")
        return table.csv

    async def _in_transaction(self, function: Callable[..., T], *args: Any) -> T:
        def work() -> T:
            with self.node.sessions.begin() as session:
                return function(session, *args)

        return await run_blocking(work)


def unforeseen(exc: Exception) -> str:
    """What a harvest's status says of a fault of the portal's own (its log has the rest)."""
    return f"the portal failed on it ({type(exc).__name__}; its log says more)"


def _json_body(data: Any) -> bytes:
    """data as the exchange's JSON answer carries it."""
    return json.dumps(jsonable_encoder(data)).encode()
