"""Field types: each parser gives the typed answer or the GOV.UK error, and never raises."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.eform import schema_of
from digitalstate.services.fields import (
    Answer,
    Invalid,
    Upload,
    display,
    form_values,
    input_names,
    parse,
)
from digitalstate.services.questions import Question
from digitalstate.web.i18n import reset_language, set_language

TODAY = date(2026, 4, 1)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(20)
PDF = b"%PDF-1.7\n" + bytes(20)
JPEG = b"\xff\xd8\xff\xe0" + bytes(20)


def ask(kind: str, **options: Any) -> Question:
    data = {"id": "q", "type": kind, "label": options.pop("label", "Full name"), **options}
    return Question.model_validate(data)


def error(question: Question, form: dict[str, Any], **kwargs: Any) -> str:
    parsed = parse(question, form, today=TODAY, **kwargs)
    assert isinstance(parsed, Invalid), parsed
    return parsed.message


def value(question: Question, form: dict[str, Any], **kwargs: Any) -> Any:
    parsed = parse(question, form, today=TODAY, **kwargs)
    assert isinstance(parsed, Answer), parsed
    return parsed.value


CHOICES = [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]
DOB = {"label": "Date of birth", "error_name": "your date of birth", "when": "past"}
QUESTIONS = {
    "text": ask("text", error_name="your full name", max_length=35),
    "long-text": ask("long-text", label="Tell us more"),
    "number": ask("number", label="Visitors", min=0, max=5),
    "money": ask("money", label="Amount"),
    "date": ask("date", **DOB),
    "radios": ask("radios", label="Colour", error_name="a colour", choices=CHOICES),
    "checkboxes": ask("checkboxes", label="Colours", error_name="colours", choices=CHOICES),
    "select": ask("select", label="Colour", error_name="a colour", choices=CHOICES),
    "yes-no": ask("yes-no", label="Postal vote?", error_name="you want a postal vote"),
    "uk-address": ask("uk-address", label="Address"),
    "ni-number": ask("ni-number", label="National Insurance number"),
    "email": ask("email", label="Email", error_name="your email address"),
    "uk-phone": ask("uk-phone", label="Phone", error_name="your phone number"),
    "bank-details": ask("bank-details", label="Bank account"),
    "file": ask("file", label="Proof", error_name="a file", max_bytes=1024),
    "slots": ask("slots", label="Times", error_name="visit times", source="s", max_choices=3),
}
SLOTS = ["2026-05-04T14:00", "2026-05-05T10:30", "2026-05-06T09:00", "2026-05-07T15:00"]


# --- each type: the answer, and the GOV.UK wording of each error ---------------------------


def test_text_collapses_spaces_and_names_what_is_missing_or_too_long() -> None:
    q = QUESTIONS["text"]
    assert value(q, {"q": "  Ada   Lovelace "}) == "Ada Lovelace"
    assert error(q, {"q": "  "}) == "Enter your full name"
    assert error(q, {"q": "x" * 36}) == "Your full name must be 35 characters or less"
    assert value(ask("text", required=False), {}) is None


def test_long_text_keeps_its_lines_within_a_limit_even_when_none_is_declared() -> None:
    q = QUESTIONS["long-text"]
    assert value(q, {"q": " one \r\n two "}) == "one\ntwo"
    assert display(q, "one\ntwo") == ["one", "two"]
    assert error(q, {"q": "x" * 1201}) == "Tell us more must be 1200 characters or less"


def test_a_number_is_whole_and_within_its_bounds() -> None:
    q = QUESTIONS["number"]
    assert value(q, {"q": " 3 "}) == 3
    assert error(q, {"q": "2.5"}) == "Visitors must be a whole number"
    assert error(q, {"q": "6"}) == "Visitors must be between 0 and 5"
    assert error(ask("number", label="Age", min=18), {"q": "17"}) == "Age must be 18 or more"


def test_money_is_pounds_and_pence_kept_as_pence() -> None:
    q = QUESTIONS["money"]
    assert value(q, {"q": "£1,234.5"}) == 123450
    assert value(q, {"q": "12"}) == 1200
    assert display(q, 1250) == ["£12.50"] and display(q, 60000) == ["£600"]
    assert error(q, {"q": "12.345"}) == "Amount must be an amount of money, like 600 or 193.54"
    assert (
        error(ask("money", label="Rent", max=100), {"q": "100.01"}) == "Rent must be £100 or less"
    )


@pytest.mark.parametrize(
    ("day", "month", "year", "message", "part"),
    [
        ("", "", "", "Enter your date of birth", None),
        ("1", "", "1960", "Your date of birth must include a month", "month"),
        ("", "", "1960", "Your date of birth must include a day and month", "day"),
        ("1", "4", "", "Your date of birth must include a year", "year"),
        ("31", "2", "1960", "Your date of birth must be a real date", "day"),
        ("1", "13", "1960", "Your date of birth must be a real date", "month"),
        ("1", "4", "60", "Year must include 4 numbers", "year"),
        ("1", "4", "2026", "Your date of birth must be in the past", "day"),
        ("1", "4", "1850", "Your date of birth must be on or after 1 January 1900", "year"),
    ],
)
def test_a_date_gets_the_design_systems_errors(
    day: str, month: str, year: str, message: str, part: str | None
) -> None:
    parsed = parse(QUESTIONS["date"], {"q-day": day, "q-month": month, "q-year": year}, today=TODAY)
    assert isinstance(parsed, Invalid)
    assert (parsed.message, parsed.problems[0].part) == (message, part)


def test_a_date_takes_month_names_and_reads_in_english_and_welsh() -> None:
    q = QUESTIONS["date"]
    assert value(q, {"q-day": "1", "q-month": "Apr", "q-year": "1960"}) == "1960-04-01"
    assert display(q, "1960-04-01") == ["1 April 1960"]
    assert display(q, "1960-04-01", "cy") == ["1 Ebrill 1960"]
    future = ask("date", label="Visit", when="today-or-future")
    assert value(future, {"q-day": "1", "q-month": "4", "q-year": "2026"}) == "2026-04-01"
    assert error(future, {"q-day": "31", "q-month": "3", "q-year": "2026"}) == (
        "Visit must be today or in the future"
    )


def test_choices_are_values_of_the_question_shown_by_their_labels() -> None:
    radios, boxes = QUESTIONS["radios"], QUESTIONS["checkboxes"]
    assert value(radios, {"q": "red"}) == "red" and display(radios, "red") == ["Red"]
    assert error(radios, {}) == "Select a colour"
    assert error(radios, {"q": "green"}) == "Select a colour"
    assert value(boxes, {"q": ["blue", "red"]}) == ["red", "blue"]  # in the choices' order
    assert error(boxes, {"q": ["red", "green"]}) == "Select colours from the list"
    capped = ask(
        "checkboxes", label="Colours", error_name="colours", choices=CHOICES, max_choices=1
    )
    assert error(capped, {"q": ["red", "blue"]}) == "Select up to 1 colours"


def test_yes_no_is_true_or_false() -> None:
    q = QUESTIONS["yes-no"]
    assert value(q, {"q": "yes"}) is True and value(q, {"q": "no"}) is False
    assert error(q, {}) == "Select yes if you want a postal vote"
    assert error(ask("yes-no", label="Moved?"), {}) == "Select yes or no"
    assert display(q, True, "cy") == ["Ie"]


def test_an_address_is_the_registers_normal_form_with_an_error_per_input() -> None:
    q = QUESTIONS["uk-address"]
    form = {"q-line-1": " 1  High St ", "q-town": "Leeds", "q-postcode": "ls11ab"}
    answer = value(q, form)
    assert answer == {"lines": ["1 High St"], "town": "Leeds", "postcode": "LS1 1AB"}
    assert display(q, answer) == ["1 High St", "Leeds", "LS1 1AB"]
    parsed = parse(q, {"q-line-1": "1 High St", "q-postcode": "LS1 1ZZZ"}, today=TODAY)
    assert isinstance(parsed, Invalid)
    assert [(p.part, p.message) for p in parsed.problems] == [
        ("town", "Enter town or city"),
        ("postcode", "Enter a real postcode"),
    ]


def test_a_national_insurance_number_refuses_the_prefixes_never_issued() -> None:
    q = QUESTIONS["ni-number"]
    assert value(q, {"q": "ab 12 34 56 c"}) == "AB123456C"
    assert display(q, "AB123456C") == ["AB 12 34 56 C"]
    wrong = "National Insurance number must be in the correct format, like QQ 12 34 56 C"
    for typed in ("GB123456A", "AB123456E", "AO123456A", "AB12345C", "x" * 200):
        assert error(q, {"q": typed}) == wrong, typed


def test_email_and_phone_use_the_registers_rules() -> None:
    email, phone = QUESTIONS["email"], QUESTIONS["uk-phone"]
    assert value(email, {"q": " Ada@Example.COM "}) == "Ada@example.com"
    assert error(email, {"q": "ada@"}) == (
        "Enter an email address in the correct format, like name@example.com"
    )
    assert error(email, {"q": "a" * 300 + "@example.com"}).startswith("Enter an email address in")
    assert error(email, {}) == "Enter your email address"
    assert value(phone, {"q": "07700 900 982"}) == "+447700900982"
    assert display(phone, "+447700900982") == ["07700 900982"]
    assert error(phone, {"q": "12345"}).startswith("Enter a UK phone number")


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("07700 900123", "07700 900123"),
        ("020 7946 0000", "020 7946 0000"),
        ("0121 496 0000", "0121 496 0000"),
        ("01214960000", "0121 496 0000"),
        ("+44 121 496 0000", "0121 496 0000"),
        ("+44 (0)7700 900123", "07700 900123"),
    ],
)
def test_a_phone_number_reads_and_re_edits_as_people_write_it(typed: str, shown: str) -> None:
    phone = QUESTIONS["uk-phone"]
    kept = value(phone, {"q": typed})
    assert kept.startswith("+44")
    assert display(phone, kept) == [shown]  # on check your answers
    assert form_values(phone, kept) == {"q": shown}  # in the input on the Change page
    assert value(phone, form_values(phone, kept)) == kept  # and parses back to the same


def test_bank_details_name_each_input_that_is_wrong() -> None:
    q = QUESTIONS["bank-details"]
    form = {"q-name": "A Lovelace", "q-sort-code": "30 94 30", "q-account-number": "00733445"}
    answer = value(q, form)
    assert answer == {"name": "A Lovelace", "sort_code": "30-94-30", "account_number": "00733445"}
    assert display(q, answer) == ["A Lovelace", "Sort code 30-94-30", "Account number 00733445"]
    parsed = parse(q, {"q-sort-code": "30-94-3", "q-account-number": "7334x"}, today=TODAY)
    assert isinstance(parsed, Invalid)
    assert [(p.part, p.message) for p in parsed.problems] == [
        ("name", "Enter the name on the account"),
        ("sort-code", "Sort code must be 6 digits long"),
        ("account-number", "Enter a valid account number like 00733445"),
    ]
    assert (
        error(q, {**form, "q-account-number": "0073344"}) == "Account number must be 8 digits long"
    )


def test_a_file_is_checked_by_its_bytes_not_its_name() -> None:
    q = QUESTIONS["file"]
    answer = value(q, {}, uploads={"q": Upload("C:\\scans\\proof.png", PNG)})
    assert answer == {
        "name": "proof.png",
        "type": "image/png",
        "size": len(PNG),
        "sha256": hashlib.sha256(PNG).hexdigest(),
    }
    assert value(q, {}, uploads={"q": Upload("letter.PDF", PDF)})["type"] == "application/pdf"
    assert value(q, {}, uploads={"q": Upload("photo", JPEG)})["type"] == "image/jpeg"
    assert error(q, {}) == "Select a file"
    assert error(q, {}, uploads={"q": Upload("a.pdf", b"")}) == "The selected file is empty"
    big = Upload("a.pdf", PDF + bytes(2000))
    assert error(q, {}, uploads={"q": big}) == "The selected file must be smaller than 1KB"
    program = Upload("report.pdf", b"MZ\x90\x00")
    assert error(q, {}, uploads={"q": program}) == (
        "The selected file must be a PDF, JPG or PNG: its name ends .pdf but it is not one"
    )
    renamed = Upload("scan.pdf", PNG)
    assert error(q, {}, uploads={"q": renamed}).startswith(
        "The selected file is a PNG but its name ends .pdf"
    )
    only_pdf = ask("file", label="Proof", accept=["pdf"])
    assert error(only_pdf, {}, uploads={"q": Upload("x.png", PNG)}) == (
        "The selected file must be a PDF"
    )


def test_slots_are_chosen_from_what_the_service_offers_now() -> None:
    q = QUESTIONS["slots"]
    assert value(q, {"q": SLOTS[2::-1]}, offered=SLOTS) == SLOTS[:3]
    assert error(q, {"q": SLOTS}, offered=SLOTS) == "Select up to 3 visit times"
    assert error(q, {"q": ["2030-01-01T09:00"]}, offered=SLOTS) == (
        "Select visit times from the list"
    )
    assert error(q, {}, offered=SLOTS) == "Select visit times"
    assert display(q, SLOTS[:2]) == ["Monday 4 May 2026, 2pm", "Tuesday 5 May 2026, 10:30am"]
    assert display(q, SLOTS[:1], "cy") == ["Dydd Llun 4 Mai 2026, 2yp"]


def test_an_answers_words_come_from_the_catalogue_in_the_services_language() -> None:
    bank = {"name": "A Lovelace", "sort_code": "30-94-30", "account_number": "00733445"}
    slots = QUESTIONS["slots"]
    ended = ["2026-12-07T09:30/11:00#3"]
    token = set_language("cy")  # the page's language is not the one the answers read in
    try:
        assert display(QUESTIONS["bank-details"], bank, "en")[1:] == [
            "Sort code 30-94-30",
            "Account number 00733445",
        ]
        assert display(QUESTIONS["text"], "", "en") == ["Not answered"]
    finally:
        reset_language(token)
    assert display(QUESTIONS["bank-details"], bank, "cy")[1:] == [
        "Cod didoli 30-94-30",
        "Rhif y cyfrif 00733445",
    ]
    assert display(QUESTIONS["text"], "", "cy") == ["Heb ateb"]
    assert display(QUESTIONS["yes-no"], False, "cy") == ["Na"]
    assert display(slots, ended, "en") == ["Monday 7 December 2026, 9:30am to 11am"]
    assert display(slots, ended, "cy") == ["Dydd Llun 7 Rhagfyr 2026, 9:30yb i 11yb"]
    assert display(slots, ended, "fr") == display(slots, ended, "en")  # no catalogue: English


def test_the_input_names_are_the_ids_and_their_parts() -> None:
    assert input_names(QUESTIONS["date"]) == ("q-day", "q-month", "q-year")
    assert input_names(QUESTIONS["text"]) == ("q",)
    assert input_names(QUESTIONS["bank-details"])[1] == "q-sort-code"


# --- properties ----------------------------------------------------------------------------

form_value = st.one_of(
    st.text(max_size=300),
    st.lists(st.text(max_size=40), max_size=5),
    st.none(),
    st.integers(),
    st.binary(max_size=20),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(QUESTIONS)),
    st.dictionaries(st.sampled_from(["q", "q-day", "q-month", "q-year", "q-line-1", "q-town",
                                     "q-postcode", "q-name", "q-sort-code",
                                     "q-account-number"]), form_value),
    st.binary(max_size=64),
    st.text(max_size=30),
)  # fmt: skip
def test_no_parser_raises_on_any_input(
    kind: str, form: dict[str, Any], content: bytes, filename: str
) -> None:
    question = QUESTIONS[kind]
    uploads = {"q": Upload(filename, content)}
    parsed = parse(question, form, today=TODAY, uploads=uploads, offered=SLOTS)
    assert isinstance(parsed, Answer | Invalid)
    if isinstance(parsed, Invalid):
        assert parsed.problems and all(p.message for p in parsed.problems)
    else:
        assert display(question, parsed.value)


def test_a_huge_input_is_refused_quickly() -> None:
    for kind in ("text", "long-text", "number", "money", "ni-number", "email", "uk-phone"):
        assert isinstance(parse(QUESTIONS[kind], {"q": "9" * 1_000_000}, today=TODAY), Invalid)
    assert isinstance(parse(QUESTIONS["checkboxes"], {"q": ["red"] * 10_000}, today=TODAY), Invalid)


answers = {
    # As the parser keeps one line of text: spaces collapsed, none at either end.
    "text": st.from_regex(r"[A-Za-z]( ?[A-Za-z]){0,16}", fullmatch=True),
    "number": st.integers(0, 5),
    "money": st.integers(0, 10**9),
    "date": st.dates(date(1900, 1, 1), date(2026, 3, 31)).map(date.isoformat),
    "yes-no": st.booleans(),
    "radios": st.sampled_from(["red", "blue"]),
    "checkboxes": st.sampled_from([["red"], ["blue"], ["red", "blue"]]),
    "ni-number": st.from_regex(r"[ABCEH][ABCEH][0-9]{6}[A-D]", fullmatch=True),
    "bank-details": st.builds(
        lambda sort, account: {"name": "A B", "sort_code": sort, "account_number": account},
        st.from_regex(r"[0-9]{2}-[0-9]{2}-[0-9]{2}", fullmatch=True),
        st.from_regex(r"[0-9]{8}", fullmatch=True),
    ),
    "uk-address": st.builds(
        lambda line, postcode: {"lines": [line], "town": "Leeds", "postcode": postcode},
        st.from_regex(r"[1-9][0-9]? [A-Z][a-z]{2,8} Street", fullmatch=True),
        st.sampled_from(["LS1 1AB", "SW1A 2AA", "CF10 3NQ", "M1 1AE"]),
    ),
}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(answers)).flatmap(lambda k: st.tuples(st.just(k), answers[k])))
def test_an_answer_shown_in_its_inputs_again_parses_back_to_itself(pair: tuple[str, Any]) -> None:
    kind, answer = pair
    question = QUESTIONS[kind]
    assert value(question, form_values(question, answer)) == answer


def every_type() -> ServiceDefinition:
    """A service with one page per field type, each question's id its type."""
    pages = [
        {"id": kind, "title": kind, "questions": [{**q.model_dump(exclude_none=True), "id": kind}]}
        for kind, q in QUESTIONS.items()
    ]
    return ServiceDefinition.model_validate(
        {
            "slug": "every-type",
            "title": "Every type",
            "description": "One question of each type.",
            "purpose": "p",
            "fields": ["people.address"],
            "pages": pages,
            "submit": {"action": "record", "next_steps": "None."},
        }
    )


@settings(max_examples=40, deadline=None)
@given(st.fixed_dictionaries({kind: strategy for kind, strategy in answers.items()}))
def test_parsed_answers_of_every_type_validate_against_the_eform(typed: dict[str, Any]) -> None:
    definition = every_type()
    validator = jsonschema_rs.Draft202012Validator(schema_of(definition), validate_formats=True)
    submitted: dict[str, Any] = {}
    extra = {
        "long-text": {"long-text": "one\ntwo"},
        "select": {"select": "blue"},
        "email": {"email": "ada@example.com"},
        "uk-phone": {"uk-phone": "020 7946 0000"},
        "slots": {"slots": SLOTS[:2]},
    }
    for _, question in definition.questions():
        if question.type in typed:
            form = form_values(question, typed[question.type])
        else:
            form = extra.get(question.type, {})
        uploads = {"file": Upload("proof.pdf", PDF)}
        parsed = parse(question, form, today=TODAY, uploads=uploads, offered=SLOTS)
        assert isinstance(parsed, Answer), (question.type, parsed)
        submitted[question.id] = parsed.value
    validator.validate(submitted)


def test_without_an_error_name_the_label_names_the_answer_mid_sentence() -> None:
    assert error(ask("text", label="Full name"), {}) == "Enter full name"
    assert error(ask("ni-number", label="National Insurance number"), {}) == (
        "Enter National Insurance number"
    )
    assert error(ask("text", label="Full name", max_length=2), {"q": "abc"}) == (
        "Full name must be 2 characters or less"
    )
