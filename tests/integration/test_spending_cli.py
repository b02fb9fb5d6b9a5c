"""`digitalstate spending import FILE.csv` on a node's database, SQLite and PostgreSQL: a file
is imported whole or not at all, every bad row named; a file imported again adds nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.spending.domain import REDACTED, Rules
from digitalstate.spending.service import payments_count, published_payments
from support.cli import fails, invoke, succeeds
from support.nodes import node_settings

HEADER = (
    "Transaction Number,Date,Expense Type,Service Area,Supplier Name,Supplier Type,"
    "Company Number,Amount,Purchase Category\n"
)
ROWS = [
    "BCC-1,2026-04-02,Software licences,Digital,Acme Ltd,organisation,1234567,1250.00,IT",
    "BCC-2,03/04/2026,Direct payments,Adult social care,Ann Smith,individual,,840.50,Care",
    "BCC-3,2026-04-07,Stationery,Corporate,Paper Co,organisation,SC123456,120.00,Supplies",
    "BCC-4,2026-04-09,Construction,Highways,Roads plc,organisation,,31000,Works",
]


def write(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, migrated_database_url: str) -> Path:
    settings = node_settings(tmp_path / "node", "birmingham-care", migrated_database_url)
    assert settings.config_path is not None
    return settings.config_path


def test_a_file_is_imported_and_published_with_individuals_redacted(
    config: Path, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    said = succeeds("spending", "import", write(tmp_path / "april.csv", *ROWS), "--config", config)

    assert said.strip().endswith("april.csv: imported 4 payments")
    with sessions.begin() as db:
        shown = list(published_payments(db, Rules()))
    assert [p.transaction_number for p in shown] == ["BCC-1", "BCC-2", "BCC-4"]
    assert shown[0].company_number == "01234567"
    assert shown[1].supplier_name == REDACTED and shown[1].amount == Decimal("840.50")
    assert shown[2].over_contracts_threshold and shown[2].day == date(2026, 4, 9)


def test_the_same_file_again_adds_nothing_and_a_longer_one_only_its_new_rows(
    config: Path, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    april = write(tmp_path / "april.csv", *ROWS[:2])
    succeeds("spending", "import", april, "--config", config)

    again = succeeds("spending", "import", april, "--config", config)
    more = succeeds("spending", "import", write(tmp_path / "all.csv", *ROWS), "--config", config)

    assert "imported 0 payments (2 already imported" in again
    assert "imported 2 payments (2 already imported" in more
    with sessions.begin() as db:
        assert payments_count(db) == 4


def test_bad_rows_are_each_named_and_nothing_is_imported(
    config: Path, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    bad = write(
        tmp_path / "bad.csv",
        ROWS[0],
        "BCC-5,2026-13-01,Rent,Estates,Landlord plc,organisation,,900,",
        "BCC-6,2026-04-01,Rent,Estates,Landlord plc,organisation,XX999999,9OO,",
    )

    result = invoke("spending", "import", bad, "--config", config)

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"digitalstate: error: {bad}: row 3, column date: '2026-13-01' is not a date; "
        "write 2026-04-01",
        f"digitalstate: error: {bad}: row 4, column company_number: 'XX999999' is not a "
        "Companies House number (8 characters: 8 digits, or 2 letters such as SC or OC then 6 "
        "digits)",
        f"digitalstate: error: {bad}: row 4, column amount: '9OO' is not an amount in pounds; "
        "write 1234.50",
        f"digitalstate: error: {bad}: 3 bad rows; nothing imported",
    ]
    with sessions.begin() as db:
        assert payments_count(db) == 0


def test_a_payment_imported_again_with_other_values_refuses_the_whole_file(
    config: Path, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    succeeds("spending", "import", write(tmp_path / "a.csv", ROWS[0]), "--config", config)
    changed = ROWS[0].replace("1250.00", "1350.00")

    result = invoke(
        "spending", "import", write(tmp_path / "b.csv", ROWS[1], changed), "--config", config
    )

    assert result.exit_code == 1
    assert "row 3, column amount: transaction 'BCC-1' was imported before with another amount" in (
        result.stderr
    )
    with sessions.begin() as db:
        assert payments_count(db) == 1  # BCC-2 was not imported either


def test_a_file_that_cannot_be_read_is_one_line(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    assert "nowhere.csv: cannot be read (No such file or directory)" in fails(
        "spending", "import", missing, "--config", config
    )
    header = tmp_path / "header.csv"
    header.write_text("Date,Amount\n")
    assert "header.csv: row 1: the columns transaction_number" in fails(
        "spending", "import", header, "--config", config
    )
