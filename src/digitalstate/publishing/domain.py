"""Open data a node publishes: datasets as Frictionless Data Packages, and their versions.

A dataset is described once (DatasetSpec: its name, title, description, licence, sources,
contributors, how often it changes, and its resources, each with a Table Schema), and its rows
come from the feature that keeps them. Publishing one turns its rows into CSV and JSON, and its
description into a Data Package (https://specs.frictionlessdata.io/data-package/) whose
resources carry their SHA-256 and size. Versions follow what changed: a new schema is a new
major version, new content a new minor one ("2.3.0"); each version keeps how many rows each
resource had, so a reader can tell what changed between two.

Pure: no database, no web.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
FREQUENCIES = ("continuous", "daily", "weekly", "monthly", "quarterly", "annual", "irregular")


@dataclass(frozen=True)
class Licence:
    """A licence datasets are published under."""

    name: str  # an Open Definition / SPDX id
    title: str
    path: str


LICENCES: dict[str, Licence] = {
    licence.name: licence
    for licence in (
        Licence(
            "OGL-UK-3.0",
            "Open Government Licence v3.0",
            "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        ),
        Licence(
            "CC-BY-4.0",
            "Creative Commons Attribution 4.0",
            "https://creativecommons.org/licenses/by/4.0/",
        ),
        Licence(
            "CC0-1.0",
            "Creative Commons CC0 1.0",
            "https://creativecommons.org/publicdomain/zero/1.0/",
        ),
        Licence(
            "ODC-BY-1.0",
            "Open Data Commons Attribution License v1.0",
            "https://opendatacommons.org/licenses/by/1-0/",
        ),
    )
}


@dataclass(frozen=True)
class Field:
    """A column of a resource, as a Table Schema field."""

    name: str
    type: str  # a Table Schema type: string, integer, number, boolean, date, datetime, ...
    title: str
    description: str = ""
    required: bool = False
    unique: bool = False
    minimum: int | float | None = None
    maximum: int | float | None = None
    enum: tuple[str, ...] = ()
    format: str = ""

    def descriptor(self) -> dict[str, Any]:
        """The field as a Table Schema field descriptor."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "title": self.title}
        if self.format:
            out["format"] = self.format
        if self.description:
            out["description"] = self.description
        constraints: dict[str, Any] = {}
        if self.required:
            constraints["required"] = True
        if self.unique:
            constraints["unique"] = True
        if self.minimum is not None:
            constraints["minimum"] = self.minimum
        if self.maximum is not None:
            constraints["maximum"] = self.maximum
        if self.enum:
            constraints["enum"] = list(self.enum)
        if constraints:
            out["constraints"] = constraints
        return out


@dataclass(frozen=True)
class ForeignKey:
    """A Table Schema foreign key: fields of this resource that name rows of another."""

    fields: tuple[str, ...]
    resource: str  # "" for this resource
    reference_fields: tuple[str, ...]


@dataclass(frozen=True)
class ResourceSpec:
    """A table of a dataset: its name (the file's), title, description and schema."""

    name: str
    title: str
    description: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    missing_values: tuple[str, ...] = ("",)

    def schema(self) -> dict[str, Any]:
        """The resource's Table Schema."""
        out: dict[str, Any] = {
            "fields": [f.descriptor() for f in self.fields],
            "missingValues": list(self.missing_values),
        }
        if self.primary_key:
            out["primaryKey"] = list(self.primary_key)
        if self.foreign_keys:
            out["foreignKeys"] = [
                {
                    "fields": list(key.fields),
                    "reference": {"resource": key.resource, "fields": list(key.reference_fields)},
                }
                for key in self.foreign_keys
            ]
        return out


@dataclass(frozen=True)
class Source:
    """Where a dataset's data comes from."""

    title: str
    path: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a node publishes."""

    name: str
    title: str
    description: str
    resources: tuple[ResourceSpec, ...]
    update_frequency: str = "monthly"
    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"dataset name {self.name!r}: lower-case letters, digits and '-'")
        if self.update_frequency not in FREQUENCIES:
            raise ValueError(
                f"update frequency {self.update_frequency!r} is not one of {FREQUENCIES}"
            )
        names = [r.name for r in self.resources]
        if not self.resources or len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name!r} needs resources with names of their own")
        for resource in self.resources:
            if not NAME.fullmatch(resource.name):
                raise ValueError(
                    f"resource name {resource.name!r}: lower-case letters, digits, '-'"
                )

    def resource(self, name: str) -> ResourceSpec | None:
        """The resource of that name, or None."""
        return next((r for r in self.resources if r.name == name), None)

    def schema_digest(self) -> str:
        """A SHA-256 of the resources' names and schemas: it changes when a schema does."""
        described = [[r.name, r.schema()] for r in self.resources]
        return sha256(json.dumps(described, sort_keys=True, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Publisher:
    """Who publishes: the node (its member id, name and address) and the licence it uses."""

    member_id: str
    name: str
    base_url: str
    licence: Licence


Row = Sequence[Any]


@dataclass(frozen=True)
class Missing:
    """A value a table does not show: its marker in CSV (one of the resource's missing values,
    "" by default; "c" for a count held back by small-number suppression, say) and null in
    JSON."""

    marker: str = ""


@dataclass(frozen=True)
class Table:
    """A resource's rows, as CSV and JSON bytes with their digests."""

    spec: ResourceSpec
    csv: bytes
    json: bytes
    rows: int

    @property
    def csv_sha256(self) -> str:
        return sha256(self.csv)


@dataclass(frozen=True)
class Content:
    """A dataset's rows, every resource's, as published."""

    spec: DatasetSpec
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table | None:
        """The table of resource name, or None."""
        return next((t for t in self.tables if t.spec.name == name), None)

    def digest(self) -> str:
        """A SHA-256 over every resource's CSV: it changes when any row does."""
        return sha256(b"".join(bytes.fromhex(t.csv_sha256) for t in self.tables))

    def row_counts(self) -> dict[str, int]:
        return {t.spec.name: t.rows for t in self.tables}


@dataclass(frozen=True)
class Version:
    """A version of a dataset: major.minor.0, its digests, its rows per resource, when."""

    major: int
    minor: int
    schema_digest: str
    content_digest: str
    rows: Mapping[str, int]
    created_at: datetime

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}.0"


@dataclass(frozen=True)
class Change:
    """What changed from one version to the next, in words."""

    version: Version
    schema_changed: bool
    rows: dict[str, tuple[int | None, int]] = field(default_factory=dict)  # before, after


def next_version(
    latest: Version | None, spec: DatasetSpec, content: Content, now: datetime
) -> Version | None:
    """The version content makes after latest; None when it is latest's content still."""
    schema = spec.schema_digest()
    digest = content.digest()
    if latest is None:
        return Version(1, 0, schema, digest, content.row_counts(), now)
    if latest.schema_digest == schema and latest.content_digest == digest:
        return None
    if latest.schema_digest != schema:
        return Version(latest.major + 1, 0, schema, digest, content.row_counts(), now)
    return Version(latest.major, latest.minor + 1, schema, digest, content.row_counts(), now)


def changes(versions: Sequence[Version]) -> list[Change]:
    """Each version with what changed from the one before (newest first)."""
    ordered = sorted(versions, key=lambda v: (v.major, v.minor))
    out: list[Change] = []
    before: Version | None = None
    for version in ordered:
        rows = {
            name: ((before.rows.get(name) if before else None), count)
            for name, count in version.rows.items()
        }
        out.append(
            Change(
                version, before is not None and before.schema_digest != version.schema_digest, rows
            )
        )
        before = version
    return out[::-1]


def cell(value: Any) -> Any:
    """A value as JSON holds it: dates in ISO 8601, decimals as numbers, Missing as null."""
    if isinstance(value, Missing):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def csv_cell(value: Any) -> str:
    """A value as CSV holds it: "" for none, true/false, ISO 8601 dates, decimals as written."""
    if value is None:
        return ""
    if isinstance(value, Missing):
        return value.marker
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula in a CSV cell (OWASP, CSV Injection)."""


def starts_like_formula(text: str) -> bool:
    """True when a spreadsheet opening text as a CSV cell would run it as a formula."""
    return text.startswith(FORMULA_STARTS)


def _guarded(text: str) -> bool:
    """True when text starts like a formula after any 's: spreadsheet_safe puts one more
    before it, so that a text written with a ' before a formula's start reads back as written."""
    return starts_like_formula(text.lstrip("'"))


def spreadsheet_safe(text: str) -> str:
    """text as a CSV cell a spreadsheet shows as text: after a ' when it starts like a formula
    (after any 's it starts with: '=1 is written ''=1, which a spreadsheet shows as '=1).

    Only in CSV, and only in text (string) columns: the JSON and every page keep the text as
    written, and numbers (a credit's -250.00) stay numbers. The ' is what spreadsheets take as
    "this cell is text" and do not show; a program reading the CSV sees it (docs/opendata.md),
    and as_written takes it off.
    """
    return "'" + text if _guarded(text) else text


def as_written(cell: str) -> str:
    """A CSV text cell as its text was written: without the ' that spreadsheet_safe put before
    it (the inverse of spreadsheet_safe; the portal stores a member's text so)."""
    return cell[1:] if cell.startswith("'") and _guarded(cell) else cell


def tabulate(spec: ResourceSpec, rows: Iterable[Row]) -> Table:
    """A resource's rows as CSV (a header of the field names) and JSON (an array of objects).

    The text of a string column that starts like a formula is kept as text in the CSV
    (spreadsheet_safe): open data is opened in spreadsheets, and its text is typed by the
    public (stories) or by staff (responses, a finance system's supplier names)."""
    names = [f.name for f in spec.fields]
    texts = [f.type == "string" for f in spec.fields]
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(names)
    objects: list[dict[str, Any]] = []
    for row in rows:
        if len(row) != len(names):
            raise ValueError(f"a row of {spec.name} has {len(row)} values, not {len(names)}")
        writer.writerow(
            [
                spreadsheet_safe(v) if text and isinstance(v, str) else csv_cell(v)
                for text, v in zip(texts, row, strict=True)
            ]
        )
        objects.append({name: cell(v) for name, v in zip(names, row, strict=True)})
    body = json.dumps(objects, ensure_ascii=False, separators=(",", ":")).encode()
    return Table(spec, text.getvalue().encode(), body, len(objects))


def data_package(
    spec: DatasetSpec, publisher: Publisher, version: Version, content: Content, base: str
) -> dict[str, Any]:
    """The dataset's Data Package descriptor, its resources' paths under base (a URL)."""
    licence = publisher.licence
    resources = []
    for table in content.tables:
        resource = table.spec
        resources.append(
            {
                "name": resource.name,
                "title": resource.title,
                "description": resource.description,
                "path": f"{base}/{resource.name}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": len(table.csv),
                "hash": f"sha256:{table.csv_sha256}",
                "profile": "tabular-data-resource",
                "schema": resource.schema(),
            }
        )
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": f"{publisher.member_id}-{spec.name}",
        "id": f"{publisher.base_url}/datasets/{spec.name}",
        "title": spec.title,
        "description": spec.description,
        "version": version.number,
        "created": version.created_at.isoformat(),
        "homepage": f"{publisher.base_url}/datasets/{spec.name}",
        "licenses": [{"name": licence.name, "title": licence.title, "path": licence.path}],
        "contributors": [
            {"title": publisher.name, "role": "publisher", "path": publisher.base_url}
        ],
        "keywords": list(spec.keywords),
        "resources": resources,
        "x-publisher": publisher.member_id,
        "x-update-frequency": spec.update_frequency,
        "x-themes": list(spec.themes),
        "x-rows": content.row_counts(),
    }
    if spec.sources:
        package["sources"] = [
            {"title": s.title, **({"path": s.path} if s.path else {})} for s in spec.sources
        ]
    return package


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
