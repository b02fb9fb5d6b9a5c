"""The leaf hashes a node serves to witnesses and auditors, read from the rows the person's
view reads.

A leaf hash is computed from the stored entry bytes as it is served, never stored, so an entry
changed, deleted or moved after it was logged no longer matches the signed tree. The
`pseudonym` column, by which the node finds a person's entries (store.entries_for), is an
index outside the hashed bytes: an insider who relabels a row hides it from the person, or
files it under someone else, and the tree still checks. So every row served here must also
be filed under the pseudonym its own entry names; a row that is not makes the node answer that
its log is damaged (`log-damaged`), which witnesses and `digitalstate log verify` report as a
failed audit, exactly as they report a changed entry. What is public stays the same: leaf
hashes, and the leaf at fault, never a pseudonym.
"""

from __future__ import annotations

from sqlalchemy import select

from digitalstate.transparency.entries import is_about
from digitalstate.transparency.merkle import ProofError, leaf_hash
from digitalstate.transparency.models import LogEntryRow
from digitalstate.transparency.store import Db, LogDamagedError, check_size

MAX_LEAVES_PER_PAGE = 65_536
_ENTRIES = LogEntryRow.__table__.c


def leaf_hashes(db: Db, start: int, end: int) -> list[bytes]:
    """The leaf hashes of [start, end), from the stored entries, each checked against its row.

    ProofError when the range is not within the tree or too long; LogDamagedError when a leaf
    is missing or a row's pseudonym column is not the pseudonym its entry names.
    """
    head = check_size(db, end)
    if not 0 <= start <= end or end - start > MAX_LEAVES_PER_PAGE:
        raise ProofError(
            f"ask for 0 to {MAX_LEAVES_PER_PAGE} leaves within [0, {head.size}), "
            f"not [{start}, {end})"
        )
    rows = db.execute(
        select(_ENTRIES.leaf_index, _ENTRIES.pseudonym, _ENTRIES.body)
        .where(_ENTRIES.leaf_index >= start, _ENTRIES.leaf_index < end)
        .order_by(_ENTRIES.leaf_index)
    ).all()
    hashes = []
    for expected, row in enumerate(rows, start):
        if int(row.leaf_index) != expected:
            raise LogDamagedError(f"the stored log lacks leaf {expected}")
        body = bytes(row.body)
        if not is_about(body, str(row.pseudonym)):
            raise LogDamagedError(
                f"the stored entry at leaf {expected} is filed under another pseudonym than "
                "the one it names: its row was relabelled after it was logged"
            )
        hashes.append(leaf_hash(body))
    if len(hashes) != end - start:
        raise LogDamagedError(f"the stored log lacks leaf {start + len(hashes)}")
    return hashes
