"""A declared service's pages in Welsh: register-to-vote (the demo's, with its action swapped to
`record`) after ?lang=cy shows its own Welsh texts in Welsh pages (docs/i18n.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from digitalstate.web.i18n import WELSH
from integration.journey_support import (
    BUS,
    VOTE,
    VOTE_ANSWERS,
    JourneyNode,
    journey_node,
    register_to_vote,
)
from integration.languages_support import in_language, offer

ADA = "ada-pseudonym-at-pensions"


@pytest.fixture
def voting(
    tmp_path: Path, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[JourneyNode]:
    offer(monkeypatch, "en", WELSH)
    with journey_node(tmp_path, migrated_database_url, {"vote.toml": register_to_vote()}) as node:
        yield node


def title(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found
    return " ".join(found.group(1).split())


def test_register_to_vote_is_welsh_from_start_to_confirmation(voting: JourneyNode) -> None:
    start = voting.get(f"{VOTE}?lang=cy")
    assert start.status_code == 200
    assert '<html lang="cy"' in start.text
    assert title(start.text).startswith("Dechrau \u2013 Cofrestru i bleidleisio")
    assert '<h1 class="govuk-heading-xl">Cofrestru i bleidleisio</h1>' in start.text
    assert "Dim ond unwaith y mae angen i chi gofrestru" in start.text
    assert "Dechrau nawr" in start.text and "Mae'n cymryd tua 5 munud." in start.text
    assert "enwau cyntaf, cyfenw, dyddiad geni, cyfeiriad" in start.text
    assert "Start now" not in start.text and "Register to vote" not in start.text

    voting.sign_in(ADA)  # a fresh browser: the choice is made again
    voting.type_answers(VOTE, "nationality")
    in_language(voting.node.http.client.cookies, WELSH)
    question = voting.get(f"{VOTE}/nationality")
    assert '<html lang="cy"' in question.text
    assert "Beth yw eich cenedligrwydd?" in question.text and "Prydeinig" in question.text
    assert ">\n  Parhau\n<" in question.text or "Parhau</button>" in question.text
    assert "Yn ôl" in question.text and "Continue" not in question.text

    # An error: the summary and the message in Welsh, with the service's own Welsh name for it.
    wrong = voting.answer("nationality", {}, base=VOTE)
    assert wrong.status_code == 400
    assert title(wrong.text).startswith("Gwall: Beth yw eich cenedligrwydd?")
    assert "Mae problem wedi codi" in wrong.text
    assert 'href="#nationality">Dewiswch eich cenedligrwydd</a>' in wrong.text

    for page, data in VOTE_ANSWERS:
        answered = voting.answer(page, data, base=VOTE)
        assert answered.status_code == 303, (page, answered.text)
    check = voting.get(f"{VOTE}/check-answers")
    assert "Gwiriwch eich atebion cyn anfon eich cais" in check.text
    assert "Newid" in check.text and "Derbyn ac anfon" in check.text
    assert "Prydeinig" in check.text and "10 Rhagfyr 1985" in check.text
    assert "Change" not in check.text

    sent = voting.submit(VOTE)
    confirmation = voting.get(sent.headers["location"])
    assert "Cais wedi'i gwblhau" in confirmation.text
    assert "Beth sy'n digwydd nesaf" in confirmation.text
    reference = sent.headers["location"].rsplit("/", 1)[1]
    listed = voting.get("/applications")
    assert "Eich ceisiadau" in listed.text and "Cofrestru i bleidleisio" in listed.text
    assert "Wedi&#39;i gyflwyno" in listed.text
    application = voting.get(f"/applications/{reference}")
    assert "Beth a anfonoch" in application.text and "Tynnu'r cais yn ôl" in application.text


def test_a_service_declared_in_english_only_keeps_its_texts_english_in_welsh_pages(
    tmp_path: Path, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bus pass declares no Welsh: its own texts are English, the pages' own words Welsh."""
    offer(monkeypatch, "en", WELSH)
    with journey_node(tmp_path, migrated_database_url) as node:
        start = node.get(f"{BUS}?lang=cy")
        assert '<html lang="cy"' in start.text
        assert '<h1 class="govuk-heading-xl">Apply for a bus pass</h1>' in start.text
        assert "You can apply if you live in Liverpool." in start.text
        assert "Dechrau nawr" in start.text and "Cyn i chi ddechrau" in start.text
        node.sign_in(ADA)
        node.type_answers()
        in_language(node.node.http.client.cookies, WELSH)
        wrong = node.answer("name", {"full-name": ""})
        assert "Full name" in wrong.text and "Parhau" in wrong.text
        # The error names the answer in the service's words: the whole message is English.
        assert 'href="#full-name">Enter full name</a>' in wrong.text
        assert "Mae problem wedi codi" in wrong.text
