"""The journey: pages shown, the next page, what is missing, what is submitted, check answers."""

from __future__ import annotations

from datetime import date

import jsonschema_rs
import pytest

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.services.conditions import Condition, holds
from digitalstate.services.definitions import ServiceDefinition, read_definition
from digitalstate.services.eform import schema_of
from digitalstate.services.fields import Answer, form_values, parse
from digitalstate.services.journey import (
    check_answers_rows,
    eligibility,
    first_incomplete,
    first_unanswered,
    next_page,
    previous_page,
    submitted_answers,
    visible_pages,
)

TODAY = date(2026, 4, 1)
PRISON = read_definition(DEMO_SERVICES / "book-a-prison-visit.toml")
VOTE = read_definition(DEMO_SERVICES / "register-to-vote.toml")
ADDRESS = {"lines": ["1 High Street"], "town": "Cardiff", "postcode": "CF10 1AA"}
SLOTS = ["2026-05-04T14:00", "2026-05-05T10:30"]
VISIT = {
    "prisoner-first-name": "Sam",
    "prisoner-last-name": "Jones",
    "prisoner-date-of-birth": "1980-03-27",
    "prisoner-number": "A1234BC",
    "prison": "cardiff",
    "first-name": "Ada",
    "last-name": "Jones",
    "date-of-birth": "1982-01-02",
    "address": ADDRESS,
    "other-visitors": 1,
    "visitor-1-name": "Ben Jones",
    "visitor-1-date-of-birth": "2015-06-01",
    "times": SLOTS[:1],
    "email": "ada@example.com",
}


def ids(definition: ServiceDefinition, answers: dict[str, object]) -> list[str]:
    return [page.id for page in visible_pages(definition, answers, TODAY)]


def test_pages_shown_by_condition_follow_the_answers() -> None:
    assert "visitor-1" not in ids(PRISON, {})
    assert [i for i in ids(PRISON, VISIT) if i.startswith("visitor")] == ["visitor-1"]
    three = {**VISIT, "other-visitors": 3}
    assert [i for i in ids(PRISON, three) if i.startswith("visitor")] == [
        "visitor-1",
        "visitor-2",
        "visitor-3",
    ]


def test_the_next_page_skips_pages_not_shown() -> None:
    assert next_page(PRISON, {}, None, TODAY) == PRISON.pages[0]
    alone = {**VISIT, "other-visitors": 0}
    following = next_page(PRISON, alone, "other-visitors", TODAY)
    assert following is not None and following.id == "times"
    following = next_page(PRISON, VISIT, "other-visitors", TODAY)
    assert following is not None and following.id == "visitor-1"
    assert next_page(PRISON, VISIT, "email", TODAY) is None  # check your answers next
    before = previous_page(PRISON, alone, "times", TODAY)
    assert before is not None and before.id == "other-visitors"
    with pytest.raises(KeyError):
        next_page(PRISON, VISIT, "no-such-page", TODAY)


def test_the_first_incomplete_page_is_the_first_shown_missing_a_required_answer() -> None:
    assert first_incomplete(PRISON, VISIT, TODAY) is None
    missing_visitor = {k: v for k, v in VISIT.items() if k != "visitor-1-date-of-birth"}
    page = first_incomplete(PRISON, missing_visitor, TODAY)
    assert page is not None and page.id == "visitor-1"
    page = first_incomplete(PRISON, {}, TODAY)
    assert page is not None and page.id == "prisoner"


def test_a_person_coming_back_carries_on_at_the_first_page_never_answered() -> None:
    # The prison page's questions are all required but for none; "other-visitors" is saved:
    # a page whose optional question was left blank keeps it as None, and counts as answered.
    page = first_unanswered(PRISON, {}, TODAY)
    assert page is not None and page.id == "prisoner"
    assert first_unanswered(PRISON, VISIT, TODAY) is None
    pension = read_definition(DEMO_SERVICES / "apply-for-state-pension.toml")
    optional = [p for p in pension.pages if all(not q.required for q in p.questions)]
    assert optional, "the test needs a page whose questions are all optional"
    before = {
        q.id: "x" for p in pension.pages[: pension.pages.index(optional[0])] for q in p.questions
    }
    assert first_incomplete(pension, before, TODAY) != optional[0]
    unanswered = first_unanswered(pension, before, TODAY)
    assert unanswered is not None and unanswered.id == optional[0].id
    blank = {**before, **{q.id: None for q in optional[0].questions}}
    assert first_unanswered(pension, blank, TODAY) != optional[0]


def test_answers_on_pages_no_longer_shown_are_not_submitted() -> None:
    changed = {**VISIT, "other-visitors": 0}
    submitted = submitted_answers(PRISON, changed, TODAY)
    assert "visitor-1-name" not in submitted and "visitor-1-date-of-birth" not in submitted
    assert submitted["other-visitors"] == 0
    assert list(submitted_answers(PRISON, VISIT, TODAY)) == list(VISIT)  # the questions' order


def test_a_hidden_pages_answer_shows_or_hides_nothing() -> None:
    answers = {"moved": False, "previous-address": ADDRESS}
    assert "previous-address" not in ids(VOTE, answers)
    assert "previous-address" in ids(VOTE, {**answers, "moved": True})


def test_check_your_answers_lists_each_question_shown_with_a_change_link() -> None:
    rows = check_answers_rows(PRISON, VISIT, TODAY)
    by_id = {row.question: row for row in rows}
    assert "visitor-2-name" not in by_id
    assert by_id["prisoner-date-of-birth"].value == ["27 March 1980"]
    assert by_id["prisoner-date-of-birth"].change == (
        "/services/book-a-prison-visit/prisoner?return=check#prisoner-date-of-birth-day"
    )
    assert by_id["address"].value == ["1 High Street", "Cardiff", "CF10 1AA"]
    assert by_id["address"].change.endswith("/your-address?return=check#address-line-1")
    assert by_id["prison"].value == ["HMP Cardiff"]
    assert by_id["times"].value == ["Monday 4 May 2026, 2pm"]


def test_check_your_answers_reads_in_welsh() -> None:
    answers = {"nationality": "british", "date-of-birth": "1990-04-01", "moved": False}
    rows = {row.question: row for row in check_answers_rows(VOTE, answers, TODAY, "cy")}
    assert rows["nationality"].label == "Beth yw eich cenedligrwydd?"
    assert rows["nationality"].value == ["Prydeinig"]
    assert rows["date-of-birth"].value == ["1 Ebrill 1990"]
    assert rows["moved"].value == ["Na"]
    assert rows["address"].value == ["Heb ateb"]


def test_the_first_eligibility_rule_that_holds_stops_the_person() -> None:
    assert (
        eligibility(VOTE, {"nationality": "british", "date-of-birth": "1990-01-01"}, TODAY) is None
    )
    other = eligibility(VOTE, {"nationality": "other", "date-of-birth": "2020-01-01"}, TODAY)
    assert other is not None and other.rule == 0
    young = eligibility(VOTE, {"nationality": "irish", "date-of-birth": "2012-04-02"}, TODAY)
    assert young is not None and young.rule == 1
    assert young.reason.text("cy").startswith("Gallwch gofrestru")
    assert eligibility(VOTE, {"date-of-birth": "2012-04-01"}, TODAY) is None  # 14 today


def test_a_condition_on_a_list_answer_or_no_answer() -> None:
    chosen = {"colours": ["red", "blue"]}
    assert holds(Condition.model_validate({"question": "colours", "equals": "red"}), chosen, TODAY)
    assert not holds(
        Condition.model_validate({"question": "colours", "not_in": ["red"]}), chosen, TODAY
    )
    assert not holds(Condition.model_validate({"question": "x", "not_in": ["a"]}), {}, TODAY)
    assert holds(Condition.model_validate({"question": "x", "answered": False}), {}, TODAY)
    assert not holds(Condition.model_validate({"question": "n", "equals": 1}), {"n": True}, TODAY)
    either = Condition.model_validate(
        {"any": [{"question": "n", "equals": 1}, {"all": [{"question": "m", "answered": True}]}]}
    )
    assert holds(either, {"m": "x"}, TODAY) and not holds(either, {"n": 2}, TODAY)


# --- the e-form: JSON Schema of the answers ------------------------------------------------


def test_the_eform_is_a_valid_2020_12_schema_titled_in_the_language_asked() -> None:
    schema = schema_of(VOTE, "cy")
    assert jsonschema_rs.meta.is_valid(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Cofrestru i bleidleisio"
    assert schema["properties"]["nationality"]["enum"] == [
        "british",
        "irish",
        "eu",
        "commonwealth",
        "other",
    ]
    assert "previous-address" not in schema["required"]  # on a page shown by condition
    # The number or a document, each on a page shown by condition: neither is always required.
    assert "national-insurance-number" not in schema["required"]
    assert "identity-evidence" not in schema["required"]
    assert "has-national-insurance" in schema["required"] and "postal-vote" in schema["required"]


@pytest.mark.parametrize("path", sorted(DEMO_SERVICES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_demo_eform_is_a_valid_schema(path: object) -> None:
    assert jsonschema_rs.meta.is_valid(schema_of(read_definition(path)))  # type: ignore[arg-type]


def test_submitted_answers_parsed_from_forms_validate_against_the_eform() -> None:
    validator = jsonschema_rs.Draft202012Validator(schema_of(PRISON), validate_formats=True)
    answers = {}
    for _, question in PRISON.questions():
        if question.id in VISIT:
            parsed = parse(
                question, form_values(question, VISIT[question.id]), today=TODAY, offered=SLOTS
            )
            assert isinstance(parsed, Answer), (question.id, parsed)
            answers[question.id] = parsed.value
    submitted = submitted_answers(PRISON, answers, TODAY)
    assert submitted == VISIT
    validator.validate(submitted)
    wrong = {**submitted, "prison": "alcatraz", "email": "not an email"}
    assert len(list(validator.iter_errors(wrong))) == 2


def test_the_eform_describes_every_field_type() -> None:
    pension = read_definition(DEMO_SERVICES / "apply-for-state-pension.toml")
    validator = jsonschema_rs.Draft202012Validator(schema_of(pension), validate_formats=True)
    good = {
        "date-of-birth": "1960-04-01",
        "address": ADDRESS,
        "national-insurance-number": "AB123456C",
        "bank-details": {"name": "A B", "sort_code": "30-94-30", "account_number": "00733445"},
        "phone": "+447700900982",
    }
    validator.validate(good)
    for key, bad in [
        ("national-insurance-number", "GB123456C"),
        ("phone", "07700900982"),
        ("address", {**ADDRESS, "postcode": "CF10 1A"}),
        ("date-of-birth", "1960-02-30"),
    ]:
        assert not validator.is_valid({**good, key: bad}), key
