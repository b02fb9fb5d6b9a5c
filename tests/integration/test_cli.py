"""The `digitalstate` command: setting up an anchor and nodes, and every bad input in one line."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from digitalstate.cli.node import SUPERVISOR_ENV, WORKER_APP_ENV, WORKER_CONFIG_ENV
from digitalstate.keys import KeyPair
from digitalstate.settings import load_node_settings
from digitalstate.storage import migrate
from support.cli import fails, succeeds

PUBLIC_KEY = re.compile(r"^[A-Za-z0-9+/]{43}=$", re.MULTILINE)
SOME_ANCHOR_KEY = KeyPair.from_seed(bytes(range(200, 232))).public.b64
CONSOLE_SCRIPT = Path(sys.executable).with_name("digitalstate")


@dataclass(frozen=True)
class Anchor:
    directory: Path
    public_key: str

    @property
    def config(self) -> Path:
        return self.directory / "anchor.toml"


def init_anchor(directory: Path, database_url: str = "") -> Anchor:
    args: list[object] = ["federation", "init", "--dir", directory, "--name", "Test federation"]
    if database_url:
        args += ["--database-url", database_url]
    output = succeeds(*args)
    keys = PUBLIC_KEY.findall(output)
    assert len(keys) == 1, output
    return Anchor(directory, keys[0])


def init_node(
    directory: Path,
    member_id: str = "swansea-motoring",
    anchor_key: str = SOME_ANCHOR_KEY,
    *extra: object,
) -> Path:
    succeeds(
        "node",
        "init",
        "--id",
        member_id,
        "--roles",
        "register,service",
        "--anchor-key",
        anchor_key,
        "--dir",
        directory,
        *extra,
    )
    return directory / "node.toml"


def show_json(anchor: Anchor) -> dict[str, object]:
    document: dict[str, object] = json.loads(
        succeeds("federation", "show", "--json", "-c", anchor.config)
    )
    return document


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def anchor(tmp_path: Path, database_url: str) -> Anchor:
    """A trust anchor made with `federation init`, on SQLite and on PostgreSQL."""
    return init_anchor(tmp_path / "anchor", database_url)


@pytest.fixture
def node_config(tmp_path: Path, anchor: Anchor) -> Path:
    return init_node(tmp_path / "swansea", "swansea-motoring", anchor.public_key)


# federation init, add-member, show, revoke-member ------------------------------------------


def test_federation_init_makes_a_config_a_private_key_and_the_first_document(
    anchor: Anchor, database_url: str
) -> None:
    assert anchor.config.is_file()
    key_file = anchor.directory / "anchor.key"
    assert mode(key_file) == 0o600
    assert KeyPair.load(key_file).public.b64 == anchor.public_key
    assert database_url in anchor.config.read_text()

    document = show_json(anchor)
    assert document["version"] == 1
    assert document["federation"] == "Test federation"
    assert document["members"] == []
    assert document["purposes"]


def test_federation_init_without_a_database_url_keeps_sqlite_in_its_directory(
    tmp_path: Path,
) -> None:
    anchor = init_anchor(tmp_path / "anchor")

    assert (anchor.directory / "anchor.db").is_file()
    assert "[database]" not in anchor.config.read_text()
    assert show_json(anchor)["version"] == 1


def test_federation_init_refuses_a_directory_that_already_holds_an_anchor(
    tmp_path: Path,
) -> None:
    anchor = init_anchor(tmp_path / "anchor")
    key_before = (anchor.directory / "anchor.key").read_bytes()

    line = fails("federation", "init", "--dir", anchor.directory)

    assert str(anchor.config) in line
    assert "already exists" in line
    assert (anchor.directory / "anchor.key").read_bytes() == key_before


def test_add_member_reads_the_node_config_and_issues_version_two(
    anchor: Anchor, node_config: Path
) -> None:
    output = succeeds("federation", "add-member", "-c", anchor.config, "--node-config", node_config)

    assert "Added swansea-motoring" in output
    assert "version 2" in output
    document = show_json(anchor)
    assert document["version"] == 2
    [member] = document["members"]  # type: ignore[misc]
    node_key = KeyPair.load(node_config.parent / "node.key").public.b64
    assert member["id"] == "swansea-motoring"
    assert member["roles"] == ["register", "service"]
    assert member["base_url"] == "http://127.0.0.1:8101"
    assert [k["public_key"] for k in member["keys"]] == [node_key]


def test_show_prints_the_federation_its_members_and_catalogue_counts(
    anchor: Anchor, node_config: Path
) -> None:
    succeeds("federation", "add-member", "-c", anchor.config, "--node-config", node_config)

    output = succeeds("federation", "show", "-c", anchor.config)

    assert "Test federation" in output
    assert "version 2" in output
    assert "swansea-motoring" in output  # whole, never cut short by a narrow terminal
    assert "active" in output
    assert re.search(r"\d+ purposes, \d+ statutory bases, \d+ fields", output)


def test_revoke_member_issues_a_version_with_the_member_revoked(
    anchor: Anchor, node_config: Path
) -> None:
    succeeds("federation", "add-member", "-c", anchor.config, "--node-config", node_config)

    output = succeeds(
        "federation", "revoke-member", "-c", anchor.config, "--id", "swansea-motoring"
    )

    assert "Revoked swansea-motoring" in output
    document = show_json(anchor)
    assert document["version"] == 3
    [member] = document["members"]  # type: ignore[misc]
    assert member["revoked_at"] is not None
    assert "revoked" in succeeds("federation", "show", "-c", anchor.config)


def test_adding_a_member_twice_fails_in_one_line_and_changes_nothing(
    anchor: Anchor, node_config: Path
) -> None:
    succeeds("federation", "add-member", "-c", anchor.config, "--node-config", node_config)

    line = fails("federation", "add-member", "-c", anchor.config, "--node-config", node_config)

    assert "swansea-motoring is already a member" in line
    assert show_json(anchor)["version"] == 2


def test_revoking_a_stranger_fails_in_one_line(anchor: Anchor) -> None:
    line = fails("federation", "revoke-member", "-c", anchor.config, "--id", "nobody-here")
    assert "nobody-here is not a member" in line
    assert show_json(anchor)["version"] == 1


def test_add_member_without_enough_details_names_the_missing_flags(tmp_path: Path) -> None:
    anchor = init_anchor(tmp_path / "anchor")
    line = fails("federation", "add-member", "-c", anchor.config, "--id", "swansea-motoring")
    assert "--name, --roles, --base-url, --public-key" in line
    assert "--node-config" in line


def test_add_member_refuses_unknown_roles(tmp_path: Path) -> None:
    anchor = init_anchor(tmp_path / "anchor")
    line = fails(
        "federation",
        "add-member",
        "-c",
        anchor.config,
        "--id",
        "swansea-motoring",
        "--name",
        "Swansea",
        "--roles",
        "register,king",
        "--base-url",
        "http://127.0.0.1:8101",
        "--public-key",
        SOME_ANCHOR_KEY,
    )
    assert "--roles: king" in line
    assert "charter, register, service, opendata" in line


def test_an_anchor_key_open_to_others_is_refused_with_the_chmod_fix(tmp_path: Path) -> None:
    anchor = init_anchor(tmp_path / "anchor")
    key_file = anchor.directory / "anchor.key"
    key_file.chmod(0o644)

    line = fails("federation", "revoke-member", "-c", anchor.config, "--id", "someone")

    assert str(key_file) in line
    assert "mode 644" in line
    assert f"chmod 600 {key_file}" in line


def test_federation_commands_without_a_config_name_the_file_and_the_init_command(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere" / "anchor.toml"
    line = fails("federation", "show", "-c", missing)
    assert str(missing) in line
    assert "digitalstate federation init" in line


# node init --------------------------------------------------------------------------------


def test_node_init_makes_node_toml_and_a_private_key_only_its_owner_can_read(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "swansea"
    output = succeeds(
        "node",
        "init",
        "--id",
        "swansea-motoring",
        "--name",
        "Swansea motoring",
        "--roles",
        "register, service",
        "--anchor-key",
        SOME_ANCHOR_KEY,
        "--dir",
        directory,
        "--port",
        "8123",
    )

    assert mode(directory / "node.key") == 0o600
    assert PUBLIC_KEY.findall(output) == [KeyPair.load(directory / "node.key").public.b64]
    settings = load_node_settings(directory / "node.toml")
    assert settings.node.id == "swansea-motoring"
    assert settings.node.name == "Swansea motoring"
    assert settings.node.roles == ["register", "service"]
    assert settings.node.port == 8123
    assert settings.node.base_url == "http://127.0.0.1:8123"
    assert settings.federation.anchor_public_key == SOME_ANCHOR_KEY
    assert settings.database_url == f"sqlite:///{directory.resolve() / 'node.db'}"


def test_node_init_twice_refuses_to_overwrite_the_node(tmp_path: Path) -> None:
    config = init_node(tmp_path / "swansea")
    config_before = config.read_bytes()
    key_before = (config.parent / "node.key").read_bytes()

    line = fails(
        "node",
        "init",
        "--id",
        "swansea-motoring",
        "--roles",
        "service",
        "--anchor-key",
        SOME_ANCHOR_KEY,
        "--dir",
        config.parent,
    )

    assert str(config) in line
    assert "already exists" in line
    assert config.read_bytes() == config_before
    assert (config.parent / "node.key").read_bytes() == key_before


def test_node_init_refuses_to_replace_a_key_left_behind(tmp_path: Path) -> None:
    directory = tmp_path / "swansea"
    directory.mkdir()
    (directory / "node.key").write_text("an older identity\n")

    line = fails(
        "node", "init", "--id", "swansea-motoring", "--roles", "service", "--anchor-key",
        SOME_ANCHOR_KEY, "--dir", directory,
    )  # fmt: skip

    assert str(directory / "node.key") in line
    assert (directory / "node.key").read_text() == "an older identity\n"
    assert not (directory / "node.toml").exists()


@pytest.mark.parametrize("roles", ["bogus", "register,king", " , "])
def test_node_init_refuses_roles_outside_the_list_and_writes_nothing(
    tmp_path: Path, roles: str
) -> None:
    directory = tmp_path / "swansea"
    line = fails(
        "node", "init", "--id", "swansea-motoring", "--roles", roles, "--anchor-key",
        SOME_ANCHOR_KEY, "--dir", directory,
    )  # fmt: skip

    assert line.startswith("digitalstate: error: --roles: ")
    assert "charter, register, service, opendata" in line
    assert not directory.exists()


def test_node_init_refuses_an_anchor_key_that_is_not_an_ed25519_key(tmp_path: Path) -> None:
    line = fails(
        "node", "init", "--id", "swansea-motoring", "--roles", "service", "--anchor-key",
        "bm90IGEga2V5", "--dir", tmp_path / "swansea",
    )  # fmt: skip
    assert line.startswith("digitalstate: error: --anchor-key: ")
    assert "32 bytes" in line


def test_node_init_refuses_a_malformed_member_id_and_writes_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "swansea"
    line = fails(
        "node", "init", "--id", "Swansea_Motoring", "--roles", "service", "--anchor-key",
        SOME_ANCHOR_KEY, "--dir", directory,
    )  # fmt: skip
    assert "[node] id" in line
    assert "'Swansea_Motoring'" in line
    assert not directory.exists()


# settings files: every bad input in one line naming the file, the key and the fix ---------


def _replace_line(config: Path, pattern: str, replacement: str) -> None:
    text = config.read_text()
    changed = re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert changed != text, f"{pattern!r} not found in {config}"
    config.write_text(changed)


@pytest.fixture
def plain_node(tmp_path: Path) -> Path:
    """A node.toml on SQLite whose anchor need not exist."""
    return init_node(tmp_path / "swansea")


def test_a_missing_config_file_is_named_with_the_command_that_makes_one(tmp_path: Path) -> None:
    missing = tmp_path / "node.toml"
    line = fails("db", "current", "--config", missing)
    assert line == (
        f"digitalstate: error: {missing}: no such settings file; "
        "make one with 'digitalstate node init'"
    )


def test_a_config_that_is_not_toml_is_named_with_the_line(plain_node: Path) -> None:
    _replace_line(plain_node, r"^port = 8101$", "port = = 8101")
    line = fails("db", "current", "--config", plain_node)
    assert f"{plain_node}: not valid TOML" in line
    assert "at line 9" in line
    assert "fix the syntax" in line


@pytest.mark.parametrize(
    ("pattern", "replacement", "expected"),
    [
        pytest.param(
            r"^name = .*$",
            "",
            "[node] name: Field required; fix: add it in the file or set DIGITALSTATE_NODE__NAME",
            id="missing-key",
        ),
        pytest.param(
            r"^port = 8101$",
            'port = "abc"',
            "[node] port: Input should be a valid integer, unable to parse string as an integer; "
            "fix: correct the value in the file or set DIGITALSTATE_NODE__PORT",
            id="port-not-a-number",
        ),
        pytest.param(
            r"^port = 8101$",
            "port = 70000",
            "[node] port: Input should be less than or equal to 65535; "
            "fix: correct the value in the file or set DIGITALSTATE_NODE__PORT",
            id="port-out-of-range",
        ),
        pytest.param(
            r"^roles = .*$",
            'roles = ["king"]',
            "[node] roles.0: Input should be 'charter', 'register', 'service' or 'opendata'; "
            "fix: correct the value in the file or set DIGITALSTATE_NODE__ROLES",
            id="unknown-role",
        ),
        pytest.param(
            r"^base_url = .*$",
            'base_url = "127.0.0.1:8101"',
            "[node] base_url: '127.0.0.1:8101' does not have the expected form; "
            "fix: use the documented form in the file or set DIGITALSTATE_NODE__BASE_URL",
            id="url-without-scheme",
        ),
        pytest.param(
            r"^host = .*$",
            'host = "127.0.0.1"\ncolour = "blue"',
            "[node] colour: Extra inputs are not permitted; "
            "fix: remove it or check its spelling in the file",
            id="unknown-key",
        ),
        pytest.param(
            r"^\[federation\]$",
            "[federaton]\n",
            "federaton: Extra inputs are not permitted; fix: remove it or check its spelling "
            "in the file (and 1 more)",
            id="misspelt-section",
        ),
        pytest.param(
            r"^anchor_public_key = .*$",
            'anchor_public_key = "bm90IGEga2V5"',
            "[federation] anchor_public_key: Value error, an Ed25519 public key is 32 bytes, "
            "this one is 9; fix: correct the value in the file or set "
            "DIGITALSTATE_FEDERATION__ANCHOR_PUBLIC_KEY",
            id="bad-anchor-key",
        ),
    ],
)
def test_a_bad_setting_is_reported_in_one_line_naming_file_key_and_fix(
    plain_node: Path, pattern: str, replacement: str, expected: str
) -> None:
    _replace_line(plain_node, pattern, replacement)

    line = fails("db", "current", "--config", plain_node)

    assert line.startswith(f"digitalstate: error: {plain_node}: ")
    assert line == f"digitalstate: error: {plain_node}: {expected}"


def test_the_environment_overrides_the_file(
    plain_node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITALSTATE_NODE__PORT", "8300")
    monkeypatch.setenv("DIGITALSTATE_NODE__ROLES", '["opendata"]')
    monkeypatch.setenv("DIGITALSTATE_EXCHANGE__MAX_BODY_BYTES", "4096")

    settings = load_node_settings(plain_node)

    assert settings.node.port == 8300
    assert settings.node.roles == ["opendata"]
    assert settings.exchange.max_body_bytes == 4096
    assert settings.node.id == "swansea-motoring"  # the rest of [node] still from the file


def test_add_member_takes_an_overridden_setting_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anchor = init_anchor(tmp_path / "anchor")
    config = init_node(tmp_path / "swansea", "swansea-motoring", anchor.public_key)
    monkeypatch.setenv("DIGITALSTATE_NODE__BASE_URL", "https://motoring.example")

    succeeds("federation", "add-member", "-c", anchor.config, "--node-config", config)

    [member] = show_json(anchor)["members"]  # type: ignore[misc]
    assert member["base_url"] == "https://motoring.example"


def test_a_bad_value_from_the_environment_names_the_variable_not_the_file(
    plain_node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITALSTATE_NODE__PORT", "abc")

    line = fails("db", "current", "--config", plain_node)

    assert f"{plain_node}: [node] port: Input should be a valid integer" in line
    assert "from the environment variable DIGITALSTATE_NODE__PORT" in line
    assert line.endswith("fix: correct or unset DIGITALSTATE_NODE__PORT")


def test_a_list_from_the_environment_that_is_not_json_is_named_in_one_line(
    plain_node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITALSTATE_NODE__ROLES", "register")

    line = fails("db", "current", "--config", plain_node)

    assert f"{plain_node}: DIGITALSTATE_NODE__ROLES: " in line
    assert "must be JSON" in line


def test_a_node_key_open_to_others_is_refused_with_the_chmod_fix(tmp_path: Path) -> None:
    anchor = init_anchor(tmp_path / "anchor")
    config = init_node(tmp_path / "swansea", "swansea-motoring", anchor.public_key)
    key_file = (config.parent / "node.key").resolve()
    key_file.chmod(0o644)

    line = fails("federation", "add-member", "-c", anchor.config, "--node-config", config)

    assert line == (
        f"digitalstate: error: {key_file}: private key is open to others (mode 644); "
        f"fix with 'chmod 600 {key_file}'"
    )
    assert show_json(anchor)["version"] == 1


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_node_serve_names_a_port_already_in_use(plain_node: Path, busy_port: int) -> None:
    _replace_line(plain_node, r"^port = 8101$", f"port = {busy_port}")

    line = fails("node", "serve", "--config", plain_node)

    assert f"port {busy_port} on 127.0.0.1 is already in use" in line
    assert f"{plain_node} ([node] port)" in line


def test_node_serve_refuses_more_than_one_worker_on_sqlite_naming_the_flag(
    plain_node: Path,
) -> None:
    line = fails("node", "serve", "--config", plain_node, "--workers", "3")

    assert line.startswith("digitalstate: error: --workers: 3 workers need PostgreSQL")
    assert "SQLite has one writer" in line and "advisory locks" in line
    assert "fix: set [database] url to a PostgreSQL URL, or serve with 1 worker" in line


def serve_fails_with_server(config: Path, server: str) -> str:
    """node serve's error line for config with a [server] section of server's lines."""
    with config.open("a") as file:
        file.write(f"\n[server]\n{server}\n")
    return fails("node", "serve", "--config", config)


def test_node_serve_refuses_workers_set_in_the_file_on_sqlite_naming_file_and_field(
    plain_node: Path,
) -> None:
    line = serve_fails_with_server(plain_node, "workers = 2")

    assert f"{plain_node} ([server] workers): 2 workers need PostgreSQL" in line


def test_node_serve_refuses_a_role_retry_that_leaves_a_cut_off_holder_no_time_to_stop(
    plain_node: Path,
) -> None:
    # A holder checks its lock every retry interval and waits half of role_dead_peer_seconds
    # for the answer; PostgreSQL may give its roles to a standby after role_dead_peer_seconds.
    line = serve_fails_with_server(
        plain_node, "role_retry_seconds = 5\nrole_dead_peer_seconds = 10"
    )

    assert "[server] role_dead_peer_seconds" in line and str(plain_node) in line
    assert "make role_dead_peer_seconds at least 4 times role_retry_seconds" in line


# db ---------------------------------------------------------------------------------------


def test_db_upgrade_current_and_check_work_on_a_node_database(
    tmp_path: Path, empty_database_url: str
) -> None:
    config = init_node(tmp_path / "swansea", "swansea-motoring", SOME_ANCHOR_KEY,
                       "--database-url", empty_database_url)  # fmt: skip
    head = migrate.head_revision()

    assert succeeds("db", "current", "--config", config).strip() == f"current None, newest {head}"
    assert succeeds("db", "upgrade", "--config", config).strip() == f"Database at {head}"
    assert succeeds("db", "current", "--config", config).strip() == f"current {head}, newest {head}"
    assert "Models and migrations agree" in succeeds("db", "check", "--config", config)


def test_db_commands_read_the_trust_anchors_config_too(anchor: Anchor) -> None:
    head = migrate.head_revision()
    assert (
        succeeds("db", "current", "-c", anchor.config).strip() == f"current {head}, newest {head}"
    )
    assert "Models and migrations agree" in succeeds("db", "check", "-c", anchor.config)


def test_db_check_fails_in_one_line_before_the_database_is_upgraded(plain_node: Path) -> None:
    line = fails("db", "check", "--config", plain_node)
    assert "models and migrations differ" in line


# help and the real console script ---------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["federation"],
        ["federation", "init"],
        ["federation", "add-member"],
        ["federation", "revoke-member"],
        ["federation", "show"],
        ["federation", "serve"],
        ["node"],
        ["node", "init"],
        ["node", "serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["db", "check"],
        ["bench"],
        ["bench", "exchange"],
        ["demo"],
        ["version"],
    ],
    ids=lambda c: " ".join(c) or "digitalstate",
)
def test_every_command_has_help(command: list[str]) -> None:
    output = succeeds(*command, "--help")
    assert "Usage:" in output


def test_the_console_script_reports_a_bad_setting_on_stderr_only_and_exits_one(
    plain_node: Path,
) -> None:
    _replace_line(plain_node, r"^roles = .*$", 'roles = ["king"]')

    finished = subprocess.run(
        [CONSOLE_SCRIPT, "db", "current", "--config", plain_node],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("DIGITALSTATE_")},
    )

    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr.count("\n") == 1
    assert finished.stderr.startswith(f"digitalstate: error: {plain_node}: [node] roles.0: ")
    assert "Traceback" not in finished.stderr


def test_a_worker_whose_supervisor_died_as_it_started_stops_before_serving(
    plain_node: Path,
) -> None:
    # The kernel tells a worker of its supervisor's death only from when the worker asks, a
    # moment into its start; a supervisor gone before that leaves the worker another parent.
    def start_worker(supervisor: int) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, SUPERVISOR_ENV: str(supervisor), WORKER_CONFIG_ENV: "",
               WORKER_APP_ENV: "digitalstate.no_such_module:make"}  # fmt: skip
        code = "from digitalstate.cli.node import worker_app; worker_app()"
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )

    orphan = start_worker(supervisor=os.getppid())  # not the worker's parent: this process is
    assert orphan.returncode == 1
    assert orphan.stderr.strip().endswith("is gone; the worker stops")

    child = start_worker(supervisor=os.getpid())  # its parent: it goes on to build the app
    assert "No module named 'digitalstate.no_such_module'" in child.stderr
