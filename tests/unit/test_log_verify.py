"""`digitalstate log verify`'s own logic: the order of its checks against a log kept in memory,
its state file, its options, and the one-line errors of bad input (no node runs here)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digitalstate.cli.log import reaudit_json, reaudit_lines
from digitalstate.cli.main import app
from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.transparency import rolling_audit
from digitalstate.transparency.auditor import (
    DEFAULT_REAUDIT_LEAVES,
    Outcome,
    UsageError,
    Verified,
    base_url,
    default_state_path,
    find_member,
    load_state,
    save_state,
    verify_log,
)
from digitalstate.transparency.entries import log_origin, witness_name
from digitalstate.transparency.merkle import (
    CompactRange,
    consistency_plan,
    leaf_hash,
    tree_root,
)
from digitalstate.transparency.note import Checkpoint, cosign, sign_checkpoint
from digitalstate.transparency.rolling_audit import AuditPass
from digitalstate.transparency.verify import VerifyError, log_identity, witness_keys
from support.federation import federation_document, member

FEDERATION = "unit federation"
LOG_KEY = KeyPair.from_seed(bytes(range(1, 33)))
WITNESS_KEY = KeyPair.from_seed(bytes(range(33, 65)))
ANCHOR_KEY = KeyPair.from_seed(bytes(range(65, 97)))
ORIGIN = log_origin(FEDERATION, "people-register")
SINCE = datetime(2026, 1, 1, tzinfo=UTC)

runner = CliRunner()


def federation() -> FederationDocument:
    return federation_document(
        (
            member("people-register", LOG_KEY, base_url="http://register.test", since=SINCE),
            member("charter", WITNESS_KEY, base_url="http://charter.test", since=SINCE),
        ),
        federation=FEDERATION,
        issued_at=SINCE,
        expires_at=SINCE + timedelta(days=1),
        catalogue=False,
    )


class MemoryLog:
    """A log in memory that answers as a node does: its leaves, checkpoint and proofs."""

    def __init__(self, count: int) -> None:
        self.leaves_held = [leaf_hash(f"entry {i}".encode()) for i in range(count)]
        self.size = count
        self.root: bytes | None = None  # a signed root other than the leaves' (a fork)
        self.cosigned = False
        self.asked: list[tuple[int, int]] = []

    def grow(self, count: int) -> None:
        start = len(self.leaves_held)
        self.leaves_held += [leaf_hash(f"entry {i}".encode()) for i in range(start, start + count)]
        self.size = len(self.leaves_held)

    def checkpoint(self) -> str:
        root = self.root or tree_root(self.leaves_held[: self.size])
        note = sign_checkpoint(Checkpoint(ORIGIN, self.size, root), ORIGIN, LOG_KEY)
        if self.cosigned:
            name = witness_name(FEDERATION, "charter")
            note = note.with_signatures([cosign(note, name, WITNESS_KEY, 1_700_000_000)])
        return note.render()

    def consistency(self, old: int, new: int) -> list[bytes]:
        def subtree(coord: tuple[int, int]) -> bytes:
            level, index = coord
            return tree_root(self.leaves_held[index << level : (index + 1) << level])

        plan = consistency_plan(old, new)
        return plan.assemble({c: subtree(c) for c in plan.coords()})

    def leaves(self, start: int, end: int) -> list[bytes]:
        self.asked.append((start, end))
        return self.leaves_held[start:end]


class Served:
    """A MemoryLog as a LogSource: what it answers now, asynchronously."""

    def __init__(self, log: MemoryLog) -> None:
        self.log = log

    async def checkpoint(self) -> str:
        return self.log.checkpoint()

    async def consistency(self, old: int, new: int) -> list[bytes]:
        return self.log.consistency(old, new)

    async def leaves(self, start: int, end: int) -> list[bytes]:
        return self.log.leaves(start, end)


def verify(log: MemoryLog, *args: Any, **kwargs: Any) -> Outcome:
    """verify_log over the log in memory, run to the end."""
    return asyncio.run(verify_log(Served(log), *args, **kwargs))


def run(
    log: MemoryLog,
    previous: Verified | None = None,
    *,
    full: bool = False,
    minimum: int = 0,
    reaudit: int = DEFAULT_REAUDIT_LEAVES,
) -> Outcome:
    document = federation()
    return verify(
        log,
        log_identity(document, "people-register"),
        witness_keys(document, besides="people-register"),
        previous,
        full=full,
        min_cosignatures=minimum,
        reaudit_leaves=reaudit,
        at=SINCE,
    )


def verified(outcome: Outcome) -> Verified:
    return Verified(
        origin=ORIGIN,
        node="http://register.test",
        member="people-register",
        size=outcome.checkpoint.size,
        root=outcome.checkpoint.root,
        border=outcome.border,
        verified_at=SINCE,
        checkpoint=outcome.note,
        reaudit=outcome.reaudit,
    )


def frozen(log: MemoryLog) -> None:
    """Serve the checkpoint signed now from here on, whatever happens to the stored leaves."""
    signed = log.checkpoint()
    log.checkpoint = lambda: signed  # type: ignore[method-assign]


# --- the checks -----------------------------------------------------------------------------


def test_the_first_run_audits_every_leaf_in_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rolling_audit, "MAX_LEAVES_PER_REQUEST", 4)
    log = MemoryLog(10)
    outcome = run(log)
    assert log.asked == [(0, 4), (4, 8), (8, 10)]
    assert outcome.audited_from == 0 and outcome.border.size == 10
    assert outcome.border.root() == outcome.checkpoint.root


def test_the_next_run_audits_the_new_leaves_then_re_audits_the_old_ones() -> None:
    log = MemoryLog(7)
    first = verified(run(log))
    log.grow(6)
    log.asked.clear()
    outcome = run(log, first)
    # The new leaves on the kept border, then (a log smaller than the limit) every leaf again.
    assert log.asked == [(7, 13), (0, 13)] and outcome.audited_from == 7
    assert [s.to_json() for s in outcome.reaudited] == [
        {"from": 0, "to": 13, "of": 13, "complete": True}
    ]
    log.asked.clear()
    assert run(log, first, reaudit=0).audited_from == 7 and log.asked == [(7, 13)]
    log.asked.clear()
    assert run(log, first, full=True).audited_from == 0 and log.asked == [(0, 13)]


def test_the_progress_is_told_as_pages_are_audited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rolling_audit, "MAX_LEAVES_PER_REQUEST", 3)
    told: list[tuple[int, int]] = []
    document = federation()
    verify(
        MemoryLog(7),
        log_identity(document, "people-register"),
        {},
        None,
        full=False,
        min_cosignatures=0,
        progress=lambda done, total: told.append((done, total)),
    )
    assert told == [(0, 7), (3, 7), (6, 7), (7, 7)]


def test_an_empty_log_verifies() -> None:
    outcome = run(MemoryLog(0))
    assert outcome.checkpoint.size == 0 and outcome.border == CompactRange()


def test_cosigners_are_named_and_may_be_required() -> None:
    log = MemoryLog(3)
    assert run(log).cosigners == []
    with pytest.raises(VerifyError, match="fewer than the --min-cosignatures 1") as caught:
        run(log, minimum=1)
    assert caught.value.kind == "bad-signature"
    log.cosigned = True
    assert run(log, minimum=1).cosigners == ["charter"]


def test_a_checkpoint_signed_by_another_key_is_a_bad_signature() -> None:
    log = MemoryLog(2)
    log.checkpoint = lambda: sign_checkpoint(  # type: ignore[method-assign]
        Checkpoint(ORIGIN, 2, tree_root(log.leaves_held)), ORIGIN, WITNESS_KEY
    ).render()
    with pytest.raises(VerifyError) as caught:
        run(log)
    assert caught.value.kind == "bad-signature"


def test_garbage_for_a_checkpoint_is_malformed() -> None:
    log = MemoryLog(2)
    log.checkpoint = lambda: "<html>not a checkpoint</html>"  # type: ignore[method-assign]
    with pytest.raises(VerifyError) as caught:
        run(log)
    assert caught.value.kind == "malformed"


def test_a_smaller_log_is_shrunk_and_another_root_at_the_same_size_a_fork() -> None:
    log = MemoryLog(8)
    first = verified(run(log))
    log.size = 5
    with pytest.raises(VerifyError, match="shrank from 8 to 5") as caught:
        run(log, first)
    assert caught.value.kind == "shrunk"
    log.size = 8
    log.root = leaf_hash(b"another history")
    asked = len(log.asked)
    with pytest.raises(VerifyError) as caught:
        run(log, first)
    assert caught.value.kind == "fork"
    assert len(log.asked) == asked, "no leaf is asked for once the roots differ"


def test_a_rewritten_history_that_grew_is_caught() -> None:
    log = MemoryLog(6)
    first = verified(run(log))
    log.leaves_held[2] = leaf_hash(b"rewritten")  # the node rewrote an old entry, then grew
    log.grow(4)
    # The new leaves, on top of the border verified before, do not give the new root.
    with pytest.raises(VerifyError) as caught:
        run(log, first)
    assert caught.value.kind == "audit"
    # A full audit of the rewritten tree passes; the consistency proof then shows the fork.
    with pytest.raises(VerifyError) as caught:
        run(log, first, full=True)
    assert caught.value.kind == "fork"


def test_a_changed_new_leaf_fails_the_audit() -> None:
    log = MemoryLog(5)
    first = verified(run(log))
    log.grow(5)
    signed = log.checkpoint()
    log.checkpoint = lambda: signed  # type: ignore[method-assign]
    log.leaves_held[7] = leaf_hash(b"changed after it was signed")
    with pytest.raises(VerifyError, match="do not hash to the signed root") as caught:
        run(log, first)
    assert caught.value.kind == "audit"


# --- the rolling re-audit of old leaves ----------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        pytest.param(
            lambda leaves: leaves.__setitem__(2, leaf_hash(b"changed")), "do not hash", id="change"
        ),
        pytest.param(lambda leaves: leaves.pop(1), "5 leaves audited", id="delete"),
        pytest.param(
            lambda leaves: leaves.__setitem__(slice(0, 4), [leaves[3], *leaves[1:3], leaves[0]]),
            "do not hash",
            id="swap",
        ),
    ],
)
def test_an_old_leaf_changed_deleted_or_moved_fails_the_next_default_run(
    tamper: object, why: str
) -> None:
    log = MemoryLog(6)
    frozen(log)
    first = verified(run(log))
    tamper(log.leaves_held)  # type: ignore[operator]
    log.asked.clear()
    with pytest.raises(VerifyError) as caught:
        run(log, first)
    assert caught.value.kind == "audit"
    assert log.asked == [(0, 6)], "nothing new: only the re-audit read leaves"
    assert why in str(caught.value)
    assert "re-audit of leaves 0 to 5, against the verified root of size 6" in str(caught.value)


def test_a_re_audit_failure_is_named_audit_before_the_grown_log_s_proof() -> None:
    log = MemoryLog(6)
    first = verified(run(log))
    log.grow(3)
    frozen(log)  # signed over the leaves as they were; the node's stored nodes are unchanged
    log.leaves_held[2] = leaf_hash(b"changed after it was verified")
    with pytest.raises(VerifyError, match="against the verified root") as caught:
        run(log, first)
    assert caught.value.kind == "audit"


def passes(log: MemoryLog, runs: int, previous: Verified, limit: int) -> list[Verified]:
    states = []
    for _ in range(runs):
        previous = verified(run(log, previous, reaudit=limit))
        states.append(previous)
    return states


def test_a_large_log_is_re_audited_in_a_rolling_pass_of_limit_leaves_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rolling_audit, "MAX_LEAVES_PER_REQUEST", 4)
    log = MemoryLog(10)
    first = verified(run(log))
    assert first.reaudit == AuditPass(10, first.root, 10, first.border, 10, SINCE)
    log.asked.clear()
    states = passes(log, 3, first, limit=4)
    # ceil(10 / 4) = 3 runs re-read every leaf; the third starts the next pass with what is left.
    assert log.asked == [(0, 4), (4, 8), (8, 10), (0, 2)]
    positions = [(s.reaudit.size, s.reaudit.position) for s in states if s.reaudit]
    assert positions == [(10, 4), (10, 8), (10, 2)]
    # A pass keeps its target while the log grows; the next one is over the newest size.
    log.grow(5)
    log.asked.clear()
    grown = passes(log, 4, states[-1], limit=4)
    assert log.asked == [(10, 14), (14, 15), (2, 6), (6, 10), (0, 4), (4, 8)]
    assert [(s.reaudit.size, s.reaudit.position) for s in grown if s.reaudit] == [
        (10, 6),
        (10, 10),
        (15, 4),
        (15, 8),
    ]
    assert grown[1].reaudit and grown[1].reaudit.covered_size == 10


def test_a_change_is_caught_within_ceil_size_over_limit_runs_after_a_pass_passed_it() -> None:
    log = MemoryLog(10)
    frozen(log)
    state = verified(run(log))
    state = passes(log, 1, state, limit=4)[0]  # the pass has re-read leaves 0 to 3
    log.leaves_held[1] = leaf_hash(b"changed behind the pass")
    state = passes(log, 1, state, limit=4)[0]  # 4 to 7: nothing wrong there
    with pytest.raises(VerifyError, match="against the verified root") as caught:
        passes(log, 3, state, limit=4)  # the pass ends, the next one gets to leaf 1
    assert caught.value.kind == "audit"


def test_an_old_state_without_a_re_audit_starts_a_pass_from_leaf_0() -> None:
    log = MemoryLog(9)
    old = replace(verified(run(log)), reaudit=None)
    log.grow(2)
    log.asked.clear()
    outcome = run(log, old, reaudit=5)
    assert log.asked == [(9, 11), (0, 5)]
    assert (outcome.reaudit.size, outcome.reaudit.position) == (9, 5)
    assert outcome.reaudit.covered_at is None


def test_the_re_audit_can_be_turned_off_and_full_covers_everything_at_once() -> None:
    log = MemoryLog(9)
    first = verified(run(log))
    ongoing = verified(run(log, first, reaudit=4))
    log.asked.clear()
    off = run(log, ongoing, reaudit=0)
    assert log.asked == [] and off.reaudit == ongoing.reaudit and off.reaudited == ()
    log.grow(3)
    full = run(log, ongoing, full=True)
    assert full.reaudit == AuditPass.covering(full.border, SINCE) and full.reaudit.complete


def test_the_report_says_how_far_the_pass_is_and_what_it_has_not_covered_yet() -> None:
    log = MemoryLog(10)
    first = verified(run(log))
    assert reaudit_lines(run(log)) == [
        "  re-audit  none needed: every leaf was audited from 0 in this run"
    ]
    small = run(log, first)
    assert reaudit_lines(small) == [
        "  re-audit  leaves 0 to 9 of 10, pass complete: they hash to the verified root"
    ]
    assert reaudit_json(small)["pending"] is None and reaudit_json(small)["runs_left"] == 0
    partial = run(log, first, reaudit=3)
    assert reaudit_lines(partial) == [
        "  re-audit  leaves 0 to 2 of 10, pass 30% through",
        "  not yet   leaves 3 to 9, verified in earlier runs, were not re-read in this pass: "
        "3 more runs re-read them, or --full now",
        f"            (every leaf was last re-read at size 10, {SINCE.isoformat()})",
    ]
    value = reaudit_json(partial)
    assert value["read"] == [{"from": 0, "to": 3, "of": 10, "complete": False}]
    assert value["pending"] == {"from": 3, "to": 10} and value["runs_left"] == 3
    assert value["pass"]["position"] == 3 and value["leaves"] == 3 and value["limit"] == 3
    assert value["covered"] == {"size": 10, "at": SINCE.isoformat()}
    off = run(log, verified(partial), reaudit=0)
    assert reaudit_lines(off)[0] == "  re-audit  none: off (--reaudit-leaves 0)"
    assert "turn the re-audit on, or use --full" in reaudit_lines(off)[1]
    assert reaudit_json(off)["runs_left"] is None
    two = run(log, verified(run(log, verified(partial), reaudit=5)), reaudit=6)
    assert reaudit_lines(two)[:2] == [
        "  re-audit  leaves 8 to 9 of 10, pass complete: they hash to the verified root",
        "            then leaves 0 to 3 of 10, pass 40% through",
    ]


# --- the state file -------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path: Path) -> Iterator[tuple[Path, Verified]]:
    saved = verified(run(MemoryLog(11)))
    path = tmp_path / "deep" / "state.json"
    save_state(path, saved)
    yield path, saved


def test_the_state_is_saved_and_read_back(state: tuple[Path, Verified]) -> None:
    path, saved = state
    assert load_state(path, ORIGIN) == saved
    assert load_state(path.with_name("none.json"), ORIGIN) is None
    assert json.loads(path.read_text())["size"] == 11
    ongoing = verified(run(MemoryLog(11), saved, reaudit=5))
    assert ongoing.reaudit and (ongoing.reaudit.position, ongoing.reaudit.size) == (5, 11)
    save_state(path, ongoing)
    assert load_state(path, ORIGIN) == ongoing


def test_a_state_saved_before_the_re_audit_is_read_with_none(
    state: tuple[Path, Verified],
) -> None:
    path, saved = state
    value = json.loads(path.read_text())
    del value["reaudit"]
    path.write_text(json.dumps(value))
    assert load_state(path, ORIGIN) == replace(saved, reaudit=None)
    assert replace(saved, reaudit=None).cursor() == AuditPass(11, saved.root)


def _reaudit(change: dict[str, object]) -> object:
    return lambda s: json.dumps(
        {**json.loads(s), "reaudit": {**json.loads(s)["reaudit"], **change}}
    )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda s: "{not json", "damaged"),
        (lambda s: json.dumps({**json.loads(s), "version": 9}), "damaged"),
        (lambda s: json.dumps({**json.loads(s), "size": 12}), "its border does not give its root"),
        (lambda s: json.dumps({**json.loads(s), "root": "AAAA"}), "its border does not give"),
        (lambda s: json.dumps({**json.loads(s), "border": "!!"}), "damaged"),
        (lambda s: json.dumps({k: v for k, v in json.loads(s).items() if k != "root"}), "damaged"),
        (lambda s: json.dumps({**json.loads(s), "reaudit": 7}), "not an object"),
        (_reaudit({"position": 12}), "does not add up"),
        (_reaudit({"position": 3}), "does not add up"),
        (_reaudit({"root": "AAAA"}), "does not add up"),
        (_reaudit({"size": 12, "position": 0, "border": ""}), "larger than the one verified"),
        (_reaudit({"covered_size": 12}), "larger than the one verified"),
        (_reaudit({"covered_at": "yesterday"}), "damaged"),
    ],
)
def test_a_damaged_state_is_refused_saying_how_to_go_on(
    state: tuple[Path, Verified], change: object, why: str
) -> None:
    path, _ = state
    path.write_text(change(path.read_text()))  # type: ignore[operator]
    with pytest.raises(UsageError, match=why) as caught:
        load_state(path, ORIGIN)
    assert "move it away to verify the log afresh" in str(caught.value)


def test_the_state_of_another_log_is_refused(state: tuple[Path, Verified]) -> None:
    path, _ = state
    with pytest.raises(UsageError, match="give another --state"):
        load_state(path, log_origin(FEDERATION, "charter"))


def test_states_are_kept_per_log_under_xdg_state_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/var/tmp/xdg")
    one = default_state_path(ORIGIN)
    assert one.parent == Path("/var/tmp/xdg/digitalstate/log-verify")
    assert one != default_state_path(log_origin(FEDERATION, "charter"))
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_path(ORIGIN).parent == (
        Path.home() / ".local" / "state" / "digitalstate" / "log-verify"
    )


# --- options --------------------------------------------------------------------------------


def test_a_base_url_has_no_path() -> None:
    assert base_url("http://127.0.0.1:8102/", "--node") == "http://127.0.0.1:8102"
    for bad in ("127.0.0.1:8102", "ftp://x", "http://x/log", "http://", "http://a b"):
        with pytest.raises(UsageError, match="is not a base URL"):
            base_url(bad, "--node")


def test_the_member_is_found_by_its_base_url_or_named() -> None:
    document = federation()
    assert find_member(document, "http://charter.test", None) == "charter"
    assert find_member(document, "http://elsewhere.test", "charter") == "charter"
    with pytest.raises(UsageError, match="--member ID"):
        find_member(document, "http://elsewhere.test", None)
    with pytest.raises(UsageError, match="not a member"):
        find_member(document, "http://charter.test", "nobody")


def one_line(args: list[str], code: int) -> str:
    result = runner.invoke(app, ["log", "verify", *args])
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("digitalstate: error: ")
    return lines[0]


def test_bad_input_is_one_line_with_its_own_exit_code(tmp_path: Path) -> None:
    key = ["--anchor-key", ANCHOR_KEY.public.b64, "--state", str(tmp_path / "s.json")]
    assert "is not a base URL" in one_line(["--node", "register.test", *key], 2)
    assert "--anchor-key B64" in one_line(["--node", "http://register.test"], 2)
    line = one_line(["--node", "http://register.test", "--anchor-key", "bm90IGEga2V5"], 2)
    assert line.startswith("digitalstate: error: --anchor-key: ")
    missing = tmp_path / "missing.toml"
    assert str(missing) in one_line(["--node", "http://register.test", "--config", str(missing)], 2)


def test_an_unreachable_node_is_exit_3_naming_it(tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        line = one_line(["--node", url, "--anchor-key", ANCHOR_KEY.public.b64, "--timeout", "2"], 3)
    assert line.startswith(f"digitalstate: error: log verify failed for {url}: unreachable: ")
    assert "did not answer: ClientConnectorError: Cannot connect to host" in line
    assert "ssl:default" in line  # no TLS context's repr for a plain-HTTP address


def test_json_failures_are_one_object_on_stdout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["log", "verify", "--node", "nope", "--json"])
    assert result.exit_code == 2
    failure = json.loads(result.stdout)
    assert failure["ok"] is False and failure["kind"] == "usage" and failure["exit"] == 2
