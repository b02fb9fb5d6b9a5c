"""The rules of feedback: the satisfaction scale, tags, what moderation flags, the Atom feed,
the datasets' schemas, and the [feedback] settings that are refused at load."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.feedback.atom import ATOM, FeedEntry, atom_feed, xml_text
from digitalstate.feedback.datasets import RESPONSES, STORIES, stories_spec, story_rows
from digitalstate.feedback.domain import (
    MAX_TAGS,
    SATISFACTION,
    SATISFIED,
    PublicStory,
    Rules,
    clean_text,
    flag_text,
    flags_from_json,
    flags_to_json,
    formula_flags,
    parse_tags,
    rating_of,
)
from digitalstate.feedback.service import is_story_id, new_story_id, rules_from
from digitalstate.publishing.domain import tabulate
from digitalstate.settings import FeedbackSection, NodeSettings, SettingsError, settings_from_data

RULES = rules_from(FeedbackSection())
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
# Words that hold no name, number, address or abuse: the story of a plain wait.
PLAIN = st.lists(
    st.sampled_from(
        [
            "the",
            "form",
            "was",
            "slow",
            "and",
            "i",
            "waited",
            "a",
            "week",
            "staff",
            "were",
            "kind",
            "online",
            "letter",
            "came",
            "late",
            "good",
            "service",
            "it",
            "worked",
        ]
    ),
    min_size=1,
    max_size=60,
).map(" ".join)


def kinds(text: str, rules: Rules = RULES) -> list[str]:
    return [flag.kind for flag in flag_text(text, rules)]


# --- satisfaction ------------------------------------------------------------------------------


def test_the_scale_has_five_answers_best_first_and_two_count_as_satisfied() -> None:
    assert list(SATISFACTION) == [5, 4, 3, 2, 1]
    assert SATISFACTION[5] == "Very satisfied" and SATISFACTION[1] == "Very dissatisfied"
    assert {4, 5} == SATISFIED


@given(st.text(max_size=5))
def test_only_the_five_answers_are_ratings(value: str) -> None:
    rating = rating_of(value)
    assert rating is None or (str(rating) == value and 1 <= rating <= 5)


# --- tags and text -----------------------------------------------------------------------------


def test_tags_are_lower_case_each_once_in_order() -> None:
    assert parse_tags("Waiting times, Staff, staff,  online   forms,") == (
        ("waiting times", "staff", "online forms"),
        None,
    )


def test_too_many_tags_or_a_tag_with_punctuation_is_refused() -> None:
    assert parse_tags(",".join(f"t{i}" for i in range(MAX_TAGS + 1)))[1] is not None
    assert parse_tags("good; bad")[1] is not None
    assert parse_tags("x" * 400)[1] is not None


@given(st.text(max_size=200))
def test_clean_text_keeps_no_control_character_but_newlines(text: str) -> None:
    cleaned = clean_text(text)
    assert "\r" not in cleaned
    assert all(c == "\n" or c.isprintable() or c.isspace() for c in cleaned)


# --- moderation rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "excerpt"),
    [
        ("Hello, my name is Ann Smith and I waited.", "name", "Ann Smith"),
        ("I spoke to Mrs Patel at the desk.", "name", "Mrs Patel"),
        ("Dr. Okafor was kind.", "name", "Dr. Okafor"),
        ("Ring me on 020 7946 0018 please", "phone", "020 7946 0018"),
        ("or my mobile +44 7700 900123", "phone", "+44 7700 900123"),
        ("write to ann.smith@example.org about it", "email", "ann.smith@example.org"),
        ("my NI number is QQ 12 34 56 C", "nino", "QQ 12 34 56 C"),
        ("and AB123456D too", "nino", "AB123456D"),
        ("The staff are idiots.", "abuse", "idiots"),
    ],
)
def test_each_kind_of_personal_data_and_abuse_is_flagged_with_its_words(
    text: str, kind: str, excerpt: str
) -> None:
    flags = flag_text(text, RULES)
    assert (kind, excerpt) in [(f.kind, f.excerpt) for f in flags]


@given(PLAIN)
def test_a_plain_story_flags_nothing(text: str) -> None:
    assert kinds(text) == []


# Addresses as people type them (st.emails() makes RFC 5321's rarer forms too, "*@a.bc").
TYPED_EMAILS = st.from_regex(
    r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}@[a-z0-9-]{1,20}(\.[a-z]{2,6}){1,2}", fullmatch=True
)


@given(PLAIN, PLAIN, TYPED_EMAILS)
def test_an_email_anywhere_in_a_story_is_flagged(before: str, after: str, email: str) -> None:
    assert "email" in kinds(f"{before} {email} {after}")


@given(
    PLAIN,
    st.sampled_from("ABCEGHJKLMNPRSTWXYZ"),
    st.sampled_from("ABCEGHJKLMNPRSTWXYZ"),
    st.integers(0, 999_999),
    st.sampled_from("ABCD"),
    st.booleans(),
)
def test_a_national_insurance_number_is_flagged_with_or_without_spaces(
    text: str, first: str, second: str, digits: int, last: str, spaced: bool
) -> None:
    number = f"{digits:06d}"
    pairs = [number[i : i + 2] for i in (0, 2, 4)]
    nino = (
        f"{first}{second} {' '.join(pairs)} {last}" if spaced else f"{first}{second}{number}{last}"
    )
    assert "nino" in kinds(f"{text} {nino} {text}")


@given(PLAIN, st.sampled_from(["my name is", "My name is", "I'm called", "call me"]))
def test_a_capitalised_name_after_an_introduction_is_flagged(text: str, intro: str) -> None:
    assert "name" in kinds(f"{text} {intro} Bronwen {text}")


def test_short_numbers_dates_and_references_are_not_phone_numbers() -> None:
    assert kinds("I waited 3 weeks for reference 12345, sent on 2026-11-03, 1,000 people") == []


def test_the_nodes_own_patterns_and_words_are_flagged_and_the_defaults_can_be_emptied() -> None:
    rules = Rules(name_patterns=(r"\bward \d{1,2}\b",), abuse_words=("rubbish",))
    assert kinds("I was on ward 7 and the food was rubbish", rules) == ["pattern", "abuse"]
    assert kinds("The staff are idiots", Rules()) == []
    assert kinds("Mr Jones was there", Rules()) == []


def test_flags_are_kept_as_json_and_read_back_skipping_what_is_not_a_flag() -> None:
    flags = flag_text("my name is Ann and ann@example.org", RULES)
    stored = [*flags_to_json(flags), {"kind": "nonsense"}, "x"]
    assert flags_from_json(stored) == flags
    assert flags_from_json("not a list") == ()


def test_a_title_or_story_that_starts_like_a_spreadsheet_formula_is_flagged() -> None:
    flags = formula_flags('=HYPERLINK("http://evil.test")', "- it was slow", "It was quick.")

    assert [(f.kind, f.excerpt) for f in flags] == [
        ("formula", '=HYPERLINK("http://evil.test")'),
        ("formula", "- it was slow"),
    ]
    assert formula_flags("It cost £5 + VAT", "a-ok @ home") == ()
    assert flags_from_json(flags_to_json(flags)) == flags


def test_a_long_excerpt_is_shortened() -> None:
    flags = flag_text("my name is " + " ".join(["Ann"] * 2) + " " + "x@" + "a" * 60 + ".org", RULES)
    assert all(len(f.excerpt) <= 60 for f in flags)


# --- ids ---------------------------------------------------------------------------------------


def test_a_story_id_is_twelve_unambiguous_characters() -> None:
    ids = {new_story_id() for _ in range(200)}
    assert len(ids) == 200 and all(is_story_id(i) for i in ids)
    assert not is_story_id("ABCDEFGHJKLM") and not is_story_id("o1l" * 4) and not is_story_id("")


# --- the Atom feed -----------------------------------------------------------------------------


@given(st.text(max_size=80), st.text(max_size=300), st.lists(st.text(max_size=10), max_size=3))
def test_the_feed_is_well_formed_whatever_a_story_holds(
    title: str, body: str, tags: list[str]
) -> None:
    feed = atom_feed(
        feed_url="http://127.0.0.1:8101/stories/feed.atom",
        page_url="http://127.0.0.1:8101/stories",
        title='Stories <&> "quoted"',
        author="Pensions & Co",
        entries=[FeedEntry("http://127.0.0.1:8101/stories/abc", title, body, AT, tuple(tags))],
        updated=AT,
    )
    root = ElementTree.fromstring(feed)
    assert root.tag == f"{{{ATOM}}}feed"
    entry = root.find(f"{{{ATOM}}}entry")
    assert entry is not None
    content = entry.find(f"{{{ATOM}}}content")
    assert content is not None and content.get("type") == "text"
    assert (content.text or "") == xml_text(body)
    assert entry.findtext(f"{{{ATOM}}}title") in (xml_text(title), None)


def test_the_feed_has_what_atom_requires() -> None:
    feed = atom_feed(
        feed_url="http://n/stories/feed.atom",
        page_url="http://n/stories",
        title="Stories",
        author="Pensions",
        entries=[FeedEntry("http://n/stories/abc", "<b>Slow</b> & late", "It was 5 < 6", AT)],
        updated=AT,
    )
    assert feed.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b"&lt;b&gt;Slow&lt;/b&gt; &amp; late" in feed and b"5 &lt; 6" in feed
    root = ElementTree.fromstring(feed)
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{{{ATOM}}}{name}") is not None
    entry = root.find(f"{{{ATOM}}}entry")
    assert entry is not None
    assert entry.findtext(f"{{{ATOM}}}updated") == "2026-12-01T09:30:00Z"
    assert entry.findtext(f"{{{ATOM}}}id") == "http://n/stories/abc"


# --- datasets ----------------------------------------------------------------------------------


def test_every_dataset_row_has_exactly_the_schemas_fields() -> None:
    story = PublicStory("abc", "pensions", "bus-pass", "T", 'B, "q"\nx', ("a", "b"), "made", AT)
    rows = story_rows([story])
    spec = stories_spec("Pensions")
    stories = spec.resource(STORIES)
    responses = spec.resource(RESPONSES)
    assert stories is not None and responses is not None
    names = [f.name for f in stories.fields]
    assert len(rows[0]) == len(names)
    text = tabulate(stories, rows).csv.decode()
    assert text.splitlines()[0] == ",".join(names)
    assert '"B, ""q""\nx"' in text
    assert ",a;b," in text
    assert responses.fields[0].name == "story_id"


# --- settings ----------------------------------------------------------------------------------


BASE = {
    "node": {"id": "pensions", "name": "Pensions", "roles": ["service"], "base_url": "http://x"},
    "federation": {
        "anchor_url": "http://anchor",
        "anchor_public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    },
}


@pytest.mark.parametrize(
    ("feedback", "said"),
    [
        ({"name_patterns": ["ward (\\d"]}, "is not a regular expression"),
        ({"name_patterns": ["x*"]}, "matches empty text"),
        ({"phone_region": "XX"}, "is not a region"),
        ({"abuse_words": ["two words"]}, "is not one word"),
        ({"submissions_per_client": 0}, "greater than or equal to 1"),
        ({"page_size": 1000}, "less than or equal to 100"),
        ({"moderate": True}, "remove it or check its spelling"),
    ],
)
def test_a_bad_feedback_setting_is_refused_at_load_in_one_line(
    feedback: dict[str, object], said: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        settings_from_data(NodeSettings, Path("node.toml"), BASE | {"feedback": feedback})
    message = str(refused.value)
    assert "\n" not in message and message.startswith("node.toml: [feedback] ") and said in message
