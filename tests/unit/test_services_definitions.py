"""Service definition files: read into a ServiceEntry, or refused in one line naming the fix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digitalstate.federation.domain import FederationDocument
from digitalstate.services.definitions import (
    MAX_FILE_BYTES,
    ServiceDefinitionError,
    check_against,
    load_service_definition,
)
from digitalstate.settings import NodeSettings, SettingsError, settings_from_data
from support.federation import federation_document

VALID = """\
title = "Check your State Pension details"
description = "See the address and date of birth we use to pay your State Pension."
purpose = "pension-administration"
fields = ["people.address", "people.date_of_birth"]
"""
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pension-check.toml"
    path.write_text(text)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ServiceDefinitionError) as caught:
        load_service_definition(path, "liverpool-pensions")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def document() -> FederationDocument:
    return federation_document(federation="test", now=NOW)


def test_a_valid_file_is_the_nodes_service_with_the_defaults(tmp_path: Path) -> None:
    entry = load_service_definition(write(tmp_path, VALID), "liverpool-pensions")
    assert entry.member == "liverpool-pensions"
    assert entry.title == "Check your State Pension details"
    assert entry.purpose == "pension-administration"
    assert entry.fields == ("people.address", "people.date_of_birth")
    assert (entry.holder, entry.notify, entry.duration_days) == ("people-register", True, 365)


def test_every_default_can_be_set(tmp_path: Path) -> None:
    text = VALID + 'holder = "people-register"\nnotify = false\nduration_days = 30\n'
    entry = load_service_definition(write(tmp_path, text), "liverpool-pensions")
    assert (entry.notify, entry.duration_days) == (False, 30)


def test_an_unknown_key_is_named(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, VALID + 'titel = "typo"\n'))
    assert ": titel: " in message
    assert "fix: remove it or check its spelling" in message


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('duration_days = "365"', "duration_days"),
        ('notify = "yes"', "notify"),
        ("duration_days = 0", "duration_days"),
        ('holder = "People Register"', "holder"),
    ],
)
def test_a_value_of_the_wrong_type_or_form_is_named(tmp_path: Path, line: str, key: str) -> None:
    message = refusal(write(tmp_path, VALID + line + "\n"))
    assert f": {key}: " in message
    assert "fix: correct the value" in message


def test_fields_must_be_a_list_of_strings(tmp_path: Path) -> None:
    text = VALID.replace('["people.address", "people.date_of_birth"]', '"people.address"')
    assert ": fields: " in refusal(write(tmp_path, text))


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, VALID.replace('purpose = "pension-administration"\n', "")))
    assert ": purpose: Field required; fix: add it" in message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path / "absent.toml")
    assert "no such service definition file" in message
    assert "[services] files" in message


def test_a_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "#" * MAX_FILE_BYTES + "\n")
    assert f"larger than {MAX_FILE_BYTES} bytes" in refusal(path)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    assert "not valid UTF-8 TOML" in refusal(write(tmp_path, "title = \n"))


def test_a_service_the_catalogue_allows_passes(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    entry = load_service_definition(path, "liverpool-pensions")
    assert check_against(path, entry, document()) is None


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('"pension-administration"', '"pension-fishing"', "purpose"),
        ('"people.date_of_birth"', '"people.shoe_size"', "fields"),
        ("fields", 'holder = "liverpool-pensions"\nfields', "fields"),
    ],
    ids=["unknown-purpose", "unknown-field", "field-held-elsewhere"],
)
def test_a_service_the_catalogue_does_not_allow_is_named(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    path = write(tmp_path, VALID.replace(old, new))
    entry = load_service_definition(path, "liverpool-pensions")
    problem = check_against(path, entry, document())
    assert problem is not None
    assert problem.startswith(f"{path}: {key}: ")
    assert "; fix: " in problem and "\n" not in problem


def settings(tmp_path: Path, files: list[str]) -> NodeSettings:
    data = {
        "node": {
            "id": "liverpool-pensions",
            "name": "Liverpool: pensions",
            "roles": ["service"],
            "base_url": "http://127.0.0.1:8101",
        },
        "federation": {
            "anchor_url": "http://127.0.0.1:8100",
            "anchor_public_key": "A" * 43 + "=",
        },
        "services": {"files": files},
    }
    return settings_from_data(NodeSettings, tmp_path / "node.toml", data)


def test_a_relative_file_is_found_beside_the_settings_file(tmp_path: Path) -> None:
    found = settings(tmp_path, ["services/pension-check.toml"]).service_files
    assert found == [(tmp_path / "services" / "pension-check.toml").resolve()]
    assert settings(tmp_path, []).service_files == []


def test_a_node_runs_several_services_each_file_named_once(tmp_path: Path) -> None:
    assert len(settings(tmp_path, ["a.toml", "b.toml"]).service_files) == 2
    with pytest.raises(SettingsError) as caught:
        settings(tmp_path, ["a.toml", "b.toml", "a.toml"])
    message = str(caught.value)
    assert "[services] files: " in message and "'a.toml' is listed twice" in message
    assert "\n" not in message
