"""The documentation covers every CLI command, setting and problem type, and its examples run.

Datasette's test_docs.py pattern: the code is walked for what users can touch, and each item
must be described in docs/. A new option, setting or error type cannot ship undocumented.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import runpy
import tomllib
import typing
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel

from digitalstate.cli.main import app
from digitalstate.federation.domain import verify_document
from digitalstate.keys import PublicKey
from digitalstate.problems import PROBLEM_TYPES
from digitalstate.settings import AnchorSettings, NodeSettings, settings_from_data

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE_SCRIPT = DOCS / "examples" / "signed_exchange.py"
HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$", re.MULTILINE)


def read(name: str) -> str:
    """The text of a page under docs/."""
    return (DOCS / name).read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """Each heading's text mapped to the body up to the next heading of any level."""
    matches = list(HEADING.finditer(text))
    out: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        out[match.group(2)] = text[match.end() : end]
    return out


def marked_blocks(text: str, marker: str) -> dict[str, str]:
    """Fenced blocks preceded by '<!-- marker: name -->', by name."""
    pattern = re.compile(
        rf"<!-- {marker}: (\S+) -->\n```[a-z]*\n(.*?)\n```", re.MULTILINE | re.DOTALL
    )
    return {name: body for name, body in pattern.findall(text)}


# --- CLI ---------------------------------------------------------------------------------


def walk_commands(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every command and group under command, with its full command line."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk_commands(sub, f"{path} {name}")


COMMANDS = dict(walk_commands(typer.main.get_command(app), "digitalstate"))


def option_names(command: Any) -> list[str]:
    """Every option string of a command (--config, -c, ...), and its arguments' names."""
    names: list[str] = []
    for param in command.params:
        if param.param_type_name == "option":
            names.extend([*param.opts, *param.secondary_opts])
        else:  # an argument: FILES
            names.append(str(param.name).upper())
    return names


@pytest.fixture(scope="module")
def cli_sections() -> dict[str, str]:
    return sections(read("cli.md"))


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_a_heading_in_cli_md(path: str, cli_sections: dict[str, str]) -> None:
    assert path in cli_sections, f"docs/cli.md needs a heading '{path}'"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_of_a_command_is_in_its_section(
    path: str, cli_sections: dict[str, str]
) -> None:
    section = cli_sections.get(path, "")
    for name in option_names(COMMANDS[path]):
        assert re.search(rf"`{re.escape(name)}(?![\w-])", section), (
            f"docs/cli.md: '{path}' does not describe {name}"
        )


def test_cli_md_describes_no_command_or_option_that_does_not_exist(
    cli_sections: dict[str, str],
) -> None:
    for heading, body in cli_sections.items():
        if not heading.startswith("digitalstate"):
            continue
        assert heading in COMMANDS, f"docs/cli.md describes '{heading}', which does not exist"
        real = set(option_names(COMMANDS[heading])) | {"--help"}
        for documented in re.findall(r"^\| `(-[\w-]+)", body, re.MULTILINE):
            assert documented in real, f"docs/cli.md: '{heading}' has no option {documented}"


# --- Settings ----------------------------------------------------------------------------


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a settings section: its type, or the model of an optional one ([email])."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None  # config_path: where the file was read from, not a setting


def setting_fields() -> Iterator[tuple[str, str, Any]]:
    """(section, key, field) of every setting of NodeSettings and AnchorSettings, once each."""
    seen: set[tuple[str, str]] = set()
    for settings in (NodeSettings, AnchorSettings):
        for section, outer in settings.model_fields.items():
            model = section_model(outer.annotation)
            if model is None:
                continue
            for key, field in model.model_fields.items():
                if (section, key) not in seen:
                    seen.add((section, key))
                    yield section, key, field


SETTINGS = [pytest.param(s, k, f, id=f"{s}.{k}") for s, k, f in setting_fields()]


def toml_value(value: object) -> str:
    """A default as it is written in TOML on the configuration page."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return json.dumps(value)
    return json.dumps(str(value))


@pytest.fixture(scope="module")
def configuration_rows() -> list[str]:
    return [line for line in read("configuration.md").splitlines() if line.startswith("| `")]


@pytest.mark.parametrize(("section", "key", "field"), SETTINGS)
def test_every_setting_is_in_configuration_md_with_its_variable_and_default(
    section: str, key: str, field: Any, configuration_rows: list[str]
) -> None:
    variable = f"DIGITALSTATE_{section.upper()}__{key.upper()}"
    rows = [r for r in configuration_rows if r.startswith(f"| `{key}` |") and variable in r]
    assert rows, f"docs/configuration.md needs a row for [{section}] {key} naming {variable}"
    if field.is_required():
        expected = "required"
    elif field.default is None:  # TOML has no null: the key is left out
        expected = "| unset |"
    else:
        expected = f"`{toml_value(field.default)}`"
    assert expected in rows[0], f"docs/configuration.md: [{section}] {key} default {expected}"


def test_configuration_md_lists_no_variable_that_does_not_exist(
    configuration_rows: list[str],
) -> None:
    real = {f"DIGITALSTATE_{s.upper()}__{k.upper()}" for s, k, _ in setting_fields()}
    for row in configuration_rows:
        for variable in re.findall(r"DIGITALSTATE_[A-Z_]+", row):
            assert variable in real, f"docs/configuration.md names {variable}, not a setting"


@pytest.mark.parametrize(
    ("name", "settings"), [("node.toml", NodeSettings), ("anchor.toml", AnchorSettings)]
)
def test_the_sample_settings_files_are_valid_and_show_every_key(
    name: str, settings: type[NodeSettings] | type[AnchorSettings], monkeypatch: Any
) -> None:
    for variable in [v for v in os.environ if v.startswith("DIGITALSTATE_")]:
        monkeypatch.delenv(variable)
    sample = marked_blocks(read("configuration.md"), "sample")[name]
    data = tomllib.loads(sample)
    settings_from_data(settings, DOCS / name, data)
    for section, outer in settings.model_fields.items():
        model = section_model(outer.annotation)
        if model is not None:
            assert set(data.get(section, {})) == set(model.model_fields), (
                f"the sample {name} in docs/configuration.md must show every key of [{section}]"
            )


# --- Problem types -----------------------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
def test_every_problem_type_is_described_in_errors_md(slug: str) -> None:
    described = sections(read("errors.md"))
    assert slug in described, f"docs/errors.md needs a heading '{slug}'"
    kind = PROBLEM_TYPES[slug]
    body = described[slug]
    assert f"`{kind.uri}`" in body
    assert f"**Status:** {kind.status}" in body
    assert f"**Title:** {kind.title}" in body


def test_errors_md_describes_no_problem_type_that_does_not_exist() -> None:
    for slug in re.findall(r"^#### (\S+)$", read("errors.md"), re.MULTILINE):
        assert slug in PROBLEM_TYPES, f"docs/errors.md describes {slug}, not a problem type"


# --- Worked examples ---------------------------------------------------------------------


def run_example() -> dict[str, str]:
    """Run docs/examples/signed_exchange.py and split its output into named sections."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        runpy.run_path(str(EXAMPLE_SCRIPT), run_name="__main__")
    parts = re.split(r"^--- (\S+) ---\n", output.getvalue(), flags=re.MULTILINE)[1:]
    return {name: text.rstrip("\n") for name, text in zip(parts[::2], parts[1::2], strict=True)}


def test_the_worked_example_in_exchange_md_is_what_the_script_prints_now() -> None:
    shown = marked_blocks(read("exchange.md"), "example")
    printed = run_example()
    assert set(shown) == set(printed), "docs/exchange.md and signed_exchange.py differ in parts"
    for name, text in printed.items():
        assert shown[name] == text, (
            f"docs/exchange.md part '{name}' is out of date; "
            "paste the output of .venv/bin/python docs/examples/signed_exchange.py"
        )


def test_the_sample_federation_envelope_verifies_with_the_key_the_page_names() -> None:
    text = read("federation.md")
    envelope = json.loads(marked_blocks(text, "example")["federation-envelope"])
    named = re.search(r"whose public half is `([A-Za-z0-9+/=]+)`", text)
    assert named, "docs/federation.md must name the example anchor key"
    key = PublicKey.from_b64(named.group(1))
    verify_document(envelope, key, now=datetime.now(UTC), allow_expired=True)


# --- Links -------------------------------------------------------------------------------


def pages() -> list[Path]:
    """Every Markdown page under docs/."""
    return sorted(DOCS.rglob("*.md"))


def test_the_index_links_every_page() -> None:
    index = read("index.md")
    for page in pages():
        relative = page.relative_to(DOCS).as_posix()
        if relative != "index.md":
            assert f"]({relative})" in index, f"docs/index.md does not link {relative}"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_relative_link_reaches_a_file(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
