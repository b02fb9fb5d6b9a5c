"""Service definition files: read into a ServiceEntry, or refused in one line naming the fix."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument
from digitalstate.services.definitions import (
    MAX_FILE_BYTES,
    ServiceDefinitionError,
    check_against,
    load_service_definition,
    read_definition,
    read_definitions,
)
from digitalstate.settings import NodeSettings, SettingsError, settings_from_data
from support.federation import federation_document

VALID = """\
title = "Check your State Pension details"
description = "See the address and date of birth we use to pay your State Pension."
purpose = "pension-administration"
fields = ["people.address", "people.date_of_birth"]
"""
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pension-check.toml"
    path.write_text(text)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ServiceDefinitionError) as caught:
        load_service_definition(path, "liverpool-pensions")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def document() -> FederationDocument:
    return federation_document(federation="test", now=NOW)


def test_a_valid_file_is_the_nodes_service_with_the_defaults(tmp_path: Path) -> None:
    entry = load_service_definition(write(tmp_path, VALID), "liverpool-pensions")
    assert entry.member == "liverpool-pensions"
    assert entry.title == "Check your State Pension details"
    assert entry.purpose == "pension-administration"
    assert entry.fields == ("people.address", "people.date_of_birth")
    assert (entry.holder, entry.notify, entry.duration_days) == ("people-register", True, 365)


def test_every_default_can_be_set(tmp_path: Path) -> None:
    text = VALID + 'holder = "people-register"\nnotify = false\nduration_days = 30\n'
    entry = load_service_definition(write(tmp_path, text), "liverpool-pensions")
    assert (entry.notify, entry.duration_days) == (False, 30)


def test_an_unknown_key_is_named(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, VALID + 'titel = "typo"\n'))
    assert ": titel: " in message
    assert "fix: remove it or check its spelling" in message


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('duration_days = "365"', "duration_days"),
        ('notify = "yes"', "notify"),
        ("duration_days = 0", "duration_days"),
        ('holder = "People Register"', "holder"),
    ],
)
def test_a_value_of_the_wrong_type_or_form_is_named(tmp_path: Path, line: str, key: str) -> None:
    message = refusal(write(tmp_path, VALID + line + "\n"))
    assert f": {key}: " in message
    assert "fix: correct the value" in message


def test_fields_must_be_a_list_of_strings(tmp_path: Path) -> None:
    text = VALID.replace('["people.address", "people.date_of_birth"]', '"people.address"')
    assert ": fields: " in refusal(write(tmp_path, text))


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, VALID.replace('purpose = "pension-administration"\n', "")))
    assert ": purpose: Field required; fix: add it" in message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path / "absent.toml")
    assert "no such service definition file" in message
    assert "[services] files" in message


def test_a_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "#" * MAX_FILE_BYTES + "\n")
    assert f"larger than {MAX_FILE_BYTES} bytes" in refusal(path)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    assert "not valid UTF-8 TOML" in refusal(write(tmp_path, "title = \n"))


def test_a_service_the_catalogue_allows_passes(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    entry = load_service_definition(path, "liverpool-pensions")
    assert check_against(path, entry, document()) is None


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('"pension-administration"', '"pension-fishing"', "purpose"),
        ('"people.date_of_birth"', '"people.shoe_size"', "fields"),
        ("fields", 'holder = "liverpool-pensions"\nfields', "fields"),
    ],
    ids=["unknown-purpose", "unknown-field", "field-held-elsewhere"],
)
def test_a_service_the_catalogue_does_not_allow_is_named(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    path = write(tmp_path, VALID.replace(old, new))
    entry = load_service_definition(path, "liverpool-pensions")
    problem = check_against(path, entry, document())
    assert problem is not None
    assert problem.startswith(f"{path}: {key}: ")
    assert "; fix: " in problem and "\n" not in problem


def settings(tmp_path: Path, files: list[str]) -> NodeSettings:
    data = {
        "node": {
            "id": "liverpool-pensions",
            "name": "Liverpool: pensions",
            "roles": ["service"],
            "base_url": "http://127.0.0.1:8101",
        },
        "federation": {
            "anchor_url": "http://127.0.0.1:8100",
            "anchor_public_key": "A" * 43 + "=",
        },
        "services": {"files": files},
    }
    return settings_from_data(NodeSettings, tmp_path / "node.toml", data)


def test_a_relative_file_is_found_beside_the_settings_file(tmp_path: Path) -> None:
    found = settings(tmp_path, ["services/pension-check.toml"]).service_files
    assert found == [(tmp_path / "services" / "pension-check.toml").resolve()]
    assert settings(tmp_path, []).service_files == []


def test_a_node_runs_several_services_each_file_named_once(tmp_path: Path) -> None:
    assert len(settings(tmp_path, ["a.toml", "b.toml"]).service_files) == 2
    with pytest.raises(SettingsError) as caught:
        settings(tmp_path, ["a.toml", "b.toml", "a.toml"])
    message = str(caught.value)
    assert "[services] files: " in message and "'a.toml' is listed twice" in message
    assert "\n" not in message


# --- services with pages of questions (ADR 0017) -------------------------------------------

DEMO_FILES = sorted(DEMO_SERVICES.glob("*.toml"))
JOURNEY = """\
title = "Apply for a thing"
description = "Ask for a thing."
purpose = "pension-administration"
fields = ["people.address", "people.date_of_birth"]

[[pages]]
id = "about-you"
title = "About you"

[[pages.questions]]
id = "dob"
type = "date"
label = "Date of birth"
prefill = "people.date_of_birth"

[[pages.questions]]
id = "colour"
type = "radios"
label = "Favourite colour"
choices = [{ value = "red", label = "Red" }, { value = "blue", label = "Blue" }]

[[pages]]
id = "why"
title = "Why"
show_if = { question = "colour", equals = "red" }

[[pages.questions]]
id = "why"
type = "long-text"
label = "Why red?"

[[eligibility]]
condition = { question = "dob", age_under = 16 }
reason = "You must be 16 or over."

[submit]
action = "record"
next_steps = "We will write to you."
"""


@pytest.mark.parametrize("path", DEMO_FILES, ids=[p.stem for p in DEMO_FILES])
def test_every_demo_file_is_a_usable_definition_the_demo_catalogue_allows(path: Path) -> None:
    definition = read_definition(path)
    assert definition.slug == path.stem
    assert check_against(path, definition.entry("demo"), load_catalogue()) is None
    prefills = [q.prefill for _, q in definition.questions() if q.prefill]
    assert all(field.startswith("people.") for field in prefills)


def test_the_demo_journeys_have_their_actions_pages_and_languages() -> None:
    journeys = {p.stem: read_definition(p) for p in DEMO_FILES if read_definition(p).has_journey}
    assert {slug: d.submit.action for slug, d in journeys.items() if d.submit} == {
        "register-to-vote": "electoral-registration",
        "book-a-prison-visit": "prison-visit",
        "apply-for-state-pension": "state-pension",
        "change-your-address": "change-address",
        "ask-for-a-care-assessment": "record",
    }
    vote = journeys["register-to-vote"]
    assert vote.languages == ["en", "cy"] and len(vote.pages) <= 12
    assert vote.title.text("cy") == "Cofrestru i bleidleisio"
    slots = journeys["book-a-prison-visit"].question("times")
    assert slots is not None and (slots.max_choices, slots.source) == (3, "prison-visit-slots")


def test_a_journey_reads_with_its_pages_questions_and_defaults(tmp_path: Path) -> None:
    definition = read_definition(write(tmp_path, JOURNEY))
    assert definition.slug == "pension-check"  # from the file's name
    assert definition.prefix == "PC"
    assert [page.id for page in definition.pages] == ["about-you", "why"]
    question = definition.question("dob")
    assert question is not None and question.required and question.subject() == "date of birth"
    assert definition.languages == ["en"] and definition.title.text("cy") == "Apply for a thing"


def test_a_slug_the_file_name_cannot_give_must_be_set(tmp_path: Path) -> None:
    path = tmp_path / "9.toml"
    path.write_text(VALID)
    assert ": slug: the file's name gives no slug; fix: add slug" in refusal(path)
    path.write_text('slug = "nine"\n' + VALID)
    assert read_definition(path).slug == "nine"


def test_two_files_with_one_slug_are_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text('slug = "same"\n' + VALID)
    second.write_text('slug = "same"\n' + VALID)
    with pytest.raises(ServiceDefinitionError) as caught:
        read_definitions([first, second])
    assert str(caught.value).startswith(f"{second}: slug: 'same' is also the slug of {first}")


LEAF = '{ question = "colour", equals = "red" }'
DEEP = "{ all = [{ any = [{ all = [{ any = [{ all = [" + LEAF + "] }] }] }] }] }"
WELSH = JOURNEY.replace('title = "Apply', 'languages = ["en", "cy"]\ntitle = "Apply', 1)

MISTAKES = [
    # (what, replace, with, key path, words of the message)
    (
        "slug form",
        "title =",
        'slug = "Bad Slug"\ntitle =',
        "slug",
        "does not have the expected form",
    ),
    ("languages", "title =", 'languages = ["cy"]\ntitle =', "languages", "not a set of languages"),
    (
        "unknown type",
        'type = "radios"',
        'type = "colour"',
        "pages[0].questions[1].type",
        "Input should be",
    ),
    (
        "unknown option",
        'label = "Why red?"',
        'label = "Why red?"\nmax_choices = 2',
        "pages[1].questions[0].max_choices",
        "has no option max_choices",
    ),
    (
        "option of another type",
        'label = "Date of birth"',
        'label = "Date of birth"\nmax_length = 3',
        "pages[0].questions[0].max_length",
        "a date question has no option",
    ),
    (
        "no choices",
        'choices = [{ value = "red", label = "Red" }, { value = "blue", label = "Blue" }]',
        "",
        "pages[0].questions[1].choices",
        "needs choices",
    ),
    (
        "empty choices",
        'choices = [{ value = "red", label = "Red" }, { value = "blue", label = "Blue" }]',
        "choices = []",
        "pages[0].questions[1].choices",
        "at least 1 item",
    ),
    (
        "same choice twice",
        '{ value = "blue", label = "Blue" }',
        '{ value = "red", label = "Blue" }',
        "pages[0].questions[1].choices",
        "same value",
    ),
    (
        "slots without max_choices",
        'type = "long-text"',
        'type = "slots"\nsource = "times"',
        "pages[1].questions[0].max_choices",
        "needs max_choices",
    ),
    (
        "max_choices 0",
        'type = "long-text"',
        'type = "slots"\nsource = "times"\nmax_choices = 0',
        "pages[1].questions[0].max_choices",
        "greater than or equal to 1",
    ),
    (
        "page id of a page every service has",
        'id = "why"\ntitle',
        'id = "check-answers"\ntitle',
        "pages[1].id",
        "'check-answers' is the address of a page every service has",
    ),
    (
        "duplicate page id",
        'id = "why"\ntitle',
        'id = "about-you"\ntitle',
        "pages[1].id",
        "earlier page",
    ),
    (
        "duplicate question id",
        'id = "why"\ntype',
        'id = "dob"\ntype',
        "pages[1].questions[0].id",
        "earlier question",
    ),
    (
        "condition on a later page",
        'id = "about-you"\ntitle = "About you"',
        'id = "about-you"\ntitle = "About you"\nshow_if = { question = "why", answered = true }',
        "pages[0].show_if.question",
        "not a question on an earlier page",
    ),
    (
        "condition on no question",
        'question = "colour", equals',
        'question = "color", equals',
        "pages[1].show_if.question",
        "'color' is not a question",
    ),
    (
        "condition value not a choice",
        'equals = "red"',
        'equals = "green"',
        "pages[1].show_if.equals",
        "'green' is not a choice",
    ),
    (
        "condition with two tests",
        'equals = "red" }',
        'equals = "red", answered = true }',
        "pages[1].show_if",
        "a question and one test",
    ),
    (
        "age of a non-date",
        'question = "dob", age_under',
        'question = "colour", age_under',
        "eligibility[0].condition.age_under",
        "not a date",
    ),
    (
        "eligibility on no question",
        'question = "dob", age_under',
        'question = "age", age_under',
        "eligibility[0].condition.question",
        "not a question on a page",
    ),
    (
        "conditions nest too deep",
        'show_if = { question = "colour", equals = "red" }',
        "show_if = " + DEEP,
        "pages[1].show_if.all[0]",
        "nest at most 4 deep",
    ),
    (
        "prefill not in fields",
        'prefill = "people.date_of_birth"',
        'prefill = "people.given_names"',
        "pages[0].questions[0].prefill",
        "not one of the service's fields",
    ),
    (
        "prefill of a choice",
        'label = "Favourite colour"',
        'label = "Favourite colour"\nprefill = "people.address"',
        "pages[0].questions[1].prefill",
        "cannot be pre-filled",
    ),
    (
        "unknown action",
        'action = "record"',
        'action = "launch"',
        "submit.action",
        "not an action this node runs",
    ),
    (
        "pages without submit",
        '[submit]\naction = "record"\nnext_steps = "We will write to you."\n',
        "",
        "submit",
        "needs [submit]",
    ),
    (
        "bad prefix",
        "title =",
        'reference_prefix = "R2"\ntitle =',
        "reference_prefix",
        "does not have the expected form",
    ),
    (
        "unknown key in a page",
        'title = "Why"',
        'title = "Why"\ncolour = "red"',
        "pages[1].colour",
        "Extra inputs",
    ),
    (
        "unknown language",
        'label = "Why red?"',
        'label = { en = "Why red?", fr = "Pourquoi?" }',
        "pages[1].questions[0].label",
        "fr is not a language",
    ),
    (
        "min above max",
        'type = "long-text"',
        'type = "number"\nmin = 5\nmax = 1',
        "pages[1].questions[0].max",
        "less than min",
    ),
    (
        "too long a text limit",
        'type = "long-text"',
        'type = "text"\nmax_length = 600',
        "pages[1].questions[0].max_length",
        "at most 500",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [pytest.param(*m[1:], id=m[0]) for m in MISTAKES],
)
def test_each_kind_of_mistake_is_named_by_file_and_key(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    assert old in JOURNEY
    message = refusal(write(tmp_path, JOURNEY.replace(old, new, 1)))
    assert f"{tmp_path / 'pension-check.toml'}: {key}: " in message, message
    assert words in message and "; fix: " in message, message


def test_a_text_without_welsh_is_refused_when_the_service_is_in_welsh(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, WELSH))
    assert ": title: has no Welsh (cy) text" in message
    assert 'fix: write it as a table: { en = "...", cy = "..." }' in message


def test_a_welsh_text_is_refused_when_the_service_is_only_in_english(tmp_path: Path) -> None:
    text = JOURNEY.replace('title = "Why"', 'title = { en = "Why", cy = "Pam" }')
    message = refusal(write(tmp_path, text))
    assert ": pages[1].title.cy: the service's languages do not include cy" in message


def test_a_journeys_key_without_pages_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, VALID + '[submit]\naction = "record"\nnext_steps = "x"\n'))
    assert ": submit: only a service with pages has it; fix: add [[pages]]" in message


def test_the_actions_a_node_runs_can_be_given(tmp_path: Path) -> None:
    path = write(tmp_path, JOURNEY.replace('action = "record"', 'action = "launch"'))
    assert read_definition(path, actions=frozenset({"launch"})).submit is not None


def test_the_sample_definition_in_the_docs_is_usable(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    found = re.search(
        r"<!-- sample: register-to-vote.toml -->\n```toml\n(.*?)\n```", docs.read_text(), re.DOTALL
    )
    assert found is not None
    path = tmp_path / "register-to-vote.toml"
    path.write_text(found.group(1))
    definition = read_definition(path)
    assert [page.id for page in definition.pages][-1] == "previous-address"
    assert check_against(path, definition.entry("demo"), load_catalogue()) is None
