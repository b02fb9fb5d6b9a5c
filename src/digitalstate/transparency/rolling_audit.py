"""The rolling audit of a log from the outside, as witnesses and `digitalstate log verify` run it.
Pure: the log is read through a LogSource (log_source.py over HTTP, a list in the unit tests).

An audit pass re-reads the leaf hashes [0, size) of a tree verified before (size, root), some
each run from where the last run stopped, and folds them into the right border of the leaves
read so far (a compact range); when it reaches size, the border's root must be that root. A
changed, deleted or reordered stored entry shows up there; so does a node that says its log is
damaged, or serves fewer leaves than its signed tree holds (log_source.py says so). Then a new
pass starts over the newest verified tree. With a budget of N leaves a run, each leaf of a log
is re-read within ceil(size / N) runs, and at every run on a log of at most N leaves.

What is kept between runs is an AuditPass: a witness keeps it in its log_witnessed row, the
command line in its state file.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from digitalstate.transparency.merkle import CompactRange
from digitalstate.transparency.note import Checkpoint
from digitalstate.transparency.verify import (
    VerifyError,
    audit,
    check_audited_root,
    decode_border,
    encode_border,
)

MAX_LEAVES_PER_REQUEST = 65_536
"""The most leaf hashes one request may ask a node for (its /log/leaves limit)."""


class SourceError(Exception):
    """The log could not be read as asked; slug and detail are those of the node's problem."""

    def __init__(self, message: str, *, slug: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.slug = slug
        self.detail = detail


class SourceUnavailableError(SourceError):
    """The log could not be fetched: no answer, a timeout, or an answer that says 'not now'."""


class SourceDamagedError(SourceError):
    """The node says it lacks what its signed tree holds, or refuses a range it signed."""


class SourceMalformedError(SourceError):
    """The node answered something that cannot be read as what was asked for."""


class LogSource(Protocol):
    """Where one member's log is read from: its checkpoint, proofs and leaf hashes."""

    async def checkpoint(self) -> str:
        """The newest checkpoint as a signed note (with any cosignatures)."""
        ...

    async def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of size old to the tree of size new."""
        ...

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of [start, end) (at most MAX_LEAVES_PER_REQUEST)."""
        ...


@dataclass(frozen=True)
class AuditPass:
    """The rolling audit's cursor: one pass over a tree verified before, and the last one done.

    A pass re-reads the leaves [0, size) of the tree (size, root), some each run from position
    on, folded into border (the tree of the leaves [0, position)); when position reaches size,
    the border's root must be root. covered_size and covered_at: the newest tree whose every
    leaf was read again and found to hash to its root, and when; 0 and None until one was.
    """

    size: int
    root: bytes
    position: int = 0
    border: CompactRange = field(default_factory=CompactRange)
    covered_size: int = 0
    covered_at: datetime | None = None

    @property
    def complete(self) -> bool:
        """True when the pass has re-read every leaf of its tree (none is under way)."""
        return self.position >= self.size

    def restart(self, size: int, root: bytes) -> AuditPass:
        """A new pass from leaf 0 over the tree (size, root), keeping what was covered."""
        return replace(self, size=size, root=root, position=0, border=CompactRange())

    @classmethod
    def covering(cls, border: CompactRange, at: datetime) -> AuditPass:
        """No pass under way: every leaf of the tree border holds was audited at `at`."""
        return cls(border.size, border.root(), border.size, border.copy(), border.size, at)

    def to_json(self) -> dict[str, Any]:
        """The cursor as a JSON object (part of the command line's state)."""
        return {
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "position": self.position,
            "border": base64.b64encode(encode_border(self.border)).decode(),
            "covered_size": self.covered_size,
            "covered_at": None if self.covered_at is None else self.covered_at.isoformat(),
        }

    @classmethod
    def from_json(cls, value: Any) -> AuditPass:
        """The cursor to_json wrote; ValueError, KeyError or TypeError when it is damaged."""
        if not isinstance(value, dict):
            raise ValueError("its re-audit is not an object")
        covered_at = value["covered_at"]
        cursor = cls(
            size=int(value["size"]),
            root=base64.b64decode(str(value["root"]), validate=True),
            position=int(value["position"]),
            border=decode_border(base64.b64decode(str(value["border"]), validate=True)),
            covered_size=int(value["covered_size"]),
            covered_at=None if covered_at is None else datetime.fromisoformat(str(covered_at)),
        )
        if (
            len(cursor.root) != 32
            or not 0 <= cursor.position <= cursor.size
            or cursor.border.size != cursor.position
            or (cursor.complete and cursor.border.root() != cursor.root)
            or cursor.covered_size < 0
        ):
            raise ValueError("its re-audit cursor does not add up")
        return cursor


@dataclass(frozen=True)
class Span:
    """Leaves [start, end) re-read by the rolling audit, of its pass over a tree of size of."""

    start: int
    end: int
    of: int
    complete: bool  # the pass ended here: every leaf of that tree hashes to its root

    def to_json(self) -> dict[str, Any]:
        """The span as a JSON object."""
        return {"from": self.start, "to": self.end, "of": self.of, "complete": self.complete}


async def fold_leaves(
    source: LogSource, member: str, border: CompactRange, start: int, end: int
) -> AsyncIterator[tuple[int, CompactRange]]:
    """Read the leaf hashes [start, end) a request at a time, folding each into border.

    Yields, after each request, how far the reading got and the border so far. A leaf hash of
    another length than 32 bytes is VerifyError "malformed".
    """
    position = start
    while position < end:
        stop = min(end, position + MAX_LEAVES_PER_REQUEST)
        hashes = await source.leaves(position, stop)
        if any(len(h) != 32 for h in hashes):
            raise VerifyError("malformed", f"{member}: a leaf hash is not 32 bytes")
        border = audit(border, hashes)
        position = stop
        yield position, border


def planned(cursor: AuditPass | None, newest: Checkpoint, budget: int) -> int:
    """How many leaves RollingAudit.run reads: the rest of the pass, then one over the newest."""
    if cursor is None or budget <= 0:
        return 0
    rest = 0 if cursor.complete else cursor.size - cursor.position
    return min(budget, rest + newest.size)


class RollingAudit:
    """One run of the rolling audit of member's log, from cursor on.

    cursor is kept up to date as leaves are read, so that when reading fails (the source raises
    a SourceError) it holds the progress made; reading is the range [start, end) being read
    then. spans: what was read, pass by pass.
    """

    def __init__(self, member: str, origin: str, cursor: AuditPass) -> None:
        self.member = member
        self.origin = origin
        self.cursor = cursor
        self.reading = (cursor.position, cursor.position)
        self.spans: list[Span] = []

    async def run(
        self,
        source: LogSource,
        newest: Checkpoint,
        budget: int,
        at: datetime,
        *,
        keep_on: bool = True,
        progress: Callable[[int], None] = lambda read: None,
    ) -> AuditPass:
        """Re-read up to budget old leaf hashes of the pass; the cursor after.

        Goes on with the pass under way, or starts one over newest (the newest tree verified)
        when none is. When the pass reaches its tree's size, the leaves must hash to the root
        verified for that size (VerifyError "audit" otherwise; the cursor is then at the end
        of the pass, its border holding what the leaves hash to). With keep_on, a pass that
        ends with budget left is followed by a new one over newest in the same run (at most
        one pass starts per run); without, the next run starts it. progress is told the leaves
        read so far.
        """
        started = False
        read = 0
        while budget > 0:
            if self.cursor.complete:
                if started or newest.size == 0:
                    break
                self.cursor, started = self.cursor.restart(newest.size, newest.root), True
            cursor = self.cursor
            begin = cursor.position
            stop = min(cursor.size, begin + budget)
            self.reading = (begin, min(stop, begin + MAX_LEAVES_PER_REQUEST))
            position, border = begin, cursor.border
            async for position, border in fold_leaves(
                source, self.member, cursor.border, begin, stop
            ):
                self.cursor = replace(cursor, position=position, border=border)
                self.reading = (position, min(stop, position + MAX_LEAVES_PER_REQUEST))
                progress(read + position - begin)
            budget -= position - begin
            read += position - begin
            if self.cursor.complete:
                check_audited_root(
                    self.member, border, Checkpoint(self.origin, cursor.size, cursor.root)
                )
                self.cursor = replace(self.cursor, covered_size=cursor.size, covered_at=at)
            self.spans.append(Span(begin, position, cursor.size, self.cursor.complete))
            if not keep_on:
                break
        return self.cursor
