"""The log's Merkle tree against the published RFC 6962 / RFC 9162 vectors, properties and pymerkle.

Three independent checks of `digitalstate.transparency.merkle`:

- The reference vectors of the Go implementation that Certificate Transparency and the
  transparency-dev tools share (github.com/transparency-dev/merkle, Apache-2.0):
  `testonly/constants.go` at commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1 (the eight leaf
  inputs, every complete subtree's hash and the roots of sizes 0 to 8), `proof/verify_test.go`
  at commit 02194e9afb6c1d95b5381350007963aa70fff472 (inclusion and consistency proofs, and the
  ways of corrupting them that a verifier must refuse), and `rfc6962/rfc6962_test.go` at commit
  78493b07ef9b552e3379abf9e23d4da26fbe797c (the hasher's own vectors). The same leaves and roots
  are in google/certificate-transparency's C++ `merkle_tree_test.cc`.
- Hypothesis properties: every inclusion and consistency proof of every tree verifies, and a
  flipped bit, another index or another size makes it fail.
- `pymerkle` (PyPI, version 7) in its RFC 6962 mode (`disable_security=False`: leaf
  SHA-256(0x00 || data), node SHA-256(0x01 || left || right)): the same roots for every size,
  inclusion proofs equal hash for hash, and each side's proofs verify with the other's verifier
  (consistency proofs are converted between pymerkle's leaf-level layout and RFC 9162's).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymerkle import ConsistencyProof, InclusionProof, InmemoryTree, InvalidProof
from pymerkle import verify_consistency as pymerkle_verify_consistency
from pymerkle import verify_inclusion as pymerkle_verify_inclusion
from pymerkle.core import _consistency_path_layout, _inclusion_path_layout

from digitalstate.transparency.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Coord,
    ProofError,
    ProofPlan,
    consistency_plan,
    fold_range,
    inclusion_plan,
    leaf_hash,
    node_hash,
    range_nodes,
    root_from,
    root_plan,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# testonly/constants.go: LeafInputs(), NodeHashes() and RootHashes() --------------------------

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
"""The root hash of the tree of the first n leaf inputs, at index n (0 is the empty tree)."""

# proof/verify_test.go: inclusionProofs (leaf numbers there count from 1) and consistencyProofs.
INCLUSION_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY_PROOFS: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


class Tree:
    """A tree over leaf hashes, answering plans the way a store does: from complete subtrees."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)

    @functools.cache  # noqa: B019 - a test object per tree; nothing outlives the test
    def subtree(self, coord: Coord) -> bytes:
        level, index = coord
        if level == 0:
            return self.leaves[index]
        return node_hash(
            self.subtree((level - 1, 2 * index)), self.subtree((level - 1, 2 * index + 1))
        )

    def hashes(self, plan: ProofPlan) -> dict[Coord, bytes]:
        return {coord: self.subtree(coord) for coord in plan.coords()}

    def inclusion(self, index: int, size: int) -> list[bytes]:
        plan = inclusion_plan(index, size)
        return plan.assemble(self.hashes(plan))

    def consistency(self, old: int, new: int) -> list[bytes]:
        plan = consistency_plan(old, new)
        return plan.assemble(self.hashes(plan))

    def root(self, size: int) -> bytes:
        plan = root_plan(size)
        return root_from(plan, self.hashes(plan))

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) of an RFC-aligned range, from complete subtrees."""
        return fold_range([self.subtree(c) for c in range_nodes(start, end)])


REFERENCE = Tree([leaf_hash(data) for data in LEAF_INPUTS])


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) by RFC 9162 §2.1.1's recursion, written out independently of merkle.py."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


# The reference vectors --------------------------------------------------------------------------


def test_the_hasher_matches_rfc6962_test_go() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )
    # Second-preimage resistance: an interior node is not the leaf hash of its children.
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert node_hash(left, right) != leaf_hash(left + right)
    assert node_hash(left, right) != node_hash(right, left)


def test_every_complete_subtree_hash_matches_the_reference_node_hashes() -> None:
    for level, row in enumerate(NODE_HASHES):
        for index, expected in enumerate(row):
            assert REFERENCE.subtree((level, index)) == expected, (level, index)


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_the_root_of_every_reference_size_matches(size: int) -> None:
    leaves = REFERENCE.leaves[:size]
    assert tree_root(leaves) == ROOTS[size]
    assert REFERENCE.root(size) == ROOTS[size]
    assert mth(leaves) == ROOTS[size]
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    assert compact.root() == ROOTS[size]


def test_the_compact_range_holds_the_reference_border_and_makes_every_node_once() -> None:
    compact = CompactRange()
    made = compact.extend(REFERENCE.leaves)
    made_by_coord = {(level, index): digest for level, index, digest in made}
    expected = {
        (level, index): digest
        for level, row in enumerate(NODE_HASHES)
        if level > 0
        for index, digest in enumerate(row)
    }
    assert made_by_coord == expected
    assert len(made) == len(expected)
    # After each size its border is that of testonly's CompactTrees().
    borders = [
        [],
        [(0, 0)],
        [(1, 0)],
        [(1, 0), (0, 2)],
        [(2, 0)],
        [(2, 0), (0, 4)],
        [(2, 0), (1, 2)],
        [(2, 0), (1, 2), (0, 6)],
        [(3, 0)],
    ]
    for size, border in enumerate(borders):
        assert CompactRange.border(size) == border
        compact = CompactRange()
        compact.extend(REFERENCE.leaves[:size])
        assert compact.hashes == [NODE_HASHES[lv][ix] for lv, ix in border]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_the_inclusion_proofs_match_the_reference_and_verify(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert REFERENCE.inclusion(index, size) == proof
    verify_inclusion(REFERENCE.leaves[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_PROOFS)
def test_the_consistency_proofs_match_the_reference_and_verify(
    old: int, new: int, proof: list[bytes]
) -> None:
    assert REFERENCE.consistency(old, new) == proof
    verify_consistency(old, new, proof, ROOTS[old], ROOTS[new])


def corrupted_inclusion(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    """verify_test.go's corruptInclusionProof: every probe must be refused."""
    probes = [
        ("index - 1", index - 1, size, proof, root, leaf),
        ("index + 1", index + 1, size, proof, root, leaf),
        ("index ^ 2", index ^ 2, size, proof, root, leaf),
        ("size * 2", index, size * 2, proof, root, leaf),
        ("size // 2", index, size // 2, proof, root, leaf),
        ("wrong leaf", index, size, proof, root, b"WrongLeaf"),
        ("empty root", index, size, proof, EMPTY_ROOT, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root, leaf),
        ("trailing root", index, size, [*proof, root], root, leaf),
        ("preceding garbage", index, size, [b"", *proof], root, leaf),
        ("preceding root", index, size, [root, *proof], root, leaf),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        probes.append((f"proof[{i}] bit 3", index, size, flipped, root, leaf))
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root, leaf))
    if len(proof) > 1:
        probes.append(
            ("inserted component", index, size, [proof[0], SOME_HASH, *proof[1:]], root, leaf)
        )
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_every_corruption_of_a_reference_inclusion_proof_is_refused(
    index: int, size: int, proof: list[bytes]
) -> None:
    for desc, i, s, p, root, leaf in corrupted_inclusion(
        index, size, proof, ROOTS[size], REFERENCE.leaves[index]
    ):
        with pytest.raises(ProofError):
            verify_inclusion(leaf, i, s, p, root)
            pytest.fail(f"verified against: {desc}")


def corrupted_consistency(
    old: int, new: int, proof: list[bytes], old_root: bytes, new_root: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    """verify_test.go's corruptConsistencyProof: every probe must be refused."""
    probes = [
        ("old - 1", old - 1, new, proof, old_root, new_root),
        ("old + 1", old + 1, new, proof, old_root, new_root),
        ("old ^ 2", old ^ 2, new, proof, old_root, new_root),
        ("new * 2", old, new * 2, proof, old_root, new_root),
        ("new // 2", old, new // 2, proof, old_root, new_root),
        ("wrong old root", old, new, proof, b"WrongRoot", new_root),
        ("wrong new root", old, new, proof, old_root, b"WrongRoot"),
        ("swapped roots", old, new, proof, new_root, old_root),
        ("empty proof", old, new, [], old_root, new_root),
        ("trailing garbage", old, new, [*proof, b""], old_root, new_root),
        ("trailing old root", old, new, [*proof, old_root], old_root, new_root),
        ("trailing new root", old, new, [*proof, new_root], old_root, new_root),
        ("preceding garbage", old, new, [b"", *proof], old_root, new_root),
        ("preceding old root", old, new, [old_root, *proof], old_root, new_root),
        ("preceding new root", old, new, [new_root, *proof], old_root, new_root),
        ("preceding proof[0]", old, new, [proof[0], *proof], old_root, new_root),
        ("truncated proof", old, new, proof[:-1], old_root, new_root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        probes.append((f"proof[{i}] bit 4", old, new, flipped, old_root, new_root))
    return probes


@pytest.mark.parametrize(("old", "new", "proof"), [p for p in CONSISTENCY_PROOFS if p[2]])
def test_every_corruption_of_a_reference_consistency_proof_is_refused(
    old: int, new: int, proof: list[bytes]
) -> None:
    for desc, o, n, p, old_root, new_root in corrupted_consistency(
        old, new, proof, ROOTS[old], ROOTS[new]
    ):
        with pytest.raises(ProofError):
            verify_consistency(o, n, p, old_root, new_root)
            pytest.fail(f"verified against: {desc}")


ROOT_1 = b"don't care 1"
ROOT_2 = b"don't care 2"


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "valid"),
    [
        # verify_test.go's TestVerifyConsistency table.
        (0, 0, ROOT_1, ROOT_2, [], False),
        (1, 1, ROOT_1, ROOT_2, [], False),
        (0, 0, ROOT_1, ROOT_1, [], True),
        (0, 1, ROOT_1, ROOT_2, [], True),
        (1, 1, ROOT_2, ROOT_2, [], True),
        (1, 0, ROOT_1, ROOT_2, [], False),
        (2, 1, ROOT_1, ROOT_2, [], False),
        (1, 2, ROOT_1, ROOT_2, [], False),
        (0, 0, EMPTY_ROOT, ROOT_2, [], False),
        (1, 1, EMPTY_ROOT, ROOT_2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_the_edge_cases_of_consistency_are_decided_as_the_reference_decides(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], valid: bool
) -> None:
    if valid:
        verify_consistency(old, new, proof, old_root, new_root)
    else:
        with pytest.raises(ProofError):
            verify_consistency(old, new, proof, old_root, new_root)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_an_empty_inclusion_proof_proves_nothing_but_a_one_leaf_tree(index: int, size: int) -> None:
    # verify_test.go's TestVerifyInclusion probes and TestVerifyInclusionSingleEntry.
    for leaf, root in ((SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)):
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, [], root)
    single = leaf_hash(b"data")
    verify_inclusion(single, 0, 1, [], single)
    with pytest.raises(ProofError):
        verify_inclusion(b"", 0, 1, [], single)
    with pytest.raises(ProofError):
        verify_inclusion(single, 0, 1, [], b"")


def test_plans_refuse_what_cannot_be_proved() -> None:
    for index, size in ((0, 0), (3, 3), (-1, 4), (8, 5)):
        with pytest.raises(ProofError):
            inclusion_plan(index, size)
    for old, new in ((5, 4), (-1, 3), (1, -1)):
        with pytest.raises(ProofError):
            consistency_plan(old, new)
    assert consistency_plan(0, 5).elements == ()
    assert consistency_plan(5, 5).elements == ()
    assert root_plan(0).elements == ()
    with pytest.raises(ValueError, match="not aligned"):
        range_nodes(1, 3)
    with pytest.raises(ValueError, match="empty range"):
        range_nodes(4, 4)


# Properties, with Hypothesis --------------------------------------------------------------------

MAX_SIZE = 300
LEAVES = Tree([leaf_hash(f"entry {n}".encode()) for n in range(MAX_SIZE)])


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(1, new)), new


def flip(proof: list[bytes], element: int, byte: int, bit: int) -> list[bytes]:
    changed = list(proof)
    target = bytearray(changed[element % len(changed)])
    target[byte % len(target)] ^= 1 << bit
    changed[element % len(changed)] = bytes(target)
    return changed


@given(leaf_in_tree())
def test_every_inclusion_proof_verifies_and_matches_the_recursive_definition(
    case: tuple[int, int],
) -> None:
    index, size = case
    proof = LEAVES.inclusion(index, size)
    assert LEAVES.root(size) == mth(LEAVES.leaves[:size])
    verify_inclusion(LEAVES.leaves[index], index, size, proof, LEAVES.root(size))
    assert len(proof) <= (size - 1).bit_length()


@given(leaf_in_tree(), st.integers(0, 63), st.integers(0, 31), st.integers(0, 7))
def test_a_flipped_bit_anywhere_in_an_inclusion_proof_fails(
    case: tuple[int, int], element: int, byte: int, bit: int
) -> None:
    index, size = case
    proof = LEAVES.inclusion(index, size)
    root = LEAVES.root(size)
    leaf = LEAVES.leaves[index]
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, flip(proof, element, byte, bit), root)
    with pytest.raises(ProofError):
        verify_inclusion(flip([leaf], 0, byte, bit)[0], index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, flip([root], 0, byte, bit)[0])


@given(leaf_in_tree(), st.integers(0, MAX_SIZE - 1))
def test_an_inclusion_proof_for_another_index_fails(case: tuple[int, int], other: int) -> None:
    index, size = case
    other %= size
    proof = LEAVES.inclusion(index, size)
    root = LEAVES.root(size)
    if other != index:
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES.leaves[index], other, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES.leaves[other], index, size, proof, root)


@given(leaf_in_tree(), st.integers(1, MAX_SIZE))
def test_an_inclusion_proof_checked_against_another_size_fails(
    case: tuple[int, int], other: int
) -> None:
    # The size is bound by its root: the checkpoint states both.
    index, size = case
    proof = LEAVES.inclusion(index, size)
    if other != size:
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES.leaves[index], index, other, proof, LEAVES.root(other))


@given(two_sizes())
def test_every_consistency_proof_verifies(case: tuple[int, int]) -> None:
    old, new = case
    proof = LEAVES.consistency(old, new)
    verify_consistency(old, new, proof, LEAVES.root(old), LEAVES.root(new))
    verify_consistency(0, new, [], EMPTY_ROOT, LEAVES.root(new))


@given(two_sizes(), st.integers(0, 63), st.integers(0, 31), st.integers(0, 7))
def test_a_flipped_bit_anywhere_in_a_consistency_proof_fails(
    case: tuple[int, int], element: int, byte: int, bit: int
) -> None:
    old, new = case
    proof = LEAVES.consistency(old, new)
    old_root, new_root = LEAVES.root(old), LEAVES.root(new)
    if proof:
        with pytest.raises(ProofError):
            verify_consistency(old, new, flip(proof, element, byte, bit), old_root, new_root)
    with pytest.raises(ProofError):
        verify_consistency(old, new, proof, flip([old_root], 0, byte, bit)[0], new_root)
    with pytest.raises(ProofError):
        verify_consistency(old, new, proof, old_root, flip([new_root], 0, byte, bit)[0])


@given(two_sizes(), st.integers(1, MAX_SIZE), st.integers(1, MAX_SIZE))
def test_a_consistency_proof_checked_against_other_sizes_fails(
    case: tuple[int, int], other_old: int, other_new: int
) -> None:
    old, new = case
    proof = LEAVES.consistency(old, new)
    if other_old != old and other_old <= new:
        with pytest.raises(ProofError):
            verify_consistency(other_old, new, proof, LEAVES.root(other_old), LEAVES.root(new))
    if other_new != new and other_new >= old:
        with pytest.raises(ProofError):
            verify_consistency(old, other_new, proof, LEAVES.root(old), LEAVES.root(other_new))


@given(st.lists(st.integers(1, 40), max_size=12))
def test_a_tree_grown_in_any_batches_has_the_same_nodes_and_roots(batches: list[int]) -> None:
    compact, made = CompactRange(), []
    for count in batches:
        start = compact.size
        if start + count > MAX_SIZE:
            break
        made += compact.extend(LEAVES.leaves[start : start + count])
        assert compact.root() == LEAVES.root(compact.size)
        # The border a store would load from its nodes gives the same root.
        border = CompactRange(
            compact.size, [LEAVES.subtree(c) for c in CompactRange.border(compact.size)]
        )
        assert border.hashes == compact.hashes
    assert {(level, index): digest for level, index, digest in made} == {
        (level, index): LEAVES.subtree((level, index)) for level, index, _ in made
    }
    assert len(made) == len({(level, index) for level, index, _ in made})


# pymerkle ----------------------------------------------------------------------------------------

INTEROP_SIZE = 70
ENTRIES = [f'{{"n":{n},"salt":"{n * 7919 % 1000}"}}'.encode() for n in range(INTEROP_SIZE)]


@pytest.fixture(scope="module")
def pymerkle_tree() -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256", disable_security=False)
    for entry in ENTRIES:
        tree.append_entry(entry)
    return tree


OURS = Tree([leaf_hash(entry) for entry in ENTRIES])


def test_pymerkle_hashes_leaves_and_roots_as_we_do(pymerkle_tree: InmemoryTree) -> None:
    assert pymerkle_tree.get_root(0) == EMPTY_ROOT
    for size in range(1, INTEROP_SIZE + 1):
        assert pymerkle_tree.get_leaf(size) == OURS.leaves[size - 1]
        assert pymerkle_tree.get_root(size) == OURS.root(size) == tree_root(OURS.leaves[:size])


def test_inclusion_proofs_are_the_same_both_ways(pymerkle_tree: InmemoryTree) -> None:
    for size in range(1, INTEROP_SIZE + 1):
        root = OURS.root(size)
        for index in range(size):
            theirs = pymerkle_tree.prove_inclusion(index + 1, size)  # pymerkle counts from 1
            ours = OURS.inclusion(index, size)
            # pymerkle's path is the leaf hash followed by the RFC 9162 audit path.
            assert theirs.path == [OURS.leaves[index], *ours]
            verify_inclusion(OURS.leaves[index], index, size, theirs.path[1:], root)
            rule, _ = _inclusion_path_layout(index + 1, size)
            ours_for_them = InclusionProof(
                "sha256", True, size, index + 1, rule, [OURS.leaves[index], *ours]
            )
            pymerkle_verify_inclusion(OURS.leaves[index], root, ours_for_them, index + 1, size)


def from_pymerkle(proof: ConsistencyProof, old: int, new: int) -> list[bytes]:
    """pymerkle's consistency path as RFC 9162's PROOF(old, D[new]).

    pymerkle's path holds MTHs of aligned leaf ranges down to the leaf level; RFC 9162's
    elements are MTHs of (coarser) aligned ranges, so each is folded from pymerkle's by the
    RFC's own split. Only node_hash is ours here.
    """
    _, _, ranges = _consistency_path_layout(old, new)
    known: dict[tuple[int, int], bytes] = dict(zip(ranges, proof.path, strict=True))

    def mth_of(start: int, end: int) -> bytes:
        if (start, end) in known:
            return known[(start, end)]
        k = 1 << ((end - start - 1).bit_length() - 1)
        return node_hash(mth_of(start, start + k), mth_of(start + k, end))

    plan = consistency_plan(old, new)
    result = []
    for element in plan.elements:
        first_level, first_index = element[0]
        last_level, last_index = element[-1]
        start = first_index << first_level
        end = (last_index + 1) << last_level
        result.append(mth_of(start, end))
    return result


def for_pymerkle(tree: Tree, old: int, new: int) -> ConsistencyProof:
    """A pymerkle consistency proof built from our complete subtrees alone."""
    rule, subset, ranges = _consistency_path_layout(old, new)
    path = [tree.range_hash(start, end) for start, end in ranges]
    return ConsistencyProof("sha256", True, new, old, rule, subset, path)


def test_consistency_proofs_verify_both_ways(pymerkle_tree: InmemoryTree) -> None:
    for new in range(1, INTEROP_SIZE + 1):
        for old in range(1, new + 1):
            old_root, new_root = OURS.root(old), OURS.root(new)
            theirs = pymerkle_tree.prove_consistency(old, new)
            ours = OURS.consistency(old, new)
            assert from_pymerkle(theirs, old, new) == ours, (old, new)
            verify_consistency(old, new, from_pymerkle(theirs, old, new), old_root, new_root)
            pymerkle_verify_consistency(old_root, new_root, for_pymerkle(OURS, old, new), old, new)


def test_pymerkle_refuses_what_we_refuse(pymerkle_tree: InmemoryTree) -> None:
    size, index = 37, 21
    proof = OURS.inclusion(index, size)
    rule, _ = _inclusion_path_layout(index + 1, size)
    flipped = flip(proof, 2, 5, 3)
    bad = InclusionProof("sha256", True, size, index + 1, rule, [OURS.leaves[index], *flipped])
    with pytest.raises(InvalidProof):
        pymerkle_verify_inclusion(OURS.leaves[index], OURS.root(size), bad, index + 1, size)
    with pytest.raises(ProofError):
        verify_inclusion(OURS.leaves[index], index, size, flipped, OURS.root(size))
    # A tree hashed without RFC 6962's prefixes is another tree: its roots are not ours.
    bare = InmemoryTree(algorithm="sha256", disable_security=True)
    for entry in ENTRIES[:size]:
        bare.append_entry(entry)
    assert bare.get_root(size) != OURS.root(size) == pymerkle_tree.get_root(size)


def test_large_trees_agree_with_pymerkle() -> None:
    leaves = [n.to_bytes(4, "big") for n in range(1500)]
    tree = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        tree.append_entry(leaf)
    ours = Tree([leaf_hash(leaf) for leaf in leaves])
    for size in (1024, 1025, 1337, 1500):
        assert tree.get_root(size) == ours.root(size)
        for index in (0, 511, 1023, size - 1):
            assert tree.prove_inclusion(index + 1, size).path[1:] == ours.inclusion(index, size)
