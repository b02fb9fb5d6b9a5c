"""The federation document: members, keys, catalogues; its canonical form and signature.

The trust anchor signs the canonical JSON of the document (sorted keys, no insignificant
white space, UTF-8: the RFC 8785 form for documents without floating point numbers) with
Ed25519. Nodes pin the anchor's public key and accept a document only when the signature
verifies, the version does not go backwards and it has not expired.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from digitalstate.keys import KeyPair, PublicKey, b64decode, b64encode
from digitalstate.problems import Problem

MEMBER_ID_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
ROLES = ("charter", "register", "service", "opendata")
Role = Literal["charter", "register", "service", "opendata"]
ANCHOR_KEY_ID = "trust-anchor"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemberKey(_Model):
    """One Ed25519 public key of a member and the period it may sign in."""

    public_key: str
    not_before: datetime
    not_after: datetime | None = None
    revoked_at: datetime | None = None

    @field_validator("public_key")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
        PublicKey.from_b64(value)
        return value

    def valid_at(self, when: datetime) -> bool:
        """True when the key may sign at when."""
        if when < self.not_before:
            return False
        if self.not_after is not None and when > self.not_after:
            return False
        return self.revoked_at is None or when < self.revoked_at


class Member(_Model):
    """An institution in the federation: its node, roles and keys."""

    id: str = Field(pattern=MEMBER_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    roles: tuple[Role, ...]
    base_url: str = Field(pattern=r"^https?://[^/\s]+$")
    keys: tuple[MemberKey, ...]
    services: tuple[str, ...] = ()
    revoked_at: datetime | None = None


class Purpose(_Model):
    """A purpose of processing from the catalogue, with the exact wording shown to people."""

    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str
    wording: str
    dpv: str | None = None


class StatutoryBasis(_Model):
    """A published legal basis that lets a requester read fields without consent."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    legislation: str
    requester: str = Field(pattern=MEMBER_ID_PATTERN)
    fields: tuple[str, ...]
    purpose: str
    description: str = ""


class FieldDefinition(_Model):
    """A field of a person's data, its type and the one register (holder) that is authoritative."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    type: str
    holder: str = Field(pattern=MEMBER_ID_PATTERN, description="the authoritative register")
    sensitivity: Literal["normal", "sensitive"] = "normal"
    description: str = ""


class Catalogue(_Model):
    """The federation's purposes, statutory bases and fields."""

    purposes: tuple[Purpose, ...] = ()
    statutory_bases: tuple[StatutoryBasis, ...] = ()
    fields: tuple[FieldDefinition, ...] = ()


class FederationDocument(_Model):
    """One version of the federation: who is in it and what may be asked of whom."""

    federation: str = Field(min_length=1)
    version: int = Field(ge=1)
    issued_at: datetime
    expires_at: datetime
    members: tuple[Member, ...] = ()
    purposes: tuple[Purpose, ...] = ()
    statutory_bases: tuple[StatutoryBasis, ...] = ()
    fields: tuple[FieldDefinition, ...] = ()

    @model_validator(mode="after")
    def _entries_agree(self) -> FederationDocument:
        # Members and registers join over time, so a basis or field may name one that is not
        # a member yet; but ids must be unique, and a basis must name catalogued entries.
        for what, ids in (
            ("member id", [m.id for m in self.members]),
            ("purpose code", [p.code for p in self.purposes]),
            ("statutory basis id", [b.id for b in self.statutory_bases]),
            ("field name", [f.name for f in self.fields]),
        ):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"{what} {', '.join(repeated)} appears more than once")
        purposes = {p.code for p in self.purposes}
        fields = {f.name for f in self.fields}
        for basis in self.statutory_bases:
            if basis.purpose not in purposes:
                raise ValueError(
                    f"basis {basis.id} names purpose {basis.purpose!r}, not catalogued"
                )
            unknown = [f for f in basis.fields if f not in fields]
            if unknown:
                raise ValueError(f"basis {basis.id} names fields not catalogued: {unknown}")
        return self

    @cached_property
    def _members_by_id(self) -> dict[str, Member]:
        # Looked up on every exchange call; the document never changes once made.
        return {m.id: m for m in self.members}

    def member(self, member_id: str) -> Member | None:
        """The member with this id, or None."""
        return self._members_by_id.get(member_id)

    def purpose(self, code: str) -> Purpose | None:
        """The purpose with this code, or None."""
        return next((p for p in self.purposes if p.code == code), None)

    def keys_for(self, member_id: str, at: int, *, now: int | None = None) -> list[PublicKey]:
        """The keys member_id may sign with at Unix time at; raises key-unknown or key-revoked.

        With now, a revocation is judged at the later of at and now: a signer cannot slip
        past its revocation by dating its signature a little before it (within the skew).
        """
        member = self.member(member_id)
        if member is None or not member.keys:
            raise Problem("key-unknown", f"{member_id!r} is not a member of {self.federation}")
        when = datetime.fromtimestamp(at, UTC)
        latest = datetime.fromtimestamp(max(at, now), UTC) if now is not None else when
        if member.revoked_at is not None and latest >= member.revoked_at:
            raise Problem(
                "key-revoked", f"{member_id} was revoked at {member.revoked_at.isoformat()}"
            )
        keys = [
            PublicKey.from_b64(k.public_key)
            for k in member.keys
            if k.valid_at(when) and (k.revoked_at is None or latest < k.revoked_at)
        ]
        if not keys:
            raise Problem("key-revoked", f"{member_id} has no key valid at {when.isoformat()}")
        return keys

    def is_expired(self, now: datetime) -> bool:
        """True once the document's expiry has passed."""
        return now >= self.expires_at


# --- in people's words ---------------------------------------------------------------------


def member_name(federation: FederationDocument, member_id: str) -> str:
    """A member's name, or its id when the federation no longer lists it."""
    member = federation.member(member_id)
    return member.name if member is not None else member_id


def field_label(federation: FederationDocument, name: str) -> str:
    """A field as people read it: its catalogue description, else its name."""
    found = next((f for f in federation.fields if f.name == name), None)
    return found.description if found is not None and found.description else name


def purpose_title(federation: FederationDocument, code: str | None) -> str:
    """A purpose's title, or its code when it is not catalogued."""
    if code is None:
        return ""
    purpose = federation.purpose(code)
    return purpose.title if purpose is not None else code


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def document_payload(document: FederationDocument) -> dict[str, Any]:
    """The document as the JSON object that is signed."""
    return document.model_dump(mode="json")


def sign_document(document: FederationDocument, anchor: KeyPair) -> dict[str, Any]:
    """The signed envelope: the document and the anchor's Ed25519 signature over it."""
    payload = document_payload(document)
    return {
        "document": payload,
        "signature": {
            "keyid": ANCHOR_KEY_ID,
            "alg": "ed25519",
            "public_key": anchor.public.b64,
            "value": b64encode(anchor.sign(canonical_json(payload))),
        },
    }


class DocumentRefusedError(ValueError):
    """A federation document that a node must not accept, and why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def verify_document(
    envelope: Any,
    anchor_key: PublicKey,
    *,
    now: datetime,
    last_version: int | None = None,
    allow_expired: bool = False,
) -> FederationDocument:
    """Check a signed envelope against the pinned anchor key; return the document.

    Raises DocumentRefusedError with reason malformed, bad-signature, older-version or expired.
    """
    if not isinstance(envelope, dict) or set(envelope) != {"document", "signature"}:
        raise DocumentRefusedError("malformed", "expected an object of 'document' and 'signature'")
    signature = envelope["signature"]
    payload = envelope["document"]
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        raise DocumentRefusedError("malformed", "the signature object has no 'value'")
    if signature.get("alg") != "ed25519":
        raise DocumentRefusedError("malformed", "the document signature must use ed25519")
    try:
        value = b64decode(signature["value"])
    except ValueError as exc:
        raise DocumentRefusedError("malformed", f"signature value: {exc}") from exc
    if not anchor_key.verify(canonical_json(payload), value):
        raise DocumentRefusedError(
            "bad-signature", "the signature does not verify with the pinned trust-anchor key"
        )
    try:
        document = FederationDocument.model_validate(payload)
    except ValidationError as exc:
        raise DocumentRefusedError("malformed", f"the document is not valid: {exc}") from exc
    if last_version is not None and document.version < last_version:
        raise DocumentRefusedError(
            "older-version",
            f"version {document.version} is older than the version {last_version} already held",
        )
    if not allow_expired and document.is_expired(now):
        raise DocumentRefusedError(
            "expired", f"version {document.version} expired at {document.expires_at.isoformat()}"
        )
    return document
