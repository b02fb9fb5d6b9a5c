"""`digitalstate staff add|list|disable|enable|set-role` on a service node's database.

On SQLite and PostgreSQL, in-process (Typer's CliRunner): a password comes from a file or
standard input, never the command line, and is never printed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.identity.service import verify_password
from digitalstate.staff.service import find_staff
from digitalstate.web.session_store import KIND_STAFF, SqlSessionStore
from support.cli import fails, succeeds
from support.nodes import node_settings

PASSWORD = "tangerine otter copper lantern"
JO = "jo@pensions.example.org"


def make_config(directory: Path, database_url: str, roles: list[str]) -> Path:
    """A node.toml of liverpool-pensions with roles, on database_url."""
    settings = node_settings(directory, "liverpool-pensions", database_url, roles=roles, port=8105)
    assert settings.config_path is not None
    return settings.config_path


@pytest.fixture
def config(tmp_path: Path, migrated_database_url: str) -> Path:
    return make_config(tmp_path / "node", migrated_database_url, ["register", "service"])


def add_jo(config: Path, role: str = "caseworker") -> str:
    return succeeds(
        "staff", "add", "--config", config, "--email", JO, "--name", "Jo Bloggs", "--role", role,
        input=PASSWORD + "\n",
    )  # fmt: skip


def test_add_reads_the_password_from_standard_input_and_never_prints_it(
    config: Path, sessions: sessionmaker[Session]
) -> None:
    said = add_jo(config)

    assert said.strip() == (
        f"Added {JO} (Jo Bloggs), caseworker at liverpool-pensions: they sign in at "
        "http://127.0.0.1:8105/staff/sign-in"
    )
    with sessions.begin() as db:
        account = find_staff(db, JO)
        assert account is not None and account.role == "caseworker"
        assert verify_password(account.password_hash, PASSWORD)


def test_add_reads_the_first_line_of_a_password_file(
    config: Path, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\nignored second line\n")

    said = succeeds(
        "staff", "add", "-c", config, "--email", "Sam@Pensions.example.org", "--name", "Sam",
        "--role", "manager", "--password-file", secret,
    )  # fmt: skip

    assert PASSWORD not in said
    with sessions.begin() as db:
        account = find_staff(db, "sam@pensions.example.org")
        assert account is not None and account.role == "manager"
        assert verify_password(account.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short one", "the password has 9 characters; use at least 12"),
        ("Password1234", "the password is one of the first that guessers try"),
        ("jo bloggs and more", "the password holds the account's name"),
        ("", "the password has 0 characters; use at least 12"),
    ],
)
def test_add_refuses_a_weak_password_in_one_line(
    config: Path, sessions: sessionmaker[Session], password: str, why: str
) -> None:
    line = fails(
        "staff", "add", "-c", config, "--email", JO, "--name", "Jo Bloggs", "--role", "manager",
        input=password + "\n",
    )  # fmt: skip

    assert line == (
        f"digitalstate: error: the password is too weak: {why}; "
        "three or four random words make a strong one"
    )
    with sessions.begin() as db:
        assert find_staff(db, JO) is None


def test_the_shortest_password_is_a_setting(
    tmp_path: Path, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path / "node", migrated_database_url, ["service"])
    monkeypatch.setenv("DIGITALSTATE_STAFF__PASSWORD_MIN_LENGTH", "40")
    assert "use at least 40" in fails(
        "staff", "add", "-c", config, "--email", JO, "--name", "Jo", "--role", "manager",
        input=PASSWORD + "\n",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["--email", "jo", "--name", "Jo", "--role", "manager"], "--email: 'jo' is not an email"),
        (["--email", JO, "--name", " ", "--role", "manager"], "--name: the name is empty"),
        (["--email", JO, "--name", "Jo", "--role", "boss"], "--role: 'boss' is not a role; use"),
    ],
)
def test_add_names_the_option_at_fault(config: Path, args: list[str], fix: str) -> None:
    line = fails("staff", "add", "-c", config, *args, input=PASSWORD + "\n")
    assert line.startswith("digitalstate: error: " + fix)


def test_add_refuses_an_email_address_that_has_an_account(config: Path) -> None:
    add_jo(config)
    line = fails(
        "staff", "add", "-c", config, "--email", JO.upper(), "--name", "Jo", "--role", "manager",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert line == (
        f"digitalstate: error: {config}: a staff account with the email address {JO} exists "
        f"already; see 'digitalstate staff list --config {config}'"
    )


def test_add_refuses_a_node_without_the_service_role(
    tmp_path: Path, migrated_database_url: str
) -> None:
    config = make_config(tmp_path / "register", migrated_database_url, ["register"])
    line = fails(
        "staff", "add", "-c", config, "--email", JO, "--name", "Jo", "--role", "manager",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert "has no service role" in line and 'add "service" to [node] roles' in line


def test_add_names_a_password_file_it_cannot_read(config: Path, tmp_path: Path) -> None:
    line = fails(
        "staff", "add", "-c", config, "--email", JO, "--name", "Jo", "--role", "manager",
        "--password-file", tmp_path / "missing.txt",
    )  # fmt: skip
    assert f"{tmp_path / 'missing.txt'}: cannot be read" in line


def test_list_shows_every_account_in_lines_or_json(config: Path) -> None:
    assert succeeds("staff", "list", "-c", config).strip() == "No staff accounts"
    add_jo(config)
    succeeds("staff", "disable", "-c", config, "--email", JO)

    lines = succeeds("staff", "list", "-c", config).strip().splitlines()
    listed = json.loads(succeeds("staff", "list", "-c", config, "--json"))

    assert len(lines) == 1
    assert lines[0].startswith(f"{JO}  caseworker  Jo Bloggs  disabled ")
    assert [(a["email"], a["name"], a["role"]) for a in listed] == [(JO, "Jo Bloggs", "caseworker")]
    assert listed[0]["disabled_at"] is not None and listed[0]["created_at"]


def test_disable_ends_the_accounts_sessions_and_enable_lets_it_back(
    config: Path, sessions: sessionmaker[Session]
) -> None:
    add_jo(config)
    with sessions.begin() as db:
        account = find_staff(db, JO)
        assert account is not None
        jo = account.id
    hour = timedelta(hours=1)
    store = SqlSessionStore(sessions, idle=hour, absolute=hour, kinds={KIND_STAFF})
    session_id = store.start(KIND_STAFF, jo)

    said = succeeds("staff", "disable", "-c", config, "--email", JO)

    assert said.strip() == f"Disabled {JO}: they can no longer sign in; 1 session ended"
    assert store.find(session_id) is None
    assert succeeds("staff", "enable", "-c", config, "--email", JO).strip() == (
        f"Enabled {JO}: they can sign in again"
    )
    with sessions.begin() as db:
        found = find_staff(db, JO)
        assert found is not None and found.disabled_at is None


def test_set_role_changes_the_role(config: Path, sessions: sessionmaker[Session]) -> None:
    add_jo(config)
    said = succeeds("staff", "set-role", "-c", config, "--email", JO, "--role", "manager")
    assert said.strip() == f"{JO} is now a manager"
    with sessions.begin() as db:
        found = find_staff(db, JO)
        assert found is not None and found.role == "manager"
    assert "--role: 'chief' is not a role" in fails(
        "staff", "set-role", "-c", config, "--email", JO, "--role", "chief"
    )


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_an_unknown_email_address_is_one_line_naming_the_list(config: Path, command: str) -> None:
    line = fails("staff", command, "-c", config, "--email", "nob@example.org")
    assert line == (
        f"digitalstate: error: {config}: no staff account has the email address nob@example.org; "
        f"see 'digitalstate staff list --config {config}'"
    )


def test_a_database_not_migrated_is_one_line_naming_the_upgrade(tmp_path: Path) -> None:
    config = make_config(tmp_path / "node", f"sqlite:///{tmp_path / 'empty.db'}", ["service"])
    line = fails("staff", "list", "-c", config)
    assert f"run 'digitalstate db upgrade --config {config}'" in line
