"""The log in the node's database: appending entries, integrating them, proofs, checkpoints.

Appending is one INSERT in the caller's transaction, so an entry is durable exactly when the
action it records is (SQLite runs with synchronous=FULL): nothing is acknowledged that the log
could lose. The sequencer (sequencer.py, one per node) then integrates pending entries in
batches: it gives them leaf indexes, stores the interior nodes they complete, and signs a
checkpoint, all in one transaction, so a crash leaves either the batch whole or untouched.

Leaf hashes are never stored: they are computed from the stored entry bytes whenever they are
served, so an entry changed, deleted or moved in the database no longer matches the signed
tree, and an auditor re-computing the root from the leaf hashes sees it (leaves.py serves them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    RowMapping,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import LogEntry, make_entry
from digitalstate.transparency.merkle import (
    CompactRange,
    Coord,
    ProofError,
    consistency_plan,
    inclusion_plan,
    leaf_hash,
    root_from,
    root_plan,
)
from digitalstate.transparency.models import (
    LEVEL_SHIFT,
    LogCheckpoint,
    LogCosignature,
    LogEntryRow,
    LogHead,
    LogNode,
)
from digitalstate.transparency.note import Checkpoint, NoteSignature, SignedNote, sign_checkpoint

Db = Session | Connection

_ENTRIES = cast("Table", LogEntryRow.__table__)
_NODES = cast("Table", LogNode.__table__)
_HEAD = cast("Table", LogHead.__table__)
_CHECKPOINTS = cast("Table", LogCheckpoint.__table__)
_COSIGNATURES = cast("Table", LogCosignature.__table__)
_INSERT_ENTRY = insert(_ENTRIES)
HEAD_ID = 1
# The oldest pending entries, and one statement per run of consecutive ids that gives them
# their leaf indexes (ids have no gaps on SQLite; on PostgreSQL a rolled-back append leaves one).
_PENDING = (
    select(_ENTRIES.c.id, _ENTRIES.c.body)
    .where(_ENTRIES.c.leaf_index.is_(None))
    .order_by(_ENTRIES.c.id)
    .limit(bindparam("count", type_=Integer))
)
_NUMBER_RUN = (
    update(_ENTRIES)
    .where(
        _ENTRIES.c.id >= bindparam("low", type_=BigInteger),
        _ENTRIES.c.id <= bindparam("high", type_=BigInteger),
        _ENTRIES.c.leaf_index.is_(None),
    )
    .values(leaf_index=_ENTRIES.c.id + bindparam("shift", type_=BigInteger))
)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID, _HEAD.c.size == bindparam("old", type_=BigInteger))
    .values(size=bindparam("size"), root=bindparam("root"), updated_at=bindparam("at"))
)
_READ_HEAD = select(_HEAD.c.size, _HEAD.c.root).where(_HEAD.c.id == HEAD_ID)
_HEAD_FOR_UPDATE = _READ_HEAD.with_for_update()
_SUBTREES = union_all(
    select((-1 - _ENTRIES.c.leaf_index).label("key"), _ENTRIES.c.body.label("data")).where(
        _ENTRIES.c.leaf_index.in_(bindparam("leaves", expanding=True))
    ),
    select(_NODES.c.id, _NODES.c.hash).where(_NODES.c.id.in_(bindparam("keys", expanding=True))),
)
_NODE_COLUMNS = "INSERT INTO log_nodes (id, hash) VALUES "  # the table of LogNode
_NODES_FROM_ARRAYS = (
    "INSERT INTO log_nodes (id, hash) SELECT * FROM unnest(%s::bigint[], %s::bytea[])"
)


class LogDamagedError(RuntimeError):
    """The stored log is missing something the signed tree says it holds."""


class IntegrationConflictError(RuntimeError):
    """Another sequencer integrated the same entries first; this batch is rolled back."""


def node_key(level: int, index: int) -> int:
    """The primary key of a tree node."""
    return (level << LEVEL_SHIFT) | index


def record_access(
    db: Db,
    *,
    holder: str,
    pseudonym: str,
    requester: str,
    action: str,
    outcome: str,
    now: datetime,
    purpose: str | None = None,
    consent_id: str | None = None,
    basis_id: str | None = None,
    fields: Iterable[str] = (),
    reason: str = "",
) -> LogEntry:
    """Append an entry about pseudonym to this node's log, in the caller's transaction."""
    entry = make_entry(
        holder=holder,
        pseudonym=pseudonym,
        requester=requester,
        action=action,
        outcome=outcome,
        now=now,
        purpose=purpose,
        consent_id=consent_id,
        basis_id=basis_id,
        fields=fields,
        reason=reason,
    )
    db.execute(_INSERT_ENTRY, {"pseudonym": pseudonym, "body": entry.encode()})
    return entry


def append_entries(db: Db, entries: Sequence[LogEntry]) -> None:
    """Append several entries in the caller's transaction (one statement)."""
    if entries:
        db.execute(_INSERT_ENTRY, [{"pseudonym": e.pseudonym, "body": e.encode()} for e in entries])


@dataclass(frozen=True)
class Head:
    """The integrated size and root hash."""

    size: int
    root: bytes


@dataclass(frozen=True)
class Integrated:
    """What one integration did."""

    count: int
    head: Head
    note: SignedNote


def read_head(db: Db, *, lock: bool = False) -> Head | None:
    """The head row (locked for the rest of the transaction when lock)."""
    row = db.execute(_HEAD_FOR_UPDATE if lock else _READ_HEAD).first()
    return None if row is None else Head(int(row.size), bytes(row.root))


def load_border(db: Db, size: int) -> CompactRange:
    """The compact range of the tree at size, from the stored nodes and entries."""
    coords = CompactRange.border(size)
    hashes = subtree_hashes(db, set(coords))
    return CompactRange(size, [hashes[c] for c in coords])


class Integrator:
    """Integrates pending entries, keeping the tree's border in memory between batches."""

    def __init__(self, origin: str, key: KeyPair) -> None:
        self.origin = origin
        self.key = key
        self._border: CompactRange | None = None

    def integrate(self, db: Db, batch_size: int, now: datetime) -> Integrated | None:
        """Integrate up to batch_size pending entries and sign a checkpoint, in db's transaction.

        Returns None when nothing was pending and a checkpoint of the current size exists.
        The caller commits; on any failure it rolls back and the border is reloaded next time.
        """
        head = read_head(db, lock=True)
        if head is None:
            head = Head(0, CompactRange().root())
            db.execute(
                insert(_HEAD), {"id": HEAD_ID, "size": 0, "root": head.root, "updated_at": now}
            )
            head = read_head(db, lock=True) or head
        border = self._border
        self._border = None  # restored only once this transaction has done its work
        if border is None or border.size != head.size:
            border = load_border(db, head.size)
        rows = db.execute(_PENDING, {"count": batch_size}).all()
        if not rows:
            if self._has_checkpoint(db, head.size):
                self._border = border
                return None
            note = self._note(head)
            self._publish(db, head, note, now)
            self._border = border
            return Integrated(0, head, note)
        # Everything that needs no write comes first: on SQLite the write lock, which the
        # appending transactions wait for, is taken by the first UPDATE and held to the commit.
        made = border.extend([leaf_hash(bytes(body)) for _, body in rows])
        new = Head(border.size, border.root())
        note = self._note(new)
        _number(db, [int(entry_id) for entry_id, _ in rows], head.size)
        if made:
            _insert_nodes(db, made)
        moved = db.execute(
            _MOVE_HEAD, {"old": head.size, "size": new.size, "root": new.root, "at": now}
        )
        if _rowcount(moved) != 1:
            raise IntegrationConflictError(f"the log's head moved from size {head.size} meanwhile")
        self._publish(db, new, note, now)
        self._border = border
        return Integrated(len(rows), new, note)

    def forget(self) -> None:
        """Drop the cached border (after a rollback)."""
        self._border = None

    def _has_checkpoint(self, db: Db, size: int) -> bool:
        found = db.execute(select(_CHECKPOINTS.c.size).where(_CHECKPOINTS.c.size == size)).first()
        return found is not None

    def _note(self, head: Head) -> SignedNote:
        return sign_checkpoint(Checkpoint(self.origin, head.size, head.root), self.origin, self.key)

    def _publish(self, db: Db, head: Head, note: SignedNote, now: datetime) -> None:
        db.execute(
            insert(_CHECKPOINTS),
            {"size": head.size, "root": head.root, "note": note.render(), "signed_at": now},
        )


def _number(db: Db, ids: Sequence[int], first: int) -> None:
    """Give the entries ids (ascending) leaf indexes first, first + 1, ...: one UPDATE per run
    of consecutive ids; IntegrationConflictError when any of them was no longer pending."""
    start = 0
    for end in range(1, len(ids) + 1):
        if end < len(ids) and ids[end] == ids[end - 1] + 1:
            continue
        low, high = ids[start], ids[end - 1]
        done = db.execute(_NUMBER_RUN, {"low": low, "high": high, "shift": first + start - low})
        if _rowcount(done) != end - start:
            raise IntegrationConflictError(f"entries {low} to {high} were integrated meanwhile")
        start = end


def _rowcount(result: object) -> int:
    """The rows an UPDATE changed (a CursorResult's rowcount, which Result does not declare)."""
    return int(getattr(result, "rowcount", -1))


def _insert_nodes(db: Db, made: Sequence[tuple[int, int, bytes]]) -> None:
    """Store completed interior nodes in one statement's worth of work.

    SQLite runs in-process, so one DBAPI executemany is cheapest; a PostgreSQL server pays for
    every statement it executes, so there the rows go in as two arrays, unnested.
    """
    connection = db.connection() if isinstance(db, Session) else db
    keys = [(level << LEVEL_SHIFT) | index for level, index, _ in made]
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_NODES_FROM_ARRAYS, ([*keys], [h for _, _, h in made]))
        return
    marks = "(?, ?)" if connection.dialect.paramstyle == "qmark" else "(%s, %s)"
    connection.exec_driver_sql(
        _NODE_COLUMNS + marks, [(key, h) for key, (_, _, h) in zip(keys, made, strict=True)]
    )


def subtree_hashes(db: Db, coords: Collection[Coord]) -> dict[Coord, bytes]:
    """The hashes of complete subtrees: leaves hashed from their entries, the rest stored.

    One statement reads both: entry bodies keyed by -1 - leaf index, node hashes by their key.
    """
    found: dict[Coord, bytes] = {}
    if not coords:
        return found
    leaves = [index for level, index in coords if level == 0]
    interior = [(level << LEVEL_SHIFT) | index for level, index in coords if level > 0]
    mask = (1 << LEVEL_SHIFT) - 1
    for key, data in db.execute(_SUBTREES, {"leaves": leaves, "keys": interior}):
        if key < 0:
            found[(0, -1 - int(key))] = leaf_hash(bytes(data))
        else:
            found[(int(key) >> LEVEL_SHIFT, int(key) & mask)] = bytes(data)
    missing = [c for c in coords if c not in found] if len(found) < len(coords) else []
    if missing:
        raise LogDamagedError(f"the stored log lacks tree nodes {sorted(missing)[:5]}")
    return found


def check_size(db: Db, size: int) -> Head:
    """The head, when the integrated tree holds size leaves; ProofError otherwise."""
    head = read_head(db)
    integrated = head.size if head else 0
    if size > integrated:
        raise ProofError(f"the tree has {integrated} leaves, not {size}")
    return head or Head(0, CompactRange().root())


def inclusion_proof(db: Db, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]): ProofError when index or size are out of range."""
    plan = inclusion_plan(index, size)
    check_size(db, size)
    return plan.assemble(subtree_hashes(db, plan.coords()))


def consistency_proof(db: Db, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[0:new]): ProofError when the sizes are out of range."""
    plan = consistency_plan(old, new)
    check_size(db, new)
    return plan.assemble(subtree_hashes(db, plan.coords()))


def root_at(db: Db, size: int) -> bytes:
    """MTH(D[0:size]) from the stored tree."""
    plan = root_plan(size)
    check_size(db, size)
    return root_from(plan, subtree_hashes(db, plan.coords()))


@dataclass(frozen=True)
class StoredEntry:
    """An entry as the node holds it: its bytes and, once integrated, its leaf index."""

    body: bytes
    leaf_index: int | None


def entries_for(db: Db, pseudonym: str) -> list[StoredEntry]:
    """Every entry about pseudonym, newest first."""
    rows = db.execute(
        select(_ENTRIES.c.body, _ENTRIES.c.leaf_index)
        .where(_ENTRIES.c.pseudonym == pseudonym)
        .order_by(_ENTRIES.c.id.desc())
    )
    return [StoredEntry(bytes(body), None if index is None else int(index)) for body, index in rows]


def pending_count(db: Db) -> int:
    """Entries appended and not yet integrated."""
    count = db.execute(
        select(func.count()).select_from(_ENTRIES).where(_ENTRIES.c.leaf_index.is_(None))
    ).scalar_one()
    return int(count)


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A signed checkpoint with the cosignatures collected for it."""

    size: int
    root: bytes
    note: SignedNote
    signed_at: datetime

    def render(self) -> str:
        """The note with every signature line."""
        return self.note.render()


def _published(db: Db, row: RowMapping) -> PublishedCheckpoint:
    size = int(cast("int", row["size"]))
    note = SignedNote.parse(str(row["note"]))
    lines = db.execute(
        select(_COSIGNATURES.c.line)
        .where(_COSIGNATURES.c.size == size)
        .order_by(_COSIGNATURES.c.witness)
    ).scalars()
    cosignatures = [NoteSignature.parse_line(line) for line in lines]
    return PublishedCheckpoint(
        size,
        bytes(cast("bytes", row["root"])),
        note.with_signatures(cosignatures),
        cast("datetime", row["signed_at"]),
    )


def latest_checkpoint(db: Db, *, cosigned: bool = False) -> PublishedCheckpoint | None:
    """The newest checkpoint (the newest with at least one cosignature, when cosigned)."""
    query = select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.size.desc()).limit(1)
    if cosigned:
        query = query.where(
            _CHECKPOINTS.c.size.in_(select(_COSIGNATURES.c.size).distinct().scalar_subquery())
        )
    row = db.execute(query).mappings().first()
    return None if row is None else _published(db, row)


def checkpoint_at(db: Db, size: int) -> PublishedCheckpoint | None:
    """The checkpoint this node signed at size, if it signed one."""
    row = db.execute(select(_CHECKPOINTS).where(_CHECKPOINTS.c.size == size)).mappings().first()
    return None if row is None else _published(db, row)


def add_cosignature(
    db: Db,
    *,
    size: int,
    witness: str,
    signature: NoteSignature,
    cosigned_at: datetime,
    now: datetime,
) -> bool:
    """Keep a witness's (already verified) cosignature; False when it had one for size."""
    exists = db.execute(
        select(_COSIGNATURES.c.size).where(
            _COSIGNATURES.c.size == size, _COSIGNATURES.c.witness == witness
        )
    ).first()
    if exists is not None:
        return False
    db.execute(
        insert(_COSIGNATURES),
        {
            "size": size,
            "witness": witness,
            "line": signature.line(),
            "cosigned_at": cosigned_at,
            "received_at": now,
        },
    )
    return True


def prune_checkpoints(db: Db, keep: int) -> int:
    """Delete uncosigned checkpoints older than the newest keep ones; return how many went."""
    newest = select(_CHECKPOINTS.c.size).order_by(_CHECKPOINTS.c.size.desc()).limit(keep).subquery()
    result = db.execute(
        delete(_CHECKPOINTS).where(
            _CHECKPOINTS.c.size.not_in(select(newest.c.size)),
            _CHECKPOINTS.c.size.not_in(select(_COSIGNATURES.c.size)),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def entry_json(stored: StoredEntry) -> dict[str, object]:
    """An entry as it travels to the charter: the exact bytes (as text) and its index."""
    return {"entry": stored.body.decode(), "leaf_index": stored.leaf_index}


def decode_entry(text: str) -> tuple[bytes, LogEntry]:
    """The bytes and the entry of an entry as it travelled."""
    data = text.encode()
    return data, LogEntry.decode(data)
