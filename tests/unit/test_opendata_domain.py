"""What the portal accepts from a member (opendata/domain.py): lists, packages and files,
each refusal saying why."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from digitalstate.opendata.domain import (
    Listed,
    RefusedError,
    check_file,
    local_package,
    read_listing,
    read_package,
    retry_delay,
)

BODY = b"a,b\n1,x\n"
DIGEST = hashlib.sha256(BODY).hexdigest()
LISTED = Listed("spending", "1.2.0", "0" * 64)


def listing(*entries: dict[str, Any], publisher: str = "care") -> dict[str, Any]:
    return {"publisher": {"id": publisher, "name": "Care"}, "datasets": list(entries)}


def entry(name: str = "spending", version: str = "1.2.0") -> dict[str, Any]:
    return {"name": name, "version": version, "content_sha256": "0" * 64}


def package(**resource: Any) -> dict[str, Any]:
    described = {
        "name": "payments",
        "path": "http://care.example/datasets/spending/payments.csv",
        "format": "csv",
        "bytes": len(BODY),
        "hash": f"sha256:{DIGEST}",
        "schema": {"fields": [{"name": "a", "type": "integer"}, {"name": "b"}]},
        **resource,
    }
    return {"name": "care-spending", "version": "1.2.0", "resources": [described]}


def test_a_list_gives_each_dataset_its_name_version_and_digest() -> None:
    assert read_listing(listing(entry(), entry("feedback", "2.0.0")), "care", 10) == [
        LISTED,
        Listed("feedback", "2.0.0", "0" * 64),
    ]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ([], "not an object with a list of datasets"),
        (listing(entry(), publisher="other"), "does not name care as its publisher"),
        (listing(entry(), entry(), entry()), "names 3 datasets, more than the 2 read"),
        (listing(entry("../etc")), "dataset 1 of the list has no usable name"),
        (listing(entry(version="1.0")), "has no version of the form MAJOR.MINOR.PATCH"),
        (listing(entry(), entry()), "dataset spending is listed twice"),
        (listing({**entry(), "content_sha256": "x"}), "has no SHA-256 of its content"),
    ],
)
def test_a_list_that_is_not_one_is_refused(data: Any, why: str) -> None:
    with pytest.raises(RefusedError, match=why):
        read_listing(data, "care", 2)


def test_a_package_names_its_files_with_their_sizes_hashes_and_columns() -> None:
    [resource] = read_package(package(), LISTED, "care")

    assert (resource.name, resource.bytes, resource.sha256) == ("payments", len(BODY), DIGEST)
    assert [(c.name, c.store_type) for c in resource.columns] == [
        ("a", "BIGINT"),
        ("b", "VARCHAR"),
    ]
    assert resource.missing_values == ("",)  # Table Schema's default
    held = {"fields": [{"name": "a", "type": "integer"}], "missingValues": ["", "c"]}
    assert read_package(package(schema=held), LISTED, "care")[0].missing_values == ("", "c")
    check_file(resource, BODY)
    local = local_package(package(), [resource])
    assert local["resources"][0]["path"] == "payments.csv"


@pytest.mark.parametrize(
    ("described", "why"),
    [
        ({**package(), "version": "1.1.0"}, "the package is version '1.1.0', the list says 1.2.0"),
        ({**package(), "x-publisher": "other"}, "names another publisher"),
        ({**package(), "profile": "https://evil.example/profile.json"}, "profile"),
        ({**package(), "resources": []}, "has no resources"),
        (package(format="xlsx"), "resource payments is not CSV"),
        (package(schema="https://evil.example/schema.json"), "has no inline table schema"),
        (package(hash="md5:abc"), "does not give its SHA-256"),
        (package(bytes="12"), "does not say its size"),
        (package(schema={"fields": [{"name": "a; DROP TABLE x"}]}), "has a column named"),
        (package(schema={"fields": [{"name": "a"}, {"name": "A"}]}), "two columns of the same"),
        (package(schema={"fields": [{"name": "_ID"}]}), "'_ID', a name the portal keeps"),
        (package(schema={"fields": [{"name": "file_row_number"}]}), "a name the portal keeps"),
        (package(schema={"fields": [{"name": "a"}], "missingValues": "c"}), "missingValues"),
        (package(schema={"fields": [{"name": "a"}], "missingValues": [1]}), "missingValues"),
    ],
)
def test_a_package_that_is_not_acceptable_is_refused(described: Any, why: str) -> None:
    with pytest.raises(RefusedError, match=why):
        read_package(described, LISTED, "care")


def test_a_file_whose_size_or_hash_differs_from_the_package_is_refused() -> None:
    [resource] = read_package(package(), LISTED, "care")

    with pytest.raises(RefusedError, match=r"payments.csv is 9 bytes, the package says 8"):
        check_file(resource, BODY + b"!")
    with pytest.raises(RefusedError, match="does not have the SHA-256 the package gives"):
        check_file(resource, BODY.replace(b"x", b"y"))


def test_a_harvest_after_failures_comes_sooner_then_backs_off_to_the_schedule() -> None:
    delays = [retry_delay(runs, 60, 3600) for runs in range(9)]
    assert delays == [3600, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(10**6, 1, 7 * 86_400) == 7 * 86_400  # no overflow however long it fails
