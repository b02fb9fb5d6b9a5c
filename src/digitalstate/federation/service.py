"""Trust-anchor use cases: issue, amend and re-sign the federation document.

Every change writes a new version; old versions stay in the table, so the history of who was
a member with which keys can always be shown. The caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.federation.domain import (
    Catalogue,
    FederationDocument,
    Member,
    MemberKey,
    Role,
    sign_document,
)
from digitalstate.federation.models import FederationDocumentRow
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.settings import NodeSettings


class FederationChangeError(ValueError):
    """A change to the federation that cannot be made, with the reason."""


def latest_row(session: Session) -> FederationDocumentRow | None:
    """The newest signed version, or None before the federation is initialised."""
    return session.scalars(
        select(FederationDocumentRow).order_by(FederationDocumentRow.version.desc()).limit(1)
    ).first()


def latest_envelope(session: Session) -> dict[str, Any] | None:
    """The newest signed envelope as a JSON object."""
    row = latest_row(session)
    return None if row is None else dict(json.loads(row.envelope))


def latest_document(session: Session) -> FederationDocument | None:
    """The newest version of the document."""
    envelope = latest_envelope(session)
    return None if envelope is None else FederationDocument.model_validate(envelope["document"])


def _store(session: Session, document: FederationDocument, anchor: KeyPair) -> FederationDocument:
    envelope = sign_document(document, anchor)
    session.add(
        FederationDocumentRow(
            version=document.version,
            issued_at=document.issued_at,
            expires_at=document.expires_at,
            envelope=json.dumps(envelope, sort_keys=True),
        )
    )
    session.flush()
    return document


def issue_first(
    session: Session,
    anchor: KeyPair,
    *,
    federation: str,
    catalogue: Catalogue,
    now: datetime,
    validity: timedelta,
) -> FederationDocument:
    """Write version 1 of a new federation with the given catalogue and no members."""
    if latest_row(session) is not None:
        raise FederationChangeError("this trust anchor already holds a federation document")
    document = FederationDocument(
        federation=federation,
        version=1,
        issued_at=now,
        expires_at=now + validity,
        purposes=catalogue.purposes,
        statutory_bases=catalogue.statutory_bases,
        fields=catalogue.fields,
    )
    return _store(session, document, anchor)


def amend(
    session: Session,
    anchor: KeyPair,
    change: Callable[[FederationDocument], dict[str, Any]],
    *,
    now: datetime,
    validity: timedelta,
) -> FederationDocument:
    """Apply change (returning the fields to replace) as a new, re-signed version."""
    current = latest_document(session)
    if current is None:
        raise FederationChangeError("no federation yet; run 'digitalstate federation init'")
    updates = change(current)
    document = current.model_copy(
        update=updates
        | {"version": current.version + 1, "issued_at": now, "expires_at": now + validity}
    )
    # Validate the whole document again: model_copy does not.
    document = FederationDocument.model_validate(document.model_dump())
    return _store(session, document, anchor)


def add_member(
    session: Session,
    anchor: KeyPair,
    *,
    member_id: str,
    name: str,
    roles: list[Role],
    base_url: str,
    public_key: PublicKey,
    now: datetime,
    validity: timedelta,
    key_not_after: datetime | None = None,
) -> FederationDocument:
    """Add a member with one key, valid from now."""

    def change(doc: FederationDocument) -> dict[str, Any]:
        if doc.member(member_id) is not None:
            raise FederationChangeError(f"{member_id} is already a member")
        key = MemberKey(public_key=public_key.b64, not_before=now, not_after=key_not_after)
        member = Member(id=member_id, name=name, roles=tuple(roles), base_url=base_url, keys=(key,))
        return {"members": (*doc.members, member)}

    return amend(session, anchor, change, now=now, validity=validity)


def revoke_member(
    session: Session, anchor: KeyPair, *, member_id: str, now: datetime, validity: timedelta
) -> FederationDocument:
    """Revoke a member and all its keys from now on; its history stays in the document."""

    def change(doc: FederationDocument) -> dict[str, Any]:
        member = doc.member(member_id)
        if member is None:
            raise FederationChangeError(f"{member_id} is not a member")
        if member.revoked_at is not None:
            raise FederationChangeError(f"{member_id} was already revoked at {member.revoked_at}")
        keys = tuple(k.model_copy(update={"revoked_at": k.revoked_at or now}) for k in member.keys)
        revoked = member.model_copy(update={"revoked_at": now, "keys": keys})
        return {"members": tuple(revoked if m.id == member_id else m for m in doc.members)}

    return amend(session, anchor, change, now=now, validity=validity)


def reissue_if_due(
    session: Session,
    anchor: KeyPair,
    *,
    now: datetime,
    validity: timedelta,
    reissue_fraction: float,
) -> FederationDocument | None:
    """Re-sign the same content as a new version once enough of its validity has passed."""
    current = latest_document(session)
    if current is None:
        return None
    lifetime = current.expires_at - current.issued_at
    if now < current.issued_at + lifetime * reissue_fraction:
        return None
    return amend(session, anchor, lambda _doc: {}, now=now, validity=validity)


def add_node_member(
    session: Session,
    anchor: KeyPair,
    node: NodeSettings,
    *,
    now: datetime,
    validity: timedelta,
) -> FederationDocument:
    """Add the node that node's settings describe, with the public half of its key file."""
    return add_member(
        session,
        anchor,
        member_id=node.node.id,
        name=node.node.name,
        roles=list(node.node.roles),
        base_url=node.node.base_url,
        public_key=KeyPair.load(node.key_path).public,
        now=now,
        validity=validity,
    )
