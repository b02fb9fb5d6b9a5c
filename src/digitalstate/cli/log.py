"""`digitalstate log verify`: audit a node's transparency log from the outside.

The auditor trusts nothing the audited node says about itself: the federation document (which
names the node's log keys and the witnesses' keys) must verify under a trust-anchor key pinned
on the command line or in a node.toml; the checkpoint must be signed by the node's key; and the
auditor re-computes the signed root from the leaf hashes itself. What it verified last time (per
log: size, root, the compact-range border of the tree, when) is kept in a small JSON state
file, so the next run checks that the log only grew since, and audits only the new leaves.

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
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
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
from digitalstate.keys import PublicKey
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
STATE_VERSION = 1
_BASE_URL = re.compile(r"^https?://[^/\s?#]+/?$")
_PROBLEM = "urn:digitalstate:problem:"


class UsageError(Exception):
    """A command line, settings, state file or trust root that cannot be used (exit 2)."""


def _unreachable(message: str) -> VerifyError:
    return VerifyError("unreachable", message)


# --- the state kept between runs ---------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """What was verified of one log: its size and root, the border of that tree, and when."""

    origin: str
    node: str
    member: str
    size: int
    root: bytes
    border: CompactRange
    verified_at: datetime
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON object."""
        return {
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
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise UsageError(damaged.format(f" ({exc})")) from exc
    if state.border.size != state.size or len(root) != 32 or state.border.root() != root:
        raise UsageError(damaged.format(": its border does not give its root"))
    if state.origin != origin:
        raise UsageError(
            f"{path} holds what was verified of the log {state.origin!r}, not {origin!r}; "
            "give another --state"
        )
    return state


def save_state(path: Path, state: Verified) -> None:
    """Write the state atomically (a crash leaves the old state or the new one)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state.to_json(), handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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
    try:
        value = response.json()
    except ValueError:
        return "", response.text[:200].strip() or response.reason_phrase
    if not isinstance(value, dict):
        return "", response.reason_phrase
    kind = str(value.get("type", ""))
    detail = str(value.get("detail") or value.get("title") or response.reason_phrase)
    return kind.removeprefix(_PROBLEM) if kind.startswith(_PROBLEM) else "", detail


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
class Outcome:
    """A log that passed every check."""

    checkpoint: Checkpoint
    note: str
    cosigners: list[str]
    witnesses: int
    previous: Verified | None
    audited_from: int
    border: CompactRange


Progress = Callable[[int, int], None]
"""Told (leaves audited, leaves to audit) as the leaf audit goes."""


def verify_log(
    node: LogSource,
    log: LogIdentity,
    witnesses: dict[str, WitnessKey],
    previous: Verified | None,
    *,
    full: bool,
    min_cosignatures: int,
    progress: Progress = lambda done, total: None,
) -> Outcome:
    """Run every check on the node's log; VerifyError names the first that fails.

    Order: the checkpoint's signature and cosignatures; against the last verification, no
    shrinking and no other root at the same size; the leaf audit (from the saved border, or
    from leaf 0 when full or first); then the node's consistency proof from the last size. The
    audit comes before the proof because an entry changed after it was logged spoils the proofs
    the node computes from it too: the audit names that cause, the proof could only say the
    histories differ.
    """
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
    border = start
    total = checkpoint.size - start.size
    progress(0, total)
    for first in range(start.size, checkpoint.size, PAGE):
        last = min(first + PAGE, checkpoint.size)
        border = audit(border, node.leaves(first, last))
        progress(border.size - start.size, total)
    check_audited_root(log.member, border, checkpoint)
    if previous is not None and checkpoint.size > previous.size:
        proof = node.consistency(previous.size, checkpoint.size)
        check_extends(log.member, previous.size, previous.root, checkpoint, proof)
    return Outcome(checkpoint, note_text, signed_by, len(witnesses), previous, start.size, border)


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
            f"  state     {state}",
            sep="\n",
        )


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
            log = log_identity(federation, member_id)
            path = state or default_state_path(log.origin)
            previous = load_state(path, log.origin)
            with progress_bar(hidden=as_json) as bar:
                task = bar.add_task(f"Auditing the leaves of {member_id}", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                outcome = verify_log(
                    NodeLog(client, url, member_id),
                    log,
                    witness_keys(federation, besides=member_id),
                    previous,
                    full=full,
                    min_cosignatures=min_cosignatures,
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
            ),
        )
    except UsageError as exc:
        report.fail(EXIT_USAGE, "usage", str(exc))
    except VerifyError as exc:
        code = EXIT_UNREACHABLE if exc.kind == "unreachable" else EXIT_FAILED
        report.fail(code, exc.kind, str(exc))
    report.success(member_id, log.origin, outcome, path, full)
