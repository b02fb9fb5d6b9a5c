"""The catalogue and the choice of language: the .pot is up to date with the sources, the
Welsh catalogue covers every page that must be Welsh, and the language is picked within
bounds (docs/i18n.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from digitalstate.web import i18n
from digitalstate.web.languages import accept_language, chosen_in_query

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "src" / "digitalstate"
POT = i18n.LOCALE_DIR / "messages.pot"
WELSH_PO = i18n.LOCALE_DIR / "cy" / "LC_MESSAGES" / "messages.po"
# The pages that must be wholly Welsh (issue 10): every message found in these files has a
# Welsh translation. Paths are those the catalogue's locations use.
MUST_BE_WELSH = (
    "web/templates/base.html",
    "web/templates/error.html",
    "web/templates/identity/_macros.html",
    "web/templates/identity/sign_in.html",
    "web/templates/identity/csrf_failed.html",
    "web/templates/identity/problem.html",
    "web/templates/identity/signed_out.html",
    "web/templates/identity/choose_who.html",
    "web/templates/consent/_layout.html",
    "web/templates/consent/screen.html",
    "web/templates/consent/unavailable.html",
    "web/templates/consent/holder_unreachable.html",
    "identity/sign_in_form.py",
    "identity/relying_party.py",
    "identity/provider.py",
    "web/templates/services/_return_problem.html",
    "web/templates/services/return_problem.html",
    # A declared service's pages, as register-to-vote shows them (docs/i18n.md).
    "web/templates/services/journey/_layout.html",
    "web/templates/services/journey/_fields.html",
    "web/templates/services/journey/_history.html",
    "web/templates/services/journey/start.html",
    "web/templates/services/journey/consent.html",
    "web/templates/services/journey/consent_problem.html",
    "web/templates/services/journey/question.html",
    "web/templates/services/journey/check_answers.html",
    "web/templates/services/journey/confirmation.html",
    "web/templates/services/journey/not_eligible.html",
    "web/templates/services/journey/_feedback.html",
    # The satisfaction question the service's end pages link to.
    "web/templates/feedback/_layout.html",
    "web/templates/feedback/satisfaction.html",
    "web/templates/feedback/thanks.html",
    "web/templates/feedback/too_many.html",
    "web/templates/services/journey/applications.html",
    "web/templates/services/journey/application.html",
    "web/templates/services/journey/withdraw.html",
    # Open data (issue 13): the portal's catalogue (search, a dataset, a dataset not found).
    "web/templates/opendata/catalogue.html",
    "web/templates/opendata/dataset.html",
    "web/templates/opendata/not_found.html",
    # Each node's open data: its list, a dataset's page, a dataset it does not publish.
    "web/templates/publishing/datasets.html",
    "web/templates/publishing/dataset.html",
    "web/templates/publishing/not_found.html",
    "publishing/pages.py",
    "web/pagination.py",
    "consent/pages.py",
    "web/session.py",
    "web/hardening.py",
    "web/templating.py",
)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def ids(catalog: Catalog) -> set[object]:
    return {m.id for m in catalog if m.id}


def test_the_catalogue_template_holds_every_message_of_the_sources() -> None:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    extracted = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        SOURCES, method_map, options_map
    ):
        extracted.add(message)
    kept = ids(read(POT))
    assert extracted - kept == set(), "new messages: run 'make translations' (docs/i18n.md)"
    assert kept - extracted == set(), "messages no source has: run 'make translations'"


def test_every_language_catalogue_follows_the_template() -> None:
    assert ids(read(WELSH_PO)) == ids(read(POT)), "run 'make translations' (docs/i18n.md)"


def test_the_pages_that_must_be_welsh_have_a_welsh_text_for_every_message() -> None:
    welsh = read(WELSH_PO)
    needed = [
        m
        for m in welsh
        if m.id and any(loc.endswith(tuple(MUST_BE_WELSH)) for loc, _line in m.locations)
    ]
    assert len(needed) > 60
    missing = [
        m.id
        for m in needed
        if m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    assert missing == []


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    for message in read(WELSH_PO):
        if not message.id or not message.string:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(sources[-1])) | set(PLACEHOLDER.findall(sources[0]))
        for text in texts:
            assert set(PLACEHOLDER.findall(text)) <= wanted, (message.id, text)
            assert "%" not in PLACEHOLDER.sub("", text).replace("%%", ""), text


def test_welsh_is_read_from_its_catalogue_and_english_is_the_source() -> None:
    token = i18n.set_language(i18n.WELSH)
    try:
        assert i18n.gettext("Sign in") == "Mewngofnodi"
        assert i18n.gettext("a text in no catalogue") == "a text in no catalogue"
        assert i18n.format_day(__import__("datetime").date(2027, 3, 12)) == "12 Mawrth 2027"
    finally:
        i18n.reset_language(token)
    assert i18n.gettext("Sign in") == "Sign in"


def test_a_text_can_be_asked_for_in_a_language_other_than_the_pages() -> None:
    day = __import__("datetime").date(2027, 3, 12)  # a Friday
    token = i18n.set_language(i18n.WELSH)
    try:
        assert i18n.gettext_in(i18n.ENGLISH, "Sign in") == "Sign in"
        assert i18n.format_day(day, i18n.ENGLISH) == "12 March 2027"
        assert i18n.day_name(day.weekday(), i18n.ENGLISH) == "Friday"
        assert i18n.day_name(day.weekday()) == "Dydd Gwener"  # the page's language
    finally:
        i18n.reset_language(token)
    assert i18n.gettext_in(i18n.WELSH, "Sign in") == "Mewngofnodi"
    assert i18n.format_day(day, i18n.WELSH) == "12 Mawrth 2027"
    assert i18n.day_name(0, i18n.PSEUDO) == "Monday"  # CLDR has no pseudo-text: English


def test_the_pseudo_locale_marks_every_text_it_is_given() -> None:
    token = i18n.set_language(i18n.PSEUDO)
    try:
        assert i18n.gettext("Sign in") == "⟦Sign in⟧"
        assert i18n.ngettext("%(num)d day", "%(num)d days", 2) == "⟦%(num)d days⟧"
        assert i18n.pgettext("button", "Clear") == "⟦Clear⟧"
    finally:
        i18n.reset_language(token)


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("cy", "cy"),
        ("cy-GB,cy;q=0.9,en;q=0.8", "cy"),
        ("en-GB,en;q=0.9,cy;q=0.8", "en"),
        ("fr, cy;q=0.5", "cy"),
        ("cy;q=0.2, en;q=0.7", "en"),
        ("cy;q=0, fr", None),
        ("*", None),
        ("fr-FR, de", None),
        ("cy;q=nonsense, en;q=0.1", "en"),
        ("", None),
        (",;=,;q=,", None),
        ("de," * 5000 + "cy", None),  # read only so far
    ],
)
def test_accept_language_picks_the_preferred_offered_language(
    header: str, chosen: str | None
) -> None:
    assert accept_language(header, ("en", "cy")) == chosen


@pytest.mark.parametrize(
    ("query", "chosen"),
    [
        (b"lang=cy", "cy"),
        (b"next=%2Fmy&lang=en", "en"),
        (b"lang=xx", None),
        (b"lang=cy&lang=xx", None),
        (b"lang=", None),
        (b"flang=cy", None),
        (b"", None),
        (b"lang=%3Cscript%3E", None),
    ],
)
def test_only_an_offered_language_in_the_query_is_a_choice(query: bytes, chosen: str) -> None:
    assert chosen_in_query(query, ("en", "cy")) == chosen
