"""The register's validators: each type's normal form, and messages fit for an error summary."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.registers.domain import (
    POSTCODE_PATTERN,
    AddressParts,
    FieldError,
    address_errors,
    field_label,
    format_nino,
    format_phone,
    normalise_postcode,
    validate_bank_account,
    validate_date,
    validate_email,
    validate_list,
    validate_nino,
    validate_phone,
    validate_postcode,
    validate_string,
    validate_uk_address,
    validate_value,
)
from digitalstate.registers.presenter import display_lines

TODAY = date(2026, 1, 15)
ADDRESS = "people.address"


def error_of(call: object, *args: object, **kwargs: object) -> FieldError:
    assert callable(call)
    with pytest.raises(FieldError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- postcodes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("SW1A 1AA", "SW1A 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("  ne1   4st ", "NE1 4ST"),
        ("M1 1AE", "M1 1AE"),
        ("b338th", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("W1A 0AX", "W1A 0AX"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("gir0aa", "GIR 0AA"),
        ("SA1 1AA", "SA1 1AA"),
    ],
)
def test_a_real_postcode_is_upper_case_with_one_space_before_the_inward_code(
    typed: str, normal: str
) -> None:
    assert validate_postcode(ADDRESS, typed) == normal


@pytest.mark.parametrize(
    "typed",
    [
        "SW1A",
        "12345",
        "QA1 1AA",
        "AAA 1AA",
        "SW1A 1AAA",
        "SW1A 1CA",
        "E1 1IA",
        "BFPO 123",
        "V1 1AA",
    ],
)
def test_a_postcode_that_cannot_exist_asks_for_a_real_postcode(typed: str) -> None:
    error = error_of(validate_postcode, ADDRESS, typed)
    assert error.message == "Enter a real postcode"
    assert error.part == "postcode"
    assert error.field == ADDRESS


def test_an_empty_postcode_asks_for_one() -> None:
    assert error_of(validate_postcode, ADDRESS, "  ").message == "Enter a postcode"


OUTWARD = st.one_of(
    st.tuples(st.sampled_from("ABCDEFGHIJKLMNOPRSTUWYZ"), st.integers(0, 99)).map(
        lambda t: f"{t[0]}{t[1]}"
    ),
    st.tuples(
        st.sampled_from("ABCDEFGHIJKLMNOPRSTUWYZ"),
        st.sampled_from("ABCDEFGHKLMNOPQRSTUVWXY"),
        st.integers(0, 99),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
)
INWARD = st.tuples(
    st.integers(0, 9),
    st.sampled_from("ABDEFGHJLNPQRSTUWXYZ"),
    st.sampled_from("ABDEFGHJLNPQRSTUWXYZ"),
).map(lambda t: f"{t[0]}{t[1]}{t[2]}")


@given(
    outward=OUTWARD,
    inward=INWARD,
    spaces=st.sampled_from(["", " ", "  ", "\t"]),
    lower=st.booleans(),
)
def test_any_well_formed_postcode_is_accepted_however_it_is_typed(
    outward: str, inward: str, spaces: str, lower: bool
) -> None:
    typed = f"{outward}{spaces}{inward}"
    assert validate_postcode(ADDRESS, typed.lower() if lower else typed) == f"{outward} {inward}"


@given(st.text(max_size=12))
def test_a_postcode_is_either_refused_or_normal_and_stable(typed: str) -> None:
    try:
        normal = validate_postcode(ADDRESS, typed)
    except FieldError as exc:
        assert exc.message in {"Enter a postcode", "Enter a real postcode"}
        return
    assert POSTCODE_PATTERN.match(normal)
    assert normalise_postcode(normal) == normal
    assert validate_postcode(ADDRESS, normal) == normal


# --- addresses -----------------------------------------------------------------------------


def test_an_address_is_trimmed_and_its_postcode_normalised() -> None:
    value = {"lines": ["  Flat 3 ", "12   Mill Lane"], "town": " Swansea ", "postcode": "sa11aa"}
    assert validate_uk_address(ADDRESS, value) == {
        "lines": ["Flat 3", "12 Mill Lane"],
        "town": "Swansea",
        "postcode": "SA1 1AA",
    }


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ({"lines": [], "town": "Leeds", "postcode": "LS1 1AA"}, "line_1"),
        ({"lines": ["a", "b", "c", "d"], "town": "Leeds", "postcode": "LS1 1AA"}, "line_1"),
        ({"lines": ["1 High St", " "], "town": "Leeds", "postcode": "LS1 1AA"}, "line_1"),
        ({"lines": ["x" * 101], "town": "Leeds", "postcode": "LS1 1AA"}, "line_1"),
        ({"lines": ["1 High St"], "town": "", "postcode": "LS1 1AA"}, "town"),
        ({"lines": ["1 High St"], "town": "Leeds", "postcode": "LS1"}, "postcode"),
        ({"lines": ["1 High St"], "town": "Leeds"}, "postcode"),
        ({"lines": "1 High St", "town": "Leeds", "postcode": "LS1 1AA"}, "line_1"),
    ],
)
def test_an_address_that_is_not_complete_is_refused_naming_the_part(
    value: dict[str, object], part: str
) -> None:
    assert error_of(validate_uk_address, ADDRESS, value).part == part


def test_an_address_with_unknown_parts_is_refused() -> None:
    value = {"lines": ["1 High St"], "town": "Leeds", "postcode": "LS1 1AA", "country": "UK"}
    assert error_of(validate_uk_address, ADDRESS, value).part is None


def test_the_address_question_reports_every_error_in_the_order_of_the_inputs() -> None:
    errors = address_errors(ADDRESS, AddressParts("", "x" * 101, "", "nonsense"))
    assert [(e.part, e.message) for e in errors] == [
        ("line_1", "Enter address line 1, typically the building and street"),
        ("line_2", "Address line 2 must be 100 characters or less"),
        ("town", "Enter town or city"),
        ("postcode", "Enter a real postcode"),
    ]


def test_a_complete_address_question_has_no_errors_and_drops_an_empty_second_line() -> None:
    parts = AddressParts("1 High St", "  ", "Leeds", "ls1 1aa")
    assert address_errors(ADDRESS, parts) == []
    assert validate_uk_address(ADDRESS, parts.as_value())["lines"] == ["1 High St"]


# --- dates, text, lists --------------------------------------------------------------------


def test_a_date_is_iso() -> None:
    assert validate_date("people.date_of_birth", "1980-03-27", today=TODAY) == "1980-03-27"
    assert validate_date("people.date_of_birth", date(1980, 3, 27), today=TODAY) == "1980-03-27"


@pytest.mark.parametrize("typed", ["1980-02-30", "27/03/1980", "19800327", "1980-3-27", ""])
def test_a_date_that_is_not_a_real_iso_date_is_refused(typed: str) -> None:
    error = error_of(validate_date, "people.date_of_birth", typed, today=TODAY)
    assert error.message.startswith(("Date of birth must be a real date", "Enter date of birth"))


def test_a_date_of_birth_in_the_future_is_refused() -> None:
    error = error_of(validate_date, "people.date_of_birth", "2026-01-16", today=TODAY)
    assert error.message == "Date of birth must be in the past"
    assert validate_date("people.date_of_birth", "2026-01-15", today=TODAY) == "2026-01-15"


def test_a_string_is_one_trimmed_line() -> None:
    assert validate_string("tax.tax_code", "  1257L ") == "1257L"
    assert error_of(validate_string, "tax.tax_code", " ").message == "Enter tax code"
    assert "500 characters" in error_of(validate_string, "tax.tax_code", "x" * 501).message


def test_a_list_holds_text_or_named_text() -> None:
    vehicle = {"registration": "AB12  CDE", "make": "Ford"}
    assert validate_list("motoring.vehicles", ["B", vehicle]) == [
        "B",
        {"registration": "AB12 CDE", "make": "Ford"},
    ]
    assert error_of(validate_list, "motoring.vehicles", "B").message == "Vehicles must be a list"
    assert error_of(validate_list, "motoring.vehicles", [1]).field == "motoring.vehicles"
    assert error_of(validate_list, "motoring.vehicles", ["B"] * 101)


# --- contact details -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("Alice.Sample@Example.ORG", "Alice.Sample@example.org"),
        (" person.42@example.org ", "person.42@example.org"),
        ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
    ],
)
def test_an_email_address_has_its_domain_in_lower_case(typed: str, normal: str) -> None:
    assert validate_email("people.email", typed) == normal


@pytest.mark.parametrize(
    "typed",
    [
        "plainaddress",
        "@example.org",
        "a@b",
        "a..b@example.org",
        "a@-example.org",
        "a@example.123",
        "a b@x.org",
    ],
)
def test_an_email_address_in_the_wrong_format_is_refused(typed: str) -> None:
    assert error_of(validate_email, "people.email", typed).message == (
        "Enter an email address in the correct format, like name@example.com"
    )


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("07700 900982", "+447700900982"),
        ("+44 7700 900982", "+447700900982"),
        ("0044 (0)20 7946 0000", "+442079460000"),
        ("01632-960-001", "+441632960001"),
        ("+44 (0)1632 960001", "+441632960001"),
    ],
)
def test_a_uk_phone_number_is_kept_in_international_form(typed: str, normal: str) -> None:
    assert validate_phone("people.phone", typed) == normal


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("07700 900123", "07700 900123"),  # a mobile
        ("020 7946 0000", "020 7946 0000"),  # London
        ("0121 496 0000", "0121 496 0000"),  # Birmingham, not '01214 960000'
        ("+44 121 496 0000", "0121 496 0000"),
        ("+44 (0)20 7946 0000", "020 7946 0000"),
        ("0044 7700 900123", "07700 900123"),
        ("0113 496 0000", "0113 496 0000"),  # Leeds
        ("01632 960001", "01632 960001"),  # a five-digit area code
        ("0800 123 4567", "0800 123 4567"),
    ],
)
def test_a_uk_phone_number_reads_grouped_by_its_area_code(typed: str, shown: str) -> None:
    assert format_phone(validate_phone("people.phone", typed)) == shown


def test_a_phone_value_not_in_the_kept_form_reads_as_it_is() -> None:
    for value in ("+33123456789", "+44", "+44" + "9" * 40, "01214960000", ""):
        assert format_phone(value) == value


@pytest.mark.parametrize(
    "typed", ["12345", "+33 1 23 45 67 89", "07700 90098", "0770090098212", "phone"]
)
def test_a_number_that_is_not_a_uk_phone_number_is_refused(typed: str) -> None:
    assert error_of(validate_phone, "people.phone", typed).message.startswith("Enter a UK phone")


# --- National Insurance numbers ------------------------------------------------------------


def test_a_national_insurance_number_is_upper_case_without_spaces() -> None:
    assert validate_nino("tax.national_insurance_number", "ab 12 34 56 c") == "AB123456C"
    assert format_nino("AB123456C") == "AB 12 34 56 C"


@pytest.mark.parametrize(
    "typed",
    [
        "QQ123456C",  # Q is never used
        "DA123456A",  # D never first
        "AD123456A",  # D never second
        "AO123456A",  # O never second
        "BG123456A",
        "GB123456A",
        "NK123456A",
        "KN123456A",
        "NT123456A",
        "TN123456A",
        "ZZ123456A",
        "AB123456E",  # suffix A to D
        "AB12345C",
        "AB1234567C",
    ],
)
def test_a_national_insurance_number_breaking_the_format_rules_is_refused(typed: str) -> None:
    error = error_of(validate_nino, "tax.national_insurance_number", typed)
    assert error.message == "Enter a National Insurance number in the correct format"


ALLOWED_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
ALLOWED_SECOND = "ABCEGHJKLMNPRSTWXYZ"


@given(
    first=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    second=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    digits=st.integers(0, 999_999),
    suffix=st.sampled_from("ABCDEFZ"),
)
def test_the_national_insurance_number_rules_decide_every_prefix(
    first: str, second: str, digits: int, suffix: str
) -> None:
    typed = f"{first}{second}{digits:06d}{suffix}"
    valid = (
        first in ALLOWED_FIRST
        and second in ALLOWED_SECOND
        and first + second not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
        and suffix in "ABCD"
    )
    if valid:
        assert validate_nino("tax.national_insurance_number", typed.lower()) == typed
    else:
        error_of(validate_nino, "tax.national_insurance_number", typed)


# --- bank accounts and dispatch ------------------------------------------------------------


def test_bank_details_have_a_dashed_sort_code_and_eight_digits() -> None:
    value = {"sort_code": "309495", "account_number": "12345678"}
    assert validate_bank_account("pensions.bank_details", value) == {
        "sort_code": "30-94-95",
        "account_number": "12345678",
    }
    assert validate_bank_account(
        "pensions.bank_details", {"sort_code": "30 94 95", "account_number": "1234 5678"}
    ) == {"sort_code": "30-94-95", "account_number": "12345678"}


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ({"sort_code": "30-94", "account_number": "12345678"}, "sort_code"),
        ({"sort_code": "30-94-95", "account_number": "1234567"}, "account_number"),
        ({"sort_code": "30-94-95", "account_number": 12345678}, "account_number"),
        ({"sort_code": "30-94-95"}, None),
    ],
)
def test_bank_details_that_are_not_complete_are_refused(
    value: dict[str, object], part: str | None
) -> None:
    assert error_of(validate_bank_account, "pensions.bank_details", value).part == part


def test_validate_value_dispatches_on_the_catalogue_type() -> None:
    assert validate_value("nino", "tax.national_insurance_number", "ab123456c", today=TODAY) == (
        "AB123456C"
    )
    error = error_of(validate_value, "colour", "people.favourite_colour", "red", today=TODAY)
    assert error.message == "Favourite colour has a type this register cannot check"


def test_labels_read_as_people_write_them() -> None:
    assert field_label("people.date_of_birth") == "Date of birth"
    assert field_label("planning.application_reference") == "Application reference"


def test_values_read_as_lines_on_a_page() -> None:
    address = {"lines": ["Flat 3", "12 Mill Lane"], "town": "Swansea", "postcode": "SA1 1AA"}
    assert display_lines("uk-address", address) == ["Flat 3", "12 Mill Lane", "Swansea", "SA1 1AA"]
    assert display_lines("date", "1980-03-07") == ["7 March 1980"]
    assert display_lines("phone", "+447700900982") == ["07700 900982"]
    assert display_lines("nino", "AB123456C") == ["AB 12 34 56 C"]
    bank = {"sort_code": "30-94-95", "account_number": "12345678"}
    assert display_lines("bank-account", bank) == [
        "Sort code 30-94-95",
        "Account number ending 5678",
    ]
    vehicle = {"registration": "AB12 CDE", "make": "Ford", "model": "Focus", "colour": "Blue"}
    assert display_lines("list", [vehicle]) == ["AB12 CDE: Blue Ford Focus"]
    assert display_lines("list", []) == ["Not held"]
    assert display_lines("string", None) == ["Not held"]
