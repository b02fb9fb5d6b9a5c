"""The log's routes: public checkpoints, proofs and leaf hashes; cosignatures, a person's
entries and an auditor's reads over the signed exchange.

Public (no signature, anyone may audit): the newest checkpoint with its cosignatures, a
checkpoint of a given size, inclusion and consistency proofs, leaf hashes. Entry content never
goes out here: only to the charter, for the person it is about (POST /exchange/v1/access-records),
and to an auditor with a statutory basis for auditing the log (POST /exchange/v1/log/entries).

What they serve is read by service.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from digitalstate.exchange.legal_ground import Ground, personal_data
from digitalstate.federation.domain import FederationDocument, StatutoryBasis
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.routing import Router
from digitalstate.transparency.entries import witness_name
from digitalstate.transparency.leaves import leaf_hashes
from digitalstate.transparency.merkle import ProofError
from digitalstate.transparency.metrics import log_metrics
from digitalstate.transparency.note import NoteError, SignedNote, verify_cosignature
from digitalstate.transparency.service import (
    ACCESS_RECORDS_PATH,
    CHECKPOINT_PATH,
    LOG_ENTRIES_PATH,
    LOG_PATH,
    audit_entries,
    b64,
    person_entries,
)
from digitalstate.transparency.store import (
    LogDamagedError,
    PublishedCheckpoint,
    add_cosignature,
    checkpoint_at,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
)

NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
LOG_AUDIT_PURPOSE = "log-audit"
"""The catalogue purpose a statutory basis must serve to let its requester read log entries."""
MAX_NUMBER = 2**63 - 1
"""The largest tree size or leaf index the log can hold (the columns are 64-bit signed)."""
T = TypeVar("T")
log = logging.getLogger(__name__)


class CosignatureBody(BaseModel):
    """A witness's cosigned checkpoint: the log's note with the witness's signature line."""

    model_config = ConfigDict(extra="forbid")
    checkpoint: str = Field(min_length=1, max_length=65_536)


class AccessRecordsBody(BaseModel):
    """Which person's entries the charter asks for: this node's pseudonym for them."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=64)


class LogEntriesBody(BaseModel):
    """Which entries an auditor asks for: the leaf indexes [start, end)."""

    model_config = ConfigDict(extra="forbid")
    start: int
    end: int


def _guarded(work: Callable[[], T]) -> T:
    try:
        return work()
    except ProofError as exc:
        raise Problem("proof-out-of-range", str(exc)) from exc
    except LogDamagedError as exc:
        raise Problem("log-damaged", str(exc)) from exc


def _bounded(**numbers: int) -> None:
    """ProofError (400 proof-out-of-range) for a size or index no 64-bit column can hold.

    The proof functions refuse negative numbers and sizes beyond the tree themselves; this
    keeps numbers of 2**63 and more away from the database, where PostgreSQL's BIGINT would
    fail on them.
    """
    for name, value in numbers.items():
        if value > MAX_NUMBER:
            raise ProofError(f"{name} {value} is beyond any tree this log can hold")


def make_public_router(node: NodeRuntime) -> APIRouter:
    """Checkpoints, proofs and leaf hashes, for anyone."""
    router = Router(tags=["log"])

    def note_response(found: PublishedCheckpoint | None, what: str) -> Response:
        if found is None:
            raise Problem("checkpoint-unavailable", what)
        return Response(found.render(), media_type=NOTE_MEDIA_TYPE)

    @router.get(CHECKPOINT_PATH)
    def checkpoint() -> Response:
        """The newest signed checkpoint with the witnesses' cosignatures (C2SP signed note)."""
        with node.engine.connect() as db:
            found = latest_checkpoint(db)
        return note_response(found, "this node's log has no checkpoint yet; try again shortly")

    @router.get(LOG_PATH + "/checkpoint/{size}")
    def checkpoint_of_size(size: int) -> Response:
        """The checkpoint signed at this size, with its cosignatures, if it is still kept."""
        found = None
        if 0 <= size <= MAX_NUMBER:
            with node.engine.connect() as db:
                found = checkpoint_at(db, size)
        if found is None:
            raise Problem("not-found", f"this node keeps no checkpoint of size {size}")
        return note_response(found, "")

    @router.get(LOG_PATH + "/inclusion")
    def inclusion(index: int = Query(), size: int = Query()) -> dict[str, Any]:
        """The inclusion proof of leaf index in the tree of size (RFC 9162 §2.1.3)."""
        _guarded(lambda: _bounded(index=index, size=size))
        with node.engine.connect() as db:
            proof = _guarded(lambda: inclusion_proof(db, index, size))
        return {"index": index, "size": size, "proof": [b64(h) for h in proof]}

    @router.get(LOG_PATH + "/consistency")
    def consistency(old: int = Query(), new: int = Query()) -> dict[str, Any]:
        """The consistency proof from the tree of size old to the tree of size new."""
        _guarded(lambda: _bounded(old=old, new=new))
        with node.engine.connect() as db:
            proof = _guarded(lambda: consistency_proof(db, old, new))
        return {"old": old, "new": new, "proof": [b64(h) for h in proof]}

    @router.get(LOG_PATH + "/leaves")
    def leaves(start: int = Query(), end: int = Query()) -> Response:
        """The leaf hashes of [start, end), 32 bytes each, concatenated (at most 65,536)."""
        _guarded(lambda: _bounded(start=start, end=end))
        with node.engine.connect() as db:
            hashes = _guarded(lambda: leaf_hashes(db, start, end))
        return Response(b"".join(hashes), media_type="application/octet-stream")

    return router


def make_exchange_router(node: NodeRuntime) -> APIRouter:
    """Cosignatures from witnesses, a person's entries for the charter, entries for auditors."""
    router = Router(prefix="/exchange/v1", tags=["log"])

    @router.post("/log/cosignatures", status_code=201)
    def cosignature(body: CosignatureBody, request: Request) -> dict[str, Any]:
        """Keep a witness's cosignature of one of this node's checkpoints."""
        caller: str = request.scope["state"]["exchange_member"]
        federation = node.keeper.current()
        name = witness_name(federation.federation, caller)
        try:
            note = SignedNote.parse(body.checkpoint)
            stated = note.checkpoint
        except NoteError as exc:
            raise Problem("cosignature-invalid", str(exc)) from exc
        with node.engine.begin() as db:
            ours = checkpoint_at(db, stated.size)
            if ours is None or ours.note.text != note.text:
                raise Problem(
                    "cosignature-invalid",
                    f"this node signed no such checkpoint of size {stated.size}",
                )
            now = datetime.now(UTC)
            keys = federation.keys_for(caller, int(now.timestamp()))
            for line in note.signatures:
                if line.name != name:
                    continue
                for key in keys:
                    try:
                        at = verify_cosignature(note, line, key)
                    except NoteError:
                        continue
                    added = add_cosignature(
                        db,
                        size=stated.size,
                        witness=caller,
                        signature=line,
                        cosigned_at=datetime.fromtimestamp(at, UTC),
                        now=now,
                    )
                    return {"size": stated.size, "witness": caller, "added": added}
        raise Problem(
            "cosignature-invalid", f"no cosignature by {name} verifies under {caller}'s keys"
        )

    @router.post(ACCESS_RECORDS_PATH.removeprefix("/exchange/v1"))
    def access_records(body: AccessRecordsBody, request: Request) -> dict[str, Any]:
        """The log entries about a person, with inclusion proofs (the charter asks for them)."""
        caller: str = request.scope["state"]["exchange_member"]
        federation = node.keeper.current()
        member = federation.member(caller)
        if member is None or "charter" not in member.roles:
            raise Problem("caller-not-allowed", "only a member with the charter role may ask")
        with node.engine.connect() as db:
            return person_entries(db, body.subject)

    disclosed = log_metrics(node.metrics).audit_entries

    @router.post(LOG_ENTRIES_PATH.removeprefix("/exchange/v1"))
    def log_entries(body: LogEntriesBody, ground: Ground = personal_data) -> dict[str, Any]:
        """Entries of this node's log, with proofs, for an auditor with a statutory basis."""
        federation = node.keeper.current()
        try:
            basis = audit_basis(federation, ground)
        except Problem as refused:
            log.warning(
                "log audit refused: caller=%s basis=%s purpose=%s: %s",
                ground.requester,
                ground.basis_id,
                ground.purpose,
                refused.detail,
            )
            raise
        with node.engine.connect() as db:
            answer = _guarded(lambda: audit_entries(db, body.start, body.end))
        count = len(answer["entries"])
        disclosed.labels(requester=ground.requester, basis=basis.id).inc(count)
        log.info(
            "log audit: %d entries [%d, %d) disclosed to %s under basis %s (%s)",
            count,
            body.start,
            body.end,
            ground.requester,
            basis.id,
            basis.legislation,
        )
        return answer

    return router


def audit_basis(federation: FederationDocument, ground: Ground) -> StatutoryBasis:
    """The statutory basis that lets the caller audit the log; 403 basis-refused otherwise.

    The basis must be published in the federation document, name the caller as its requester
    and serve the catalogue purpose log-audit, which the call must name too. A consent is no
    ground for reading other people's entries.
    """
    if ground.consent_id is not None or ground.basis_id is None:
        raise Problem(
            "basis-refused",
            "the log's entries are read under a statutory basis for auditing it, named in the "
            "digitalstate-basis header, and under no consent",
        )
    basis = next((b for b in federation.statutory_bases if b.id == ground.basis_id), None)
    if basis is None:
        raise Problem("basis-refused", f"{ground.basis_id!r} is not a published statutory basis")
    if basis.requester != ground.requester:
        raise Problem("basis-refused", f"basis {basis.id} is for {basis.requester} only")
    if basis.purpose != LOG_AUDIT_PURPOSE:
        raise Problem(
            "basis-refused",
            f"basis {basis.id} is for the purpose {basis.purpose}, not for auditing the log "
            f"({LOG_AUDIT_PURPOSE})",
        )
    if ground.purpose != basis.purpose:
        raise Problem("basis-refused", f"basis {basis.id} is for the purpose {basis.purpose}")
    return basis
