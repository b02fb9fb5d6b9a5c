"""`digitalstate staff`: add and manage the staff accounts of a service node (docs/staff.md).

The commands work on the node's database directly, so they work whether the node runs or not;
a change applies from the account's next page. A password is never an option on the command
line (where the shell history and the process list would keep it): it is read from
--password-file, or from standard input, or asked for without echo.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.orm import Session

from digitalstate.cli.common import CliError, node_database, now, one_line_errors
from digitalstate.identity.service import hash_password, normalise_email
from digitalstate.settings import load_node_settings
from digitalstate.staff.domain import (
    MAX_PASSWORD,
    ROLE_LABELS,
    ROLES,
    email_problem,
    name_problem,
    password_problem,
    role_problem,
)
from digitalstate.staff.models import StaffAccount
from digitalstate.staff.service import (
    StaffError,
    add_staff,
    disable_staff,
    enable_staff,
    list_staff,
    set_role,
)
from digitalstate.staff.sessions import SIGN_IN_PATH

app = typer.Typer(help="Add and manage the staff accounts of a service node.", no_args_is_help=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The node's node.toml.")]
EmailOption = Annotated[str, typer.Option("--email", help="The account's email address.")]
RoleOption = Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")]
T = TypeVar("T")
# A password and its line end, in UTF-8 at most four bytes a character: all that is read.
PASSWORD_BYTES = MAX_PASSWORD * 4 + 2


def _check(problem: str | None, what: str) -> None:
    if problem is not None:
        raise CliError(f"{what}: {problem}")


def _read_password(password_file: Path | None) -> str:
    """The password: the first line of password_file, of standard input, or typed unseen."""
    if password_file is not None:
        try:
            with password_file.open("rb") as handle:
                raw = handle.read(PASSWORD_BYTES)
        except OSError as exc:
            raise CliError(
                f"{password_file}: cannot be read ({exc.strerror}); give a readable file to "
                "--password-file"
            ) from exc
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            raise CliError(f"{password_file}: is not UTF-8 text; write the password in it") from exc
        return text.splitlines()[0] if text else ""
    if sys.stdin.isatty():
        typed: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return typed
    return sys.stdin.readline(PASSWORD_BYTES).rstrip("\r\n")


def _change(config: Path, step: Callable[[Session], T]) -> T:
    """Run step in a transaction on the node's database; a StaffError becomes one line."""
    try:
        with node_database(config) as run:
            return run(step)
    except StaffError as exc:
        raise CliError(
            f"{config}: {exc}; see 'digitalstate staff list --config {config}'"
        ) from None


def _as_json(account: StaffAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "name": account.display_name,
        "role": account.role,
        "created_at": account.created_at.isoformat(),
        "disabled_at": account.disabled_at.isoformat() if account.disabled_at else None,
    }


@app.command("add")
@one_line_errors
def add_command(
    config: ConfigOption,
    email: EmailOption,
    name: Annotated[str, typer.Option("--name", help="Their name, as pages show it.")],
    role: RoleOption,
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file",
            help="Read the password from the first line of this file (else standard input, "
            "or asked for without echo).",
        ),
    ] = None,
) -> None:
    """Add a staff account to a service node, with a role and a password."""
    settings = load_node_settings(config)
    if "service" not in settings.node.roles:
        raise CliError(
            f"{config}: {settings.node.id} has no service role, and staff accounts are for "
            'service nodes; add "service" to [node] roles'
        )
    email, name = normalise_email(email), name.strip()
    _check(email_problem(email), "--email")
    _check(name_problem(name), "--name")
    _check(role_problem(role), "--role")
    password = _read_password(password_file)
    problem = password_problem(
        password, min_length=settings.staff.password_min_length, email=email, name=name
    )
    if problem is not None:
        raise CliError(
            f"the password is too weak: {problem}; three or four random words make a strong one"
        )
    password_hash = hash_password(password)

    def add(session: Session) -> StaffAccount:
        return add_staff(
            session,
            email=email,
            display_name=name,
            role=role,
            password_hash=password_hash,
            now=now(),
        )

    account = _change(config, add)
    # Plain lines, not the console: a terminal may wrap them, but a script reads them whole.
    print(
        f"Added {account.email} ({account.display_name}), {ROLE_LABELS[account.role].lower()} "
        f"at {settings.node.id}: they sign in at {settings.node.base_url}{SIGN_IN_PATH}"
    )


@app.command("list")
@one_line_errors
def list_command(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """List the node's staff accounts, disabled ones too, by email address."""
    accounts = _change(config, lambda s: [_as_json(a) for a in list_staff(s)])
    if as_json:
        print(json.dumps(accounts))
        return
    if not accounts:
        print("No staff accounts")
        return
    for account in accounts:
        disabled = f"  disabled {account['disabled_at']}" if account["disabled_at"] else ""
        print(f"{account['email']}  {account['role']}  {account['name']}{disabled}")


@app.command("disable")
@one_line_errors
def disable_command(config: ConfigOption, email: EmailOption) -> None:
    """Stop an account signing in, and end its sessions now."""
    ended = _change(config, lambda s: disable_staff(s, email, now())[1])
    sessions = f"{ended} session{'s' if ended != 1 else ''} ended"
    print(f"Disabled {normalise_email(email)}: they can no longer sign in; {sessions}")


@app.command("enable")
@one_line_errors
def enable_command(config: ConfigOption, email: EmailOption) -> None:
    """Let a disabled account sign in again."""
    _change(config, lambda s: enable_staff(s, email))
    print(f"Enabled {normalise_email(email)}: they can sign in again")


@app.command("set-role")
@one_line_errors
def set_role_command(config: ConfigOption, email: EmailOption, role: RoleOption) -> None:
    """Give an account another role; it applies from their next page."""
    _check(role_problem(role), "--role")
    _change(config, lambda s: set_role(s, email, role))
    print(f"{normalise_email(email)} is now a {ROLE_LABELS[role].lower()}")
