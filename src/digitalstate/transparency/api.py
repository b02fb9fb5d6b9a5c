"""The log's routes: public checkpoints, proofs and leaf hashes; cosignatures and a person's
entries over the signed exchange.

Public (no signature, anyone may audit): the newest checkpoint with its cosignatures, a
checkpoint of a given size, inclusion and consistency proofs, leaf hashes. Entry content never
goes out here: only to the charter, for the person it is about (POST /exchange/v1/access-records).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from digitalstate.exchange.problems import Problem
from digitalstate.node.runtime import NodeRuntime
from digitalstate.transparency.entries import witness_name
from digitalstate.transparency.merkle import ProofError
from digitalstate.transparency.note import NoteError, SignedNote, verify_cosignature
from digitalstate.transparency.store import (
    LogDamagedError,
    PublishedCheckpoint,
    add_cosignature,
    checkpoint_at,
    consistency_proof,
    entries_for,
    entry_json,
    inclusion_proof,
    latest_checkpoint,
    leaf_hashes,
)

CHECKPOINT_PATH = "/.well-known/digitalstate/checkpoint"
LOG_PATH = "/.well-known/digitalstate/log"
COSIGNATURES_PATH = "/exchange/v1/log/cosignatures"
ACCESS_RECORDS_PATH = "/exchange/v1/access-records"
NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
T = TypeVar("T")


class CosignatureBody(BaseModel):
    """A witness's cosigned checkpoint: the log's note with the witness's signature line."""

    model_config = ConfigDict(extra="forbid")
    checkpoint: str = Field(min_length=1, max_length=65_536)


class AccessRecordsBody(BaseModel):
    """Which person's entries the charter asks for: this node's pseudonym for them."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=64)


def b64(data: bytes) -> str:
    """Standard base64, as checkpoints write hashes."""
    return base64.b64encode(data).decode()


def _guarded(work: Callable[[], T]) -> T:
    try:
        return work()
    except ProofError as exc:
        raise Problem("proof-out-of-range", str(exc)) from exc
    except LogDamagedError as exc:
        raise Problem("log-damaged", str(exc)) from exc


def make_public_router(node: NodeRuntime) -> APIRouter:
    """Checkpoints, proofs and leaf hashes, for anyone."""
    router = APIRouter(tags=["log"])

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
        with node.engine.connect() as db:
            found = checkpoint_at(db, size)
        if found is None:
            raise Problem("not-found", f"this node keeps no checkpoint of size {size}")
        return note_response(found, "")

    @router.get(LOG_PATH + "/inclusion")
    def inclusion(index: int = Query(), size: int = Query()) -> dict[str, Any]:
        """The inclusion proof of leaf index in the tree of size (RFC 9162 §2.1.3)."""
        with node.engine.connect() as db:
            proof = _guarded(lambda: inclusion_proof(db, index, size))
        return {"index": index, "size": size, "proof": [b64(h) for h in proof]}

    @router.get(LOG_PATH + "/consistency")
    def consistency(old: int = Query(), new: int = Query()) -> dict[str, Any]:
        """The consistency proof from the tree of size old to the tree of size new."""
        with node.engine.connect() as db:
            proof = _guarded(lambda: consistency_proof(db, old, new))
        return {"old": old, "new": new, "proof": [b64(h) for h in proof]}

    @router.get(LOG_PATH + "/leaves")
    def leaves(start: int = Query(), end: int = Query()) -> Response:
        """The leaf hashes of [start, end), 32 bytes each, concatenated (at most 65,536)."""
        with node.engine.connect() as db:
            hashes = _guarded(lambda: leaf_hashes(db, start, end))
        return Response(b"".join(hashes), media_type="application/octet-stream")

    return router


def make_exchange_router(node: NodeRuntime) -> APIRouter:
    """Cosignatures from witnesses, and a person's entries for the charter."""
    router = APIRouter(prefix="/exchange/v1", tags=["log"])

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
            return _guarded(lambda: person_entries(db, body.subject))

    return router


def person_entries(db: Any, pseudonym: str) -> dict[str, Any]:
    """A person's entries with proofs against the newest cosigned checkpoint (or the newest)."""
    found = latest_checkpoint(db, cosigned=True) or latest_checkpoint(db)
    entries = []
    for stored in entries_for(db, pseudonym):
        item = entry_json(stored)
        index = stored.leaf_index
        if found is not None and index is not None and index < found.size:
            item["proof"] = [b64(h) for h in inclusion_proof(db, index, found.size)]
        else:
            item["proof"] = None
        entries.append(item)
    return {"checkpoint": found.render() if found else None, "entries": entries}
