"""A node runs the service its [services] files declare, or refuses to start in one line."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digitalstate.app import create_node_app
from digitalstate.cli.main import app as cli
from digitalstate.demo.federation import DEMO_SERVICES, demo_service_file
from digitalstate.node.runtime import NodeRuntime
from digitalstate.node.setup import init_node
from digitalstate.services.handlers import SUBMIT_ACTIONS
from digitalstate.settings import NodeSettings, SettingsError
from support.clients import InProcessClient
from support.federation import ANCHOR, anchor_is_down, federation_document, hold, member_of

MEMBER = "liverpool-pensions"
PENSIONS_FILE = demo_service_file(MEMBER)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pensions_node(
    tmp_path: Path, service_text: str | None, files: tuple[str, ...] = ("service.toml",)
) -> NodeSettings:
    """A service node whose [services] files are files, service.toml holding service_text."""
    directory = tmp_path / MEMBER
    if service_text is not None:
        directory.mkdir(parents=True)
        (directory / "service.toml").write_text(service_text)
    port = free_port()
    return init_node(
        directory,
        member_id=MEMBER,
        name="Liverpool: pensions",
        roles=["service"],
        host="127.0.0.1",
        port=port,
        base_url=f"http://127.0.0.1:{port}",
        anchor_url="http://127.0.0.1:9",
        anchor_public_key=ANCHOR.public.b64,
        database_url=f"sqlite:///{tmp_path / 'pensions.db'}",
        extra={"services": {"files": list(files)}},
    )


def started_app(settings: NodeSettings, *, purposes: bool = True) -> InProcessClient:
    """The node's app holding a federation document naming it (its purposes, if purposes)."""
    document = federation_document((member_of(settings),), federation="services files test")
    if not purposes:
        document = document.model_copy(update={"purposes": (), "statutory_bases": ()})
    hold(document, settings)
    runtime = NodeRuntime.build(settings, fetch=anchor_is_down)
    app = create_node_app(settings, runtime)
    runtime.background.clear()
    return InProcessClient(app, settings.node.base_url)


def test_the_node_shows_the_pages_of_the_service_it_declares(tmp_path: Path) -> None:
    settings = pensions_node(tmp_path, PENSIONS_FILE.read_text())
    with started_app(settings) as client:
        page = client.get("/service")
        assert page.status_code == 200
        assert "Check your State Pension details" in page.text
        ready = client.get("/readyz").json()
        assert ready["checks"]["services"]["ok"] is True


def test_a_node_runs_several_services_and_shows_the_pages_of_the_first_without_questions(
    tmp_path: Path,
) -> None:
    care = DEMO_SERVICES / "ask-for-a-care-assessment.toml"
    settings = pensions_node(tmp_path, PENSIONS_FILE.read_text(), files=(str(care), "service.toml"))
    with started_app(settings) as client:
        assert "Check your State Pension details" in client.get("/service").text
        assert (
            "Ask for a care needs assessment"
            in client.get("/services/ask-for-a-care-assessment").text
        )
        ready = client.get("/readyz").json()["checks"]["services"]
        assert ready["ok"] is True
        assert "ask-for-a-care-assessment.toml" in ready["detail"]
        assert "service.toml" in ready["detail"]


def test_node_serve_refuses_a_service_whose_action_no_handler_runs_in_one_line(
    tmp_path: Path,
) -> None:
    pension = DEMO_SERVICES / "apply-for-state-pension.toml"
    pensions_node(tmp_path, PENSIONS_FILE.read_text(), files=(str(pension), "service.toml"))
    # As in a release without the pensions feature: its action is not registered.
    claim = SUBMIT_ACTIONS.get("state-pension")
    assert claim is not None
    SUBMIT_ACTIONS.unregister("state-pension")
    try:
        line = serve_fails(tmp_path / MEMBER / "node.toml")
    finally:
        SUBMIT_ACTIONS.register("state-pension", claim)
    assert line.startswith(f"digitalstate: error: {pension}: submit.action: ")
    assert "this node has no handler for the action 'state-pension' (it runs " in line
    assert "record" in line.split("(it runs ", 1)[1].split(")", 1)[0]
    assert "fix: use one of those, or leave the file out of [services] files" in line


def test_readyz_says_so_when_a_services_action_has_no_handler_any_more(tmp_path: Path) -> None:
    care = DEMO_SERVICES / "ask-for-a-care-assessment.toml"
    settings = pensions_node(tmp_path, PENSIONS_FILE.read_text(), files=(str(care),))
    with started_app(settings) as client:
        record = SUBMIT_ACTIONS.get("record")
        assert record is not None
        SUBMIT_ACTIONS.unregister("record")
        try:
            ready = client.get("/readyz")
        finally:
            SUBMIT_ACTIONS.register("record", record)
        assert ready.status_code == 503
        check = ready.json()["checks"]["services"]
        assert check["ok"] is False
        assert "no handler for the action 'record'" in check["detail"]
        assert client.get("/readyz").json()["checks"]["services"]["ok"] is True


def test_node_serve_refuses_two_services_with_one_slug(tmp_path: Path) -> None:
    text = 'slug = "state-pension-details"\n' + PENSIONS_FILE.read_text()
    pensions_node(tmp_path, text, files=(str(PENSIONS_FILE), "service.toml"))
    line = serve_fails(tmp_path / MEMBER / "node.toml")
    assert "service.toml: slug: 'state-pension-details' is also the slug of " in line


def test_a_node_that_declares_no_service_shows_no_service_pages(tmp_path: Path) -> None:
    settings = pensions_node(tmp_path, PENSIONS_FILE.read_text(), files=())
    with started_app(settings) as client:
        assert client.get("/service").status_code == 404
        assert "services" not in client.get("/readyz").json()["checks"]


def test_a_purpose_the_federation_does_not_catalogue_stops_the_start(tmp_path: Path) -> None:
    settings = pensions_node(tmp_path, PENSIONS_FILE.read_text())
    client = started_app(settings, purposes=False)
    try:
        with pytest.raises(SettingsError) as caught:
            client.run(client.lifespan.__aenter__())
    finally:
        client.loop.close()
    message = str(caught.value)
    assert message.startswith(f"{(tmp_path / MEMBER / 'service.toml').resolve()}: purpose: ")
    assert "'pension-administration' is not in the federation's purpose catalogue" in message


def serve_fails(config: Path) -> str:
    result = CliRunner().invoke(cli, ["node", "serve", "--config", str(config)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_node_serve_refuses_a_missing_service_file_in_one_line(tmp_path: Path) -> None:
    settings = pensions_node(tmp_path, None)
    line = serve_fails(tmp_path / MEMBER / "node.toml")
    assert line.startswith("digitalstate: error: ")
    assert f"{settings.service_files[0]}: no such service definition file" in line


def test_node_serve_refuses_an_invalid_service_file_in_one_line(tmp_path: Path) -> None:
    pensions_node(tmp_path, PENSIONS_FILE.read_text() + "duration_days = 0\n")
    line = serve_fails(tmp_path / MEMBER / "node.toml")
    assert "service.toml: duration_days: " in line
    assert "fix: correct the value" in line


def test_node_init_names_the_service_file_it_is_given(tmp_path: Path) -> None:
    args = ["node", "init", "--id", MEMBER, "--roles", "register,service"]
    args += ["--anchor-key", ANCHOR.public.b64, "--dir", str(tmp_path / "node")]
    result = CliRunner().invoke(cli, [*args, "--service", str(PENSIONS_FILE)])
    assert result.exit_code == 0, result.output
    written = tomllib.loads((tmp_path / "node" / "node.toml").read_text())
    assert written["services"] == {"files": [str(PENSIONS_FILE.resolve())]}


def test_node_init_refuses_a_service_file_the_node_could_not_use(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "no more"\n')
    args = ["node", "init", "--id", MEMBER, "--roles", "service", "--service", str(bad)]
    result = CliRunner().invoke(cli, [*args, "--anchor-key", ANCHOR.public.b64])
    assert result.exit_code == 1
    assert f"{bad}: " in result.stderr and "; fix: add it" in result.stderr
    assert not (Path.cwd() / MEMBER).exists()
