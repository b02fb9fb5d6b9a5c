"""Ways to tamper with a node's stored log, as an insider with database access would.

Shared by the tamper tests of the witnesses and of `digitalstate log verify`: each function
changes a node's database directly (the node may be running) and says what it did.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select, update

from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import LogEntry
from digitalstate.transparency.leaves import leaf_hashes
from digitalstate.transparency.merkle import CompactRange, leaf_hash
from digitalstate.transparency.models import LogCheckpoint, LogEntryRow, LogHead, LogNode
from digitalstate.transparency.note import Checkpoint, sign_checkpoint
from digitalstate.transparency.store import read_head


def _row(engine: Engine, leaf_index: int) -> LogEntryRow:
    with engine.connect() as db:
        row = db.execute(select(LogEntryRow).where(LogEntryRow.leaf_index == leaf_index)).first()
    assert row is not None, f"no entry at leaf {leaf_index}"
    return LogEntryRow(id=row.id, leaf_index=row.leaf_index, pseudonym=row.pseudonym, body=row.body)


def change_entry(engine: Engine, leaf_index: int, reason: str = "nothing happened") -> None:
    """Rewrite what an integrated entry says (its reason), keeping it canonical."""
    row = _row(engine, leaf_index)
    entry = LogEntry.decode(row.body)
    changed = LogEntry(**{**{f: getattr(entry, f) for f in entry.__slots__}, "reason": reason})
    with engine.begin() as db:
        db.execute(
            update(LogEntryRow).where(LogEntryRow.id == row.id).values(body=changed.encode())
        )


def relabel_entry(engine: Engine, leaf_index: int, pseudonym: str = "someone-else") -> str:
    """File an integrated entry under another pseudonym (its index column); the old one.

    The entry's bytes are left as they are: the person it is about no longer finds it, and the
    person named by pseudonym is shown it, unless the node checks the column against the entry.
    """
    row = _row(engine, leaf_index)
    with engine.begin() as db:
        db.execute(update(LogEntryRow).where(LogEntryRow.id == row.id).values(pseudonym=pseudonym))
    return row.pseudonym


def delete_entry(engine: Engine, leaf_index: int) -> None:
    """Delete an integrated entry."""
    with engine.begin() as db:
        db.execute(delete(LogEntryRow).where(LogEntryRow.leaf_index == leaf_index))


def swap_entries(engine: Engine, first: int, second: int) -> None:
    """Swap the places of two integrated entries in the log."""
    a, b = _row(engine, first), _row(engine, second)
    with engine.begin() as db:
        db.execute(update(LogEntryRow).where(LogEntryRow.id == a.id).values(leaf_index=None))
        db.execute(update(LogEntryRow).where(LogEntryRow.id == b.id).values(leaf_index=first))
        db.execute(update(LogEntryRow).where(LogEntryRow.id == a.id).values(leaf_index=second))


def truncate(engine: Engine, size: int, key: KeyPair, origin: str) -> None:
    """Cut the log back to size leaves and sign a checkpoint of that size, as a node would."""
    from digitalstate.transparency.models import LEVEL_SHIFT

    with engine.begin() as db:
        head = read_head(db)
        assert head is not None and size < head.size
        db.execute(delete(LogEntryRow).where(LogEntryRow.leaf_index >= size))
        hashes = leaf_hashes(db, 0, size)
        compact = CompactRange()
        made = compact.extend(hashes)
        db.execute(delete(LogNode))
        for level, index, digest in made:
            db.execute(
                LogNode.__table__.insert(),
                {"id": (level << LEVEL_SHIFT) | index, "hash": digest},
            )
        root = compact.root()
        db.execute(update(LogHead).values(size=size, root=root))
        db.execute(delete(LogCheckpoint).where(LogCheckpoint.size >= size))
        note = sign_checkpoint(Checkpoint(origin, size, root), origin, key)
        db.execute(
            LogCheckpoint.__table__.insert(),
            {"size": size, "root": root, "note": note.render(), "signed_at": datetime.now(UTC)},
        )


def fork(engine: Engine, key: KeyPair, origin: str) -> str:
    """Sign a second checkpoint of the current size with another root, and serve it.

    Returns the forged note. The node's newest checkpoint is replaced, so whoever fetches it
    next sees a history that differs from the one the node showed before.
    """
    with engine.begin() as db:
        head = read_head(db)
        assert head is not None and head.size > 0
        forged_root = leaf_hash(b"a different history")
        note = sign_checkpoint(Checkpoint(origin, head.size, forged_root), origin, key)
        db.execute(
            update(LogCheckpoint)
            .where(LogCheckpoint.size == head.size)
            .values(root=forged_root, note=note.render())
        )
        db.execute(update(LogHead).values(root=forged_root))
    return note.render()
