"""The charter's check of a node's answer about one person: verified, not yet, or failed."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import LogEntry, log_origin, make_entry, witness_name
from digitalstate.transparency.merkle import inclusion_plan, leaf_hash, tree_root
from digitalstate.transparency.note import Checkpoint, SignedNote, cosign, sign_checkpoint
from digitalstate.transparency.person import (
    FAILED,
    PENDING,
    VERIFIED,
    check_answer,
    worst,
)
from support.federation import federation_document, member

REGISTER = KeyPair.from_seed(bytes(range(1, 33)))
WITNESS = KeyPair.from_seed(bytes(range(33, 65)))
OUTSIDER = KeyPair.from_seed(bytes(range(65, 97)))
ME, OTHER = "me0pseudonym", "someone0else"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _federation() -> FederationDocument:
    since = NOW - timedelta(days=1)
    return federation_document(
        (
            member("people-register", REGISTER, name="People register", since=since),
            member(
                "liverpool-pensions",
                WITNESS,
                name="Liverpool: pensions",
                roles=("service",),
                since=since,
            ),
        ),
        federation="unit federation",
        now=NOW,
    )


FEDERATION = _federation()
ORIGIN = log_origin(FEDERATION.federation, "people-register")


def entry(pseudonym: str = ME, holder: str = "people-register", minute: int = 0) -> LogEntry:
    return make_entry(
        holder=holder,
        pseudonym=pseudonym,
        requester="liverpool-pensions",
        action="read",
        outcome="allowed",
        now=NOW + timedelta(minutes=minute),
        purpose="pension-administration",
        consent_id="c1",
        fields=["people.address"],
        reason="consent active and covers the fields",
    )


def _proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    plan = inclusion_plan(index, size)
    hashes = {(lv, i): tree_root(leaves[i << lv : (i + 1) << lv]) for lv, i in plan.coords()}
    return plan.assemble(hashes)


def answer(
    entries: Sequence[LogEntry],
    *,
    size: int | None = None,
    key: KeyPair = REGISTER,
    witnessed: bool = True,
    others: int = 3,
) -> dict[str, Any]:
    """The node's answer: other people's entries first, then these; a checkpoint of size."""
    bodies = [entry(OTHER, minute=-i).encode() for i in range(others)] + [
        e.encode() for e in entries
    ]
    leaves = [leaf_hash(b) for b in bodies]
    size = len(bodies) if size is None else size
    note = sign_checkpoint(Checkpoint(ORIGIN, size, tree_root(leaves[:size])), ORIGIN, key)
    if witnessed:
        name = witness_name(FEDERATION.federation, "liverpool-pensions")
        note = note.with_signatures([cosign(note, name, WITNESS, int(NOW.timestamp()))])
    items = []
    for index, body in enumerate(bodies[others:], others):
        proof = _proof(leaves, index, size) if index < size else None
        items.append(
            {
                "entry": body.decode(),
                "leaf_index": index,
                "proof": None if proof is None else [base64.b64encode(h).decode() for h in proof],
            }
        )
    return {"checkpoint": note.render(), "entries": list(reversed(items))}


def test_an_entry_in_a_cosigned_checkpoint_is_verified_and_names_its_witness() -> None:
    mine = [entry(minute=1), entry(minute=2)]

    checked = check_answer(FEDERATION, "people-register", answer(mine), ME)

    assert checked.problems == []
    assert [c.status for c in checked.entries] == [VERIFIED, VERIFIED]
    first = checked.entries[0]
    assert first.text == mine[1].encode().decode()
    assert first.leaf_index == 4 and first.checkpoint_size == 5
    assert first.witnesses == ("liverpool-pensions",)
    assert "People register's signed checkpoint of 5 entries" in first.detail
    assert "confirmed by Liverpool: pensions" in first.detail


def test_without_a_witness_an_entry_is_not_yet_verified() -> None:
    checked = check_answer(FEDERATION, "people-register", answer([entry()], witnessed=False), ME)

    assert [c.status for c in checked.entries] == [PENDING]
    assert "no other node has confirmed" in checked.entries[0].detail


def test_an_entry_not_yet_in_the_checkpoint_is_not_yet_verified() -> None:
    checked = check_answer(
        FEDERATION, "people-register", answer([entry(minute=1), entry(minute=2)], size=4), ME
    )

    assert [c.status for c in checked.entries] == [PENDING, VERIFIED]
    pending = checked.entries[0]
    assert pending.leaf_index == 4 and pending.proof is None


def test_a_log_without_a_checkpoint_is_not_yet_verified() -> None:
    body = entry().encode().decode()
    reply = {"checkpoint": None, "entries": [{"entry": body, "leaf_index": None, "proof": None}]}

    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert [c.status for c in checked.entries] == [PENDING]


def test_a_changed_entry_fails_verification() -> None:
    reply = answer([entry()])
    item = reply["entries"][0]
    item["entry"] = replace(LogEntry.decode(item["entry"].encode()), reason="nothing").encode()
    item["entry"] = item["entry"].decode()

    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert [c.status for c in checked.entries] == [FAILED]
    assert "changed after it was recorded" in checked.entries[0].detail


def test_a_proof_for_another_index_fails_verification() -> None:
    reply = answer([entry(minute=1), entry(minute=2)])
    reply["entries"][0]["proof"], reply["entries"][1]["proof"] = (
        reply["entries"][1]["proof"],
        reply["entries"][0]["proof"],
    )

    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert [c.status for c in checked.entries] == [FAILED, FAILED]


def test_a_checkpoint_signed_by_another_key_fails_every_entry() -> None:
    checked = check_answer(
        FEDERATION, "people-register", answer([entry(), entry()], key=OUTSIDER), ME
    )

    assert [c.status for c in checked.entries] == [FAILED, FAILED]
    assert "signed checkpoint does not check" in checked.entries[0].detail


def test_a_cosignature_by_the_log_itself_is_no_witness() -> None:
    reply = answer([entry()], witnessed=False)
    note = SignedNote.parse(reply["checkpoint"])
    own = witness_name(FEDERATION.federation, "people-register")
    reply["checkpoint"] = note.with_signatures([cosign(note, own, REGISTER, 1)]).render()

    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert [c.status for c in checked.entries] == [PENDING]


def test_an_integrated_entry_without_its_proof_fails() -> None:
    reply = answer([entry()])
    reply["entries"][0]["proof"] = None

    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert [c.status for c in checked.entries] == [FAILED]


def test_an_entry_about_someone_else_is_dropped_and_counted() -> None:
    reply = answer([entry(), entry(OTHER, minute=3)])

    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert len(checked.entries) == 1
    assert checked.problems == [
        "People register sent 1 entry about someone else; they are not shown."
    ]


def test_an_entry_recorded_in_another_nodes_name_fails() -> None:
    checked = check_answer(
        FEDERATION, "people-register", answer([entry(holder="liverpool-pensions")]), ME
    )

    assert [c.status for c in checked.entries] == [FAILED]
    assert "says Liverpool: pensions recorded it" in checked.entries[0].detail


@pytest.mark.parametrize(
    "reply",
    [None, [], {"entries": "x"}, {"checkpoint": 3, "entries": []}],
)
def test_an_answer_that_is_not_a_log_answer_is_a_problem(reply: Any) -> None:
    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert checked.entries == []
    assert checked.problems == [
        "People register's answer could not be read: it is not a log answer."
    ]


def test_an_unreadable_entry_is_counted_not_shown() -> None:
    reply = answer([entry()])
    reply["entries"].append({"entry": '{"v":1}', "leaf_index": None, "proof": None})
    reply["entries"].append({"leaf_index": 2})

    checked = check_answer(FEDERATION, "people-register", reply, ME)

    assert [c.status for c in checked.entries] == [VERIFIED]
    assert checked.problems == [
        "People register sent 2 entries that could not be read as log entries."
    ]


def test_worst_orders_the_statuses() -> None:
    assert worst([VERIFIED, PENDING]) == PENDING
    assert worst([PENDING, FAILED, VERIFIED]) == FAILED
    assert worst([]) == VERIFIED
