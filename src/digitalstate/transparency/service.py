"""What the log's routes serve, read from the store: a person's entries with their proofs for
the charter, and entries with proofs for an auditor; and the addresses of the log's routes.

The routes (api.py) and the charter's own reading of its log (disclosure.py) both use these,
so that nothing outside the routes needs to import them. One entry whose proof the store cannot
give (a deleted entry or tree node) does not cost the others theirs: it goes out with
"proof": null and an "error" saying why.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from digitalstate.problems import Problem
from digitalstate.transparency.entries import EntryError, LogEntry
from digitalstate.transparency.merkle import ProofError, ProofPlan, inclusion_plan
from digitalstate.transparency.models import LogEntryRow
from digitalstate.transparency.store import (
    Db,
    LogDamagedError,
    StoredEntry,
    entries_for,
    entry_json,
    latest_checkpoint,
    read_head,
    subtree_hashes,
)

CHECKPOINT_PATH = "/.well-known/digitalstate/checkpoint"
LOG_PATH = "/.well-known/digitalstate/log"
COSIGNATURES_PATH = "/exchange/v1/log/cosignatures"
ACCESS_RECORDS_PATH = "/exchange/v1/access-records"
LOG_ENTRIES_PATH = "/exchange/v1/log/entries"
MAX_AUDIT_ENTRIES = 1_000
"""The most entries one POST /exchange/v1/log/entries answers."""
PROOFS_PER_QUERY = 200
"""Inclusion proofs whose tree nodes are read in one query (a few thousand parameters)."""
log = logging.getLogger("digitalstate.transparency.api")
"""The routes' logger: operators filter on the name docs/transparency.md gives."""


def b64(data: bytes) -> str:
    """Standard base64, as checkpoints write hashes."""
    return base64.b64encode(data).decode()


def person_entries(db: Db, pseudonym: str) -> dict[str, Any]:
    """A person's entries with proofs against the newest cosigned checkpoint (or the newest).

    An entry whose proof cannot be made goes out with "proof": null and "error": why. A row
    whose entry is about someone else than its pseudonym column says (the column is not
    hashed into the log; an insider could relabel a row), or that cannot be read as an entry,
    is left out and logged: the charter must never get an entry about someone else.
    """
    found = latest_checkpoint(db, cosigned=True) or latest_checkpoint(db)
    kept: list[StoredEntry] = []
    for stored in entries_for(db, pseudonym):
        try:
            about = LogEntry.decode(stored.body).pseudonym
        except EntryError as exc:
            log.warning(
                "log entry at leaf %s under pseudonym %s cannot be read, so is not served: %s",
                stored.leaf_index,
                pseudonym,
                exc,
            )
            continue
        if about != pseudonym:
            log.warning(
                "log entry at leaf %s is stored under pseudonym %s but is about another; "
                "the row was relabelled, so it is not served",
                stored.leaf_index,
                pseudonym,
            )
            continue
        kept.append(stored)
    size = found.size if found is not None else 0
    proofs = _proofs(
        db, [s.leaf_index for s in kept if s.leaf_index is not None and s.leaf_index < size], size
    )
    entries = [_with_proof(entry_json(s), s.leaf_index, proofs) for s in kept]
    return {"checkpoint": found.render() if found else None, "entries": entries}


def audit_entries(db: Db, start: int, end: int) -> dict[str, Any]:
    """The entries [start, end) with proofs against the newest checkpoint, for an auditor.

    ProofError unless 0 <= start <= end <= the checkpoint's size and end - start is at most
    MAX_AUDIT_ENTRIES. A leaf the store has lost goes out with "entry": null and an "error".
    """
    found = latest_checkpoint(db)
    if found is None:
        raise Problem("checkpoint-unavailable", "this node's log has no checkpoint yet")
    if not 0 <= start <= end <= found.size or end - start > MAX_AUDIT_ENTRIES:
        raise ProofError(
            f"ask for 0 to {MAX_AUDIT_ENTRIES:,} entries within [0, {found.size}) of the "
            f"newest checkpoint, not [{start}, {end})"
        )
    rows = db.execute(
        select(LogEntryRow.leaf_index, LogEntryRow.body)
        .where(LogEntryRow.leaf_index >= start, LogEntryRow.leaf_index < end)
        .order_by(LogEntryRow.leaf_index)
    ).all()
    bodies = {int(index): bytes(body) for index, body in rows if index is not None}
    proofs = _proofs(db, list(range(start, end)), found.size)
    entries = []
    for index in range(start, end):
        body = bodies.get(index)
        if body is None:
            entries.append(
                {
                    "entry": None,
                    "leaf_index": index,
                    "proof": None,
                    "error": f"the stored log lacks the entry at leaf {index}",
                }
            )
            continue
        entries.append(_with_proof(entry_json(StoredEntry(body, index)), index, proofs))
    return {"checkpoint": found.render(), "entries": entries}


def _with_proof(
    item: dict[str, Any], index: int | None, proofs: dict[int, list[bytes] | str]
) -> dict[str, Any]:
    """item with its "proof" (null when the entry is not in the checkpoint) and any "error"."""
    proof = proofs.get(index) if index is not None else None
    if isinstance(proof, str):
        item["proof"] = None
        item["error"] = proof
    else:
        item["proof"] = None if proof is None else [b64(h) for h in proof]
    return item


def _proofs(db: Db, indexes: Sequence[int], size: int) -> dict[int, list[bytes] | str]:
    """The inclusion proof of each leaf index (all < size) in the tree of size, or why not.

    The tree nodes of up to PROOFS_PER_QUERY proofs are read in one query; only when the store
    lacks one of them is each of those proofs made on its own, so that a damaged part of the
    log fails the entries that need it and no others.
    """
    if not indexes:
        return {}
    head = read_head(db)
    held = head.size if head is not None else 0
    if held < size:
        why = f"the stored tree has {held} leaves, fewer than its checkpoint of {size}"
        return dict.fromkeys(indexes, why)
    proofs: dict[int, list[bytes] | str] = {}
    for first in range(0, len(indexes), PROOFS_PER_QUERY):
        plans = {i: inclusion_plan(i, size) for i in indexes[first : first + PROOFS_PER_QUERY]}
        try:
            hashes = subtree_hashes(db, set().union(*(p.coords() for p in plans.values())))
        except LogDamagedError:
            proofs.update((i, _one_proof(db, plan)) for i, plan in plans.items())
        else:
            proofs.update((i, plan.assemble(hashes)) for i, plan in plans.items())
    return proofs


def _one_proof(db: Db, plan: ProofPlan) -> list[bytes] | str:
    try:
        return plan.assemble(subtree_hashes(db, plan.coords()))
    except LogDamagedError as exc:
        return str(exc)
