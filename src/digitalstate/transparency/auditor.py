"""`digitalstate log verify`'s auditor: a node's transparency log audited from the outside.

The auditor trusts nothing the audited node says about itself: the federation document (which
names the node's log keys and the witnesses' keys) must verify under a trust-anchor key pinned
on the command line or in a node.toml; the checkpoint must be signed by the node's key; and the
auditor re-computes the signed root from the leaf hashes itself. What it verified last time (per
log: size, root, the compact-range border of the tree, when) is kept in a small JSON state
file, so the next run checks that the log only grew since, and audits the new leaves from that
border. Old leaves are re-read too, by the rolling audit the witnesses run (rolling_audit.py,
its cursor kept in the same file): up to --reaudit-leaves of them each run and, when a pass has
re-read every leaf of a tree verified before, the root is compared with that tree's, so an
entry changed, deleted or moved after it was verified is caught within ceil(size / N) runs,
and at every run on a log of at most N leaves.

The log is read through the one LogSource the witnesses use (log_source.py); the checks are
the pure functions of verify.py. cli/log.py holds the command's options and output.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import json
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from digitalstate.exchange.bounded import AnswerTooLargeError, parse_json, read_bounded
from digitalstate.federation.domain import (
    DocumentRefusedError,
    FederationDocument,
    verify_document,
)
from digitalstate.federation.keeper import FEDERATION_PATH, MAX_DOCUMENT_BYTES
from digitalstate.files import write_atomically
from digitalstate.keys import PublicKey
from digitalstate.problems import failure_reason, read_problem
from digitalstate.settings import SettingsError, load_node_settings
from digitalstate.transparency.log_source import HttpLogSource
from digitalstate.transparency.merkle import CompactRange
from digitalstate.transparency.note import Checkpoint
from digitalstate.transparency.rolling_audit import (
    AuditPass,
    LogSource,
    RollingAudit,
    SourceDamagedError,
    SourceError,
    SourceMalformedError,
    Span,
    fold_leaves,
    planned,
)
from digitalstate.transparency.verify import (
    LogIdentity,
    VerifyError,
    WitnessKey,
    check_audited_root,
    check_checkpoint,
    check_extends,
    cosigners,
    decode_border,
    encode_border,
)

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
    reaudit: AuditPass | None = None

    def cursor(self) -> AuditPass:
        """The re-audit pass to go on with."""
        return self.reaudit or AuditPass(self.size, self.root)

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
            reaudit=None if value.get("reaudit") is None else AuditPass.from_json(value["reaudit"]),
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


def _problem_detail(body: bytes, reason_phrase: str) -> tuple[str, str]:
    """The problem type slug and detail of an error answer (empty slug when it is not one)."""
    problem = read_problem(body)
    if problem is None:
        return "", body[:200].decode("utf-8", "replace").strip() or reason_phrase
    return problem.slug, problem.detail or problem.title or reason_phrase


class _Checked:
    """A LogSource whose failures are VerifyErrors, named as `log verify` reports them."""

    def __init__(self, source: LogSource, member: str) -> None:
        self.source = source
        self.member = member

    async def checkpoint(self) -> str:
        """The newest checkpoint; any failure to get it is unreachable, or malformed."""
        try:
            return await self.source.checkpoint()
        except SourceMalformedError as exc:
            raise VerifyError("malformed", f"{self.member}: {exc}") from exc
        except SourceError as exc:
            raise _unreachable(str(exc)) from exc

    async def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof; one the node cannot give is a damaged log, or a fork."""
        try:
            return await self.source.consistency(old, new)
        except SourceError as exc:
            if exc.slug == "log-damaged":
                message = f"{self.member}: its stored log is damaged: {exc.detail}"
                raise VerifyError("audit", message) from exc
            if exc.slug == "proof-out-of-range":
                raise VerifyError(
                    "fork",
                    f"{self.member}: cannot prove that its tree of size {new} extends the one "
                    f"of size {old} seen before: {exc.detail}",
                ) from exc
            raise self._failed(exc) from exc

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes; those its checkpoint covers and it cannot give fail the audit."""
        try:
            return await self.source.leaves(start, end)
        except SourceError as exc:
            covered = f"leaves {start} to {end - 1} its checkpoint covers: {exc.detail}"
            if exc.slug == "log-damaged":
                message = f"{self.member}: the stored log cannot give {covered}"
                raise VerifyError("audit", message) from exc
            if exc.slug == "proof-out-of-range":
                raise VerifyError(
                    "audit", f"{self.member}: the log does not hold {covered}"
                ) from exc
            raise self._failed(exc) from exc

    def _failed(self, exc: SourceError) -> VerifyError:
        if isinstance(exc, SourceMalformedError):
            return VerifyError("malformed", f"{self.member}: {exc}")
        if isinstance(exc, SourceDamagedError):
            return VerifyError("audit", f"{self.member}: {exc}")
        return _unreachable(str(exc))


@functools.cache
def default_tls() -> ssl.SSLContext:
    """httpx's default TLS context, its CA bundle loaded once per process rather than at each
    fetch (tens of milliseconds of CPU; the auditor runs in-process in tests, many times)."""
    return httpx.create_ssl_context()


def fetch_federation(
    source: str, anchor_key: PublicKey, *, at: datetime, answer_seconds: float
) -> FederationDocument:
    """The federation document at source, verified under the pinned trust-anchor key at `at`.

    Read as the node reads it: the whole exchange within answer_seconds, headers included,
    and at most federation/keeper.MAX_DOCUMENT_BYTES of it (as decompressed, a step at a time).
    """
    url = source + FEDERATION_PATH
    status, reason, body = asyncio.run(_get_document(url, answer_seconds))
    if status != 200:
        _, detail = _problem_detail(body, reason)
        raise _unreachable(f"{url} answered {status}: {detail}")
    try:
        envelope = parse_json(body)
    except ValueError as exc:
        raise UsageError(f"{url} did not answer a federation document (not JSON)") from exc
    try:
        return verify_document(envelope, anchor_key, now=at)
    except DocumentRefusedError as exc:
        raise UsageError(
            f"the federation document from {url} is refused ({exc.reason}: {exc.detail}); "
            "check --anchor-key, or fetch the document from the trust anchor with --anchor URL"
        ) from exc


def _tls_for(url: str) -> ssl.SSLContext | bool:
    # aiohttp's default for a plain-HTTP address (its errors then say "ssl:default", not the
    # context's repr); httpx's CA bundle for HTTPS, as before.
    return default_tls() if url.startswith("https://") else True


async def _get_document(url: str, seconds: float) -> tuple[int, str, bytes]:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as http,
            http.get(url, allow_redirects=False, ssl=_tls_for(url)) as answer,
        ):
            body = await read_bounded(answer, MAX_DOCUMENT_BYTES)
            return answer.status, answer.reason or "", body
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise _unreachable(f"{url} did not answer: {failure_reason(exc)}") from exc
    except AnswerTooLargeError as exc:
        raise _unreachable(f"{url} {exc}") from exc


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
    reaudit: AuditPass
    reaudited: tuple[Span, ...] = ()
    reaudit_leaves: int = DEFAULT_REAUDIT_LEAVES

    @property
    def audited_all(self) -> bool:
        """True when every leaf was audited from 0 in this run (so none was re-audited)."""
        return self.audited_from == 0


Progress = Callable[[int, int], None]
"""Told (leaves read, leaves to read) as the leaf audit and the re-audit go."""


async def verify_log(
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
    (rolling_audit.RollingAudit; not when every leaf was just audited); then the node's
    consistency proof from the last size. The audits come before the proof because an entry
    changed after it was logged spoils the proofs the node computes from it too: the audit
    names that cause, the proof could only say the histories differ.
    """
    when = at or datetime.now(UTC).replace(microsecond=0)
    node = _Checked(node, log.member)
    note_text = await node.checkpoint()
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
    total = checkpoint.size - start.size + planned(cursor, checkpoint, budget)
    border = start
    progress(0, total)
    async for _, border in fold_leaves(node, log.member, start, start.size, checkpoint.size):
        progress(border.size - start.size, total)
    check_audited_root(log.member, border, checkpoint)
    spans: tuple[Span, ...] = ()
    if cursor is None or start.size == 0:
        cursor = AuditPass.covering(border, when)  # every leaf was audited just now
    else:
        done = checkpoint.size - start.size
        rolling = RollingAudit(log.member, log.origin, cursor)
        try:
            cursor = await rolling.run(
                node, checkpoint, budget, when, progress=lambda read: progress(done + read, total)
            )
        except VerifyError as exc:
            if not rolling.cursor.complete:
                raise
            size = rolling.cursor.size
            raise VerifyError(
                exc.kind,
                f"{exc} (found by the re-audit of leaves 0 to {size - 1}, against the verified "
                f"root of size {size})",
            ) from exc
        spans = tuple(rolling.spans)
    if previous is not None and checkpoint.size > previous.size:
        proof = await node.consistency(previous.size, checkpoint.size)
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


async def audit_node(
    url: str,
    log: LogIdentity,
    witnesses: dict[str, WitnessKey],
    previous: Verified | None,
    *,
    answer_seconds: float,
    full: bool,
    min_cosignatures: int,
    reaudit_leaves: int = DEFAULT_REAUDIT_LEAVES,
    progress: Progress = lambda done, total: None,
    at: datetime | None = None,
) -> Outcome:
    """verify_log over HTTP: the node at url read through its public log routes, waiting up to
    answer_seconds for each answer."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=answer_seconds)) as http:
        return await verify_log(
            HttpLogSource(http, url),
            log,
            witnesses,
            previous,
            full=full,
            min_cosignatures=min_cosignatures,
            reaudit_leaves=reaudit_leaves,
            progress=progress,
            at=at,
        )


# --- the trust root ------------------------------------------------------------------------


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
