"""axe-core, run inside Chromium on the page as it is: no violation of the WCAG 2.2 A and AA
rules may be found.

axe-core comes from npm (package.json; `make setup` installs it under node_modules). It runs on
the rendered page, so it sees what a person's browser shows: the styles, the error summary,
what JavaScript changed (or, with JavaScript off, what it did not).
"""

from __future__ import annotations

import functools
import json
import re
import weakref
from html import escape
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# The WCAG 2.0, 2.1 and 2.2 rules of levels A and AA that axe-core tags.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
# Every rule of those tags runs on every element, as before; only the violations are read, so
# axe is asked to gather only them in full (resultTypes: of the passes, the incomplete and the
# inapplicable it keeps one node each, axe-core's documented option for speed) and only they
# come back from the browser, not the passes' thousands of nodes.
AXE_RUN = """tags => axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']
}).then(results => results.violations)"""


def _described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)


@functools.cache
def _load_and_run_axe() -> str:
    """axe-core's source, then its run on the tags: one script, one round trip to the browser."""
    return f"{AXE.read_text(encoding='utf-8')}\n;({AXE_RUN})({json.dumps(WCAG_22_AA)})"


def _run_axe(page: Page) -> list[dict[str, Any]]:
    # Evaluated by the browser's DevTools protocol, as the test's own script: the page's
    # Content-Security-Policy, which allows only the node's scripts, does not apply to it.
    violations: list[dict[str, Any]] = (
        page.evaluate(AXE_RUN, WCAG_22_AA)
        if page.evaluate("() => typeof window.axe !== 'undefined'")
        else page.evaluate(_load_and_run_axe())
    )
    return violations


# One page per browser on which axe checks what a browser without JavaScript shows: kept for
# the browser's life, so that axe is loaded into it once and the nodes' styles and images come
# from its HTTP cache (a new context for each page made the pages without JavaScript take
# twice as long as those with it).
_COPIES: weakref.WeakKeyDictionary[Browser, Page] = weakref.WeakKeyDictionary()
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)


def _copy_page(browser: Browser) -> Page:
    copy = _COPIES.get(browser)
    if copy is None or copy.is_closed():
        copy = browser.new_context().new_page()
        _COPIES[browser] = copy
    return copy


def _as_without_javascript(page: Page) -> list[dict[str, Any]]:
    """axe on the page a browser without JavaScript shows: the same HTML, its addresses
    resolved against the page's, its styles and images loaded, none of its own scripts run
    (axe needs a page that runs the test's script, which a context with JavaScript off
    cannot)."""
    html, url = page.content(), page.url.split("#", 1)[0]
    browser = page.context.browser
    assert browser is not None
    head = _HEAD.search(html)
    assert head is not None, f"{url}: the page has no <head>"
    # script-src 'none', first in the head: none of the page's scripts run, as with
    # JavaScript off; the base makes its relative addresses the page's own.
    preamble = (
        '<meta http-equiv="Content-Security-Policy" content="script-src \'none\'">'
        f'<base href="{escape(url, quote=True)}">'
    )
    copy = _copy_page(browser)
    copy.set_content(html[: head.end()] + preamble + html[head.end() :])
    ran, linked, loaded = copy.evaluate(
        """() => [document.body.classList.contains('js-enabled'),
                  document.querySelectorAll('link[rel=stylesheet]').length,
                  document.styleSheets.length]"""
    )
    assert not ran, f"{url}: the page's own script ran in the copy without JavaScript"
    assert loaded >= linked, f"{url}: {linked - loaded} of its stylesheets did not load"
    return _run_axe(copy)


def assert_accessible(page: Page) -> None:
    """Run axe-core on page; fail naming each violation of the WCAG 2.2 A and AA rules."""
    javascript = "js-enabled" in (page.locator("body").get_attribute("class") or "")
    violations = _run_axe(page) if javascript else _as_without_javascript(page)
    assert not violations, f"{page.url}:\n{_described(violations)}\n{json.dumps(violations)[:2000]}"
