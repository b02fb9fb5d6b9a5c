"""`digitalstate demo`: the trust anchor, ten nodes and a mail catcher, each its own process."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from browser_support import Browser
from consent_e2e_support import give_consent, sign_in_at_pensions
from e2e_support import (
    CLI,
    HOST,
    QUIET_DEMO,
    answers_ok,
    cmdline,
    descendants_of,
    die_with_parent,
    flags,
    free_port_block,
    hermetic_env,
    http_get,
    pid_running,
    port_is_free,
    run_cli,
    wait_for,
)

from digitalstate.demo.federation import DEMO_NODES
from digitalstate.demo.journeys import DEMO_JOURNEYS
from digitalstate.keys import KeyPair
from digitalstate.transparency.note import SignedNote
from support.demo import FEW_JOURNEYS

pytestmark = pytest.mark.e2e

DEMO_IDS = [
    "charter",
    "people-register",
    "swansea-motoring",
    "newcastle-tax",
    "liverpool-pensions",
    "birmingham-social-care",
    "manchester-planning",
    "electoral-registration",
    "prisons",
    "opendata",
]
CATCHER = "mail-catcher"
OPERATOR_EMAIL = "operator@example.org"
NODE_PORTS = 1 + len(DEMO_IDS)  # the anchor's, then the nodes'
PORT_COUNT = NODE_PORTS + 2  # then the mail catcher's page and its SMTP
PROCESS_COUNT = NODE_PORTS + 1
READY_WITHIN_S = 120.0
STOPPED_WITHIN_S = 15.0


@dataclass
class Demo:
    """A running `digitalstate demo --json` process."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    base_port: int
    stdout: Path
    stderr: Path
    listing: dict[str, Any]

    @property
    def ports(self) -> list[int]:
        return list(range(self.base_port, self.base_port + PORT_COUNT))

    def urls(self) -> dict[str, str]:
        return {n["id"]: n["base_url"] for n in self.listing["nodes"]}


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=STOPPED_WITHIN_S + 5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_demo(
    data_dir: Path, base_port: int, outputs: Path, *, journeys: int = DEMO_JOURNEYS
) -> Demo:
    """Start the demo and wait for its one JSON line; stop it if it does not come in time."""
    outputs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = outputs / "demo.out", outputs / "demo.err"
    options = flags(data_dir=data_dir, base_port=base_port, journeys=journeys)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [*CLI, "demo", *options, "--json"],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=hermetic_env(**QUIET_DEMO),
            preexec_fn=die_with_parent,
        )

    def printed() -> str | None:
        if process.poll() is not None:
            raise AssertionError(
                f"the demo exited {process.returncode}: {stderr.read_text(errors='replace')}"
            )
        text = stdout.read_text()
        return text if text.endswith("\n") else None

    try:
        text = wait_for(printed, READY_WITHIN_S, "the demo's JSON listing")
    except BaseException:
        _stop(process)
        raise
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one JSON line, got {text!r}"
    return Demo(process, data_dir, base_port, stdout, stderr, json.loads(lines[0]))


@contextlib.contextmanager
def running_demo(data_dir: Path, base_port: int, outputs: Path) -> Iterator[Demo]:
    demo = start_demo(data_dir, base_port, outputs)
    try:
        yield demo
    finally:
        _stop(demo.process)


def _node_children(demo: Demo) -> dict[str, int]:
    """The demo's node processes, by the node each one serves (read from its command line).

    The mail catcher is named by its data directory, the others by their settings file's. The
    nodes are forked from the demo's fork server, which is no node: nor is the helper process
    multiprocessing keeps beside it.
    """
    out: dict[str, int] = {}
    for pid in descendants_of(demo.process.pid):
        args = cmdline(pid)
        if args[:1] != ["digitalstate"]:
            continue
        option = "--config" if "--config" in args else "--data-dir"
        path = Path(args[args.index(option) + 1])
        out[path.parent.name if option == "--config" else path.name] = pid
    return out


def _key_files(data_dir: Path) -> dict[str, bytes]:
    keys = {node: (data_dir / node / "node.key").read_bytes() for node in DEMO_IDS}
    keys["trust-anchor"] = (data_dir / "trust-anchor" / "anchor.key").read_bytes()
    return keys


def _all_gone(pids: list[int], ports: list[int]) -> bool:
    return not any(pid_running(p) for p in pids) and all(port_is_free(p) for p in ports)


# Two whole demo starts, the first preparing the federation from nothing: 90-100 s at the CI
# machine's usual load, past the suite's 120 s hang guard at load 17 (six xdist workers).
@pytest.mark.timeout(300)
def test_sigterm_stops_everything_a_rerun_reuses_keys_and_sigkill_leaves_nothing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    base_port = free_port_block(PORT_COUNT)
    ports = list(range(base_port, base_port + PORT_COUNT))

    # First run, stopped with SIGTERM: every child goes, every port is freed, exit code 0.
    # (A few journeys: what is tested here is the processes, not the year of figures.)
    first = start_demo(data_dir, base_port, tmp_path / "first", journeys=FEW_JOURNEYS)
    try:
        children = list(_node_children(first).values())
        assert len(children) == PROCESS_COUNT
        fork_server = sorted(set(descendants_of(first.process.pid)) - set(children))
        keys = _key_files(data_dir)
        first.process.send_signal(signal.SIGTERM)
        first.process.wait(timeout=STOPPED_WITHIN_S)
    finally:
        _stop(first.process)
    assert first.process.returncode == 0, first.stderr.read_text()
    # The demo waits for its children before it exits: nothing is left the moment it is gone.
    assert _all_gone(children, ports)
    # Its fork server (and multiprocessing's helper beside it) goes when the demo does.
    wait_for(lambda: _all_gone(fork_server, []), 5, "the demo's fork server to go")

    # Second run on the same data directory: the same keys, ready again.
    second = start_demo(data_dir, base_port, tmp_path / "second", journeys=FEW_JOURNEYS)
    try:
        assert _key_files(data_dir) == keys
        for url in second.urls().values():
            assert http_get(url + "/readyz").status == 200, url
        children = list(_node_children(second).values())
        assert len(children) == PROCESS_COUNT
        # SIGKILL cannot be caught: the children go because the kernel tells them to
        # (PR_SET_PDEATHSIG).
        second.process.send_signal(signal.SIGKILL)
        second.process.wait(timeout=5)
    finally:
        _stop(second.process)
    wait_for(lambda: _all_gone(children, ports), 10, "the children of a SIGKILLed demo to go")


def test_sigterm_while_starting_stops_at_once_without_claiming_to_be_ready(
    tmp_path: Path,
) -> None:
    base_port = free_port_block(PORT_COUNT)
    ports = list(range(base_port, base_port + PORT_COUNT))
    stdout = tmp_path / "demo.out"
    with stdout.open("wb") as out:
        process = subprocess.Popen(
            [
                *CLI,
                "demo",
                *flags(data_dir=tmp_path / "data", base_port=base_port, journeys=FEW_JOURNEYS),
                "--json",
            ],
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=hermetic_env(),
            preexec_fn=die_with_parent,
        )
    try:
        # The trust anchor starts first; the ten nodes take seconds more to be ready.
        def started_one() -> list[int]:
            assert process.poll() is None, "the demo exited before starting any process"
            under = descendants_of(process.pid)
            return under if any(cmdline(pid)[:1] == ["digitalstate"] for pid in under) else []

        # Its first node process (its fork server comes before): the rest are still starting.
        first = wait_for(started_one, READY_WITHIN_S, "the demo's first child process")
        process.send_signal(signal.SIGTERM)
        # A bound, not a speed target: stopping is cut short, never waits for the nodes to be
        # ready (the empty listing below says so); how long it takes is the machine's.
        _, errors = process.communicate(timeout=STOPPED_WITHIN_S)
    finally:
        _stop(process)
    assert process.returncode == 0, errors
    assert stdout.read_text() == "", "a demo told to stop must not say it is ready"
    nodes = [pid for pid in first if cmdline(pid)[:1] == ["digitalstate"] or not pid_running(pid)]
    assert _all_gone(nodes, ports)
    wait_for(lambda: _all_gone(first, []), 5, "the demo's fork server to go")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One demo federation shared by the read-only tests of this module."""
    base = tmp_path_factory.mktemp("demo")
    with running_demo(base / "data", free_port_block(PORT_COUNT), base) as running:
        yield running


def test_demo_prints_one_json_listing_of_the_anchor_and_ten_nodes(demo: Demo) -> None:
    nodes = demo.listing["nodes"]
    assert [n["id"] for n in nodes] == ["trust-anchor", *DEMO_IDS]
    assert demo.listing["federation"] == f"http://{HOST}:{demo.base_port}"
    assert nodes[0]["roles"] == ["trust-anchor"]
    roles = {n["id"]: n["roles"] for n in nodes}
    assert roles["charter"] == ["charter"]
    assert roles["people-register"] == ["register", "service"]
    assert roles["swansea-motoring"] == ["register", "service"]
    assert roles["prisons"] == ["service"]
    assert roles["opendata"] == ["opendata"]
    urls = [n["base_url"] for n in nodes]
    assert urls == [f"http://{HOST}:{port}" for port in demo.ports[:NODE_PORTS]]
    catcher = f"http://{HOST}:{demo.ports[NODE_PORTS]}"
    assert demo.listing["mail_catcher"] == {
        "base_url": catcher,
        "page": catcher + "/operator/mail",
        "smtp": f"{HOST}:{demo.ports[NODE_PORTS + 1]}",
    }


def test_every_listed_node_is_alive_and_ready(demo: Demo) -> None:
    for member, url in demo.urls().items():
        assert http_get(url + "/healthz").status == 200, member
        ready = http_get(url + "/readyz")
        assert ready.status == 200, (member, ready.body)
        assert ready.json()["status"] == "ready"


def test_every_node_is_its_own_process_with_its_own_database(demo: Demo) -> None:
    children = _node_children(demo)
    assert sorted(children) == sorted(["trust-anchor", *DEMO_IDS, CATCHER])
    assert len(set(children.values())) == PROCESS_COUNT
    assert demo.process.pid not in children.values()
    for member in DEMO_IDS:
        database = demo.data_dir / member / "node.db"
        assert database.is_file(), database
        assert database.stat().st_size > 0
    assert (demo.data_dir / "trust-anchor" / "anchor.db").is_file()
    # Each node holds the federation document it fetched, listing all ten members.
    copy = http_get(demo.urls()["prisons"] + "/.well-known/digitalstate/federation").json()
    assert sorted(m["id"] for m in copy["document"]["members"]) == sorted(DEMO_IDS)


def test_a_second_demo_on_a_busy_port_fails_at_once_naming_the_port(
    demo: Demo, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    result = subprocess.run(
        [*CLI, "demo", *flags(data_dir=other, base_port=demo.base_port), "--json"],
        capture_output=True,
        text=True,
        timeout=20,
        env=hermetic_env(),
        check=False,
    )
    # "At once" is what it does, not how long a loaded machine takes to start Python: the port
    # is checked before anything is written or started (the folder below is never made).
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {demo.base_port}" in lines[0]
    assert "already in use" in lines[0]
    assert not other.exists(), "nothing is written when the demo cannot start"
    assert answers_ok(demo.listing["federation"] + "/healthz"), "the running demo is untouched"


def test_the_same_data_dir_with_another_base_port_fails_in_one_line(
    demo: Demo, tmp_path: Path
) -> None:
    other_port = free_port_block(PORT_COUNT)
    result = subprocess.run(
        [*CLI, "demo", *flags(data_dir=demo.data_dir, base_port=other_port)],
        capture_output=True,
        text=True,
        timeout=20,
        env=hermetic_env(),
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"--base-port {demo.base_port}" in lines[0]
    assert str(other_port) in lines[0]
    assert all(port_is_free(p) for p in range(other_port, other_port + PORT_COUNT))


def test_log_verify_passes_on_every_node_after_some_activity(demo: Demo, tmp_path: Path) -> None:
    urls = demo.urls()
    browser = Browser()
    try:  # alice consents at the charter; pensions reads from the People register
        shown = SimpleNamespace(urls=urls)
        ask = sign_in_at_pensions(
            browser, shown, SimpleNamespace(email=demo.listing["sign_in"]["email"])
        )
        give_consent(browser, shown, ask)
    finally:
        browser.close()
    checkpoint = urls["people-register"] + "/.well-known/digitalstate/checkpoint"
    wait_for(
        lambda: SignedNote.parse(http_get(checkpoint).body.decode()).checkpoint.size > 0,
        20,
        "the People register's log to hold the read",
    )
    anchor_key = KeyPair.load(demo.data_dir / "trust-anchor" / "anchor.key").public.b64
    pinned = ["--anchor", demo.listing["federation"], "--anchor-key", anchor_key]
    for member in DEMO_IDS:
        state = str(tmp_path / f"{member}.json")
        result = run_cli(
            "log", "verify", "--node", urls[member], *pinned, "--state", state, "--json"
        )
        outcome = json.loads(result.stdout)
        assert outcome["ok"] and outcome["member"] == member, outcome
        assert outcome["audited"]["leaves"] == outcome["size"]
    assert json.loads(Path(tmp_path / "people-register.json").read_text())["size"] > 0


def test_the_printed_staff_accounts_sign_in_at_every_service_node(demo: Demo) -> None:
    staff = demo.listing["staff"]
    services = [n["id"] for n in demo.listing["nodes"] if "service" in n["roles"]]
    assert sorted({a["node"] for a in staff}) == sorted(services)
    for account in staff:
        browser = Browser()
        try:
            form = browser.get(account["url"])
            home = browser.submit(
                form, "/staff/sign-in", email=account["email"], password=account["password"]
            )
            assert home.url == demo.urls()[account["node"]] + "/staff", home.text
            assert account["email"] in home.text and account["role"].title() in home.text
            assert "Sign out" in home.text
        finally:
            browser.close()


def test_the_printed_operator_token_opens_every_nodes_operator_pages_and_metrics(
    demo: Demo,
) -> None:
    bearer = {"authorization": f"Bearer {demo.listing['operator_token']}"}
    for member in DEMO_IDS:
        url = demo.urls()[member]
        assert http_get(url + "/metrics").status == 401, member
        assert http_get(url + "/operator/log", headers=bearer).status == 200, member
        assert http_get(url + "/metrics", headers=bearer).status == 200, member


def test_a_served_node_refuses_a_foreign_host_and_sends_the_security_headers(
    demo: Demo,
) -> None:
    url = demo.urls()["charter"]
    refused = http_get(url + "/healthz", headers={"host": "rebound.example"})
    assert refused.status == 400 and refused.json()["type"].endswith("untrusted-host")
    anchor = demo.urls()["trust-anchor"]
    assert http_get(anchor + "/healthz", headers={"host": "rebound.example"}).status == 400
    home = http_get(url + "/")
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert "server" not in home.headers


def test_an_email_sent_through_a_demo_node_reaches_the_mail_catchers_page(demo: Demo) -> None:
    """An operator sends a test message from a node's /operator/email; the catcher shows it."""
    token = demo.listing["operator_token"]
    charter = demo.urls()["charter"]
    catcher = demo.listing["mail_catcher"]["base_url"]
    browser = Browser()
    try:
        form = browser.get(charter + "/operator/email")
        assert "/operator/sign-in" in form.url, form.url
        email_page = browser.submit(form, "/operator/sign-in", token=token)
        assert email_page.status == 200 and "Send a test message" in email_page.text
        assert "charter@digitalstate-demo.test" in email_page.text

        queued = browser.submit(email_page, "/operator/email/test", to=OPERATOR_EMAIL)
        assert queued.status == 200 and "is queued" in queued.text

        def caught() -> dict[str, Any] | None:
            answer = http_get(
                catcher + "/operator/mail.json", headers={"authorization": f"Bearer {token}"}
            )
            assert answer.status == 200, answer.body
            found = [m for m in answer.json()["messages"] if m["rcpt_to"] == [OPERATOR_EMAIL]]
            return found[0] if found else None

        message = wait_for(caught, 30, "the test message at the mail catcher")
        assert message["subject"] == "Test message from Charter: your account and your consents"
        assert message["mail_from"] == "charter@digitalstate-demo.test"

        # A person at a browser signs in to the catcher's page with the same token and sees it.
        sign_in = browser.get(catcher + "/operator/mail")
        page = browser.submit(sign_in, "/operator/sign-in", token=token)
        assert page.status == 200
        assert "Test message from Charter: your account and your consents" in page.text
        assert OPERATOR_EMAIL in page.text
    finally:
        browser.close()


PORTAL_HARVESTED_WITHIN_S = 150.0  # a bound, not a target: the harvest runs every minute


@pytest.mark.timeout(READY_WITHIN_S + PORTAL_HARVESTED_WITHIN_S + 60)
def test_the_portal_carries_every_nodes_performance_feedback_and_spending(demo: Demo) -> None:
    """Issue 13's done-when: the demo's portal holds the spending of every node, and the
    performance and feedback (stories) datasets of every node that runs a service journey,
    with real figures, read through its CKAN API; the portal's own spending among them."""
    urls = demo.urls()
    members = list(DEMO_IDS)
    assert "opendata" in members
    published = {
        m: {d["name"] for d in http_get(urls[m] + "/datasets.json").json()["datasets"]}
        for m in members
    }
    with_journeys = sorted(n.id for n in DEMO_NODES if n.journey is not None)
    assert sorted(m for m in members if "performance" in published[m]) == with_journeys
    for member, names in published.items():
        wanted_here = (
            {"spending", "performance", "stories"} if member in with_journeys else {"spending"}
        )
        assert names == wanted_here, member
    wanted = {f"{member}-{name}" for member, names in published.items() for name in names}
    portal = urls["opendata"] + "/api/3/action/"

    def action(name: str, **params: str) -> Any:
        answer = http_get(portal + name + "?" + urllib.parse.urlencode(params))
        assert answer.status == 200, (name, params, answer.body)
        return answer.json()["result"]

    def carried() -> bool:
        return set(action("package_list")) >= wanted

    wait_for(carried, PORTAL_HARVESTED_WITHIN_S, f"the portal to harvest {sorted(wanted)}")

    def largest(resource: str, column: str) -> dict[str, Any]:
        found = action("datastore_search", resource_id=resource, sort=f"{column} desc", limit="1")
        return {"total": found["total"], **found["records"][0]}

    for member in members:
        spending = largest(f"{member}.spending.payments", "amount")
        # A year of payments, with works contracts over £25,000, as demo/spending.py seeds.
        assert spending["total"] > 100 and spending["amount"] > 25_000, (member, spending)
    for member in with_journeys:
        kpis = largest(f"{member}.performance.kpis", "started")
        assert kpis["total"] >= 12, (member, kpis)  # a row a month, at least
        assert kpis["started"] > 0 and kpis["completed"] > 0, (member, kpis)
        stories = action("datastore_search", resource_id=f"{member}.stories.stories")
        assert stories["total"] >= 2, (member, stories)  # published, and de-identified
