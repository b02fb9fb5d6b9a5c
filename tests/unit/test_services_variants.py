"""Experiments declared in a service definition: refused at load when unusable, who sees which
variant (stable, honouring the shares), and the page each variant shows."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.services.definitions import ServiceDefinitionError, read_definition
from digitalstate.services.journey import submitted_answers
from digitalstate.services.variants import (
    Experiment,
    Variant,
    assign,
    bucket,
    shown_definition,
)
from support.experiments import half_and_half

SERVICE = """\
slug = "apply-for-a-bus-pass"
title = "Apply for a bus pass"
description = "Apply for a free bus pass."
purpose = "pension-administration"
fields = ["people.address"]

[[pages]]
id = "name"
title = "What is your name?"

[[pages.questions]]
id = "full-name"
type = "text"
label = "Full name"

[[pages.questions]]
id = "nickname"
type = "text"
label = "What should we call you?"
required = false

[[pages.questions]]
id = "title"
type = "text"
label = "Title"
required = false

[[pages]]
id = "contact"
title = "How should we contact you?"
show_if = { question = "title", equals = "Dr" }

[[pages.questions]]
id = "contact"
type = "text"
label = "How should we contact you?"

[submit]
action = "record"
next_steps = "We will post it."
""" + half_and_half(
    "name-wording",
    "name",
    """title = "Your name"
order = ["nickname", "full-name", "title"]
leave_out = ["nickname"]

[[experiments.variants.questions]]
id = "full-name"
label = "Your full name"
hint = "As it is on your passport"
""",
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bus-pass.toml"
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ServiceDefinitionError) as caught:
        read_definition(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and "; fix: " in message
    return message


def test_an_experiment_is_read_with_its_variants(tmp_path: Path) -> None:
    definition = read_definition(write(tmp_path, SERVICE))
    [experiment] = definition.experiments
    assert experiment.page == "name"
    assert [(v.id, v.share) for v in experiment.variants] == [("as-now", 50), ("plain", 50)]


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        pytest.param(
            "share = 50\ntitle",
            "share = 40\ntitle",
            "experiments[0].variants",
            "the variants' shares add up to 90, not 100; fix: make the shares",
            id="shares",
        ),
        pytest.param(
            'page = "name"',
            'page = "names"',
            "experiments[0].page",
            "'names' is not a page of the service; fix: name one of its pages: name, contact",
            id="unknown page",
        ),
        pytest.param(
            'id = "full-name"\nlabel = "Your',
            'id = "surname"\nlabel = "Your',
            "experiments[0].variants[1].questions[0].id",
            "'surname' is not on page 'name'",
            id="unknown question",
        ),
        pytest.param(
            'leave_out = ["nickname"]',
            'leave_out = ["full-name"]',
            "experiments[0].variants[1].leave_out[0]",
            "'full-name' is a required question: the service needs its answer",
            id="required left out",
        ),
        pytest.param(
            'leave_out = ["nickname"]',
            'leave_out = ["title"]',
            "experiments[0].variants[1].leave_out[0]",
            "a condition (show_if or eligibility) tests 'title'",
            id="tested left out",
        ),
        pytest.param(
            'order = ["nickname", "full-name", "title"]',
            'order = ["nickname", "full-name"]',
            "experiments[0].variants[1].order",
            "is not an order of the page's questions",
            id="order",
        ),
        pytest.param(
            'id = "plain"',
            'id = "as-now"',
            "experiments[0].variants[1].id",
            "'as-now' is the id of an earlier variant",
            id="variant id",
        ),
        pytest.param(
            "share = 50\ntitle",
            "share = 0\ntitle",
            "experiments[0].variants[1].share",
            "greater than or equal to 1",
            id="share zero",
        ),
    ],
)
def test_an_unusable_experiment_is_refused_naming_file_and_key(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    assert old in SERVICE
    message = refused(tmp_path, SERVICE.replace(old, new, 1))
    assert f": {key}: " in message, message
    assert words in message, message


def test_a_variant_text_must_be_in_every_language_of_the_service(tmp_path: Path) -> None:
    text = SERVICE.replace('title = "Your name"', 'title = { en = "Your name", cy = "Eich enw" }')
    message = refused(tmp_path, text)
    assert ": experiments[0].variants[1].title.cy: the service's languages do not include cy" in (
        message
    )


def test_each_variant_shows_its_page_and_the_control_changes_nothing(tmp_path: Path) -> None:
    definition = read_definition(write(tmp_path, SERVICE))
    [experiment] = definition.experiments
    by_variant = {}
    for n in range(200):
        shown, recorded = shown_definition(definition, {}, f"person-{n}")
        assert recorded is not None
        by_variant[recorded] = shown
    control, plain = by_variant["name-wording:as-now"], by_variant["name-wording:plain"]
    assert control.page("name") == definition.page("name")
    page = plain.page("name")
    assert page is not None and page.title.text("en") == "Your name"
    assert [q.id for q in page.questions] == ["full-name", "title"]
    assert page.questions[0].label.text("en") == "Your full name"
    assert page.questions[0].hint is not None
    assert plain.page("contact") == definition.page("contact")
    # A question left out is never submitted, even if an earlier variant answered it.
    answers = {"full-name": "Ada", "nickname": "Addie", "title": "Dr", "contact": "post"}
    assert "nickname" not in submitted_answers(plain, answers, today=date(2026, 12, 5))
    assert experiment.variant("plain") is not None


def test_a_stopped_experiment_shows_its_winner_to_everyone_unrecorded(tmp_path: Path) -> None:
    definition = read_definition(write(tmp_path, SERVICE))
    for key in [None, *(f"p{n}" for n in range(50))]:  # None: assisted digital too
        shown, recorded = shown_definition(definition, {"name-wording": "plain"}, key)
        assert recorded is None
        page = shown.page("name")
        assert page is not None and page.title.text("en") == "Your name"


def test_without_a_key_the_first_variant_shows_and_nothing_is_recorded(tmp_path: Path) -> None:
    definition = read_definition(write(tmp_path, SERVICE))
    shown, recorded = shown_definition(definition, {}, None)
    assert recorded is None and shown.page("name") == definition.page("name")


def test_the_demo_experiment_is_declared() -> None:
    definition = read_definition(DEMO_SERVICES / "ask-for-a-care-assessment.toml")
    assert [e.id for e in definition.experiments] == ["more-examples"]


# --- assignment ----------------------------------------------------------------------------

shares = st.lists(st.integers(1, 98), min_size=1, max_size=4).filter(lambda s: sum(s) < 100)


def experiment_with(split: list[int]) -> Experiment:
    parts = [*split, 100 - sum(split)]
    variants = [Variant(id=f"v{n}", share=share) for n, share in enumerate(parts)]
    return Experiment(id="exp", page="name", variants=variants)


@given(split=shares, key=st.text(min_size=1, max_size=64))
@settings(max_examples=200)
def test_a_person_sees_the_same_variant_every_time(split: list[int], key: str) -> None:
    experiment = experiment_with(split)
    assert assign(experiment, key) == assign(experiment, key)
    assert 0 <= bucket(experiment.id, key) < 100


@given(split=shares)
@settings(max_examples=20, deadline=None)
def test_the_variants_are_seen_in_their_shares(split: list[int]) -> None:
    experiment = experiment_with(split)
    people = 20_000
    seen = Counter(assign(experiment, f"pseudonym-{n}").id for n in range(people))
    for variant in experiment.variants:
        expected = people * variant.share / 100
        # Five standard deviations of a binomial count: wrong shares fail, chance never does.
        tolerance = 5 * (expected * (1 - variant.share / 100)) ** 0.5 + 1
        assert abs(seen[variant.id] - expected) <= tolerance, (variant, seen)


def test_one_persons_places_in_two_experiments_are_independent() -> None:
    pairs = Counter(
        (bucket("first", f"p{n}") < 50, bucket("second", f"p{n}") < 50) for n in range(8000)
    )
    for count in pairs.values():
        assert abs(count - 2000) < 250, pairs
