"""Spending files read and checked (spending/domain.py): every bad row named, whole or nothing,
Companies House numbers, amounts, individuals redacted, the thresholds."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.publishing.domain import tabulate
from digitalstate.spending.datasets import spending_spec
from digitalstate.spending.domain import (
    MAX_ROWS,
    REDACTED,
    Payment,
    Rules,
    SpendingFileError,
    company_number,
    parse_amount,
    parse_day,
    publish,
    read_file,
)

HEADER = (
    "transaction_number,date,expense_type,service_area,supplier_name,supplier_type,"
    "company_number,amount,purchase_category\n"
)


def csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


GOOD = "T1,2026-04-02,Software licences,Digital,Acme Ltd,organisation,01234567,1250.00,IT"
CARER = "T2,03/04/2026,Direct payments,Adult social care,Ann Smith,individual,,840.50,Care"


def test_a_good_file_reads_every_payment_with_its_row_number() -> None:
    read = read_file(csv(GOOD, CARER))

    assert read.errors == []
    assert [(row, p.transaction_number) for row, p in read.payments] == [(2, "T1"), (3, "T2")]
    carer = read.payments[1][1]
    assert carer.day == date(2026, 4, 3) and carer.amount == Decimal("840.50")
    assert carer.company_number is None


def test_every_bad_row_is_named_with_its_column_and_nothing_is_read() -> None:
    read = read_file(
        csv(
            GOOD,
            "T3,2026-02-30,Rent,Estates,Landlord plc,organisation,,x,",
            "T4,2026-04-05,,Estates,Someone,company,ZZ123456,10,",
            "T1,2026-04-06,Rent,Estates,Acme Ltd,organisation,,10,",
            "T5,2026-04-06,Rent",
        )
    )

    assert read.payments == []
    found = [(e.row, e.column) for e in read.errors]
    assert found == [
        (3, "date"),
        (3, "amount"),
        (4, "expense_type"),
        (4, "supplier_type"),
        (4, "company_number"),
        (5, "transaction_number"),
        (6, ""),
    ]
    assert "2026-02-30" in read.errors[0].why and "2026-04-01" in read.errors[0].why
    assert "row 2" in read.errors[5].why
    assert str(read.errors[6]).startswith("row 6: 3 values")


def test_a_header_that_names_an_unknown_column_or_misses_one_is_refused() -> None:
    with pytest.raises(SpendingFileError, match="column vat: not a column"):
        read_file(csv(header=HEADER.strip() + ",VAT\n"))
    with pytest.raises(SpendingFileError, match="amount are missing"):
        read_file(csv(header="transaction_number,date,expense_type,service_area,supplier_name,"
                             "supplier_type\n"))  # fmt: skip
    with pytest.raises(SpendingFileError, match="empty"):
        read_file(b"")


def test_headers_are_read_whatever_their_case_and_spacing_and_order() -> None:
    header = (
        "Amount,Date,Expense Type,Service  Area,Supplier Name,Supplier_Type,Transaction Number\n"
    )
    read = read_file(csv("12.5,2026-04-01,Rent,Estates,Acme,organisation,T9", header=header))

    assert read.errors == [] and read.payments[0][1].purchase_category == ""


def test_a_file_that_is_not_utf8_says_so_with_its_row() -> None:
    with pytest.raises(SpendingFileError, match="row 2: not UTF-8"):
        read_file(HEADER.encode() + "T1,2026-04-01,Caf\u00e9".encode("latin-1") + b"\n")


def test_blank_lines_are_skipped_and_a_byte_order_mark_read(tmp_path: object) -> None:
    read = read_file(b"\xef\xbb\xbf" + csv(GOOD, "", ",,,,,,,,"))

    assert read.errors == [] and len(read.payments) == 1


def test_too_many_rows_is_refused_before_reading_them_all() -> None:
    rows = "".join(f"T{i},2026-04-01,R,S,A,organisation,,1,\n" for i in range(11))
    assert len(read_file((HEADER + rows).encode(), max_rows=11).payments) == 11
    with pytest.raises(SpendingFileError, match="more than 10 rows"):
        read_file((HEADER + rows).encode(), max_rows=10)
    assert MAX_ROWS >= 100_000  # a year of a large council's payments


def test_errors_reported_are_bounded() -> None:
    read = read_file(csv(*["T,bad,,,,,,,"] * 400))

    assert len(read.errors) == 1_000 and read.more_errors


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("01234567", "01234567"),
        ("1234567", "01234567"),
        ("SC123456", "SC123456"),
        ("oc 301234", "OC301234"),
        ("NI012345", "NI012345"),
        ("R0123456", "R0123456"),
        ("ZZ123456", None),
        ("SC12345", None),
        ("123456789", None),
        ("SC1234567", None),
        ("", None),
    ],
)
def test_companies_house_numbers(text: str, number: str | None) -> None:
    assert company_number(text) == number


@given(st.integers(min_value=0, max_value=99_999_999))
def test_any_number_of_digits_reads_as_eight(value: int) -> None:
    assert company_number(str(value)) == f"{value:08d}"


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1234.5", Decimal("1234.50")),
        ("£1,234.50", Decimal("1234.50")),
        ("-200", Decimal("-200.00")),
        ("-£75.10", Decimal("-75.10")),
        ("12.345", None),
        ("1e6", None),
        ("--1", None),
        ("NaN", None),
        ("", None),
    ],
)
def test_amounts(text: str, amount: Decimal | None) -> None:
    assert parse_amount(text) == amount


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_an_amount_written_with_commas_reads_back(value: Decimal) -> None:
    assert parse_amount(f"{value:,.2f}") == value


def test_days_iso_or_day_first() -> None:
    assert parse_day("2026-04-01") == date(2026, 4, 1)
    assert parse_day("1/4/2026") == date(2026, 4, 1)
    assert parse_day("04/13/2026") is None
    assert parse_day("2026-4-1") is None


def payment(number: str, amount: str, kind: str = "organisation") -> Payment:
    return Payment(number, date(2026, 4, 1), "E", "S", "Name", kind, None, Decimal(amount), "")


def test_published_payments_keep_the_threshold_and_redact_individuals() -> None:
    rules = Rules(threshold=Decimal(500), contracts_threshold=Decimal(25_000))
    shown = publish(
        [
            payment("a", "499.99"),
            payment("b", "500"),
            payment("c", "-600"),
            payment("d", "25000"),
            payment("e", "900", "individual"),
        ],
        rules,
    )

    assert [p.transaction_number for p in shown] == ["b", "c", "d", "e"]
    assert [p.over_contracts_threshold for p in shown] == [False, False, True, False]
    assert shown[3].supplier_name == REDACTED and shown[3].amount == Decimal(900)


def test_a_supplier_that_starts_like_a_formula_is_text_in_the_csv_and_a_credit_a_number() -> None:
    (payments,) = spending_spec(Rules(), "Birmingham").resources
    supplier = "=cmd|'/c calc'!A1"
    row = ("BCC-9", date(2026, 4, 2), "@SUM(A1)", "Digital", supplier, "", Decimal("-600.00"))

    table = tabulate(payments, [(*row, "+IT", False)])

    line = table.csv.decode().splitlines()[1]
    assert line == "BCC-9,2026-04-02,'@SUM(A1),Digital,'=cmd|'/c calc'!A1,,-600.00,'+IT,false"
    assert json.loads(table.json)[0]["supplier_name"] == supplier
