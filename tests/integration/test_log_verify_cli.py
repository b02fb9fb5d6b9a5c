"""`digitalstate log verify` against a real node app served over HTTP, on SQLite and PostgreSQL.

The node (people-register) runs in this process under uvicorn on a loopback port, with its
sequencer; entries are appended to its database as its reads append them, and the node
integrates them and signs checkpoints. No trust anchor runs: the node holds a document signed
by an anchor key made here, and serves its copy, which the auditor verifies under that key.
The tampering is tests/e2e/log_tamper.py, on the node's database while it runs.
"""

from __future__ import annotations

import gc
import json
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import log_tamper
import pytest
from sqlalchemy import Engine
from typer.testing import Result

from digitalstate.cli.main import app
from digitalstate.federation.domain import (
    FederationDocument,
)
from digitalstate.keys import KeyPair
from digitalstate.storage.engine import make_engine
from digitalstate.transparency.entries import log_origin, witness_name
from digitalstate.transparency.note import SignedNote, cosign
from digitalstate.transparency.store import add_cosignature, record_access
from support.cli import runner
from support.clients import http_client
from support.federation import federation_document, hold, member
from support.nodes import ServedNode, node_settings

FEDERATION = "test federation"
NODE_ID = "people-register"
WITNESS_ID = "charter"
ANCHOR = KeyPair.from_seed(bytes(range(110, 142)))
WITNESS = KeyPair.from_seed(bytes(range(142, 174)))
OTHER = KeyPair.from_seed(bytes(range(174, 206)))
ORIGIN = log_origin(FEDERATION, NODE_ID)
WAIT_S = 20.0


def document(node_key: KeyPair, base_url: str) -> FederationDocument:
    return federation_document(
        (
            member(NODE_ID, node_key, name="People register", base_url=base_url),
            member(WITNESS_ID, WITNESS, name="Charter", roles=("charter",)),
        ),
        federation=FEDERATION,
    )


@dataclass
class LiveNode:
    """A node serving its log over HTTP, its database and its key."""

    url: str
    config: Path
    key: KeyPair
    engine: Engine
    state: Path
    http: httpx.Client

    def checkpoint(self) -> SignedNote:
        return SignedNote.parse(
            self.http.get(self.url + "/.well-known/digitalstate/checkpoint").text
        )

    def size(self) -> int:
        """The newest checkpoint's size; -1 until the node answers with one."""
        try:
            response = self.http.get(self.url + "/.well-known/digitalstate/checkpoint")
        except httpx.TransportError:
            return -1
        return SignedNote.parse(response.text).checkpoint.size if response.is_success else -1

    def add(self, count: int) -> int:
        """Append count entries as reads do; wait until they are integrated; the new size."""
        wanted = max(self.size(), 0) + count
        with self.engine.begin() as db:
            for n in range(count):
                record_access(
                    db,
                    holder=NODE_ID,
                    pseudonym=f"{n:032x}",
                    requester="liverpool-pensions",
                    action="read",
                    outcome="allowed",
                    now=datetime.now(UTC),
                    purpose="pension-administration",
                    consent_id=f"consent-{n}",
                    fields=["people.address"],
                )
        deadline = time.monotonic() + WAIT_S
        while self.size() != wanted:
            assert time.monotonic() < deadline, f"the log did not reach {wanted} leaves"
            time.sleep(0.02)
        return wanted

    def cosign_newest(self) -> None:
        """The witness cosigns the newest checkpoint, as it would over the exchange."""
        note = self.checkpoint()
        stamp = int(time.time())
        line = cosign(note, witness_name(FEDERATION, WITNESS_ID), WITNESS, stamp)
        with self.engine.begin() as db:
            add_cosignature(
                db,
                size=note.checkpoint.size,
                witness=WITNESS_ID,
                signature=line,
                cosigned_at=datetime.fromtimestamp(stamp, UTC),
                now=datetime.now(UTC),
            )

    def verify(self, *args: str) -> Result:
        return runner.invoke(
            app,
            [
                "log",
                "verify",
                "--node",
                self.url,
                "--anchor-key",
                ANCHOR.public.b64,
                "--state",
                str(self.state),
                *args,
            ],
        )

    def passes(self, *args: str) -> dict[str, Any]:
        result = self.verify("--json", *args)
        assert result.exit_code == 0, result.output
        outcome: dict[str, Any] = json.loads(result.stdout)
        assert outcome["ok"] is True
        return outcome

    def fails(self, kind: str, *args: str, code: int = 1) -> str:
        """Run verify, which must fail with kind in one line on stderr; return the line."""
        result = self.verify(*args)
        assert result.exit_code == code, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"digitalstate: error: log verify failed for {self.url}: ")
        assert f": {kind}: " in lines[0], lines[0]
        return lines[0]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module's polling (httpx.get would make one, loading the CA bundle,
    at every poll)."""
    with http_client() as client:
        yield client


@pytest.fixture
def live(tmp_path: Path, migrated_database_url: str, http: httpx.Client) -> Iterator[LiveNode]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        yield from serve_node(tmp_path, migrated_database_url, listener, http)


def serve_node(
    tmp_path: Path, database_url: str, listener: socket.socket, http: httpx.Client
) -> Iterator[LiveNode]:
    """Set up people-register on the listener's port and serve it until the test ends."""
    # Everything made before the node is set aside from the garbage collector until the end
    # (gc.freeze), so that the collection at the end reads only what the node and the test
    # made: a full collection of the whole process took about 0.45 s of CPU each, half the
    # CPU of this module. Nothing of the node is older than this, so its garbage is found.
    gc.freeze()
    try:
        yield from _serve_node(tmp_path, database_url, listener, http)
    finally:
        gc.unfreeze()


def _serve_node(
    tmp_path: Path, database_url: str, listener: socket.socket, http: httpx.Client
) -> Iterator[LiveNode]:
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = node_settings(
        tmp_path / "node",
        NODE_ID,
        database_url,
        name="People register",
        port=port,
        anchor=ANCHOR,
        extra={"log": {"max_wait_seconds": 0.02}},
    )
    key = KeyPair.load(settings.key_path)
    hold(document(key, url), settings, anchor=ANCHOR)
    server = ServedNode(settings, listener, ws="none").start()
    engine = make_engine(settings.database_url)
    state = tmp_path / "state.json"
    node = LiveNode(url, tmp_path / "node" / "node.toml", key, engine, state, http)
    try:
        deadline = time.monotonic() + WAIT_S
        while node.size() < 0:  # the first checkpoint (size 0) is signed at start
            assert server.thread.is_alive() and time.monotonic() < deadline, "it did not start"
            time.sleep(0.02)
        yield node
    finally:
        server.stop()
        engine.dispose()
        # The node's shutdown may dispose of its engine while a sequencer step still runs in
        # a worker thread; that step's PostgreSQL connection then goes back to the disposed
        # pool and is closed only by the garbage collector, with a ResourceWarning. Collected
        # here, once the node has stopped, so that it does not fail whichever test runs next.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def test_a_healthy_log_verifies_and_the_next_run_audits_the_new_leaves_and_re_audits_the_old(
    live: LiveNode,
) -> None:
    live.add(5)
    first = live.passes()
    assert (first["size"], first["previous"], first["full"]) == (5, None, True)
    assert first["audited"] == {"from": 0, "to": 5, "leaves": 5}
    assert first["member"] == NODE_ID and first["origin"] == ORIGIN
    assert first["cosigners"] == [] and first["witnesses"] == 1
    assert first["reaudit"]["read"] == [] and first["reaudit"]["pass"]["complete"] is True
    assert first["reaudit"]["covered"]["size"] == 5
    saved = json.loads(live.state.read_text())
    assert (saved["size"], saved["root"], saved["origin"]) == (5, first["root"], ORIGIN)
    assert saved["reaudit"]["position"] == saved["reaudit"]["size"] == 5

    live.add(3)
    second = live.passes()
    assert second["previous"]["size"] == 5 and second["previous"]["root"] == first["root"]
    assert second["audited"] == {"from": 5, "to": 8, "leaves": 3}
    assert second["full"] is False
    # A log smaller than --reaudit-leaves is re-read whole at every run.
    assert second["reaudit"]["read"] == [{"from": 0, "to": 8, "of": 8, "complete": True}]
    assert second["reaudit"]["limit"] == 65_536 and second["reaudit"]["pending"] is None
    # Nothing new: nothing to audit, the same root is accepted, the old leaves re-read again.
    third = live.passes()
    assert third["audited"]["leaves"] == 0 and third["root"] == second["root"]
    assert third["reaudit"]["leaves"] == 8
    # --full audits every leaf again.
    full = live.passes("--full")
    assert full["audited"] == {"from": 0, "to": 8, "leaves": 8} and full["reaudit"]["leaves"] == 0


def test_a_larger_log_is_re_audited_over_several_runs(live: LiveNode) -> None:
    live.add(5)
    live.passes()
    runs = [live.passes("--reaudit-leaves", "2")["reaudit"] for _ in range(3)]
    assert [r["read"] for r in runs] == [
        [{"from": 0, "to": 2, "of": 5, "complete": False}],
        [{"from": 2, "to": 4, "of": 5, "complete": False}],
        [
            {"from": 4, "to": 5, "of": 5, "complete": True},
            {"from": 0, "to": 1, "of": 5, "complete": False},
        ],
    ]
    assert runs[0]["pending"] == {"from": 2, "to": 5} and runs[0]["runs_left"] == 2
    result = live.verify("--reaudit-leaves", "2")
    assert result.exit_code == 0, result.output
    assert "  re-audit  leaves 1 to 2 of 5, pass 60% through" in result.stdout
    assert "  not yet   leaves 3 to 4, verified in earlier runs, were not re-read" in result.stdout
    saved = json.loads(live.state.read_text())["reaudit"]
    assert (saved["size"], saved["position"]) == (5, 3)


def test_the_human_summary_names_the_log_its_size_cosigners_and_leaves(live: LiveNode) -> None:
    live.add(4)
    live.cosign_newest()
    result = live.verify()
    assert result.exit_code == 0, result.output
    assert f"Verified the log of {NODE_ID} at {live.url}" in result.stdout
    assert ORIGIN in result.stdout
    assert "size      4 (first verification)" in result.stdout
    assert "by charter (1 of 1 witnesses)" in result.stdout
    assert "audited   4 leaves (leaves 0 to 3)" in result.stdout
    assert "re-audit  none needed: every leaf was audited from 0 in this run" in result.stdout
    result = live.verify()
    assert result.exit_code == 0, result.output
    assert "audited   0 leaves (none new)" in result.stdout
    assert (
        "re-audit  leaves 0 to 3 of 4, pass complete: they hash to the verified root"
    ) in result.stdout
    assert "not yet" not in result.stdout


def test_cosignatures_are_reported_and_can_be_required(live: LiveNode) -> None:
    live.add(2)
    line = live.fails("bad-signature", "--min-cosignatures", "1")
    assert "0 witness cosignature(s) that verify, fewer than the --min-cosignatures 1" in line
    assert not live.state.exists(), "nothing is saved from a failed verification"
    live.cosign_newest()
    assert live.passes("--min-cosignatures", "1")["cosigners"] == [WITNESS_ID]


def test_a_changed_old_entry_is_caught_by_the_next_default_run(live: LiveNode) -> None:
    live.add(6)
    live.passes()
    saved = live.state.read_text()
    log_tamper.change_entry(live.engine, 2)
    # Nothing new, the signed root unchanged: the re-audit of the old leaves finds it.
    line = live.fails("audit")
    assert "do not hash to the signed root" in line
    assert "re-audit of leaves 0 to 5, against the verified root of size 6" in line
    assert live.state.read_text() == saved, "the state is kept only when every check passed"
    live.fails("audit")  # and again: nothing was saved from the failed run
    live.fails("audit", "--full")


def test_a_changed_old_entry_is_caught_when_the_log_grew_since(live: LiveNode) -> None:
    live.add(6)
    live.passes()
    log_tamper.change_entry(live.engine, 1)
    live.add(3)  # the new leaves fold onto the border kept: only the re-audit sees leaf 1
    line = live.fails("audit")
    assert "re-audit of leaves 0 to 8, against the verified root of size 9" in line


def test_with_the_re_audit_off_only_full_catches_a_changed_old_entry(live: LiveNode) -> None:
    live.add(6)
    live.passes()
    log_tamper.change_entry(live.engine, 2)
    off = live.passes("--reaudit-leaves", "0")
    assert off["reaudit"]["read"] == [] and off["reaudit"]["limit"] == 0
    live.fails("audit", "--full", "--reaudit-leaves", "0")


def test_a_changed_new_entry_is_caught_by_the_incremental_run(live: LiveNode) -> None:
    live.add(5)
    live.passes()
    saved = live.state.read_text()
    live.add(7)
    log_tamper.change_entry(live.engine, 9)
    live.fails("audit")
    assert live.state.read_text() == saved, "the state is kept only when every check passed"


def test_a_deleted_old_entry_fails_the_next_default_run(live: LiveNode) -> None:
    live.add(4)
    live.passes()
    log_tamper.delete_entry(live.engine, 1)
    line = live.fails("audit")
    assert "cannot give leaves 0 to 3" in line


def test_swapped_old_entries_fail_the_next_default_run(live: LiveNode) -> None:
    live.add(4)
    live.passes()
    log_tamper.swap_entries(live.engine, 0, 3)
    line = live.fails("audit")
    assert "against the verified root of size 4" in line


def test_an_old_entry_relabelled_with_another_pseudonym_fails_the_next_default_run(
    live: LiveNode,
) -> None:
    live.add(4)
    live.passes()
    saved = live.state.read_text()
    log_tamper.relabel_entry(live.engine, 2)  # the entry unchanged: only its index column
    line = live.fails("audit")
    assert "cannot give leaves 0 to 3" in line
    assert "leaf 2 is filed under another pseudonym" in line
    assert live.state.read_text() == saved, "the state is kept only when every check passed"
    live.fails("audit", "--full")


def test_a_new_entry_relabelled_with_another_pseudonym_fails_the_incremental_run(
    live: LiveNode,
) -> None:
    live.add(5)
    live.passes()
    live.add(4)
    log_tamper.relabel_entry(live.engine, 7)
    line = live.fails("audit", "--reaudit-leaves", "0")  # the new leaves alone
    assert "leaf 7 is filed under another pseudonym" in line


def test_a_truncated_log_is_shrunk(live: LiveNode) -> None:
    live.add(6)
    live.passes()
    log_tamper.truncate(live.engine, 3, live.key, ORIGIN)
    line = live.fails("shrunk")
    assert "shrank from 6 to 3 leaves" in line


def test_another_root_at_the_size_verified_is_a_fork(live: LiveNode) -> None:
    live.add(5)
    live.passes()
    log_tamper.fork(live.engine, live.key, ORIGIN)
    line = live.fails("fork")
    assert "two different root hashes for the same size 5" in line


def test_a_checkpoint_signed_by_an_unknown_key_is_a_bad_signature(live: LiveNode) -> None:
    live.add(3)
    log_tamper.fork(live.engine, OTHER, ORIGIN)  # a checkpoint signed by a key not listed
    line = live.fails("bad-signature")
    assert "by a key it holds" in line


def test_a_damaged_state_file_is_a_one_line_error(live: LiveNode) -> None:
    live.add(2)
    live.passes()
    state = json.loads(live.state.read_text())
    state["border"] = state["border"][:-8] + "AAAAAAA="
    live.state.write_text(json.dumps(state))
    result = live.verify()
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"digitalstate: error: {live.state}: the saved log state is damaged")
    live.state.write_text("{not json")
    result = live.verify()
    assert result.exit_code == 2 and "is damaged" in result.stderr


def test_the_trust_root_comes_from_the_pinned_key_or_a_node_toml(live: LiveNode) -> None:
    live.add(1)
    # A key that did not sign the document: refused, naming what to check.
    result = runner.invoke(
        app, ["log", "verify", "--node", live.url, "--anchor-key", OTHER.public.b64]
    )
    assert result.exit_code == 2, result.output
    assert "bad-signature" in result.stderr and "--anchor-key" in result.stderr
    # --config takes the key and the anchor's URL; this anchor is down: unreachable, named.
    args = ["log", "verify", "--node", live.url, "--config", str(live.config)]
    result = runner.invoke(app, [*args, "--state", str(live.state)])
    assert result.exit_code == 3, result.output
    assert "unreachable: http://127.0.0.1:9/.well-known/digitalstate/federation" in result.stderr
    # ... and --anchor says where to fetch the document instead (here: the node's copy).
    result = runner.invoke(app, [*args, "--anchor", live.url, "--state", str(live.state)])
    assert result.exit_code == 0, result.output


def test_the_member_is_found_by_base_url_or_named(live: LiveNode, tmp_path: Path) -> None:
    live.add(1)
    assert live.passes("--member", NODE_ID)["member"] == NODE_ID
    result = live.verify("--member", "nobody")
    assert result.exit_code == 2 and "--member nobody: not a member" in result.stderr
    # Audited as another member: its log's origin and keys do not match the checkpoint.
    other_state = tmp_path / "other.json"
    line = live.fails("bad-signature", "--member", WITNESS_ID, "--state", str(other_state))
    assert f"not {log_origin(FEDERATION, WITNESS_ID)!r}" in line


def test_the_default_state_is_kept_per_log_under_xdg_state_home(
    live: LiveNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    live.add(2)
    result = runner.invoke(
        app, ["log", "verify", "--node", live.url + "/", "--anchor-key", ANCHOR.public.b64]
    )
    assert result.exit_code == 0, result.output
    saved = list((tmp_path / "xdg" / "digitalstate" / "log-verify").glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["origin"] == ORIGIN
