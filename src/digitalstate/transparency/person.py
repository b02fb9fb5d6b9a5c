"""Checking the entries a node sends the charter about one person. Pure: the charter fetches
(or reads its own log), this decides, entry by entry, what the person may trust.

A node answers the charter's POST /exchange/v1/access-records with its newest cosigned
checkpoint (else its newest) and every entry about the pseudonym asked, each with its leaf index
and an inclusion proof against that checkpoint once it is in it. An entry is:

- VERIFIED when the checkpoint is that node's (its origin, signed with a key the federation
  lists for it), at least one other member's witness cosignature of it verifies, and the
  entry's exact bytes are in the tree the checkpoint states (RFC 9162 inclusion proof);
- PENDING ("not yet verified") when it is not in a checkpoint yet, or its checkpoint is not yet
  cosigned: the normal state for the few seconds after an access;
- FAILED when a signature or proof that is there does not check: the log, or the answer, was
  changed after the fact; or when an entry the checkpoint covers comes without its proof,
  with or without the node's "error" saying why (its stored log is damaged).

An entry about another pseudonym than the one asked is not the person's to see: it is dropped
and counted as a problem of that node's answer. An Activity gathers every node's checked
answer about the person, and what could not be had (disclosure.py fills it in).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from digitalstate.federation.domain import FederationDocument, member_name
from digitalstate.transparency.entries import EntryError, LogEntry
from digitalstate.transparency.merkle import ProofError
from digitalstate.transparency.note import Checkpoint, SignedNote
from digitalstate.transparency.verify import (
    VerifyError,
    check_checkpoint,
    cosigners,
    log_identity,
    verify_entry,
    witness_keys,
)
from digitalstate.web.i18n import _, ngettext

VERIFIED = "verified"
PENDING = "not yet verified"
FAILED = "failed verification"
STATUSES = (VERIFIED, PENDING, FAILED)
"""An entry's verification status, as the page and the downloads name it."""
_RANK = {VERIFIED: 0, PENDING: 1, FAILED: 2}
MAX_ERROR_CHARS = 300
"""The most of a node's "error" for an entry that the person is shown."""


def worst(statuses: Sequence[str]) -> str:
    """The least trustworthy of several statuses (VERIFIED for none)."""
    return max(statuses, key=_RANK.__getitem__, default=VERIFIED)


@dataclass(frozen=True)
class CheckedEntry:
    """One entry as a node sent it, and what checking it found."""

    log: str
    """The member whose log holds the entry."""
    text: str
    """The entry's exact canonical JSON, as hashed into the log."""
    entry: LogEntry
    leaf_index: int | None
    proof: tuple[str, ...] | None
    """The inclusion proof (base64 hashes) against checkpoint, when the node gave one."""
    status: str
    detail: str
    """Why the entry has its status, in people's words."""
    checkpoint: str | None
    """The signed note (with cosignatures) the proof is against."""
    checkpoint_size: int | None
    witnesses: tuple[str, ...] = ()
    """The members whose cosignature of the checkpoint verifies."""


@dataclass
class LogCheck:
    """What one node's answer held: its entries, checked, and what was wrong with the answer."""

    member: str
    entries: list[CheckedEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _name(federation: FederationDocument, member_id: str) -> str:
    member = federation.member(member_id)
    return member.name if member is not None else member_id


def _names(federation: FederationDocument, members: Sequence[str]) -> str:
    names = [_name(federation, m) for m in members]
    if len(names) == 1:
        return names[0]
    return _("%(first)s and %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


@dataclass(frozen=True)
class _Verdict:
    """What the checkpoint of an answer allows entries to become."""

    note: SignedNote | None
    checkpoint: Checkpoint | None
    witnesses: tuple[str, ...]
    failure: str | None  # the checkpoint itself failed: every entry fails with this


def _verdict(
    federation: FederationDocument, member: str, note_text: str | None, at: datetime | None
) -> _Verdict:
    if note_text is None:
        return _Verdict(None, None, (), None)
    name = _name(federation, member)
    try:
        note, checkpoint = check_checkpoint(note_text, log_identity(federation, member, at))
    except VerifyError as exc:
        return _Verdict(
            None,
            None,
            (),
            _(
                "%(name)s's signed checkpoint does not check (%(error)s): the log may have been "
                "tampered with."
            )
            % {"name": name, "error": exc},
        )
    found = cosigners(note, witness_keys(federation, besides=member, at=at))
    return _Verdict(note, checkpoint, tuple(found), None)


def _entry_status(
    federation: FederationDocument,
    member: str,
    verdict: _Verdict,
    entry: LogEntry,
    data: bytes,
    index: int | None,
    proof: list[bytes] | None,
    error: str | None = None,
) -> tuple[str, str]:
    name = _name(federation, member)
    if verdict.failure is not None:
        return FAILED, verdict.failure
    if entry.holder != member:
        return FAILED, _(
            "The entry says %(holder)s recorded it, but it came from %(name)s's log."
        ) % {"holder": _name(federation, entry.holder), "name": name}
    checkpoint = verdict.checkpoint
    if checkpoint is None:
        if proof is not None:
            return FAILED, _(
                "%(name)s sent a proof for this entry without a checkpoint to check."
            ) % {"name": name}
        return PENDING, _(
            "Recorded moments ago: %(name)s's log has no signed checkpoint yet. Look again in a "
            "few seconds."
        ) % {"name": name}
    if index is None or index >= checkpoint.size:
        if proof is not None:
            return FAILED, _(
                "%(name)s sent a proof for an entry that is not in its checkpoint."
            ) % {"name": name}
        return PENDING, _(
            "Recorded moments ago and not yet in %(name)s's signed checkpoint. Look again in a "
            "few seconds."
        ) % {"name": name}
    if proof is None:
        if error is not None:
            return FAILED, _(
                "%(name)s could not prove that this entry is in its signed checkpoint of "
                "%(entries)s. It says: %(error)s"
            ) % {"name": name, "entries": _count(checkpoint.size), "error": error}
        return FAILED, _(
            "%(name)s gave no proof that this entry is in its signed checkpoint of %(entries)s."
        ) % {"name": name, "entries": _count(checkpoint.size)}
    try:
        verify_entry(data, index, proof, checkpoint)
    except ProofError:
        return FAILED, _(
            "The proof that this entry is in %(name)s's log does not check against the log's "
            "signed checkpoint: the entry or the log was changed after it was recorded."
        ) % {"name": name}
    if not verdict.witnesses:
        return PENDING, _(
            "In %(name)s's signed checkpoint, which no other node has confirmed yet. Look again "
            "in a few seconds."
        ) % {"name": name}
    return VERIFIED, _(
        "Checked against %(name)s's signed checkpoint of %(entries)s, confirmed by %(witnesses)s."
    ) % {
        "name": name,
        "entries": _count(checkpoint.size),
        "witnesses": _names(federation, verdict.witnesses),
    }


def _proof(value: Any) -> list[bytes] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("the proof is not a list")
    try:
        return [base64.b64decode(str(h), validate=True) for h in value]
    except binascii.Error as exc:
        raise ValueError("a proof hash is not base64") from exc


def _error(value: Any) -> str | None:
    """A node's reason for sending no proof, as the person may read it (cut short)."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def check_answer(
    federation: FederationDocument,
    member: str,
    answer: Any,
    pseudonym: str,
    at: datetime | None = None,
) -> LogCheck:
    """Check member's answer to the question "what do you hold about pseudonym?".

    With at, only keys valid at that time (now, for a page being shown) sign and cosign.
    """
    checked = LogCheck(member)
    name = _name(federation, member)
    if (
        not isinstance(answer, Mapping)
        or not isinstance(answer.get("entries"), list)
        or not isinstance(answer.get("checkpoint"), str | None)
    ):
        checked.problems.append(
            _("%(name)s's answer could not be read: it is not a log answer.") % {"name": name}
        )
        return checked
    note_text = answer["checkpoint"]
    verdict = _verdict(federation, member, note_text, at)
    unreadable = strangers = 0
    for item in answer["entries"]:
        try:
            text = str(item["entry"])
            data = text.encode()
            entry = LogEntry.decode(data)
            raw_index = item.get("leaf_index")
            index = None if raw_index is None else int(raw_index)
            proof = _proof(item.get("proof"))
            error = _error(item.get("error"))
        except (EntryError, KeyError, TypeError, ValueError, AttributeError):
            unreadable += 1
            continue
        if entry.pseudonym != pseudonym:
            strangers += 1
            continue
        status, detail = _entry_status(
            federation, member, verdict, entry, data, index, proof, error
        )
        checkpoint = verdict.checkpoint
        checked.entries.append(
            CheckedEntry(
                log=member,
                text=text,
                entry=entry,
                leaf_index=index,
                proof=None if proof is None else tuple(str(h) for h in item["proof"]),
                status=status,
                detail=detail,
                checkpoint=note_text,
                checkpoint_size=checkpoint.size if checkpoint is not None else None,
                witnesses=verdict.witnesses,
            )
        )
    if unreadable:
        checked.problems.append(
            _("%(name)s sent %(entries)s that could not be read as log entries.")
            % {"name": name, "entries": _count(unreadable)}
        )
    if strangers:
        checked.problems.append(
            _("%(name)s sent %(entries)s about someone else; they are not shown.")
            % {"name": name, "entries": _count(strangers)}
        )
    return checked


def _count(n: int) -> str:
    return ngettext("%(num)d entry", "%(num)d entries", n) % {"num": n}


@dataclass
class Activity:
    """Every checked entry about the person (newest first) and what could not be had."""

    charter: str
    """The charter's member id: its log holds the relays of basis reads."""
    asked: list[str] = field(default_factory=list)
    """The members whose logs were asked (or read), in federation order."""
    targets: dict[str, str] = field(default_factory=dict)
    """Pseudonym -> the register it is the person's pseudonym at (or the charter, for its own)."""
    entries: list[CheckedEntry] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    """The members that could not be asked: no answer came."""
    unchecked: dict[str, str] = field(default_factory=dict)
    """Member -> why its log could not be checked: it answered, but with a problem."""
    left: list[str] = field(default_factory=list)
    """The registers that have left the federation (revoked): not asked, nothing verifiable."""
    problems: list[str] = field(default_factory=list)
    """What was wrong with the answers, in people's words (shown as failures)."""

    def cannot_check(self, federation: FederationDocument, member: str, why: str) -> None:
        """Note that member's log could not be checked, and say so on the page."""
        self.unchecked[member] = why
        self.problems.append(
            f"{member_name(federation, member)}'s log could not be checked: {why}."
        )

    def add(self, check: LogCheck) -> None:
        """Take in one answer's checked entries and problems."""
        self.entries.extend(check.entries)
        self.problems.extend(check.problems)
