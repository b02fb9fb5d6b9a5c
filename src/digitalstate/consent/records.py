"""Consent records: what was agreed, as signed JSON the person keeps and the holder enforces.

Field names follow ISO/IEC TS 27560 and the Kantara consent receipt where they fit (version,
jurisdiction, consent timestamp, PII principal, PII controllers, purposes, PII categories,
sensitivity, duration); purposes carry their W3C Data Privacy Vocabulary term. The record
names the person only by pseudonyms: the requester's and the holder's, never the charter's
internal id.

The charter signs a record as the trust anchor signs the federation document: an envelope
``{"record": {...}, "signature": {"keyid", "alg": "ed25519", "value"}}`` over the canonical
JSON of the record. A record is re-signed when its status changes (withdrawn, expired), so
the receipt a person downloads always says where the consent stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from digitalstate.consent.domain import ConsentTerms, Status, wording_hash
from digitalstate.federation.domain import (
    FederationDocument,
    FieldDefinition,
    Member,
    Purpose,
    canonical_json,
)
from digitalstate.keys import KeyPair, PublicKey, b64decode, b64encode

RECORD_VERSION: Final = "digitalstate-consent-record/1"
JURISDICTION = "UK"
COLLECTION_METHOD = "consent screen at the charter node"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiPrincipal(_Model):
    """The person the record is about, only as the two nodes know them."""

    requester_pseudonym: str = Field(min_length=1, max_length=64)
    holder_pseudonym: str = Field(min_length=1, max_length=64)


class PiiController(_Model):
    """A member that takes part: the requester that reads, the holder that is read."""

    role: Literal["requester", "holder"]
    member_id: str
    name: str


class RecordPurpose(_Model):
    """The purpose as the person saw it, with the hash that pins its exact wording."""

    code: str
    title: str
    wording: str
    wording_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    dpv: str | None = None


class PiiCategory(_Model):
    """One field the consent covers, as the field catalogue describes it."""

    field: str
    description: str
    sensitivity: Literal["normal", "sensitive"] = "normal"


class Duration(_Model):
    """How long the consent lasts."""

    days: int = Field(ge=1, le=3650)


class GivenBy(_Model):
    """Who gave the consent: the person, or a helper acting for them under a delegation."""

    kind: Literal["person", "helper"]
    helper: str | None = None
    delegation_id: str | None = None


class Issuer(_Model):
    """The charter node that recorded and signed the consent."""

    member_id: str
    name: str


class ConsentRecord(_Model):
    """A consent record (ISO/IEC TS 27560 / Kantara consent receipt shape)."""

    version: Literal["digitalstate-consent-record/1"] = RECORD_VERSION
    consent_id: str = Field(min_length=1, max_length=36)
    jurisdiction: str = JURISDICTION
    language: str = "en"
    collection_method: str = COLLECTION_METHOD
    consent_timestamp: datetime
    issuer: Issuer
    pii_principal: PiiPrincipal
    pii_controllers: tuple[PiiController, ...]
    purposes: tuple[RecordPurpose, ...] = Field(min_length=1, max_length=1)
    fields: tuple[str, ...] = Field(min_length=1)
    pii_categories: tuple[PiiCategory, ...]
    sensitive: bool
    duration: Duration
    expires_at: datetime
    notify_on_change: bool
    given_by: GivenBy
    status: Status
    withdrawn_at: datetime | None = None

    @field_validator("consent_timestamp", "expires_at", "withdrawn_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a time must carry its UTC offset")
        return value

    def controller(self, role: Literal["requester", "holder"]) -> PiiController:
        """The requester or holder of this consent."""
        return next(c for c in self.pii_controllers if c.role == role)

    @property
    def requester(self) -> str:
        """The member id that may read."""
        return self.controller("requester").member_id

    @property
    def holder(self) -> str:
        """The member id of the register that is read."""
        return self.controller("holder").member_id

    @property
    def purpose(self) -> RecordPurpose:
        """The one purpose of this consent."""
        return self.purposes[0]

    def terms(self) -> ConsentTerms:
        """What this record lets the requester do, as the holder checks it on every read."""
        return ConsentTerms(
            consent_id=self.consent_id,
            requester=self.requester,
            holder_pseudonym=self.pii_principal.holder_pseudonym,
            fields=frozenset(self.fields),
            purpose=self.purpose.code,
            granted_at=self.consent_timestamp,
            expires_at=self.expires_at,
            notify=self.notify_on_change,
            status=self.status,
            withdrawn_at=self.withdrawn_at,
        )


class RecordRefusedError(ValueError):
    """A signed record that must not be accepted, and why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def build_record(
    *,
    consent_id: str,
    issuer: Member,
    requester: Member,
    holder: Member,
    pseudonyms: tuple[str, str],
    purpose: Purpose,
    fields: Sequence[FieldDefinition],
    granted_at: datetime,
    expires_at: datetime,
    duration_days: int,
    notify: bool,
    given_by: GivenBy,
) -> ConsentRecord:
    """A new, active consent record; pseudonyms are (requester's, holder's)."""
    return ConsentRecord(
        consent_id=consent_id,
        consent_timestamp=granted_at,
        issuer=Issuer(member_id=issuer.id, name=issuer.name),
        pii_principal=PiiPrincipal(
            requester_pseudonym=pseudonyms[0], holder_pseudonym=pseudonyms[1]
        ),
        pii_controllers=(
            PiiController(role="requester", member_id=requester.id, name=requester.name),
            PiiController(role="holder", member_id=holder.id, name=holder.name),
        ),
        purposes=(
            RecordPurpose(
                code=purpose.code,
                title=purpose.title,
                wording=purpose.wording,
                wording_sha256=wording_hash(purpose.wording),
                dpv=purpose.dpv,
            ),
        ),
        fields=tuple(f.name for f in fields),
        pii_categories=tuple(
            PiiCategory(
                field=f.name, description=f.description or f.name, sensitivity=f.sensitivity
            )
            for f in fields
        ),
        sensitive=any(f.sensitivity == "sensitive" for f in fields),
        duration=Duration(days=duration_days),
        expires_at=expires_at,
        notify_on_change=notify,
        given_by=given_by,
        status="active",
    )


def with_status(record: ConsentRecord, status: Status, at: datetime) -> ConsentRecord:
    """The record with a new status; a withdrawal also says when it took effect."""
    changes: dict[str, Any] = {"status": status}
    if status == "withdrawn":
        changes["withdrawn_at"] = at
    return record.model_copy(update=changes)


def record_payload(record: ConsentRecord) -> dict[str, Any]:
    """The record as the JSON object that is signed."""
    return record.model_dump(mode="json")


def sign_record(record: ConsentRecord, key: KeyPair, keyid: str) -> dict[str, Any]:
    """The signed envelope: the record and the charter's Ed25519 signature over it."""
    payload = record_payload(record)
    return {
        "record": payload,
        "signature": {
            "keyid": keyid,
            "alg": "ed25519",
            "value": b64encode(key.sign(canonical_json(payload))),
        },
    }


def verify_record(
    envelope: Any, keys: Sequence[PublicKey], *, signer: str | None = None
) -> ConsentRecord:
    """Check a signed envelope against the signer's keys; return the record.

    Raises RecordRefusedError with reason malformed, wrong-signer or bad-signature.
    """
    if not isinstance(envelope, dict) or set(envelope) != {"record", "signature"}:
        raise RecordRefusedError("malformed", "expected an object of 'record' and 'signature'")
    signature, payload = envelope["signature"], envelope["record"]
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        raise RecordRefusedError("malformed", "the signature object has no 'value'")
    if signature.get("alg") != "ed25519":
        raise RecordRefusedError("malformed", "a consent record signature must use ed25519")
    if signer is not None and signature.get("keyid") != signer:
        raise RecordRefusedError(
            "wrong-signer", f"the record is signed by {signature.get('keyid')!r}, not {signer!r}"
        )
    try:
        value = b64decode(signature["value"])
    except ValueError as exc:
        raise RecordRefusedError("malformed", f"signature value: {exc}") from exc
    message = canonical_json(payload)
    if not any(key.verify(message, value) for key in keys):
        raise RecordRefusedError(
            "bad-signature", f"the signature does not verify with a key of {signature['keyid']}"
        )
    try:
        return ConsentRecord.model_validate(payload)
    except ValidationError as exc:
        raise RecordRefusedError("malformed", f"the record is not valid: {exc}") from exc


def signer_keys(federation: FederationDocument, member_id: str, at: datetime) -> list[PublicKey]:
    """The keys a charter member may sign records with at a moment (raises a Problem if none)."""
    member = federation.member(member_id)
    if member is None or "charter" not in member.roles:
        return []
    return federation.keys_for(member_id, int(at.timestamp()))
