"""The log's routes on a node's app in-process, on SQLite and PostgreSQL.

The node's background work is off (registers_support), so these tests integrate the log
themselves with the node's own Sequencer, key and origin. Every checkpoint and proof the routes
give is checked with the pure verifiers, as an outside auditor would check them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from log_tamper import delete_entry
from sqlalchemy import select

from digitalstate.keys import KeyPair
from digitalstate.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from digitalstate.transparency.entries import LogEntry, log_origin, make_entry, witness_name
from digitalstate.transparency.leaves import MAX_LEAVES_PER_PAGE
from digitalstate.transparency.merkle import (
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from digitalstate.transparency.models import LogEntryRow
from digitalstate.transparency.note import (
    Checkpoint,
    SignedNote,
    cosign,
    sign_checkpoint,
    verify_cosignature,
    verify_log_signature,
)
from digitalstate.transparency.sequencer import Sequencer
from digitalstate.transparency.store import append_entries
from integration.registers_support import (
    CHARTER,
    NODE_ID,
    OTHER_PERSON,
    PERSON,
    TAX,
    RegisterNode,
    start_register,
)

CHECKPOINT = "/.well-known/digitalstate/checkpoint"
LOG = "/.well-known/digitalstate/log"
COSIGNATURES = "/exchange/v1/log/cosignatures"
ACCESS = "/exchange/v1/access-records"
NOW = datetime(2026, 3, 1, 10, 42, tzinfo=UTC)
ENTRIES = 21


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[RegisterNode]:
    yield from start_register(tmp_path / "people-register", migrated_database_url)


def origin(node: RegisterNode) -> str:
    return log_origin(node.document.federation, NODE_ID)


def log_key(node: RegisterNode) -> KeyPair:
    return node.runtime.key


def sequencer(node: RegisterNode, batch_size: int = 1000) -> Sequencer:
    return Sequencer(node.runtime.engine, origin(node), log_key(node), batch_size=batch_size)


def append(node: RegisterNode, count: int, pseudonym: str = PERSON, start: int = 0) -> None:
    """count entries, as record_access makes them, stored in one statement (65,538 of them
    one statement at a time took 35 s on a loaded PostgreSQL)."""
    entries = [
        make_entry(
            holder=NODE_ID,
            pseudonym=pseudonym,
            requester="liverpool-pensions",
            action="read",
            outcome="allowed",
            now=NOW,
            purpose="pension-administration",
            fields=["people.address"],
            reason=f"read {n}",
        )
        for n in range(start, start + count)
    ]
    with node.runtime.engine.begin() as db:
        append_entries(db, entries)


@pytest.fixture
def filled(node: RegisterNode) -> RegisterNode:
    """ENTRIES entries, integrated in batches of 5 (checkpoints at 5, 10, 15, 20, 21)."""
    append(node, ENTRIES)
    sequencer(node, batch_size=5).drain()
    return node


def problem(response: httpx.Response, status: int, slug: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug, body
    detail: str = body["detail"]
    return detail


def get_note(node: RegisterNode, path: str = CHECKPOINT) -> SignedNote:
    response = node.http.request("GET", path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    return SignedNote.parse(response.text)


def verified(node: RegisterNode, path: str = CHECKPOINT) -> Checkpoint:
    return verify_log_signature(get_note(node, path), origin(node), [log_key(node).public])


def leaves(node: RegisterNode, start: int, end: int) -> list[bytes]:
    response = node.http.request("GET", f"{LOG}/leaves", params={"start": start, "end": end})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    data = response.content
    assert len(data) == 32 * (end - start)
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def proof_of(response: httpx.Response) -> list[bytes]:
    assert response.status_code == 200, response.text
    return [base64.b64decode(h) for h in response.json()["proof"]]


# Checkpoints, proofs and leaves ------------------------------------------------------------


def test_there_is_no_checkpoint_until_the_sequencer_signs_one(node: RegisterNode) -> None:
    problem(node.http.request("GET", CHECKPOINT), 503, "checkpoint-unavailable")
    sequencer(node).drain()
    assert verified(node).size == 0


def test_the_checkpoint_is_a_signed_note_of_the_newest_tree(filled: RegisterNode) -> None:
    checkpoint = verified(filled)
    assert checkpoint.origin == origin(filled)
    assert checkpoint.size == ENTRIES
    assert checkpoint.root == tree_root(leaves(filled, 0, ENTRIES))
    for size in (5, 10, 15, 20, 21):
        older = verified(filled, f"{LOG}/checkpoint/{size}")
        assert older.size == size
        assert older.root == tree_root(leaves(filled, 0, size))
    problem(filled.http.request("GET", f"{LOG}/checkpoint/7"), 404, "not-found")


def test_leaves_are_the_hashes_of_the_entries_the_node_holds(filled: RegisterNode) -> None:
    with filled.runtime.engine.connect() as db:
        bodies = db.execute(select(LogEntryRow.body).order_by(LogEntryRow.leaf_index)).scalars()
        assert leaves(filled, 0, ENTRIES) == [leaf_hash(bytes(b)) for b in bodies]
    assert leaves(filled, 3, 3) == []
    assert leaves(filled, 20, 21) == leaves(filled, 0, ENTRIES)[20:]


def test_every_inclusion_proof_verifies_against_the_checkpoint(filled: RegisterNode) -> None:
    hashes = leaves(filled, 0, ENTRIES)
    for size in (5, 15, 21):
        root = verified(filled, f"{LOG}/checkpoint/{size}").root
        for index in range(size):
            response = filled.http.request(
                "GET", f"{LOG}/inclusion", params={"index": index, "size": size}
            )
            assert response.json()["index"] == index and response.json()["size"] == size
            verify_inclusion(hashes[index], index, size, proof_of(response), root)


def test_every_consistency_proof_verifies_between_checkpoints(filled: RegisterNode) -> None:
    sizes = [5, 10, 15, 20, 21]
    roots = {size: verified(filled, f"{LOG}/checkpoint/{size}").root for size in sizes}
    for old in sizes:
        for new in sizes[sizes.index(old) :]:
            response = filled.http.request(
                "GET", f"{LOG}/consistency", params={"old": old, "new": new}
            )
            assert response.json()["old"] == old and response.json()["new"] == new
            verify_consistency(old, new, proof_of(response), roots[old], roots[new])


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("inclusion", {"index": ENTRIES, "size": ENTRIES}),  # index >= size
        ("inclusion", {"index": 3, "size": ENTRIES + 1}),  # size beyond the tree
        ("inclusion", {"index": -1, "size": 5}),
        ("inclusion", {"index": 0, "size": -5}),
        ("inclusion", {"index": 0, "size": 0}),
        ("consistency", {"old": 10, "new": 5}),  # old > new
        ("consistency", {"old": 5, "new": ENTRIES + 1}),
        ("consistency", {"old": -1, "new": 5}),
        ("leaves", {"start": 0, "end": ENTRIES + 1}),
        ("leaves", {"start": 5, "end": 4}),
        ("leaves", {"start": -1, "end": 4}),
        ("leaves", {"start": 0, "end": MAX_LEAVES_PER_PAGE + 10}),
    ],
)
def test_requests_outside_the_tree_are_400_problems(
    filled: RegisterNode, path: str, params: dict[str, int]
) -> None:
    response = filled.http.request("GET", f"{LOG}/{path}", params=params)
    problem(response, 400, "proof-out-of-range")


def test_too_many_leaves_at_once_are_refused_even_inside_the_tree(node: RegisterNode) -> None:
    append(node, MAX_LEAVES_PER_PAGE + 2)
    sequencer(node, batch_size=20_000).drain()
    response = node.http.request(
        "GET", f"{LOG}/leaves", params={"start": 0, "end": MAX_LEAVES_PER_PAGE + 1}
    )
    detail = problem(response, 400, "proof-out-of-range")
    assert f"{MAX_LEAVES_PER_PAGE}" in detail.replace(",", "")
    assert len(leaves(node, 1, MAX_LEAVES_PER_PAGE + 1)) == MAX_LEAVES_PER_PAGE


@pytest.mark.parametrize(
    "query",
    [
        "inclusion?index=abc&size=5",
        "inclusion?index=1.5&size=5",
        "inclusion?size=5",
        "consistency?old=1&new=x",
        "leaves?start=&end=3",
    ],
)
def test_parameters_that_are_not_integers_are_validation_problems(
    filled: RegisterNode, query: str
) -> None:
    problem(filled.http.request("GET", f"{LOG}/{query}"), 422, "validation-failed")


def test_a_damaged_store_is_reported_not_papered_over(filled: RegisterNode) -> None:
    delete_entry(filled.runtime.engine, 9)
    # Leaf 8's proof needs leaf 9's hash, which is computed from the deleted entry.
    response = filled.http.request("GET", f"{LOG}/inclusion", params={"index": 8, "size": 21})
    problem(response, 500, "log-damaged")
    response = filled.http.request("GET", f"{LOG}/consistency", params={"old": 9, "new": 21})
    problem(response, 500, "log-damaged")
    response = filled.http.request("GET", f"{LOG}/leaves", params={"start": 0, "end": 21})
    problem(response, 500, "log-damaged")
    # What does not need the lost entry is still served.
    response = filled.http.request("GET", f"{LOG}/inclusion", params={"index": 1, "size": 4})
    assert response.status_code == 200


# Cosignatures -------------------------------------------------------------------------------


def charter_cosigned(node: RegisterNode, note: SignedNote, key: KeyPair = CHARTER) -> str:
    name = witness_name(node.document.federation, "charter")
    return note.with_signatures([cosign(note, name, key, 1_772_000_000)]).render()


def test_a_witness_cosignature_is_kept_and_served_with_the_checkpoint(
    filled: RegisterNode,
) -> None:
    note = get_note(filled)
    response = filled.call(
        COSIGNATURES, {"checkpoint": charter_cosigned(filled, note)}, caller="charter", purpose=None
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"size": ENTRIES, "witness": "charter", "added": True}
    served = get_note(filled)
    assert verify_log_signature(served, origin(filled), [log_key(filled).public]).size == ENTRIES
    name = witness_name(filled.document.federation, "charter")
    (line,) = [s for s in served.signatures if s.name == name]
    assert verify_cosignature(served, line, CHARTER.public) == 1_772_000_000
    # The older checkpoint of that size carries it too; sending it again adds nothing.
    assert get_note(filled, f"{LOG}/checkpoint/{ENTRIES}") == served
    again = filled.call(
        COSIGNATURES, {"checkpoint": charter_cosigned(filled, note)}, caller="charter", purpose=None
    )
    assert again.status_code == 201 and again.json()["added"] is False
    assert get_note(filled) == served


def test_a_cosignature_of_an_older_checkpoint_is_kept_for_that_size(
    filled: RegisterNode,
) -> None:
    older = get_note(filled, f"{LOG}/checkpoint/10")
    response = filled.call(
        COSIGNATURES,
        {"checkpoint": charter_cosigned(filled, older)},
        caller="charter",
        purpose=None,
    )
    assert response.status_code == 201, response.text
    assert len(get_note(filled, f"{LOG}/checkpoint/10").signatures) == 2
    assert len(get_note(filled).signatures) == 1


def test_bad_cosignatures_are_refused(filled: RegisterNode) -> None:
    note = get_note(filled)
    name = witness_name(filled.document.federation, "charter")
    cases = {
        # Signed by a key the charter does not hold.
        "wrong key": charter_cosigned(filled, note, key=TAX),
        # Under the witness name of another member than the caller.
        "other name": note.with_signatures(
            [cosign(note, witness_name(filled.document.federation, "newcastle-tax"), CHARTER, 5)]
        ).render(),
        # No cosignature at all.
        "none": note.render(),
        # A checkpoint this node never signed: another root at the same size.
        "unknown checkpoint": charter_cosigned(
            filled,
            sign_checkpoint(
                Checkpoint(origin(filled), ENTRIES, leaf_hash(b"another history")),
                origin(filled),
                log_key(filled),
            ),
        ),
        # A size this node never signed.
        "unknown size": charter_cosigned(
            filled,
            sign_checkpoint(
                Checkpoint(origin(filled), 7, leaf_hash(b"seven")), origin(filled), log_key(filled)
            ),
        ),
        "garbage": "not a note\n",
    }
    for case, text in cases.items():
        response = filled.call(COSIGNATURES, {"checkpoint": text}, caller="charter", purpose=None)
        assert response.status_code == 422, (case, response.text)
        problem(response, 422, "cosignature-invalid")
    tampered = note.with_signatures([cosign(note, name, CHARTER, 9)])
    broken = tampered.render().replace(note.text, note.text.replace(str(ENTRIES), "22"))
    response = filled.call(COSIGNATURES, {"checkpoint": broken}, caller="charter", purpose=None)
    problem(response, 422, "cosignature-invalid")
    assert len(get_note(filled).signatures) == 1


# A person's entries, for the charter ---------------------------------------------------------


def test_the_charter_gets_a_persons_entries_newest_first_with_proofs(
    filled: RegisterNode,
) -> None:
    append(filled, 3, pseudonym=OTHER_PERSON)
    append(filled, 2, pseudonym=PERSON, start=100)  # appended, not yet integrated
    response = filled.call(ACCESS, {"subject": PERSON}, caller="charter", purpose=None)
    assert response.status_code == 200, response.text
    body = response.json()
    checkpoint = verify_log_signature(
        SignedNote.parse(body["checkpoint"]), origin(filled), [log_key(filled).public]
    )
    assert checkpoint.size == ENTRIES
    entries = body["entries"]
    assert len(entries) == ENTRIES + 2
    reasons = [LogEntry.decode(e["entry"].encode()).reason for e in entries]
    assert reasons == ["read 101", "read 100", *[f"read {n}" for n in reversed(range(ENTRIES))]]
    assert [e["leaf_index"] for e in entries[:2]] == [None, None]
    assert [e["proof"] for e in entries[:2]] == [None, None]
    for item in entries[2:]:
        data = item["entry"].encode()
        assert LogEntry.decode(data).pseudonym == PERSON
        proof = [base64.b64decode(h) for h in item["proof"]]
        verify_inclusion(
            leaf_hash(data), item["leaf_index"], checkpoint.size, proof, checkpoint.root
        )


def test_the_proofs_are_against_the_newest_cosigned_checkpoint(filled: RegisterNode) -> None:
    older = get_note(filled, f"{LOG}/checkpoint/10")
    cosigned = filled.call(
        COSIGNATURES,
        {"checkpoint": charter_cosigned(filled, older)},
        caller="charter",
        purpose=None,
    )
    assert cosigned.status_code == 201
    body = filled.call(ACCESS, {"subject": PERSON}, caller="charter", purpose=None).json()
    note = SignedNote.parse(body["checkpoint"])
    checkpoint = verify_log_signature(note, origin(filled), [log_key(filled).public])
    assert checkpoint.size == 10
    assert len(note.signatures) == 2
    for item in body["entries"]:
        if item["leaf_index"] < 10:
            proof = [base64.b64decode(h) for h in item["proof"]]
            verify_inclusion(
                leaf_hash(item["entry"].encode()), item["leaf_index"], 10, proof, checkpoint.root
            )
        else:
            assert item["proof"] is None  # not yet under a cosigned checkpoint


def test_only_the_charter_may_ask_for_a_persons_entries(filled: RegisterNode) -> None:
    response = filled.call(ACCESS, {"subject": PERSON}, caller="newcastle-tax", purpose=None)
    problem(response, 403, "caller-not-allowed")
    response = filled.call(ACCESS, {"subject": PERSON}, caller="liverpool-pensions", purpose=None)
    problem(response, 403, "caller-not-allowed")


def test_a_person_without_entries_gets_an_empty_list(filled: RegisterNode) -> None:
    response = filled.call(ACCESS, {"subject": "nobody-at-all"}, caller="charter", purpose=None)
    assert response.status_code == 200
    assert response.json()["entries"] == []
