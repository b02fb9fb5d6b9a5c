"""Merkle tree hashing, proofs and their verification, exactly as RFC 9162 §2.1 defines them.

Pure functions over hashes. A tree is addressed by (level, index): level 0 are the leaf hashes,
a node at (level, index) covers leaves [index * 2**level, (index + 1) * 2**level). Only
complete (perfect) subtrees have such an address; the hash of any other range of leaves is
computed from the complete subtrees that make it up (`range_nodes`), so a store needs to keep
nothing but complete subtrees, which never change once the log has grown past them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Coord = tuple[int, int]
"""A complete subtree: (level, index)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


class ProofError(ValueError):
    """A proof does not verify, or cannot exist for the sizes asked."""


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    return hashlib.sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than size (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Coord]:
    """The complete subtrees whose hashes make up MTH(D[start:end]), left to right.

    start must be aligned as RFC 9162's recursion aligns it (true for every range a proof asks
    for): the left part of each split is then one complete subtree.
    """
    if end <= start:
        raise ValueError(f"empty range [{start}, {end})")
    coords: list[Coord] = []
    while start < end:
        size = end - start
        part = size if size & (size - 1) == 0 else _split(size)
        level = part.bit_length() - 1
        if start % part:
            raise ValueError(f"range [{start}, {end}) is not aligned")
        coords.append((level, start >> level))
        start += part
    return coords


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees' hashes (range_nodes order)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    ranges.reverse()  # RFC order: from the leaf up
    return ranges


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    start, end, complete = 0, new, True
    while True:
        size = end - start
        if old - start == size:
            if not complete:
                ranges.append((start, end))
            break
        k = _split(size)
        if old - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, complete = start + k, False
    ranges.reverse()
    return ranges


@dataclass(frozen=True)
class ProofPlan:
    """What a proof needs: for each element, the complete subtrees to fold into it."""

    elements: tuple[tuple[Coord, ...], ...]

    def coords(self) -> set[Coord]:
        """Every complete subtree the proof reads."""
        return {c for element in self.elements for c in element}

    def assemble(self, hashes: Mapping[Coord, bytes]) -> list[bytes]:
        """The proof, given the hashes of coords()."""
        return [fold_range([hashes[c] for c in element]) for element in self.elements]


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """The plan of PATH(index, D[0:size]) (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    ranges = _inclusion_ranges(index, 0, size)
    return ProofPlan(tuple(tuple(range_nodes(a, b)) for a, b in ranges))


def consistency_plan(old: int, new: int) -> ProofPlan:
    """The plan of PROOF(old, D[0:new]) (RFC 9162 §2.1.4.1); empty when old is 0 or new."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return ProofPlan(())
    return ProofPlan(tuple(tuple(range_nodes(a, b)) for a, b in _consistency_ranges(old, new)))


def root_plan(size: int) -> ProofPlan:
    """The plan of MTH(D[0:size]) as a one-element 'proof'."""
    if size == 0:
        return ProofPlan(())
    return ProofPlan((tuple(range_nodes(0, size)),))


def root_from(plan: ProofPlan, hashes: Mapping[Coord, bytes]) -> bytes:
    """The root hash a root_plan describes."""
    proof = plan.assemble(hashes)
    return proof[0] if proof else EMPTY_ROOT


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless proof shows leaf hash at index in the tree (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, result = index, size - 1, leaf
    for element in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = node_hash(element, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    if result != root:
        raise ProofError("the inclusion proof does not lead to the root hash")


def verify_consistency(
    old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Raise ProofError unless proof shows tree old is a prefix of tree new (RFC 9162 §2.1.4.2)."""
    if not 0 <= old <= new:
        raise ProofError(f"a tree of size {new} cannot extend one of size {old}")
    if old == new:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different root hashes for the same size {old}")
        return
    if old == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(element, fr)
            sr = node_hash(element, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root:
        raise ProofError(f"the consistency proof does not lead to the root of size {old}")
    if sr != new_root:
        raise ProofError(f"the consistency proof does not lead to the root of size {new}")


@dataclass
class CompactRange:
    """The right border of a tree: one hash per complete subtree of its binary decomposition.

    Enough to append leaves and compute the root without reading anything else, which is how
    the sequencer integrates a batch and how an auditor re-computes a root from leaf hashes.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    @staticmethod
    def border(size: int) -> list[Coord]:
        """The complete subtrees whose hashes a compact range of this size holds."""
        return range_nodes(0, size) if size else []

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the interior nodes completed by it as (level, index, hash)."""
        index = self.size
        level, current = 0, leaf
        made: list[tuple[int, int, bytes]] = []
        while (index >> level) & 1:
            current = node_hash(self.hashes.pop(), current)
            level += 1
            made.append((level, index >> level, current))
        self.hashes.append(current)
        self.size += 1
        return made

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes in order; return every interior node they completed."""
        made: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            made.extend(self.append(leaf))
        return made

    def root(self) -> bytes:
        """MTH of the leaves so far."""
        return fold_range(self.hashes) if self.hashes else EMPTY_ROOT

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange(self.size, list(self.hashes))


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[0:n]) of leaf hashes, straight from the definition (tests and small audits)."""
    compact = CompactRange()
    compact.extend(leaves)
    return compact.root()


HashSource = Callable[[set[Coord]], Mapping[Coord, bytes]]
"""Looks up the hashes of complete subtrees (a store, or a list of leaves in tests)."""
