"""Every response carries a strict CSP with a per-request nonce and the other security headers.

Finding E4 of the security review (issue 8).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from digitalstate.web.hardening import SecurityHeaders
from digitalstate.web.templating import TEMPLATES_DIR
from integration.registers_support import RegisterNode, start_register

INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>[^<]+)</script>")


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: object) -> Iterator[RegisterNode]:
    yield from start_register(tmp_path / "register", database_url)


def directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy by directive name."""
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {name: value for name, value in pairs}


def test_pages_apis_and_errors_all_carry_the_headers(node: RegisterNode) -> None:
    for path in ("/", "/healthz", "/no-such-page", "/metrics", "/static/digitalstate.css"):
        headers = node.http.request("GET", path).headers
        policy = directives(headers["content-security-policy"])
        assert policy["default-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in headers  # http base URL


def test_the_inline_script_carries_the_nonce_of_its_own_response(node: RegisterNode) -> None:
    first = node.http.request("GET", "/")
    second = node.http.request("GET", "/")
    nonces = []
    for page in (first, second):
        script = directives(page.headers["content-security-policy"])["script-src"]
        nonce = re.search(r"'nonce-([^']+)'", script)
        assert nonce
        inline = [m for m in INLINE_SCRIPT.finditer(page.text) if "src=" not in m["attrs"]]
        assert inline, "the page has govuk-frontend's js-enabled script"
        for match in inline:
            assert f'nonce="{nonce.group(1)}"' in match["attrs"]
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


def test_hsts_is_sent_only_for_an_https_base_url() -> None:
    app = Starlette(routes=[Route("/", lambda _r: PlainTextResponse("ok"))])

    async def headers(https: bool) -> httpx.Headers:
        transport = httpx.ASGITransport(app=SecurityHeaders(app, https=https))
        async with httpx.AsyncClient(transport=transport, base_url="https://n.test") as http:
            return (await http.get("/")).headers

    assert asyncio.run(headers(True))["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in asyncio.run(headers(False))


def test_no_template_has_inline_style_or_an_inline_script() -> None:
    for template in TEMPLATES_DIR.rglob("*.html"):
        text = template.read_text()
        assert "style=" not in text, template
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) is None, template
