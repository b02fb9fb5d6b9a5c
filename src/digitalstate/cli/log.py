"""`digitalstate log verify`: audit a node's transparency log from the outside.

The options and the output; the auditing is digitalstate.transparency.auditor's (the state
kept between runs, the trust root, the checks in order), over the rolling audit and the log
source that the witnesses use too. Exit codes: 0 verified, 1 a check failed, 2 a usage or
trust-root problem, 3 unreachable.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from digitalstate.cli.common import now, progress_bar
from digitalstate.transparency.auditor import (
    DEFAULT_REAUDIT_LEAVES,
    Outcome,
    UsageError,
    Verified,
    audit_node,
    base_url,
    default_state_path,
    fetch_federation,
    find_member,
    load_state,
    save_state,
    trust_root,
)
from digitalstate.transparency.verify import VerifyError, log_identity, witness_keys

app = typer.Typer(help="Audit a node's transparency log from the outside.", no_args_is_help=True)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


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
        federation = fetch_federation(root.source, root.key, at=now(), answer_seconds=timeout)
        member_id = find_member(federation, url, member)
        checked_at = now()
        log = log_identity(federation, member_id, checked_at)
        path = state or default_state_path(log.origin)
        previous = load_state(path, log.origin)
        with progress_bar(hidden=as_json) as bar:
            task = bar.add_task(f"Auditing the leaves of {member_id}", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            outcome = asyncio.run(
                audit_node(
                    url,
                    log,
                    witness_keys(federation, besides=member_id, at=checked_at),
                    previous,
                    answer_seconds=timeout,
                    full=full,
                    min_cosignatures=min_cosignatures,
                    reaudit_leaves=reaudit_leaves,
                    progress=advance,
                )
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
