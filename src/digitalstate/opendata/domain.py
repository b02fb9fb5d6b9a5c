"""What the portal accepts from a member: its list of datasets, each package and each file.

Everything here reads what another node sent, so every check is bounded and names what is
wrong in words a reader of the harvest status understands (docs/opendata.md). A package is
accepted only as plain data: its schemas inline, its profiles the standard ones, its resources
the CSV files the member serves beside it, so that validating it never fetches anything.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VERSION = re.compile(r"^[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# CKAN's row id, and the row number the store reads it from (opendata/store.py).
RESERVED_COLUMNS = frozenset({"_id", "file_row_number"})
MAX_RESOURCES = 50
MAX_FIELDS = 200
MAX_MISSING_VALUES = 20
MAX_MISSING_CHARS = 40
PACKAGE_PROFILES = frozenset({"tabular-data-package", "data-package"})
RESOURCE_PROFILES = frozenset({"tabular-data-resource", "data-resource"})

# Table Schema types as the analytical store's column types; any other type is kept as text.
STORE_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "year": "INTEGER",
}
LIST = ""
"""The dataset name under which the harvest status of a member's list itself is kept."""


class RefusedError(ValueError):
    """What a member served is not accepted; the message says why."""


@dataclass(frozen=True)
class Listed:
    """A dataset as a member's list names it."""

    name: str
    version: str
    content_digest: str


@dataclass(frozen=True)
class Column:
    """A column of a resource: its name and Table Schema type."""

    name: str
    type: str

    @property
    def store_type(self) -> str:
        """The analytical store's type for the column."""
        return STORE_TYPES.get(self.type, "VARCHAR")


@dataclass(frozen=True)
class ResourceFile:
    """A resource of a package: the CSV file the member serves and what it must be."""

    name: str
    bytes: int
    sha256: str
    columns: tuple[Column, ...]
    missing_values: tuple[str, ...] = ("",)  # the schema's missingValues: a cell that is empty


def read_listing(data: Any, publisher: str, max_datasets: int) -> list[Listed]:
    """The datasets a member's list names; RefusedError when the list is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), list):
        raise RefusedError("the list of datasets is not an object with a list of datasets")
    said = data.get("publisher")
    if not isinstance(said, dict) or said.get("id") != publisher:
        raise RefusedError(f"the list of datasets does not name {publisher} as its publisher")
    entries = data["datasets"]
    if len(entries) > max_datasets:
        raise RefusedError(
            f"the list names {len(entries)} datasets, more than the {max_datasets} read"
        )
    listed: dict[str, Listed] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise RefusedError(f"dataset {index + 1} of the list is not an object")
        name, version, digest = (entry.get(k) for k in ("name", "version", "content_sha256"))
        if not isinstance(name, str) or not NAME.match(name):
            raise RefusedError(f"dataset {index + 1} of the list has no usable name")
        if not isinstance(version, str) or not VERSION.match(version):
            raise RefusedError(f"dataset {name} has no version of the form MAJOR.MINOR.PATCH")
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise RefusedError(f"dataset {name} has no SHA-256 of its content")
        if name in listed:
            raise RefusedError(f"dataset {name} is listed twice")
        listed[name] = Listed(name, version, digest)
    return list(listed.values())


def read_package(package: Any, listed: Listed, publisher: str) -> list[ResourceFile]:
    """The files of a listed dataset's package; RefusedError when the package is not acceptable."""
    if not isinstance(package, dict):
        raise RefusedError("the package is not a JSON object")
    if package.get("version") != listed.version:
        raise RefusedError(
            f"the package is version {str(package.get('version'))[:40]!r}, "
            f"the list says {listed.version}"
        )
    if package.get("x-publisher", publisher) != publisher:
        raise RefusedError("the package names another publisher")
    if package.get("profile", "data-package") not in PACKAGE_PROFILES:
        raise RefusedError("the package's profile is not a standard Data Package profile")
    resources = package.get("resources")
    if not isinstance(resources, list) or not 1 <= len(resources) <= MAX_RESOURCES:
        raise RefusedError(f"the package has no resources, or more than {MAX_RESOURCES}")
    files = [_resource(resource) for resource in resources]
    if len({f.name for f in files}) != len(files):
        raise RefusedError("two resources of the package have the same name")
    return files


def _resource(resource: Any) -> ResourceFile:
    if not isinstance(resource, dict):
        raise RefusedError("a resource of the package is not an object")
    name = resource.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise RefusedError("a resource of the package has no usable name")
    if resource.get("format", "csv") != "csv":
        raise RefusedError(f"resource {name} is not CSV")
    if resource.get("profile", "tabular-data-resource") not in RESOURCE_PROFILES:
        raise RefusedError(f"resource {name}'s profile is not a standard Data Resource profile")
    size, digest = resource.get("bytes"), resource.get("hash")
    if not isinstance(size, int) or size < 0:
        raise RefusedError(f"resource {name} does not say its size in bytes")
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise RefusedError(f"resource {name} does not give its SHA-256 hash")
    if not DIGEST.match(digest.removeprefix("sha256:")):
        raise RefusedError(f"resource {name}'s hash is not a SHA-256")
    schema = resource.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        raise RefusedError(f"resource {name} has no inline table schema")
    fields = schema["fields"]
    if not 1 <= len(fields) <= MAX_FIELDS:
        raise RefusedError(f"resource {name}'s schema has no fields, or more than {MAX_FIELDS}")
    columns = []
    for field in fields:
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            raise RefusedError(f"a field of resource {name}'s schema has no name")
        if not COLUMN.match(field["name"]):
            raise RefusedError(f"resource {name} has a column named {field['name'][:63]!r}")
        if field["name"].lower() in RESERVED_COLUMNS:
            raise RefusedError(
                f"resource {name} has a column named {field['name']!r}, a name the portal"
                " keeps for its row id"
            )
        columns.append(Column(field["name"], str(field.get("type", "string"))))
    if len({c.name.lower() for c in columns}) != len(columns):
        raise RefusedError(f"resource {name} has two columns of the same name")
    missing = schema.get("missingValues", [""])
    if (
        not isinstance(missing, list)
        or len(missing) > MAX_MISSING_VALUES
        or not all(isinstance(m, str) and len(m) <= MAX_MISSING_CHARS for m in missing)
    ):
        raise RefusedError(f"resource {name}'s missingValues are not a short list of texts")
    return ResourceFile(name, size, digest.removeprefix("sha256:"), tuple(columns), tuple(missing))


def check_file(resource: ResourceFile, body: bytes) -> None:
    """RefusedError unless body is the file the package describes (its size and SHA-256)."""
    if len(body) != resource.bytes:
        raise RefusedError(
            f"{resource.name}.csv is {len(body)} bytes, the package says {resource.bytes}"
        )
    if hashlib.sha256(body).hexdigest() != resource.sha256:
        raise RefusedError(f"{resource.name}.csv does not have the SHA-256 the package gives")


def local_package(package: dict[str, Any], files: list[ResourceFile]) -> dict[str, Any]:
    """The package with each resource's path its local file name ({name}.csv), to validate."""
    local = {k: v for k, v in package.items() if k != "$schema"}
    local["resources"] = [
        {**{k: v for k, v in r.items() if k not in ("path", "data", "$schema", "dialect")},
         "path": f"{f.name}.csv"}
        for r, f in zip(package["resources"], files, strict=True)
    ]  # fmt: skip
    return local


def retry_delay(failed_runs: int, retry_seconds: float, harvest_seconds: float) -> float:
    """Seconds until the next harvest: harvest_seconds after one without failures, else
    retry_seconds doubled for each failed one in a row after the first, never more than
    harvest_seconds."""
    if failed_runs <= 0:
        return harvest_seconds
    return min(harvest_seconds, retry_seconds * float(2 ** min(failed_runs - 1, 32)))
