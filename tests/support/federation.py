"""Federation documents for tests: members, a document with the demo catalogue, its envelope.

Nodes in tests start from a signed document already in their cache file and fetch with
anchor_is_down, so no trust anchor need run (NodeRuntime.build(settings, fetch=...)).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, Member, MemberKey, sign_document
from digitalstate.keys import KeyPair
from digitalstate.settings import NodeSettings

ANCHOR = KeyPair.from_seed(bytes(range(100, 132)))
"""The trust anchor's key, unless a test names its own."""
NOWHERE = "http://127.0.0.1:9"
"""The discard port: a connection to it is refused at once (a member that runs no app)."""


async def anchor_is_down() -> Any:
    """A node's fetch of the federation document when no trust anchor runs: it keeps its cache."""
    raise OSError("Connection refused")


def member(
    member_id: str,
    key: KeyPair | str,
    *,
    name: str | None = None,
    roles: Iterable[Any] = ("register",),
    base_url: str = NOWHERE,
    since: datetime | None = None,
    revoked_at: datetime | None = None,
) -> Member:
    """A member with one key (a key pair or a public key in base64), valid since yesterday.

    name defaults to member_id; since (the key's not_before) to a day before now.
    """
    public = key if isinstance(key, str) else key.public.b64
    return Member(
        id=member_id,
        name=member_id if name is None else name,
        roles=tuple(roles),
        base_url=base_url,
        keys=(
            MemberKey(public_key=public, not_before=since or datetime.now(UTC) - timedelta(days=1)),
        ),
        revoked_at=revoked_at,
    )


def member_of(settings: NodeSettings, *, since: datetime | None = None) -> Member:
    """The federation entry of a node made with init_node: its id, name, roles, URL and key."""
    return member(
        settings.node.id,
        KeyPair.load(settings.key_path),
        name=settings.node.name,
        roles=settings.node.roles,
        base_url=settings.node.base_url,
        since=since,
    )


def federation_document(
    members: Iterable[Member] = (),
    *,
    federation: str = "test federation",
    version: int = 1,
    now: datetime | None = None,
    issued_at: datetime | None = None,
    expires_at: datetime | None = None,
    catalogue: bool = True,
) -> FederationDocument:
    """A document of members, issued a minute before now and expiring an hour after, unless told.

    now defaults to the time now. With catalogue (the default) the document carries the demo
    catalogue's purposes, statutory bases and fields; without, none.
    """
    now = now if now is not None else datetime.now(UTC).replace(microsecond=0)
    issued = issued_at if issued_at is not None else now - timedelta(minutes=1)
    listed: dict[str, Any] = {}
    if catalogue:
        demo = load_catalogue()
        listed = {
            "purposes": demo.purposes,
            "statutory_bases": demo.statutory_bases,
            "fields": demo.fields,
        }
    return FederationDocument(
        federation=federation,
        version=version,
        issued_at=issued,
        expires_at=expires_at if expires_at is not None else now + timedelta(hours=1),
        members=tuple(members),
        **listed,
    )


def nodes_document(*nodes: NodeSettings, **kwargs: Any) -> FederationDocument:
    """A document whose members are the nodes made with init_node (federation_document's kwargs)."""
    return federation_document((member_of(s) for s in nodes), **kwargs)


def signed_envelope(document: FederationDocument, anchor: KeyPair = ANCHOR) -> str:
    """document signed by anchor, as the JSON a node keeps in its cache file."""
    return json.dumps(sign_document(document, anchor))


def hold(document: FederationDocument, *nodes: NodeSettings, anchor: KeyPair = ANCHOR) -> None:
    """Put document, signed by anchor, in each node's cache file: what the node starts from."""
    envelope = signed_envelope(document, anchor)
    for settings in nodes:
        settings.federation_cache_path.write_text(envelope)
