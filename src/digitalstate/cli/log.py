"""`digitalstate log verify`: audit a node's transparency log from the outside.

The auditor trusts nothing the audited node says about itself: the federation document (which
names the node's log keys and the witnesses' keys) must verify under a trust-anchor key pinned
on the command line or in a node.toml; the checkpoint must be signed by the node's key; and the
auditor re-computes the signed root from the leaf hashes itself. What it verified last time (per
log: size, root, the compact-range border of the tree, when) is kept in a small JSON state
file, so the next run checks that the log only grew since, and audits the new leaves from that
border. Old leaves are re-read too, as the witnesses do: a rolling re-audit (its cursor kept in
the same file) re-reads up to --reaudit-leaves of them each run and, when a pass has re-read
every leaf of a tree verified before, compares the root with that tree's, so an entry changed,
deleted or moved after it was verified is caught within ceil(size / N) runs, and at every run
on a log of at most N leaves.

The checks are the pure functions of digitalstate.transparency.verify that the witnesses use.
Exit codes: 0 verified, 1 a check failed, 2 a usage or trust-root problem, 3 unreachable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, Protocol

import httpx
import typer

from digitalstate.cli.common import now, progress_bar
from digitalstate.federation.domain import (
    DocumentRefusedError,
    FederationDocument,
    verify_document,
)
from digitalstate.federation.keeper import FEDERATION_PATH
from digitalstate.files import write_atomically
from digitalstate.keys import PublicKey
from digitalstate.problems import read_problem
from digitalstate.settings import SettingsError, load_node_settings
from digitalstate.transparency.merkle import CompactRange
from digitalstate.transparency.note import Checkpoint
from digitalstate.transparency.verify import (
    LogIdentity,
    VerifyError,
    WitnessKey,
    audit,
    check_audited_root,
    check_checkpoint,
    check_extends,
    cosigners,
    decode_border,
    encode_border,
    log_identity,
    witness_keys,
)

app = typer.Typer(help="Audit a node's transparency log from the outside.", no_args_is_help=True)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
CHECKPOINT_PATH = "/.well-known/digitalstate/checkpoint"
LOG_PATH = "/.well-known/digitalstate/log"
PAGE = 65_536
"""Leaf hashes asked for per request: the most a node serves at once."""
DEFAULT_REAUDIT_LEAVES = 65_536
"""Old leaves re-read per run by default: one request, 2 MiB of leaf hashes."""
STATE_VERSION = 1
_BASE_URL = re.compile(r"^https?://[^/\s?#]+/?$")


class UsageError(Exception):
    """A command line, settings, state file or trust root that cannot be used (exit 2)."""


def _unreachable(message: str) -> VerifyError:
    return VerifyError("unreachable", message)


# --- the state kept between runs ---------------------------------------------------------------


@dataclass(frozen=True)
class Reaudit:
    """The rolling re-audit of leaves verified before: one pass, and the last one completed.

    A pass re-reads the leaves [0, size) of a tree verified before (size, root), some each run
    from position on, folded into border (the tree of the leaves [0, position)); when position
    reaches size, the border's root must be root. covered_size and covered_at: the newest tree
    whose every leaf was read again (by a pass, --full or the first verification) and found to
    hash to its root, and when; 0 and None until one was.
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

    def restart(self, size: int, root: bytes) -> Reaudit:
        """A new pass from leaf 0 over the tree (size, root), keeping what was covered."""
        return replace(self, size=size, root=root, position=0, border=CompactRange())

    @classmethod
    def covering(cls, border: CompactRange, at: datetime) -> Reaudit:
        """No pass under way: every leaf of the tree border holds was audited at `at`."""
        return cls(border.size, border.root(), border.size, border.copy(), border.size, at)

    def to_json(self) -> dict[str, Any]:
        """The cursor as a JSON object (part of the state)."""
        return {
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "position": self.position,
            "border": base64.b64encode(encode_border(self.border)).decode(),
            "covered_size": self.covered_size,
            "covered_at": None if self.covered_at is None else self.covered_at.isoformat(),
        }

    @classmethod
    def from_json(cls, value: Any) -> Reaudit:
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
class Verified:
    """What was verified of one log: its size and root, the border of that tree, and when.

    reaudit is the rolling re-audit's cursor; None (a state saved before there was one) starts
    a pass from leaf 0 over the tree verified.
    """

    origin: str
    node: str
    member: str
    size: int
    root: bytes
    border: CompactRange
    verified_at: datetime
    checkpoint: str
    reaudit: Reaudit | None = None

    def cursor(self) -> Reaudit:
        """The re-audit pass to go on with."""
        return self.reaudit or Reaudit(self.size, self.root)

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON object."""
        value: dict[str, Any] = {
            "version": STATE_VERSION,
            "origin": self.origin,
            "node": self.node,
            "member": self.member,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "border": base64.b64encode(encode_border(self.border)).decode(),
            "verified_at": self.verified_at.isoformat(),
            "checkpoint": self.checkpoint,
        }
        if self.reaudit is not None:
            value["reaudit"] = self.reaudit.to_json()
        return value


def state_home() -> Path:
    """Where states are kept by default: $XDG_STATE_HOME/digitalstate/log-verify."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "digitalstate" / "log-verify"


def default_state_path(origin: str) -> Path:
    """The state file of one log, named by a hash of its origin."""
    return state_home() / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.json"


def load_state(path: Path, origin: str) -> Verified | None:
    """The state saved at path for the log origin; None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: the saved log state cannot be read ({exc})") from exc
    damaged = (
        f"{path}: the saved log state is damaged"
        f"{{}}; move it away to verify the log afresh (from leaf 0)"
    )
    try:
        value = json.loads(text)
        if not isinstance(value, dict) or value.get("version") != STATE_VERSION:
            raise ValueError("not a version 1 state")
        stored_origin = str(value["origin"])
        size = int(value["size"])
        root = base64.b64decode(str(value["root"]), validate=True)
        border = decode_border(base64.b64decode(str(value["border"]), validate=True))
        verified_at = datetime.fromisoformat(str(value["verified_at"]))
        state = Verified(
            origin=stored_origin,
            node=str(value["node"]),
            member=str(value["member"]),
            size=size,
            root=root,
            border=border,
            verified_at=verified_at,
            checkpoint=str(value.get("checkpoint", "")),
            reaudit=None if value.get("reaudit") is None else Reaudit.from_json(value["reaudit"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise UsageError(damaged.format(f" ({exc})")) from exc
    if state.border.size != state.size or len(root) != 32 or state.border.root() != root:
        raise UsageError(damaged.format(": its border does not give its root"))
    cursor = state.reaudit
    if cursor is not None and (cursor.size > size or cursor.covered_size > size):
        raise UsageError(damaged.format(": its re-audit is of a tree larger than the one verified"))
    if state.origin != origin:
        raise UsageError(
            f"{path} holds what was verified of the log {state.origin!r}, not {origin!r}; "
            "give another --state"
        )
    return state


def save_state(path: Path, state: Verified) -> None:
    """Write the state atomically (a crash leaves the old state or the new one)."""
    try:
        write_atomically(path, (json.dumps(state.to_json(), indent=2) + "\n").encode())
    except OSError as exc:
        raise UsageError(f"{path}: the log state cannot be saved ({exc})") from exc


# --- talking to the node -----------------------------------------------------------------------


def base_url(text: str, option: str) -> str:
    """An http(s) base URL without path or trailing slash; UsageError otherwise."""
    if not _BASE_URL.match(text):
        raise UsageError(
            f"{option} {text!r} is not a base URL like http://127.0.0.1:8102 (no path)"
        )
    return text.rstrip("/")


def _problem_detail(response: httpx.Response) -> tuple[str, str]:
    """The problem type slug and detail of an error answer (empty slug when it is not one)."""
    problem = read_problem(response.content)
    if problem is None:
        return "", response.text[:200].strip() or response.reason_phrase
    return problem.slug, problem.detail or problem.title or response.reason_phrase


class LogSource(Protocol):
    """Where the audited log's checkpoint, proofs and leaf hashes come from."""

    def checkpoint(self) -> str:
        """The newest checkpoint as served (a signed note)."""

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from size old to size new."""

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of [start, end) (at most PAGE)."""


class NodeLog:
    """The public log endpoints of one node, over HTTP (a LogSource)."""

    def __init__(self, client: httpx.Client, url: str, member: str) -> None:
        self.client = client
        self.url = url
        self.member = member

    def get(self, path: str, **params: int) -> httpx.Response:
        """GET a path of the node; a network failure is VerifyError unreachable."""
        try:
            return self.client.get(self.url + path, params=params)
        except httpx.TransportError as exc:
            raise _unreachable(f"{self.url} did not answer: {_reason(exc)}") from exc

    def _unexpected(self, what: str, response: httpx.Response) -> VerifyError:
        _, detail = _problem_detail(response)
        return _unreachable(f"{self.url} answered {response.status_code} for {what}: {detail}")

    def checkpoint(self) -> str:
        """The newest checkpoint as served (a signed note)."""
        response = self.get(CHECKPOINT_PATH)
        if response.status_code != 200:
            raise self._unexpected("its checkpoint", response)
        return response.text

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The node's consistency proof from size old to size new."""
        response = self.get(LOG_PATH + "/consistency", old=old, new=new)
        slug, detail = _problem_detail(response)
        if response.status_code == 500 and slug == "log-damaged":
            raise VerifyError("audit", f"{self.member}: its stored log is damaged: {detail}")
        if response.status_code == 400 and slug == "proof-out-of-range":
            raise VerifyError(
                "fork",
                f"{self.member}: cannot prove that its tree of size {new} extends the one of "
                f"size {old} seen before: {detail}",
            )
        if response.status_code != 200:
            raise self._unexpected(f"a consistency proof from {old} to {new}", response)
        try:
            proof = response.json()["proof"]
            return [base64.b64decode(h, validate=True) for h in proof]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise VerifyError(
                "malformed", f"{self.member}: its consistency proof cannot be read: {exc}"
            ) from exc

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of [start, end) (at most PAGE)."""
        response = self.get(LOG_PATH + "/leaves", start=start, end=end)
        slug, detail = _problem_detail(response)
        if response.status_code == 500 and slug == "log-damaged":
            raise VerifyError(
                "audit",
                f"{self.member}: the stored log cannot give leaves {start} to {end - 1} its "
                f"checkpoint covers: {detail}",
            )
        if response.status_code == 400 and slug == "proof-out-of-range":
            raise VerifyError(
                "audit",
                f"{self.member}: the log does not hold leaves {start} to {end - 1} its "
                f"checkpoint covers: {detail}",
            )
        if response.status_code != 200:
            raise self._unexpected(f"leaves {start} to {end - 1}", response)
        data = response.content
        if len(data) != 32 * (end - start):
            raise VerifyError(
                "malformed",
                f"{self.member}: asked for {end - start} leaf hashes, got {len(data)} bytes",
            )
        return [data[i : i + 32] for i in range(0, len(data), 32)]


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def fetch_federation(
    client: httpx.Client, source: str, anchor_key: PublicKey
) -> FederationDocument:
    """The federation document at source, verified under the pinned trust-anchor key."""
    url = source + FEDERATION_PATH
    try:
        response = client.get(url)
    except httpx.TransportError as exc:
        raise _unreachable(f"{url} did not answer: {_reason(exc)}") from exc
    if response.status_code != 200:
        _, detail = _problem_detail(response)
        raise _unreachable(f"{url} answered {response.status_code}: {detail}")
    try:
        envelope = response.json()
    except ValueError as exc:
        raise UsageError(f"{url} did not answer a federation document (not JSON)") from exc
    try:
        return verify_document(envelope, anchor_key, now=now())
    except DocumentRefusedError as exc:
        raise UsageError(
            f"the federation document from {url} is refused ({exc.reason}: {exc.detail}); "
            "check --anchor-key, or fetch the document from the trust anchor with --anchor URL"
        ) from exc


def find_member(federation: FederationDocument, node: str, member: str | None) -> str:
    """The member id of the node: the one given, or the member whose base URL is node."""
    if member is not None:
        if federation.member(member) is None:
            raise UsageError(f"--member {member}: not a member of {federation.federation}")
        return member
    for candidate in federation.members:
        if candidate.base_url.rstrip("/") == node:
            return candidate.id
    raise UsageError(
        f"no member of {federation.federation} has the base URL {node}; "
        "name the node's member id with --member ID"
    )


# --- the audit -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Leaves [start, end) re-read by the rolling re-audit, of its pass over a tree of size of."""

    start: int
    end: int
    of: int
    complete: bool  # the pass ended here: every leaf of that tree hashes to its root

    def to_json(self) -> dict[str, Any]:
        """The span as a JSON object."""
        return {"from": self.start, "to": self.end, "of": self.of, "complete": self.complete}


@dataclass(frozen=True)
class Outcome:
    """A log that passed every check."""

    checkpoint: Checkpoint
    note: str
    cosigners: list[str]
    witnesses: int
    previous: Verified | None
    audited_from: int
    border: CompactRange
    reaudit: Reaudit
    reaudited: tuple[Span, ...] = ()
    reaudit_leaves: int = DEFAULT_REAUDIT_LEAVES

    @property
    def audited_all(self) -> bool:
        """True when every leaf was audited from 0 in this run (so none was re-audited)."""
        return self.audited_from == 0


Progress = Callable[[int, int], None]
"""Told (leaves read, leaves to read) as the leaf audit and the re-audit go."""


def verify_log(
    node: LogSource,
    log: LogIdentity,
    witnesses: dict[str, WitnessKey],
    previous: Verified | None,
    *,
    full: bool,
    min_cosignatures: int,
    reaudit_leaves: int = DEFAULT_REAUDIT_LEAVES,
    progress: Progress = lambda done, total: None,
    at: datetime | None = None,
) -> Outcome:
    """Run every check on the node's log; VerifyError names the first that fails.

    Order: the checkpoint's signature and cosignatures; against the last verification, no
    shrinking and no other root at the same size; the leaf audit (from the saved border, or
    from leaf 0 when full or first); the rolling re-audit of up to reaudit_leaves old leaves
    (reaudit_some; not when every leaf was just audited); then the node's consistency proof
    from the last size. The audits come before the proof because an entry changed after it was
    logged spoils the proofs the node computes from it too: the audit names that cause, the
    proof could only say the histories differ.
    """
    when = at or now()
    note_text = node.checkpoint()
    note, checkpoint = check_checkpoint(note_text, log)
    signed_by = cosigners(note, witnesses)
    if len(signed_by) < min_cosignatures:
        raise VerifyError(
            "bad-signature",
            f"{log.member}: the checkpoint of size {checkpoint.size} has "
            f"{len(signed_by)} witness cosignature(s) that verify, fewer than the "
            f"--min-cosignatures {min_cosignatures} asked for",
        )
    if previous is not None and checkpoint.size <= previous.size:
        # Shrunk, or another root at the size seen: no proof can help, none is asked for.
        check_extends(log.member, previous.size, previous.root, checkpoint, [])
    start = CompactRange() if full or previous is None else previous.border
    cursor = previous.cursor() if previous is not None else None
    budget = 0 if cursor is None or start.size == 0 else reaudit_leaves
    total = checkpoint.size - start.size + reaudit_planned(cursor, checkpoint, budget)
    border = start
    progress(0, total)
    for first in range(start.size, checkpoint.size, PAGE):
        last = min(first + PAGE, checkpoint.size)
        border = audit(border, node.leaves(first, last))
        progress(border.size - start.size, total)
    check_audited_root(log.member, border, checkpoint)
    spans: tuple[Span, ...] = ()
    if cursor is None or start.size == 0:
        cursor = Reaudit.covering(border, when)  # every leaf was audited just now
    else:
        done = checkpoint.size - start.size
        cursor, spans = reaudit_some(
            node,
            log,
            cursor,
            checkpoint,
            budget,
            when,
            lambda read: progress(done + read, total),
        )
    if previous is not None and checkpoint.size > previous.size:
        proof = node.consistency(previous.size, checkpoint.size)
        check_extends(log.member, previous.size, previous.root, checkpoint, proof)
    return Outcome(
        checkpoint,
        note_text,
        signed_by,
        len(witnesses),
        previous,
        start.size,
        border,
        cursor,
        spans,
        reaudit_leaves,
    )


def reaudit_planned(cursor: Reaudit | None, checkpoint: Checkpoint, budget: int) -> int:
    """How many leaves reaudit_some will read: the rest of the pass, then one over the newest."""
    if cursor is None or budget <= 0:
        return 0
    rest = 0 if cursor.complete else cursor.size - cursor.position
    return min(budget, rest + checkpoint.size)


def reaudit_some(
    node: LogSource,
    log: LogIdentity,
    cursor: Reaudit,
    checkpoint: Checkpoint,
    budget: int,
    at: datetime,
    progress: Callable[[int], None] = lambda read: None,
) -> tuple[Reaudit, tuple[Span, ...]]:
    """Re-read up to budget old leaf hashes of the rolling pass; the cursor after, what was read.

    Goes on with the pass under way; when it reaches its tree's size, the leaves must hash to
    the root verified for that size (VerifyError "audit" otherwise), and a new pass starts over
    checkpoint (the newest tree, verified in this run) with the budget left. At most one pass
    starts per run, so a log of at most budget leaves is re-read whole every run, and each leaf
    of a larger one is re-read within ceil(size / budget) runs.
    """
    spans: list[Span] = []
    started = False
    read = 0
    while budget > 0:
        if cursor.complete:
            if started or checkpoint.size == 0:
                break
            cursor, started = cursor.restart(checkpoint.size, checkpoint.root), True
        begin, position, border = cursor.position, cursor.position, cursor.border
        while budget > 0 and position < cursor.size:
            end = min(cursor.size, position + min(budget, PAGE))
            border = audit(border, node.leaves(position, end))
            budget -= end - position
            read += end - position
            position = end
            progress(read)
        cursor = replace(cursor, position=position, border=border)
        if cursor.complete:
            try:
                check_audited_root(
                    log.member, border, Checkpoint(log.origin, cursor.size, cursor.root)
                )
            except VerifyError as exc:
                raise VerifyError(
                    exc.kind,
                    f"{exc} (found by the re-audit of leaves 0 to {cursor.size - 1}, against "
                    f"the verified root of size {cursor.size})",
                ) from exc
            cursor = replace(cursor, covered_size=cursor.size, covered_at=at)
        spans.append(Span(begin, position, cursor.size, cursor.complete))
    return cursor, tuple(spans)


# --- the command ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustRoot:
    """The pinned trust-anchor key and where to fetch the federation document."""

    key: PublicKey
    source: str


def trust_root(
    node: str, anchor_key: str | None, anchor: str | None, config: Path | None
) -> TrustRoot:
    """The trust root from the options: explicit ones win over the node.toml's."""
    configured_key: str | None = None
    configured_url: str | None = None
    if config is not None:
        try:
            settings = load_node_settings(config)
        except SettingsError as exc:
            raise UsageError(str(exc)) from exc
        configured_key = settings.federation.anchor_public_key
        configured_url = settings.federation.anchor_url
    key_text = anchor_key or configured_key
    if not key_text:
        raise UsageError(
            "give the trust anchor's public key with --anchor-key B64 (or --config node.toml): "
            "the node being audited cannot vouch for itself"
        )
    try:
        key = PublicKey.from_b64(key_text)
    except ValueError as exc:
        raise UsageError(f"--anchor-key: {exc}") from exc
    if anchor is not None:
        return TrustRoot(key, base_url(anchor, "--anchor"))
    return TrustRoot(
        key, base_url(configured_url, "[federation] anchor_url") if configured_url else node
    )


@dataclass
class Report:
    """What one run prints: the node, and either the outcome or the failure."""

    node: str
    as_json: bool

    def fail(self, code: int, kind: str, message: str) -> NoReturn:
        """Print the failure in one line on stderr (and as JSON on stdout) and exit."""
        if self.as_json:
            print(
                json.dumps(
                    {"ok": False, "node": self.node, "kind": kind, "error": message, "exit": code}
                )
            )
        if code == EXIT_USAGE:
            line = f"digitalstate: error: {message}"
        else:
            line = f"digitalstate: error: log verify failed for {self.node}: {kind}: {message}"
        print(line, file=sys.stderr)
        raise typer.Exit(code)

    def success(self, member: str, origin: str, outcome: Outcome, state: Path, full: bool) -> None:
        """Print the summary of a log that passed."""
        checkpoint = outcome.checkpoint
        root = base64.b64encode(checkpoint.root).decode()
        audited = checkpoint.size - outcome.audited_from
        previous = outcome.previous
        if self.as_json:
            print(
                json.dumps(
                    {
                        "ok": True,
                        "node": self.node,
                        "member": member,
                        "origin": origin,
                        "size": checkpoint.size,
                        "root": root,
                        "cosigners": outcome.cosigners,
                        "witnesses": outcome.witnesses,
                        "previous": None
                        if previous is None
                        else {
                            "size": previous.size,
                            "root": base64.b64encode(previous.root).decode(),
                            "verified_at": previous.verified_at.isoformat(),
                        },
                        "audited": {
                            "from": outcome.audited_from,
                            "to": checkpoint.size,
                            "leaves": audited,
                        },
                        "full": full or previous is None,
                        "reaudit": reaudit_json(outcome),
                        "state": str(state),
                    }
                )
            )
            return
        if previous is None:
            since = "first verification"
        elif previous.size == checkpoint.size:
            since = f"unchanged since {previous.verified_at.isoformat()}"
        else:
            since = (
                f"grew by {checkpoint.size - previous.size} since size {previous.size}, "
                f"verified {previous.verified_at.isoformat()}; consistent"
            )
        cosigned = ", ".join(outcome.cosigners) or "no witness yet"
        span = f"leaves {outcome.audited_from} to {checkpoint.size - 1}" if audited else "none new"
        print(
            f"Verified the log of {member} at {self.node}",
            f"  origin    {origin}",
            f"  size      {checkpoint.size} ({since})",
            f"  root      {root}",
            f"  cosigned  by {cosigned} ({len(outcome.cosigners)} of {outcome.witnesses} "
            "witnesses)",
            f"  audited   {audited} leaves ({span}): they hash to the signed root",
            *reaudit_lines(outcome),
            f"  state     {state}",
            sep="\n",
        )


def _runs_left(outcome: Outcome) -> int | None:
    """Runs until the pass under way has re-read every leaf (None when the re-audit is off)."""
    cursor = outcome.reaudit
    if cursor.complete:
        return 0
    if outcome.reaudit_leaves <= 0:
        return None
    return -(-(cursor.size - cursor.position) // outcome.reaudit_leaves)


def reaudit_json(outcome: Outcome) -> dict[str, Any]:
    """The rolling re-audit as --json reports it."""
    cursor = outcome.reaudit
    return {
        "limit": outcome.reaudit_leaves,
        "leaves": sum(span.end - span.start for span in outcome.reaudited),
        "read": [span.to_json() for span in outcome.reaudited],
        "pass": {
            "size": cursor.size,
            "root": base64.b64encode(cursor.root).decode(),
            "position": cursor.position,
            "complete": cursor.complete,
        },
        "pending": None if cursor.complete else {"from": cursor.position, "to": cursor.size},
        "runs_left": _runs_left(outcome),
        "covered": None
        if cursor.covered_at is None
        else {"size": cursor.covered_size, "at": cursor.covered_at.isoformat()},
    }


def reaudit_lines(outcome: Outcome) -> list[str]:
    """The rolling re-audit in the human summary: what was re-read, and what was not yet."""
    cursor = outcome.reaudit
    if outcome.audited_all:
        return ["  re-audit  none needed: every leaf was audited from 0 in this run"]
    lines: list[str] = []
    for n, span in enumerate(outcome.reaudited):
        where = (
            "pass complete: they hash to the verified root"
            if span.complete
            else f"pass {span.end * 100 // span.of}% through"
        )
        label = "  re-audit  " if n == 0 else "            then "
        lines.append(f"{label}leaves {span.start} to {span.end - 1} of {span.of}, {where}")
    if not lines:
        why = "off (--reaudit-leaves 0)" if outcome.reaudit_leaves <= 0 else "the log is empty"
        lines.append(f"  re-audit  none: {why}")
    if cursor.complete:
        return lines
    runs = _runs_left(outcome)
    when = (
        "turn the re-audit on, or use --full"
        if runs is None
        else f"{runs} more run{'s' if runs != 1 else ''} re-read them, or --full now"
    )
    lines.append(
        f"  not yet   leaves {cursor.position} to {cursor.size - 1}, verified in earlier runs, "
        f"were not re-read in this pass: {when}"
    )
    if cursor.covered_at is None:
        lines.append("            (no pass has re-read every leaf yet)")
    else:
        lines.append(
            f"            (every leaf was last re-read at size {cursor.covered_size}, "
            f"{cursor.covered_at.isoformat()})"
        )
    return lines


@app.command("verify")
def verify_command(
    node: Annotated[
        str, typer.Option("--node", help="The base URL of the node whose log to audit.")
    ],
    anchor_key: Annotated[
        str | None,
        typer.Option(
            "--anchor-key", help="The trust anchor's public key, base64 (the trust root)."
        ),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            help="Fetch the federation document from this trust anchor (default: the node's copy).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Take the anchor's URL and key from this node.toml."),
    ] = None,
    member: Annotated[
        str | None,
        typer.Option("--member", help="The node's member id (default: found by its base URL)."),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="The file keeping what was verified last (default: per log, under "
            "$XDG_STATE_HOME/digitalstate/log-verify).",
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-audit every leaf from 0, not only the new ones.")
    ] = False,
    reaudit_leaves: Annotated[
        int,
        typer.Option(
            "--reaudit-leaves",
            min=0,
            help="Old leaves to re-read per run in the rolling re-audit (0: off).",
        ),
    ] = DEFAULT_REAUDIT_LEAVES,
    min_cosignatures: Annotated[
        int,
        typer.Option("--min-cosignatures", min=0, help="Fail unless this many witnesses cosigned."),
    ] = 0,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each answer.")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Audit a node's log: signatures, cosignatures, consistency since last time, leaf hashes."""
    report = Report(node, as_json)
    try:
        url = base_url(node, "--node")
        report.node = url
        root = trust_root(url, anchor_key, anchor, config)
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            federation = fetch_federation(client, root.source, root.key)
            member_id = find_member(federation, url, member)
            checked_at = now()
            log = log_identity(federation, member_id, checked_at)
            path = state or default_state_path(log.origin)
            previous = load_state(path, log.origin)
            with progress_bar(hidden=as_json) as bar:
                task = bar.add_task(f"Auditing the leaves of {member_id}", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                outcome = verify_log(
                    NodeLog(client, url, member_id),
                    log,
                    witness_keys(federation, besides=member_id, at=checked_at),
                    previous,
                    full=full,
                    min_cosignatures=min_cosignatures,
                    reaudit_leaves=reaudit_leaves,
                    progress=advance,
                )
        checkpoint = outcome.checkpoint
        save_state(
            path,
            Verified(
                origin=log.origin,
                node=url,
                member=member_id,
                size=checkpoint.size,
                root=checkpoint.root,
                border=outcome.border,
                verified_at=now(),
                checkpoint=outcome.note,
                reaudit=outcome.reaudit,
            ),
        )
    except UsageError as exc:
        report.fail(EXIT_USAGE, "usage", str(exc))
    except VerifyError as exc:
        code = EXIT_UNREACHABLE if exc.kind == "unreachable" else EXIT_FAILED
        report.fail(code, exc.kind, str(exc))
    report.success(member_id, log.origin, outcome, path, full)
