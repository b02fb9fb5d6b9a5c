"""Browser tests: real pages in Debian's Chromium, driven by Playwright (no downloaded browser).

Chromium is at /usr/bin/chromium (`.ci/run` installs it). Without it these tests are skipped
with the reason, except under CI=true, where they fail: CI must not pass by skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator

import pytest
from e2e_support import CLI, die_with_parent, flags, free_port_block, hermetic_env, wait_for
from playwright.sync_api import Browser, Page, sync_playwright

from digitalstate.demo.federation import DemoLayout

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DEMO_PEOPLE = 20
DEMO_READY_WITHIN_S = 60.0
# How often the demo's witnesses cosign, unless a module sets its own WITNESS_INTERVAL_S: every
# node witnesses every other, so a short interval costs the whole demo a third of a core while
# it runs. Only the consent journey waits for accesses to be verified.
WITNESS_INTERVAL_S = "3600"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module.

    Not per session: Playwright's synchronous API keeps an event loop running in the main
    thread while it is open, and tests run after it (the end-to-end ones) call asyncio.run().
    """
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is not installed at {CHROMIUM}; .ci/run installs it")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context (cookies are not shared between tests)."""
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_without_javascript(browser: Browser) -> Iterator[Page]:
    """A fresh page with JavaScript switched off: every page must work without it."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def own_page(browser: Browser, js: bool) -> Iterator[Page]:
    """A fresh page in its own context, JavaScript on or off as the test's `js` parameter
    says (a test parametrized with js asks for this one)."""
    context = browser.new_context(java_script_enabled=js)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """`digitalstate demo --people 20` on free ports (SQLite): the base URL of each node.

    The witnesses run every WITNESS_INTERVAL_S seconds, the test module's own if it sets one.
    """
    witness_interval = getattr(request.module, "WITNESS_INTERVAL_S", WITNESS_INTERVAL_S)
    base = tmp_path_factory.mktemp("browser-demo")
    port = free_port_block(len(DemoLayout(base, 0).ports()))  # the nodes' and the catcher's
    stdout, stderr = base / "demo.out", base / "demo.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [
                *CLI,
                "demo",
                *flags(data_dir=base / "data", base_port=port, people=DEMO_PEOPLE),
                "--json",
            ],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=hermetic_env(DIGITALSTATE_LOG__WITNESS_INTERVAL_SECONDS=witness_interval),
            preexec_fn=die_with_parent,
        )

    def listing() -> str | None:
        assert process.poll() is None, f"the demo exited: {stderr.read_text(errors='replace')}"
        text = stdout.read_text()
        return text if text.endswith("\n") else None

    try:
        nodes = json.loads(wait_for(listing, DEMO_READY_WITHIN_S, "the demo's JSON listing"))[
            "nodes"
        ]
        yield {node["id"]: node["base_url"] for node in nodes}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
