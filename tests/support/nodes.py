"""Nodes for tests: settings and a key in a directory, a runtime, an app running in-process.

A node here never reaches a trust anchor: it starts from the document in its cache file
(federation.hold) and its runtime fetches with federation.anchor_is_down.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from digitalstate.app import create_node_app
from digitalstate.federation.domain import FederationDocument, Member
from digitalstate.federation.keeper import Fetch
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.node.setup import init_node
from digitalstate.settings import NodeSettings
from support.clients import InProcessClient
from support.federation import ANCHOR, NOWHERE, anchor_is_down, federation_document, hold, member_of
from support.servers import LoopbackServer


def node_settings(
    directory: Path,
    member_id: str,
    database_url: str,
    *,
    name: str | None = None,
    roles: Iterable[str] = ("register",),
    port: int = 8101,
    base_url: str | None = None,
    anchor: KeyPair = ANCHOR,
    anchor_url: str = NOWHERE,
    extra: dict[str, dict[str, Any]] | None = None,
) -> NodeSettings:
    """A node's settings and key in directory (init_node), with no trust anchor to reach
    unless anchor_url names one.

    name defaults to member_id, base_url to http://127.0.0.1:port; anchor's is the pinned key.
    """
    return init_node(
        directory,
        member_id=member_id,
        name=member_id if name is None else name,
        roles=list(roles),
        host="127.0.0.1",
        port=port,
        base_url=f"http://127.0.0.1:{port}" if base_url is None else base_url,
        anchor_url=anchor_url,
        anchor_public_key=anchor.public.b64,
        database_url=database_url,
        extra=extra,
    )


def node_runtime(settings: NodeSettings, fetch: Fetch = anchor_is_down) -> NodeRuntime:
    """The node's runtime, fetching its federation document with fetch (the anchor is down)."""
    return NodeRuntime.build(settings, fetch=fetch)


@dataclass
class InProcessNode:
    """A node's app running in-process: its settings, runtime, document and a client of it."""

    settings: NodeSettings
    runtime: NodeRuntime
    document: FederationDocument
    http: InProcessClient

    @property
    def app(self) -> FastAPI:
        """The node's app."""
        return self.http.app


@contextmanager
def running_node(
    settings: NodeSettings,
    document: FederationDocument,
    *,
    anchor: KeyPair = ANCHOR,
    cached: bool = True,
    background: bool = True,
    prepare: Callable[[FastAPI], None] | None = None,
) -> Iterator[InProcessNode]:
    """The node's app running in-process for the with block, holding document.

    cached: document, signed by anchor, is put in the node's cache file first (else the node
    starts with no document). background=False: no background work (delivery, sequencer,
    witness) starts. prepare(app) runs before the app starts (to add test-only routes).
    """
    if cached:
        hold(document, settings, anchor=anchor)
    app = create_node_app(settings, fetch=anchor_is_down)
    runtime: NodeRuntime = app.state.node
    if prepare is not None:
        prepare(app)
    if not background:
        runtime.background.clear()
    with InProcessClient(app, settings.node.base_url) as http:
        yield InProcessNode(settings, runtime, document, http)


@contextmanager
def start_register(
    directory: Path,
    database_url: str,
    peers: Iterable[Member],
    *,
    base_url: str,
    anchor: KeyPair = ANCHOR,
    federation: str = "test federation",
    extra: dict[str, dict[str, Any]] | None = None,
) -> Iterator[InProcessNode]:
    """The People register's app in-process with no background work, in a federation of peers.

    Its own entry (from its new key) comes first in the document.
    """
    settings = node_settings(
        directory,
        "people-register",
        database_url,
        name="People register",
        port=8102,
        base_url=base_url,
        anchor=anchor,
        extra=extra,
    )
    document = federation_document((member_of(settings), *peers), federation=federation)
    with running_node(settings, document, anchor=anchor, background=False) as node:
        yield node


class ServedNode(LoopbackServer):
    """A node's app served on loopback in a thread, its runtime fetching with anchor_is_down.

    Until start() the socket is bound but not listening: a call is refused, as when it is down.
    """

    def __init__(self, settings: NodeSettings, sock: socket.socket | None = None, **config: Any):
        self.settings = settings
        app = create_node_app(settings, fetch=anchor_is_down)
        self.runtime: NodeRuntime = app.state.node
        super().__init__(app, sock, **config)
