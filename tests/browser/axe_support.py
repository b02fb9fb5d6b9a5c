"""axe-core, run inside Chromium on the page as it is: no violation of the WCAG 2.2 A and AA
rules may be found.

axe-core comes from npm (package.json; `make setup` installs it under node_modules). It runs on
the rendered page, so it sees what a person's browser shows: the styles, the error summary,
what JavaScript changed (or, with JavaScript off, what it did not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# The WCAG 2.0, 2.1 and 2.2 rules of levels A and AA that axe-core tags.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def _described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)


def _run_axe(page: Page) -> list[dict[str, Any]]:
    # Evaluated by the browser's DevTools protocol, as the test's own script: the page's
    # Content-Security-Policy, which allows only the node's scripts, does not apply to it.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA
    )
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def _as_without_javascript(page: Page) -> list[dict[str, Any]]:
    """axe on the page a browser without JavaScript shows: the same HTML at the same address,
    its styles and images loaded, no script of its own run (axe needs a page that runs the
    test's script, which a context with JavaScript off cannot)."""
    html, url = page.content(), page.url.split("#", 1)[0]
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context()
    try:
        copy = context.new_page()

        def serve(route: Route) -> None:
            if route.request.url.split("#", 1)[0] == url:
                # script-src 'none': none of the page's scripts run, as with JavaScript off.
                csp = {"content-security-policy": "script-src 'none'"}
                route.fulfill(status=200, body=html, content_type="text/html", headers=csp)
            else:
                route.continue_()

        copy.route("**/*", serve)
        copy.goto(url)
        return _run_axe(copy)
    finally:
        context.close()


def assert_accessible(page: Page) -> None:
    """Run axe-core on page; fail naming each violation of the WCAG 2.2 A and AA rules."""
    javascript = "js-enabled" in (page.locator("body").get_attribute("class") or "")
    violations = _run_axe(page) if javascript else _as_without_javascript(page)
    assert not violations, f"{page.url}:\n{_described(violations)}\n{json.dumps(violations)[:2000]}"
