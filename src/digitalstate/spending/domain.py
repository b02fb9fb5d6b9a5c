"""Public spending: a node's payments as the Local Government Transparency Code publishes them.

A spending file is CSV with one row per payment (docs/spending.md): the date, the expense
type, the service area, the supplier's name and type, the Companies House number where known,
the amount in pounds, the node's own transaction number and the purchase category. Reading a
file checks every row and names every bad one (its row number, the column and why); a file
with any bad row is refused whole. Payments to individuals are published as
"Redacted personal data", the amount kept. Payments under the threshold (£500 by default) are
kept but not published; those at or over the contracts threshold (£25,000) are marked so.

Pure: no database, no web. Bounded: a file's size, its rows and each value's length.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

REDACTED = "Redacted personal data"
THRESHOLD = Decimal(500)
CONTRACTS_THRESHOLD = Decimal(25_000)
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 500_000
MAX_ERRORS = 1_000  # reported; a file this bad is told to be fixed, not listed whole
MAX_VALUE_CHARS = 255
MAX_AMOUNT = Decimal("1000000000000")  # a trillion pounds: beyond it, a typing error
SUPPLIER_TYPES = ("organisation", "individual")

# The columns of a spending file, in the order the node writes them (a header names them in
# any order; case, spaces and underscores do not matter).
COLUMNS = (
    "transaction_number",
    "date",
    "expense_type",
    "service_area",
    "supplier_name",
    "supplier_type",
    "company_number",
    "amount",
    "purchase_category",
)
OPTIONAL = frozenset({"company_number", "purchase_category"})

# Companies House numbers are eight characters: eight digits (England and Wales companies),
# or a two-letter prefix of the register it is in and six digits (SC Scotland, NI Northern
# Ireland, OC limited liability partnerships, ...). Numbers of digits only are often written
# without their leading zeros, and are read with them put back.
COMPANY_PREFIXES = frozenset(
    "AC CE CS FC FE GE GN GS IC IP LP NA NC NF NI NL NO NP NR NZ OC OE PC R0 RC SA SC SE SF SG "  # noqa: SIM905
    "SI SL SO SP SR SZ ZC".split()
)
_COMPANY = re.compile(r"(?:[0-9]{8}|[A-Z][A-Z0-9][0-9]{6})")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_AMOUNT = re.compile(r"-?£?-?[0-9][0-9,]*(?:\.[0-9]{1,2})?")


class SpendingFileError(ValueError):
    """A spending file that cannot be read at all (too large, not UTF-8, no header)."""


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row: its number in the file (the header is row 1), the column
    ("" for the row as a whole) and why, in words that say how to fix it."""

    row: int
    column: str
    why: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.why}"


@dataclass(frozen=True)
class Payment:
    """One payment as the node keeps it (a payment to an individual with their name)."""

    transaction_number: str
    day: date
    expense_type: str
    service_area: str
    supplier_name: str
    supplier_type: str
    company_number: str | None
    amount: Decimal
    purchase_category: str


@dataclass(frozen=True)
class Rules:
    """What is published: payments at or over threshold (in absolute amount), and which are
    marked as at or over the contracts threshold."""

    threshold: Decimal = THRESHOLD
    contracts_threshold: Decimal = CONTRACTS_THRESHOLD


@dataclass(frozen=True)
class PublishedPayment:
    """One payment as published: an individual's name redacted, the amount kept."""

    transaction_number: str
    day: date
    expense_type: str
    service_area: str
    supplier_name: str
    company_number: str | None
    amount: Decimal
    purchase_category: str
    over_contracts_threshold: bool


def company_number(text: str) -> str | None:
    """A Companies House number in its eight-character form, or None if text is not one."""
    value = re.sub(r"\s+", "", text).upper()
    if value.isdigit() and 0 < len(value) < 8:
        value = value.zfill(8)
    if not _COMPANY.fullmatch(value):
        return None
    if not value.isdigit() and value[:2] not in COMPANY_PREFIXES:
        return None
    return value


def parse_amount(text: str) -> Decimal | None:
    """Pounds as written in spending files (1234.5, £1,234.50, -200), or None."""
    value = text.strip().replace(" ", "")
    if not _AMOUNT.fullmatch(value) or value.count("-") > 1:
        return None
    try:
        amount = Decimal(value.replace("£", "").replace(",", ""))
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.01"))


def parse_day(text: str) -> date | None:
    """A date written 2026-04-01 or 01/04/2026 (day first, as UK files write it), or None."""
    value = text.strip()
    try:
        if found := _DAY_MONTH_YEAR.fullmatch(value):
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _column_name(text: str) -> str:
    return re.sub(r"[\s_]+", "_", text.strip().lower())


def read_rows(data: bytes, max_rows: int = MAX_ROWS) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a spending file as (row number, column -> text); SpendingFileError if the
    file cannot be read as one (too large, not UTF-8, a header missing or naming an unknown
    or repeated column)."""
    if len(data) > MAX_FILE_BYTES:
        raise SpendingFileError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB; split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpendingFileError(f"row {line}: not UTF-8 text; save the file as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise SpendingFileError(f"row 1: {exc}") from None
    if not header:
        raise SpendingFileError("the file is empty; its first row names the columns")
    names = [_column_name(cell) for cell in header]
    for name in names:
        if name not in COLUMNS:
            raise SpendingFileError(
                f"row 1, column {name or '(blank)'}: not a column of a spending file; "
                f"the columns are {', '.join(COLUMNS)}"
            )
    if len(set(names)) != len(names):
        raise SpendingFileError("row 1: a column is named twice")
    missing = [c for c in COLUMNS if c not in names and c not in OPTIONAL]
    if missing:
        raise SpendingFileError(f"row 1: the columns {', '.join(missing)} are missing")
    number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SpendingFileError(f"row {reader.line_num}: {exc}") from None
        number += 1
        if number - 1 > max_rows:
            raise SpendingFileError(f"the file has more than {max_rows:,} rows; split it")
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, as spreadsheets leave at the end
        if len(cells) != len(names):
            yield number, {"": f"{len(cells)} values, but the header names {len(names)} columns"}
            continue
        yield number, dict(zip(names, cells, strict=True))


def parse_payment(number: int, cells: dict[str, str]) -> Payment | list[RowError]:
    """One row as a payment, or every error in it."""
    if "" in cells:
        return [RowError(number, "", cells[""])]
    errors: list[RowError] = []

    def text(column: str, *, required: bool = True) -> str:
        value = " ".join(cells.get(column, "").split())
        if required and not value:
            errors.append(RowError(number, column, "is blank; every payment needs one"))
        elif len(value) > MAX_VALUE_CHARS:
            errors.append(RowError(number, column, f"is over {MAX_VALUE_CHARS} characters"))
        return value[:MAX_VALUE_CHARS]

    transaction = text("transaction_number")
    raw_day = text("date")
    day = parse_day(raw_day) if raw_day else None
    if raw_day and day is None:
        errors.append(RowError(number, "date", f"{raw_day!r} is not a date; write 2026-04-01"))
    expense_type = text("expense_type")
    service_area = text("service_area")
    supplier = text("supplier_name")
    supplier_type = text("supplier_type").lower()
    if supplier_type and supplier_type not in SUPPLIER_TYPES:
        errors.append(
            RowError(
                number, "supplier_type", f"{supplier_type!r} is not organisation or individual"
            )
        )
    raw_company = text("company_number", required=False)
    company = company_number(raw_company) if raw_company else None
    if raw_company and company is None:
        errors.append(
            RowError(
                number,
                "company_number",
                f"{raw_company!r} is not a Companies House number (8 characters: 8 digits, or "
                "2 letters such as SC or OC then 6 digits)",
            )
        )
    if company is not None and supplier_type == "individual":
        errors.append(
            RowError(
                number, "company_number", "an individual has no company number; leave it blank"
            )
        )
    raw_amount = text("amount")
    amount = parse_amount(raw_amount) if raw_amount else None
    if raw_amount and amount is None:
        errors.append(
            RowError(number, "amount", f"{raw_amount!r} is not an amount in pounds; write 1234.50")
        )
    elif amount is not None and abs(amount) >= MAX_AMOUNT:
        errors.append(RowError(number, "amount", f"{raw_amount!r} is too large to be a payment"))
    category = text("purchase_category", required=False)
    if errors or day is None or amount is None:
        return errors
    return Payment(
        transaction_number=transaction,
        day=day,
        expense_type=expense_type,
        service_area=service_area,
        supplier_name=supplier,
        supplier_type=supplier_type,
        company_number=company,
        amount=amount,
        purchase_category=category,
    )


@dataclass(frozen=True)
class ReadFile:
    """A spending file read: its payments with their row numbers when every row is good, else
    every error (up to MAX_ERRORS, and whether there were more)."""

    payments: list[tuple[int, Payment]]
    errors: list[RowError]
    more_errors: bool = False


def read_file(data: bytes, max_rows: int = MAX_ROWS) -> ReadFile:
    """Read and check a whole spending file: a transaction number twice in it is an error."""
    payments: list[tuple[int, Payment]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    more = False
    for number, cells in read_rows(data, max_rows):
        parsed = parse_payment(number, cells)
        if isinstance(parsed, list):
            found = parsed
        else:
            first = seen.setdefault(parsed.transaction_number, number)
            found = []
            if first != number:
                why = f"{parsed.transaction_number!r} is also the transaction number of row {first}"
                found = [RowError(number, "transaction_number", why)]
            payments.append((number, parsed))
        for error in found:
            if len(errors) < MAX_ERRORS:
                errors.append(error)
            else:
                more = True
    return ReadFile([] if errors else payments, errors, more)


def published(payment: Payment, rules: Rules) -> PublishedPayment | None:
    """The payment as published, or None when it is under the threshold."""
    if abs(payment.amount) < rules.threshold:
        return None
    individual = payment.supplier_type == "individual"
    return PublishedPayment(
        transaction_number=payment.transaction_number,
        day=payment.day,
        expense_type=payment.expense_type,
        service_area=payment.service_area,
        supplier_name=REDACTED if individual else payment.supplier_name,
        company_number=None if individual else payment.company_number,
        amount=payment.amount,
        purchase_category=payment.purchase_category,
        over_contracts_threshold=abs(payment.amount) >= rules.contracts_threshold,
    )


def publish(payments: Iterable[Payment], rules: Rules) -> list[PublishedPayment]:
    """Every payment at or over the threshold, as published, in date then number order."""
    out = [p for p in (published(payment, rules) for payment in payments) if p is not None]
    return sorted(out, key=lambda p: (p.day, p.transaction_number))


def changed_fields(kept: Payment, new: Payment) -> list[str]:
    """The columns in which a payment read again differs from the one kept under its number."""
    return [
        column
        for column, attribute in _ATTRIBUTES.items()
        if getattr(kept, attribute) != getattr(new, attribute)
    ]


_ATTRIBUTES = {column: ("day" if column == "date" else column) for column in COLUMNS}
