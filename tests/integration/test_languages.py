"""English and Welsh at the charter: the toggle switches and the choice sticks, Accept-Language
is the fallback, an unknown ?lang= is ignored, and the sign-in page and the consent screen are
wholly Welsh, and so are the pages a register-to-vote applicant sees after sending (their
application's status, the evidence page) (docs/i18n.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path

import pytest

from digitalstate.web.languages import COOKIE
from integration.consent_support import Federation, add_person_with_record, ask, running_federation
from integration.electoral_support import (
    ADA_NINO,
    ADA_PEOPLE,
    PNG,
    VoteFederation,
    running_vote_federation,
)
from integration.languages_support import offer
from support.pages import shared_texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CHARTER = "Charter: your account"
ADDRESS = {"lines": ["1 High Street"], "town": "Swansea", "postcode": "SA1 1AA"}


@pytest.fixture
def fed(
    tmp_path: Path,
    migrated_database_url: str,
    more_databases: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Federation]:
    offer(monkeypatch, "en", "cy")
    yield from running_federation(tmp_path, migrated_database_url, more_databases)


def html_lang(text: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', text)
    assert found, "no <html lang>"
    return found.group(1)


def test_the_toggle_switches_the_language_and_the_choice_sticks(fed: Federation) -> None:
    browser = fed.browser
    english = browser.get("/sign-in?next=%2Fmy")
    assert html_lang(english.text) == "en-GB"
    assert "set-cookie" not in english.headers or COOKIE not in english.headers["set-cookie"]
    # The page's own language is not a link; the other is, in its own language and name.
    assert '<span aria-current="true" lang="en">English</span>' in english.text
    assert 'href="?next=%2Fmy&amp;lang=cy" hreflang="cy" lang="cy" rel="alternate"' in english.text
    assert "Newid yr iaith i&#39;r Gymraeg" in english.text

    welsh = browser.get("/sign-in?next=%2Fmy&lang=cy")
    assert welsh.status_code == 200
    assert "Accept-Language" in welsh.headers["vary"]
    assert html_lang(welsh.text) == "cy"
    cookie = welsh.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=cy;") and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert '<h1 class="govuk-heading-l">Mewngofnodi</h1>' in welsh.text
    assert '<span aria-current="true" lang="cy">Cymraeg</span>' in welsh.text
    assert 'href="?next=%2Fmy&amp;lang=en" hreflang="en" lang="en"' in welsh.text

    # The choice sticks on every page, without the query.
    for path in ("/sign-in", "/"):
        page = browser.get(path)
        assert html_lang(page.text) == "cy", path
        assert COOKIE not in page.headers.get("set-cookie", "")
    assert "Neidio i'r prif gynnwys" in browser.get("/").text

    back = browser.get("/sign-in?lang=en")
    assert html_lang(back.text) == "en-GB"
    assert back.headers["set-cookie"].startswith(f"{COOKIE}=en;")
    assert html_lang(browser.get("/sign-in").text) == "en-GB"


def test_accept_language_chooses_when_nothing_was_chosen(fed: Federation) -> None:
    browser = fed.browser
    welsh = browser.get("/sign-in", headers={"accept-language": "cy-GB,cy;q=0.9,en;q=0.5"})
    assert html_lang(welsh.text) == "cy"
    assert COOKIE not in welsh.headers.get("set-cookie", "")  # a preference, not a choice
    english = browser.get("/sign-in", headers={"accept-language": "fr, en;q=0.4, cy;q=0.2"})
    assert html_lang(english.text) == "en-GB"
    # A choice made on the page wins over the browser's preference.
    browser.get("/sign-in?lang=en")
    chosen = browser.get("/sign-in", headers={"accept-language": "cy"})
    assert html_lang(chosen.text) == "en-GB"


@pytest.mark.parametrize(
    "value", ["xx", "evil%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", "cy-evil", "", "EN"]
)
def test_a_language_the_node_does_not_offer_is_ignored(fed: Federation, value: str) -> None:
    page = fed.browser.get(f"/sign-in?lang={value}&next=%2Fmy")
    assert page.status_code == 200
    assert html_lang(page.text) == "en-GB"
    assert COOKIE not in page.headers.get("set-cookie", "")
    assert "evil" not in page.text and "alert(" not in page.text and "lang=xx" not in page.text
    assert 'href="?next=%2Fmy&amp;lang=cy"' in page.text  # the toggle drops what was sent
    fed.browser.client.cookies.set(COOKIE, value or "zz")
    assert html_lang(fed.browser.get("/sign-in").text) == "en-GB"  # nor from a cookie


def test_the_sign_in_page_is_wholly_welsh(fed: Federation) -> None:
    browser = fed.browser
    pages = {}
    for code in ("en", "cy"):
        browser.client.cookies.set(COOKIE, code)
        token = browser.csrf("/sign-in")
        form = browser.get("/sign-in")
        wrong = browser.post(
            "/sign-in", data={"email": "", "password": "", "next": "/my", "csrf_token": token}
        )
        assert wrong.status_code == 400
        pages[code] = (form.text, wrong.text)
    assert shared_texts(pages["en"][0], pages["cy"][0], [CHARTER]) == set()
    assert shared_texts(pages["en"][1], pages["cy"][1], [CHARTER]) == set()
    welsh_form, welsh_wrong = pages["cy"]
    for text in ("Cyfeiriad e-bost", "Cyfrinair", "Mewngofnodi", "Dewis iaith"):
        assert text in welsh_form
    for text in ("Mae problem wedi codi", "Rhowch eich cyfeiriad e-bost", "Gwall:"):
        assert text in welsh_wrong


def test_the_consent_screen_is_wholly_welsh(fed: Federation) -> None:
    person = add_person_with_record(fed, "ada@example.org", "Ada Lovelace", ADDRESS)
    request_id = ask(fed, person)["request_id"]
    browser = fed.browser
    pages = {}
    for code in ("en", "cy"):
        browser.client.cookies.set(COOKIE, code)
        screen = browser.get(f"/consent/{request_id}")
        assert screen.status_code == 200, screen.text
        token = browser.csrf(f"/consent/{request_id}")
        unanswered = browser.post(f"/consent/{request_id}", data={"csrf_token": token})
        assert unanswered.status_code == 400
        pages[code] = (screen.text, unanswered.text)
    # What the federation's catalogue says is data, in the words the federation published.
    values = [
        CHARTER,
        "Liverpool: pensions",
        "People register",
        r"Home address in UK form.*",
        r"Date of birth.*",
        r"Liverpool pensions uses your address.*",
    ]
    assert shared_texts(pages["en"][0], pages["cy"][0], values) == set()
    assert shared_texts(pages["en"][1], pages["cy"][1], values) == set()
    welsh, unanswered = pages["cy"]
    assert "Mae Liverpool: pensions yn gofyn am gael gweld eich manylion" in welsh
    assert "Ydych chi eisiau rhannu'r manylion hyn?" in welsh
    assert "(365 diwrnod)" in welsh
    assert "Dewiswch ydw os ydych eisiau rhannu" in unanswered


def test_a_node_that_offers_english_only_has_no_toggle(
    tmp_path: Path,
    migrated_database_url: str,
    more_databases: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offer(monkeypatch, "en")
    for fed in running_federation(tmp_path, migrated_database_url, more_databases):
        page = fed.browser.get("/sign-in?lang=cy")
        assert html_lang(page.text) == "en-GB"
        assert "ds-language-select" not in page.text
        assert COOKIE not in page.headers.get("set-cookie", "")


@pytest.fixture
def voting(
    tmp_path: Path,
    migrated_database_url: str,
    more_databases: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[VoteFederation]:
    offer(monkeypatch, "en", "cy")
    yield from running_vote_federation(tmp_path, migrated_database_url, more_databases)


def test_register_to_vote_evidence_and_status_pages_are_wholly_welsh(
    voting: VoteFederation,
) -> None:
    """The pages a register-to-vote applicant sees after sending: their application's status
    with what the identity check says, the evidence page and its error, and the status once
    the document is sent."""
    ada = voting.add_voter("ada", ADA_PEOPLE, ADA_NINO)
    reference = voting.apply(ada, nino="JG103726B", open_register=True, postal=False)
    assert voting.check_due() == 1  # no match: a document is asked for
    http = voting.office.http
    status, evidence = f"/applications/{reference}", f"/applications/{reference}/evidence"
    pages: dict[str, tuple[str, ...]] = {}
    for code in ("en", "cy"):
        http.client.cookies.set(COOKIE, code)
        form = {"csrf_token": voting.csrf(evidence), "reference": reference}
        unsent = http.post("/applications/evidence", data=form)
        assert unsent.status_code == 400
        pages[code] = (http.get(status).text, http.get(evidence).text, unsent.text)
    # What Ada typed, her reference, the file names and the times are values.
    values = [
        reference,
        rf"{reference}.*",
        r"Ada|Lovelace|British|Prydeinig|passport\.png",
        r"JG 10 37 26 B|.*Street.*|Liverpool|[A-Z]{1,2}\d.*",
        r"\d{1,2}:\d\d(am|pm|yb|yp)?.*|\d.*\d{4}.*",
    ]
    for english, welsh in zip(pages["en"], pages["cy"], strict=True):
        assert html_lang(welsh) == "cy"
        assert shared_texts(english, welsh, values) == set()
    welsh_status, welsh_evidence, welsh_unsent = (unescape(page) for page in pages["cy"])
    assert "Anfonwch ddogfen atom sy'n profi pwy ydych chi" in welsh_status
    assert "Uwchlwytho dogfen" in welsh_status
    assert "Mae angen tystiolaeth: nid oeddem yn gallu paru" in welsh_status  # the reason
    assert "Cofrestru i bleidleisio: " in welsh_evidence  # the caption
    assert "Uwchlwythwch ddogfen sy\u2019n profi pwy ydych chi" in welsh_evidence
    assert "Llun neu sgan o\u2019ch pasbort" in welsh_evidence and "Anfon dogfen" in welsh_evidence
    assert "Gwall:" in welsh_unsent and "Mae problem wedi codi" in welsh_unsent
    assert "Dewiswch ddogfen sy\u2019n profi pwy ydych chi" in welsh_unsent

    sent = http.post(
        "/applications/evidence",
        data={"csrf_token": voting.csrf(evidence), "reference": reference},
        files={"identity-evidence": ("passport.png", PNG, "image/png")},
    )
    assert sent.status_code == 303
    after = unescape(http.get(status).text)
    assert "Bydd gweithiwr achos yn gwirio eich dogfen" in after
    assert "Byddwn yn ysgrifennu atoch pan fyddant wedi penderfynu ar eich cais." in after
    assert "Anfonwyd dogfen i brofi pwy ydych chi" in after  # the event's reason
    assert "A caseworker will check" not in after and "Document sent" not in after
    gone = http.get(evidence)  # sent: not asked again, and the 404 page is Welsh too
    assert gone.status_code == 404 and "Page not found" not in gone.text
