"""The shared templates: the node home page and the error page, without GOV.UK's brand."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from digitalstate.web.templating import STATIC_DIR, make_environment, make_templates

HOSTILE = '<script>alert("x")</script>'


def _node(name: str = "Swansea Motoring Office") -> SimpleNamespace:
    return SimpleNamespace(
        id="swansea-motoring",
        name=name,
        roles=["register", "service"],
        base_url="https://motoring.example",
    )


def _federation(name: str = "cymru") -> SimpleNamespace:
    return SimpleNamespace(
        federation=name, version=7, expires_at=datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    )


SERVICES = [
    {
        "method": "GET",
        "path": "/exchange/vehicles/{vrm}",
        "summary": "Read a vehicle's keeper and tax status",
        "personal_data": True,
    },
    {
        "method": "GET",
        "path": "/exchange/services",
        "summary": "List what this node offers",
        "personal_data": False,
    },
]
HEALTH = {
    "database": {"ok": True, "detail": "schema at 0001_initial"},
    "federation": {"ok": False, "detail": "no document yet"},
}


def render(name: str, **context: Any) -> str:
    return make_environment().get_template(name).render(**context)


def render_home(**overrides: Any) -> str:
    context: dict[str, Any] = {
        "node": _node(),
        "services": SERVICES,
        "federation": _federation(),
        "health": HEALTH,
    }
    context.update(overrides)
    return render("node_home.html", **context)


def test_home_says_what_the_node_is() -> None:
    html = render_home()
    assert "<h1" in html and "Swansea Motoring Office" in html
    assert "swansea-motoring" in html
    assert "register" in html and "service" in html
    assert 'href="https://motoring.example"' in html


def test_home_names_the_federation_its_document_version_and_expiry() -> None:
    html = render_home()
    assert "cymru" in html
    assert "Document version" in html and ">\n      7\n" in html
    assert '<time datetime="2030-01-02T03:04:00+00:00">2 January 2030 at 03:04 UTC</time>' in html
    assert "no valid federation document" not in html


def test_home_warns_when_the_node_holds_no_federation_document() -> None:
    html = render_home(federation=None)
    assert "govuk-inset-text" in html
    assert "This node holds no valid federation document" in html
    assert "Document version" not in html


def test_home_lists_each_service_with_its_method_path_and_personal_data() -> None:
    html = render_home()
    assert "govuk-table" in html
    assert "/exchange/vehicles/{vrm}" in html and "/exchange/services" in html
    assert "Read a vehicle&#39;s keeper and tax status" in html
    cells = re.findall(r'<td class="govuk-table__cell">(Yes|No)</td>', html)
    assert cells == ["Yes", "No"]


def test_home_says_so_when_the_node_offers_nothing() -> None:
    html = render_home(services=[])
    assert "govuk-table" not in html
    assert "offers no calls over the exchange" in html


def test_home_shows_each_health_check_and_its_detail() -> None:
    html = render_home()
    assert "Database" in html and "schema at 0001_initial" in html
    assert "govuk-tag--green" in html and "govuk-tag--red" in html


@pytest.mark.parametrize("federation", [_federation(), None])
def test_pages_carry_no_gov_uk_brand(federation: SimpleNamespace | None) -> None:
    pages = [
        render_home(federation=federation),
        render("error.html", status=404, title="Page not found", detail="No such page"),
    ]
    for html in pages:
        assert "GOV.UK" not in html
        assert "<svg" not in html  # the crown is an inline SVG in govuk-frontend's header
        assert "crest" not in html and "crown" not in html.lower()
        assert "GDS Transport" not in html
        assert 'lang="en-GB"' in html
        assert ">\n        digitalstate\n      </a>" in html
        assert "digitalstate, open source (MIT)" in html


def test_pages_load_only_our_own_static_files() -> None:
    html = render_home()
    urls = re.findall(r'(?:href|src)="(/[^"]*)"', html)
    assets = [u for u in urls if u != "/" and not u.startswith("#")]
    assert assets, "expected stylesheets, a favicon and a script"
    assert all(u.startswith("/static/") for u in assets), assets
    assert '<script type="module" src="/static/digitalstate.js"></script>' in html


def test_our_stylesheet_declares_no_font_and_fetches_nothing() -> None:
    text = (STATIC_DIR / "digitalstate.css").read_text(encoding="utf-8")
    rules = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    assert "@font-face" not in rules and "url(" not in rules and "GDS" not in rules


def test_every_value_from_the_node_is_escaped() -> None:
    html = render_home(
        node=SimpleNamespace(
            id=HOSTILE, name=HOSTILE, roles=[HOSTILE], base_url=f"https://x.example/{HOSTILE}"
        ),
        federation=_federation(HOSTILE),
        services=[{"method": HOSTILE, "path": HOSTILE, "summary": HOSTILE, "personal_data": True}],
        health={HOSTILE: {"ok": False, "detail": HOSTILE}},
    )
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_a_base_url_that_is_not_http_is_not_made_a_link() -> None:
    html = render_home(node=SimpleNamespace(**{**vars(_node()), "base_url": "javascript:alert(1)"}))
    assert 'href="javascript:' not in html


def test_error_page_shows_status_title_and_escaped_detail() -> None:
    html = render("error.html", status=503, title="Service unavailable", detail=HOSTILE)
    assert "Error 503" in html
    assert '<h1 class="govuk-heading-l">Service unavailable</h1>' in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<title>Service unavailable \u2013 digitalstate</title>" in html


def test_footer_lists_the_links_it_is_given() -> None:
    html = render_home(footer_links=[{"href": "/privacy", "text": "Privacy"}])
    assert '<a class="govuk-footer__link" href="/privacy">Privacy</a>' in html


def test_make_templates_renders_with_the_same_environment() -> None:
    templates = make_templates()
    assert templates.env.autoescape is True
    assert "url_for" in templates.env.globals
    html = templates.get_template("error.html").render(status=404, title="Not found")
    assert "Not found" in html


def test_a_template_compiled_for_one_environment_serves_the_next_until_its_source_changes(
    tmp_path: Path,
) -> None:
    template = tmp_path / "kept.html"
    template.write_text("first {{ 1 + 1 }}", encoding="utf-8")
    assert make_environment([tmp_path]).get_template("kept.html").render() == "first 2"
    assert make_environment([tmp_path]).get_template("kept.html").render() == "first 2"

    template.write_text("second {{ 2 + 2 }}", encoding="utf-8")
    assert make_environment([tmp_path]).get_template("kept.html").render() == "second 4"
