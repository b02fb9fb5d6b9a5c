"""axe-core really runs, with and without JavaScript: a page with an image without a text
alternative and an input without a label fails, naming both rules."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from browser.axe_support import assert_accessible

BROKEN = (
    "<!DOCTYPE html><html lang='en'><head><title>Broken</title></head><body>"
    "<main><h1>Broken</h1><img src='x.png'><input id='a' type='text'></main></body></html>"
)


@pytest.fixture(scope="module")
def broken_page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback server of one broken page."""
    root: Path = tmp_path_factory.mktemp("axe")
    (root / "index.html").write_text(BROKEN)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_axe_finds_an_image_without_alt_text_and_an_unlabelled_input(
    broken_page_url: str, page: Page, page_without_javascript: Page, javascript: bool
) -> None:
    target = page if javascript else page_without_javascript
    target.goto(broken_page_url)
    if javascript:  # the js-enabled class a page of ours gets from its inline script
        target.evaluate("document.body.classList.add('js-enabled')")
    with pytest.raises(AssertionError) as failed:
        assert_accessible(target)
    assert "image-alt" in str(failed.value)
    assert "label" in str(failed.value)
