"""`digitalstate log verify`'s own logic: the order of its checks against a log kept in memory,
its state file, its options, and the one-line errors of bad input (no node runs here)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digitalstate.cli import log as log_cli
from digitalstate.cli.log import (
    UsageError,
    Verified,
    base_url,
    default_state_path,
    find_member,
    load_state,
    save_state,
    verify_log,
)
from digitalstate.cli.main import app
from digitalstate.federation.domain import FederationDocument, Member, MemberKey
from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import log_origin, witness_name
from digitalstate.transparency.merkle import (
    CompactRange,
    consistency_plan,
    leaf_hash,
    tree_root,
)
from digitalstate.transparency.note import Checkpoint, cosign, sign_checkpoint
from digitalstate.transparency.verify import VerifyError, log_identity, witness_keys

FEDERATION = "unit federation"
LOG_KEY = KeyPair.from_seed(bytes(range(1, 33)))
WITNESS_KEY = KeyPair.from_seed(bytes(range(33, 65)))
ANCHOR_KEY = KeyPair.from_seed(bytes(range(65, 97)))
ORIGIN = log_origin(FEDERATION, "people-register")
SINCE = datetime(2026, 1, 1, tzinfo=UTC)

runner = CliRunner()


def federation() -> FederationDocument:
    def member(member_id: str, key: KeyPair, url: str) -> Member:
        return Member(
            id=member_id,
            name=member_id,
            roles=("register",),
            base_url=url,
            keys=(MemberKey(public_key=key.public.b64, not_before=SINCE),),
        )

    return FederationDocument(
        federation=FEDERATION,
        version=1,
        issued_at=SINCE,
        expires_at=SINCE + timedelta(days=1),
        members=(
            member("people-register", LOG_KEY, "http://register.test"),
            member("charter", WITNESS_KEY, "http://charter.test"),
        ),
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


def run(
    log: MemoryLog, previous: Verified | None = None, *, full: bool = False, minimum: int = 0
) -> log_cli.Outcome:
    document = federation()
    return verify_log(
        log,
        log_identity(document, "people-register"),
        witness_keys(document, besides="people-register"),
        previous,
        full=full,
        min_cosignatures=minimum,
    )


def verified(outcome: log_cli.Outcome) -> Verified:
    return Verified(
        origin=ORIGIN,
        node="http://register.test",
        member="people-register",
        size=outcome.checkpoint.size,
        root=outcome.checkpoint.root,
        border=outcome.border,
        verified_at=SINCE,
        checkpoint=outcome.note,
    )


# --- the checks -----------------------------------------------------------------------------


def test_the_first_run_audits_every_leaf_in_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_cli, "PAGE", 4)
    log = MemoryLog(10)
    outcome = run(log)
    assert log.asked == [(0, 4), (4, 8), (8, 10)]
    assert outcome.audited_from == 0 and outcome.border.size == 10
    assert outcome.border.root() == outcome.checkpoint.root


def test_the_next_run_audits_only_the_new_leaves_and_checks_consistency() -> None:
    log = MemoryLog(7)
    first = verified(run(log))
    log.grow(6)
    log.asked.clear()
    outcome = run(log, first)
    assert log.asked == [(7, 13)] and outcome.audited_from == 7
    log.asked.clear()
    assert run(log, first, full=True).audited_from == 0 and log.asked == [(0, 13)]


def test_the_progress_is_told_as_pages_are_audited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_cli, "PAGE", 3)
    told: list[tuple[int, int]] = []
    document = federation()
    verify_log(
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


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda s: "{not json", "damaged"),
        (lambda s: json.dumps({**json.loads(s), "version": 9}), "damaged"),
        (lambda s: json.dumps({**json.loads(s), "size": 12}), "its border does not give its root"),
        (lambda s: json.dumps({**json.loads(s), "root": "AAAA"}), "its border does not give"),
        (lambda s: json.dumps({**json.loads(s), "border": "!!"}), "damaged"),
        (lambda s: json.dumps({k: v for k, v in json.loads(s).items() if k != "root"}), "damaged"),
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
    assert "did not answer" in line and "ConnectError" in line


def test_json_failures_are_one_object_on_stdout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["log", "verify", "--node", "nope", "--json"])
    assert result.exit_code == 2
    failure = json.loads(result.stdout)
    assert failure["ok"] is False and failure["kind"] == "usage" and failure["exit"] == 2
