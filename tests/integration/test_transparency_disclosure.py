"""Who gets entry content, and what a damaged log still gives them, on SQLite and PostgreSQL.

- The charter (POST /exchange/v1/access-records): an entry whose proof the store cannot make
  goes out with "proof": null and an "error", the others keep theirs; the charter's check marks
  just that entry failed, with the node's reason. A relabelled row (the pseudonym column is not
  hashed) is not served.
- An auditor with a statutory basis for auditing the log (POST /exchange/v1/log/entries): the
  entries of a range, exactly as hashed, with proofs against the newest checkpoint; everyone
  else is refused.
- Numbers no 64-bit column holds are 400/404 problems, not database errors.

The node is the People register in-process (as in test_transparency_api.py), with the demo
catalogue's `transparency-audit` basis, whose requester is the open data portal.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from log_tamper import delete_entry
from sqlalchemy import delete, update

from digitalstate.exchange.client import ExchangeClient
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.transparency.api import LOG_AUDIT_PURPOSE
from digitalstate.transparency.entries import LogEntry, log_origin, witness_name
from digitalstate.transparency.merkle import inclusion_plan, leaf_hash, verify_inclusion
from digitalstate.transparency.models import LEVEL_SHIFT, LogEntryRow, LogNode
from digitalstate.transparency.note import Checkpoint, SignedNote, cosign, verify_log_signature
from digitalstate.transparency.person import (
    FAILED,
    MAX_ERROR_CHARS,
    PENDING,
    VERIFIED,
    check_answer,
)
from digitalstate.transparency.sequencer import Sequencer
from digitalstate.transparency.service import MAX_AUDIT_ENTRIES
from integration.registers_support import (
    ANCHOR,
    BASE_URL,
    CHARTER,
    NODE_ID,
    OTHER_PERSON,
    PEERS,
    PERSON,
    append,
    member,
    problem,
)
from support.clients import InProcessClient, ground_headers
from support.nodes import start_register

ACCESS = "/exchange/v1/access-records"
ENTRIES_PATH = "/exchange/v1/log/entries"
COSIGNATURES = "/exchange/v1/log/cosignatures"
LOG = "/.well-known/digitalstate/log"
ENTRIES = 21
AUDITOR = "opendata"
AUDIT_BASIS = "transparency-audit"
OPENDATA = KeyPair.from_seed(bytes(range(129, 161)))
KEYS = {**{i: key for i, (_, _, key) in PEERS.items()}, AUDITOR: OPENDATA}
BIG = 2**63


class Node:
    """The People register's app in-process, whose federation also has the open data portal."""

    def __init__(self, runtime: NodeRuntime, http: InProcessClient, origin: str) -> None:
        self.runtime = runtime
        self.http = http
        self.origin = origin

    def call(
        self,
        path: str,
        body: Any,
        *,
        caller: str = AUDITOR,
        purpose: str | None = LOG_AUDIT_PURPOSE,
        basis: str | None = AUDIT_BASIS,
        consent: str | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        """POST body to path, signed by caller, naming the ground given."""
        raw = json.dumps(body).encode()
        headers = ground_headers(purpose=purpose, consent=consent, basis=basis)
        if not signed:
            return self.http.request("POST", path, content=raw, headers=headers)
        document = self.runtime.keeper.current()
        return self.http.signed(caller, KEYS[caller], document, "POST", path, raw, headers)

    def audit(self, start: int, end: int, **ground: Any) -> httpx.Response:
        """The auditor's read of the entries [start, end)."""
        return self.call(ENTRIES_PATH, {"start": start, "end": end}, **ground)

    def charter_asks(self, pseudonym: str = PERSON) -> dict[str, Any]:
        """The charter's POST /exchange/v1/access-records about pseudonym."""
        response = self.call(
            ACCESS, {"subject": pseudonym}, caller="charter", purpose=None, basis=None
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def integrate(self, batch_size: int = 1000) -> None:
        """Integrate what is pending, as the node's sequencer would."""
        key = self.runtime.key
        Sequencer(self.runtime.engine, self.origin, key, batch_size=batch_size).drain()

    def cosign_newest(self) -> None:
        """The charter, as a witness, cosigns the newest checkpoint."""
        response = self.http.request("GET", "/.well-known/digitalstate/checkpoint")
        note = SignedNote.parse(response.text)
        document = self.runtime.keeper.current()
        name = witness_name(document.federation, "charter")
        cosigned = note.with_signatures([cosign(note, name, CHARTER, 1_772_000_000)]).render()
        response = self.call(
            COSIGNATURES, {"checkpoint": cosigned}, caller="charter", purpose=None, basis=None
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[Node]:
    peers = (
        *(member(i, name, roles, key) for i, (name, roles, key) in PEERS.items()),
        member(AUDITOR, "Open data portal", ("opendata",), OPENDATA),
    )
    # No background work: the tests integrate the log themselves.
    with start_register(
        tmp_path / "people-register",
        migrated_database_url,
        peers,
        base_url=BASE_URL,
        anchor=ANCHOR,
        federation="registers test federation",
    ) as running:
        yield Node(running.runtime, running.http, log_origin(running.document.federation, NODE_ID))


@pytest.fixture
def filled(node: Node) -> Node:
    """ENTRIES entries about PERSON, then 3 about OTHER_PERSON, integrated and cosigned."""
    append(node, ENTRIES)
    append(node, 3, pseudonym=OTHER_PERSON, start=ENTRIES)
    node.integrate()
    node.cosign_newest()
    return node


def checkpoint_of(node: Node, answer: dict[str, Any]) -> Checkpoint:
    note = SignedNote.parse(answer["checkpoint"])
    return verify_log_signature(note, node.origin, [node.runtime.key.public])


def proof_checks(item: dict[str, Any], checkpoint: Checkpoint) -> None:
    proof = [base64.b64decode(h) for h in item["proof"]]
    data = item["entry"].encode()
    verify_inclusion(leaf_hash(data), item["leaf_index"], checkpoint.size, proof, checkpoint.root)


def delete_tree_node(node: Node, level: int, index: int) -> None:
    """Delete one stored interior node, as an insider (or a bad restore) could."""
    with node.runtime.engine.begin() as db:
        db.execute(delete(LogNode).where(LogNode.id == (level << LEVEL_SHIFT) | index))


def needs(index: int, size: int, coord: tuple[int, int]) -> bool:
    return coord in inclusion_plan(index, size).coords()


# The person's entries: one damaged proof fails one entry ------------------------------------


def test_a_lost_tree_node_fails_only_the_entries_whose_proofs_need_it(filled: Node) -> None:
    size = ENTRIES + 3
    lost = (2, 1)  # the subtree of leaves 4..7
    delete_tree_node(filled, *lost)
    append(filled, 1, start=100)  # newer than the checkpoint: not yet verified, not failed

    answer = filled.charter_asks()

    checkpoint = checkpoint_of(filled, answer)
    assert checkpoint.size == size
    items = answer["entries"]
    assert len(items) == ENTRIES + 1
    damaged = {i for i in range(ENTRIES) if needs(i, size, lost)}
    assert damaged == {0, 1, 2, 3}  # their proofs hold the hash of leaves 4..7
    for item in items:
        index = item["leaf_index"]
        if index is None:
            assert item["proof"] is None and "error" not in item
        elif index in damaged:
            assert item["proof"] is None
            assert "lacks tree nodes" in item["error"]
        else:
            assert "error" not in item
            proof_checks(item, checkpoint)

    document = filled.runtime.keeper.current()
    checked = check_answer(document, NODE_ID, answer, PERSON)
    assert checked.problems == []
    statuses = {c.leaf_index: (c.status, c.detail) for c in checked.entries}
    assert statuses.pop(None)[0] == PENDING
    for index, (status, detail) in statuses.items():
        if index in damaged:
            assert status == FAILED
            assert detail.startswith("People register could not prove that this entry is in")
            assert "lacks tree nodes" in detail
        else:
            assert status == VERIFIED, detail


def test_the_charter_shows_the_nodes_reason_cut_short_and_pending_stays_pending(
    filled: Node,
) -> None:
    append(filled, 1, start=100)
    answer = filled.charter_asks()
    newest, oldest = answer["entries"][0], answer["entries"][-1]
    assert newest["leaf_index"] is None and oldest["leaf_index"] == 0
    # A node's "error" on an entry its checkpoint covers fails it, with the reason (cut short);
    # on an entry newer than the checkpoint, it changes nothing: that entry is not yet verified.
    reason = "the disk ate it " * 100
    answer["entries"] = [
        {**newest, "error": reason},
        {**oldest, "proof": None, "error": reason},
    ]
    document = filled.runtime.keeper.current()
    pending, failed = check_answer(document, NODE_ID, answer, PERSON).entries
    assert pending.status == PENDING
    assert failed.status == FAILED
    assert "the disk ate it the disk" in failed.detail
    said = failed.detail.split("It says: ", 1)[1]
    assert said.endswith("\u2026") and len(said) == MAX_ERROR_CHARS


def test_a_deleted_entry_fails_its_neighbour_and_the_rest_still_verify(filled: Node) -> None:
    delete_entry(filled.runtime.engine, 9)
    answer = filled.charter_asks()
    checkpoint = checkpoint_of(filled, answer)
    by_index = {item["leaf_index"]: item for item in answer["entries"]}
    assert 9 not in by_index  # the row is gone: nothing to send
    assert by_index[8]["proof"] is None and "lacks tree nodes" in by_index[8]["error"]
    for index, item in by_index.items():
        if index != 8:
            proof_checks(item, checkpoint)
    # The public routes still say the log is damaged as a whole.
    response = filled.http.request("GET", f"{LOG}/inclusion", params={"index": 8, "size": 24})
    problem(response, 500, "log-damaged")


def test_a_relabelled_row_is_not_served_to_the_charter(
    filled: Node, caplog: pytest.LogCaptureFixture
) -> None:
    # An insider moves one of OTHER_PERSON's entries under PERSON's pseudonym: the column is
    # not hashed into the log, so nothing else would notice.
    with filled.runtime.engine.begin() as db:
        db.execute(
            update(LogEntryRow).where(LogEntryRow.leaf_index == ENTRIES).values(pseudonym=PERSON)
        )
    with caplog.at_level(logging.WARNING, logger="digitalstate.transparency.api"):
        answer = filled.charter_asks()
    assert len(answer["entries"]) == ENTRIES
    assert {LogEntry.decode(i["entry"].encode()).pseudonym for i in answer["entries"]} == {PERSON}
    assert any(f"at leaf {ENTRIES}" in r.getMessage() for r in caplog.records)
    assert len(filled.charter_asks(OTHER_PERSON)["entries"]) == 2


# Numbers beyond 64 bits ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [BIG, BIG + 1, 2**64, 10**30, -1])
def test_a_checkpoint_of_an_impossible_size_is_not_found(filled: Node, size: int) -> None:
    problem(filled.http.request("GET", f"{LOG}/checkpoint/{size}"), 404, "not-found")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("inclusion", {"index": BIG, "size": BIG + 1}),
        ("inclusion", {"index": 0, "size": BIG}),
        ("inclusion", {"index": 0, "size": 2**70}),
        ("consistency", {"old": 1, "new": BIG}),
        ("consistency", {"old": BIG, "new": BIG}),
        ("leaves", {"start": 0, "end": BIG}),
        ("leaves", {"start": BIG, "end": BIG}),
        ("leaves", {"start": BIG - 1, "end": BIG - 1}),
    ],
)
def test_proofs_of_impossible_sizes_are_400_problems(
    filled: Node, path: str, params: dict[str, int]
) -> None:
    problem(filled.http.request("GET", f"{LOG}/{path}", params=params), 400, "proof-out-of-range")


# Auditors with a statutory basis -------------------------------------------------------------


def test_the_auditor_gets_the_entries_of_a_range_with_proofs(filled: Node) -> None:
    append(filled, 2, start=200)  # pending: not in any checkpoint, so not in any range
    response = filled.audit(0, ENTRIES + 3)
    assert response.status_code == 200, response.text
    answer = response.json()
    checkpoint = checkpoint_of(filled, answer)
    assert checkpoint.size == ENTRIES + 3
    items = answer["entries"]
    assert [i["leaf_index"] for i in items] == list(range(ENTRIES + 3))
    entries = [LogEntry.decode(i["entry"].encode()) for i in items]
    assert [e.pseudonym for e in entries] == [PERSON] * ENTRIES + [OTHER_PERSON] * 3
    assert [e.reason for e in entries] == [f"read {n}" for n in range(ENTRIES + 3)]
    for item in items:
        assert "error" not in item
        proof_checks(item, checkpoint)
    middle = filled.audit(5, 9).json()["entries"]
    assert middle == items[5:9]
    assert filled.audit(7, 7).json()["entries"] == []


def test_each_audit_read_is_counted_and_logged(
    filled: Node, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="digitalstate.transparency.api"):
        assert filled.audit(0, 10).status_code == 200
        assert filled.audit(10, 12).status_code == 200
    labels = {"requester": AUDITOR, "basis": AUDIT_BASIS}
    metrics = filled.runtime.metrics
    assert metrics.get_sample_value("digitalstate_log_audit_entries_total", labels) == 12
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("log audit:")]
    assert lines[0].startswith("log audit: 10 entries [0, 10) disclosed to opendata")
    assert "Data Protection Act 2018, s. 146" in lines[0]


def test_an_audit_of_a_damaged_log_names_what_is_lost(filled: Node) -> None:
    delete_entry(filled.runtime.engine, 9)
    answer = filled.audit(0, ENTRIES + 3).json()
    checkpoint = checkpoint_of(filled, answer)
    items = answer["entries"]
    assert items[9] == {
        "entry": None,
        "leaf_index": 9,
        "proof": None,
        "error": "the stored log lacks the entry at leaf 9",
    }
    assert items[8]["proof"] is None and "lacks tree nodes" in items[8]["error"]
    for item in items[:8] + items[10:]:
        proof_checks(item, checkpoint)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, ENTRIES + 4),  # beyond the checkpoint
        (5, 4),
        (-1, 3),
        (0, BIG),
        (BIG, BIG + 1),
        (2**70, 2**70),
    ],
)
def test_ranges_outside_the_checkpoint_are_400_problems(filled: Node, start: int, end: int) -> None:
    problem(filled.audit(start, end), 400, "proof-out-of-range")


def test_at_most_a_thousand_entries_go_out_at_once(node: Node) -> None:
    append(node, MAX_AUDIT_ENTRIES + 2)
    node.integrate(batch_size=5_000)
    detail = problem(node.audit(0, MAX_AUDIT_ENTRIES + 1), 400, "proof-out-of-range")
    assert "1,000" in detail
    answer = node.audit(1, MAX_AUDIT_ENTRIES + 1).json()
    assert len(answer["entries"]) == MAX_AUDIT_ENTRIES
    checkpoint = checkpoint_of(node, answer)
    for item in answer["entries"][::97]:
        proof_checks(item, checkpoint)


def test_before_the_first_checkpoint_there_is_nothing_to_audit(node: Node) -> None:
    problem(node.audit(0, 0), 503, "checkpoint-unavailable")


@pytest.mark.parametrize(
    ("ground", "why"),
    [
        # The charter is not the requester the basis names.
        ({"caller": "charter"}, "is for opendata only"),
        # A basis of another purpose, even for its own requester.
        (
            {
                "caller": "electoral-registration",
                "basis": "electoral-canvass",
                "purpose": "electoral-registration",
            },
            "not for auditing the log",
        ),
        (
            {"basis": "electoral-canvass", "purpose": "electoral-registration"},
            "is for electoral-registration only",
        ),
        # The audit basis under another purpose.
        ({"purpose": "pension-administration"}, "is for the purpose log-audit"),
        ({"basis": "no-such-basis"}, "not a published statutory basis"),
        # A consent is no ground for reading other people's entries.
        ({"basis": None, "consent": "c1"}, "under no consent"),
        ({"consent": "c1"}, "under no consent"),
    ],
)
def test_only_the_requester_of_an_audit_basis_may_read_entries(
    filled: Node, ground: dict[str, Any], why: str
) -> None:
    detail = problem(filled.audit(0, 3, **ground), 403, "basis-refused")
    assert why in detail


def test_an_audit_must_name_its_ground_and_be_signed(filled: Node) -> None:
    problem(filled.audit(0, 3, purpose=None), 403, "purpose-missing")
    problem(filled.audit(0, 3, basis=None), 403, "legal-ground-missing")
    problem(filled.audit(0, 3, signed=False), 401, "signature-missing")
    response = filled.call(ENTRIES_PATH, {"start": "zero", "end": 3})
    problem(response, 422, "validation-failed")
    response = filled.call(ENTRIES_PATH, {"start": 0, "end": 3, "subject": PERSON})
    problem(response, 422, "validation-failed")


def test_the_route_is_listed_as_touching_personal_data(filled: Node) -> None:
    document = filled.runtime.keeper.current()
    client = ExchangeClient(AUDITOR, OPENDATA, lambda: document)
    headers = client.sign_request("GET", BASE_URL + "/exchange/v1/services", b"", {})
    response = filled.http.request("GET", "/exchange/v1/services", headers=headers)
    services = {s["path"]: s for s in response.json()["services"]}
    assert services[ENTRIES_PATH]["personal_data"] is True
    assert services[ENTRIES_PATH]["summary"].startswith("Entries of this node's log")


def test_the_demo_catalogue_names_the_audit_basis() -> None:
    from digitalstate.demo.federation import DEMO_NODES
    from digitalstate.federation.catalogue import load_catalogue

    catalogue = load_catalogue()
    (basis,) = [b for b in catalogue.statutory_bases if b.purpose == LOG_AUDIT_PURPOSE]
    assert basis.id == AUDIT_BASIS
    assert basis.requester in {n.id for n in DEMO_NODES}
    assert basis.fields == ()
    assert any(p.code == LOG_AUDIT_PURPOSE for p in catalogue.purposes)
