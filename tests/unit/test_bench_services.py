"""The pure helpers of `digitalstate bench services`: forms, timings, page weight, people."""

from __future__ import annotations

from datetime import date

from digitalstate.benchmarks.page_weight import assets_of_css, assets_of_html
from digitalstate.benchmarks.services import choose_people, slowest
from digitalstate.benchmarks.services_browser import page_kind, read_forms, server_time_ms
from digitalstate.benchmarks.services_journeys import takes_everyone
from digitalstate.demo.synthetic import make_person
from digitalstate.pensions.domain import too_early
from digitalstate.web.timing import server_timing_value

PAGE = """
<form method="get" action="/search"><input name="q"></form>
<form method="post" action="/services/x/name" enctype="multipart/form-data">
  <input type="hidden" name="csrf_token" value="t&amp;1">
  <input type="radio" name="given-names-use-held" value="yes">
  <input type="radio" name="given-names-use-held" value="no">
  <input type="checkbox" name="times" value="2026-05-04T14:00#1">
  <input type="checkbox" name="times" value="2026-05-05T10:00#2">
  <select name="prison"><option value="cardiff">HMP Cardiff</option>
  <option value="leeds">HMP Leeds</option></select>
  <textarea name="more"></textarea>
  <button>Continue</button>
</form>
"""


def test_forms_are_read_with_their_hidden_inputs_and_choices() -> None:
    search, question = read_forms(PAGE)
    assert (search.method, search.action, search.fields) == ("get", "/search", ["q"])
    assert question.method == "post" and question.multipart
    assert question.hidden == {"csrf_token": "t&1"}
    assert question.choices == {
        "given-names-use-held": ["yes", "no"],
        "times": ["2026-05-04T14:00#1", "2026-05-05T10:00#2"],
        "prison": ["cardiff", "leeds"],
    }
    assert question.fields == [
        "csrf_token", "given-names-use-held", "given-names-use-held", "times", "times",
        "prison", "more",
    ]  # fmt: skip


def test_the_server_time_is_read_from_the_header_the_nodes_write() -> None:
    written = server_timing_value(0.01234).decode()
    assert written == "app;dur=12.3"
    assert server_time_ms(written) == 12.3
    assert server_time_ms('db;dur=4, app;desc="page";dur=7.5') == 7.5
    assert server_time_ms("db;dur=4") is None
    assert server_time_ms(None) is None
    assert server_time_ms("") is None


def test_a_page_kind_writes_references_and_ids_as_placeholders() -> None:
    assert page_kind("/services/register-to-vote/confirmation/RTV-3TQW-QYXT-7") == (
        "/services/register-to-vote/confirmation/{id}"
    )
    assert page_kind("/consent/0b5c6a1e-8d2f-4c1a-9e3b-5f6a7b8c9d0e") == "/consent/{id}"
    assert page_kind("/services/book-a-prison-visit/visitor-1") == (
        "/services/book-a-prison-visit/visitor-1"
    )


def test_a_page_loads_its_stylesheets_icons_scripts_and_images() -> None:
    html = """<link rel="stylesheet" href="/static/a.css"><link rel="icon" href="/f.svg">
    <link rel="canonical" href="/elsewhere"><script src="/static/a.js"></script>
    <script>inline()</script><img src="/i.png"><a href="/not-loaded">x</a>"""
    assert assets_of_html(html) == ["/static/a.css", "/f.svg", "/static/a.js", "/i.png"]
    css = """a{background:url("/img/a.svg")} b{src:url( '/f.woff2' )} c{x:url(data:image/png;
    base64,AAAA)} d{y:url(#mask)}"""
    assert assets_of_css(css) == ["/img/a.svg", "/f.woff2"]


def test_the_people_chosen_can_all_claim_their_state_pension_and_are_the_same_each_run() -> None:
    today = date(2026, 12, 5)
    people = choose_people(12, 1, today)
    assert len({who.email for who in people}) == 12
    assert all(too_early(who.date_of_birth, today) is None for who in people)
    assert [who.number for who in people] == [w.number for w in choose_people(12, 1, today)]
    skipped = set(range(people[-1].number)) - {who.number for who in people}
    assert skipped, "some demo people are too young and are left out"
    assert not any(takes_everyone(make_person(1, n), today) for n in skipped)


def test_the_slowest_kinds_of_page_come_first_with_their_percentiles() -> None:
    by_page = {
        "GET /a": [1.0] * 20,
        "POST /b": [float(n) for n in range(1, 101)],
        "GET /c": [5.0, 50.0],
    }
    ranked = slowest(by_page, count=2)
    assert list(ranked) == ["POST /b", "GET /c"]
    assert ranked["POST /b"] == {"p95_ms": 95.0, "p50_ms": 50.0, "count": 100}
