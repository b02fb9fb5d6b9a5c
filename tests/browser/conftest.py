"""Browser tests: real pages in Debian's Chromium, driven by Playwright (no downloaded browser).

Chromium is Debian's headless shell, /usr/bin/chromium-headless-shell, or /usr/bin/chromium
where the shell is not installed (`.ci/run` installs both; ADR 0032). Without either these
tests are skipped with the reason, except under CI=true, where they fail: CI must not pass
by skipping them.

Every module that needs the demo shares one (`demo`, started once for the package): each
module signs in as people of its own (demo_people.py), so no test depends on what ran before.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator

import pytest
from e2e_support import (
    CLI,
    QUIET_DEMO,
    die_with_parent,
    flags,
    free_port_block,
    hermetic_env,
    wait_for,
)
from playwright.sync_api import Browser, Page, sync_playwright

from browser.demo_people import DEMO_PEOPLE
from digitalstate.demo.federation import DemoLayout

# Debian's headless shell when it is installed (`.ci/run` installs it; ADR 0032): the same
# Chromium's Blink and V8 without the desktop browser's compositor, which cost a headless
# page CPU even when idle. Debian's chromium otherwise.
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM = (
    HEADLESS_SHELL
    if os.path.exists(HEADLESS_SHELL)
    else shutil.which("chromium") or "/usr/bin/chromium"
)
WHERE = f"neither {HEADLESS_SHELL} nor /usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# A bound, not a speed target: the demo prepares and starts twelve nodes, which takes minutes
# on a loaded 2-core machine.
DEMO_READY_WITHIN_S = 180.0
# Synthetic journeys at each node with pages: a hundred a month, enough for the dashboards'
# figures to be shown rather than held back (the demo's default, 6,000, costs its start
# seconds of CPU more).
DEMO_JOURNEYS = 1200
# How often the demo's witnesses cosign. The consent journey waits (VERIFIED_WITHIN_S) for its
# accesses to be verified, which takes a witness's round after them: up to this long. Every
# node witnesses every other, so each round costs the demo: left idle, it used 6.2 s of CPU
# in 30 s with rounds every 5 s, 3.8 s with rounds every 15 s (2026-12-06), for as long as the
# browser tests run.
WITNESS_INTERVAL_S = "15"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for every browser test (each test gets contexts of its own,
    which are cheap): started per module, it cost each module Chromium's start and a new
    page for axe_support's checks of pages without JavaScript, its styles loaded again.

    Per package, like `demo`, not per session: Playwright's synchronous API keeps an event
    loop running in the main thread while it is open, and tests run after tests/browser (the
    end-to-end ones) call asyncio.run(). It is closed once the last browser test is done.
    """
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is not installed ({WHERE}); .ci/run installs it")
        pytest.skip(f"Chromium is not installed ({WHERE}): apt-get install chromium-headless-shell")
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


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`digitalstate demo --people DEMO_PEOPLE` on free ports (SQLite): the base URL of each node.

    One demo for every browser test (preparing and starting it is most of their time), stopped
    after the last of them. A module changes only what is its own: its people
    (demo_people.py), its applications, its stories. The experiment page stops the care
    assessment's experiment, which no other test needs running: the variants differ by a hint,
    and the few journeys other modules add to the experiment's 800 leave its figures' verdicts
    as they are. The witnesses run every WITNESS_INTERVAL_S seconds; the other background work
    as QUIET_DEMO says.
    """
    base = tmp_path_factory.mktemp("browser-demo")
    port = free_port_block(len(DemoLayout(base, 0).ports()))  # the nodes' and the catcher's
    stdout, stderr = base / "demo.out", base / "demo.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [
                *CLI,
                "demo",
                *flags(
                    data_dir=base / "data",
                    base_port=port,
                    people=DEMO_PEOPLE,
                    journeys=DEMO_JOURNEYS,
                ),
                "--json",
            ],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=hermetic_env(
                DIGITALSTATE_LOG__WITNESS_INTERVAL_SECONDS=WITNESS_INTERVAL_S, **QUIET_DEMO
            ),
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
