"""`digitalstate service check`: check service definition files before a node names them.

The same checks a node makes when it starts (services/definitions.py), with one line per
file: `FILE: ok (slug, N pages, M questions)` on standard output, or the file's one-line
error on standard error. With --catalogue, each service's purpose and fields are also
checked against a catalogue file, as the node checks them against its federation document.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from digitalstate.cli.common import one_line_errors
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import Catalogue
from digitalstate.services.definitions import (
    ServiceDefinition,
    ServiceDefinitionError,
    check_against,
    duplicate_slug,
    read_definition,
)

CATALOGUE_FIX = "use a purpose and fields that the catalogue lists, or add them to it"

app = typer.Typer(help="Check service definition files.", no_args_is_help=True)


def summary(path: Path, definition: ServiceDefinition) -> str:
    """The line of a usable file: its slug, and how many pages and questions it has."""
    questions = sum(len(page.questions) for page in definition.pages)
    pages = len(definition.pages)
    return (
        f"{path}: ok ({definition.slug}, {pages} page{'s' * (pages != 1)}, "
        f"{questions} question{'s' * (questions != 1)})"
    )


def check_file(path: Path, catalogue: Catalogue | None, seen: dict[str, Path]) -> str | None:
    """The one-line error of the file at path, None when it is usable (its line printed)."""
    try:
        definition = read_definition(path)
    except ServiceDefinitionError as exc:
        return str(exc)
    if definition.slug in seen:
        return duplicate_slug(path, definition.slug, seen[definition.slug])
    seen[definition.slug] = path
    if catalogue is not None:
        problem = check_against(path, definition.entry("check"), catalogue, CATALOGUE_FIX)
        if problem is not None:
            return problem
    print(summary(path, definition))
    return None


@app.command("check")
@one_line_errors
def check_command(
    files: Annotated[list[Path], typer.Argument(help="Service definition files (TOML).")],
    catalogue: Annotated[
        Path | None,
        typer.Option(help="Also check purposes and fields against this catalogue (TOML)."),
    ] = None,
) -> None:
    """Check service definition files: one line each, exit status 1 if any is unusable."""
    known = load_catalogue(catalogue) if catalogue is not None else None
    seen: dict[str, Path] = {}
    failed = False
    for path in files:
        error = check_file(path, known, seen)
        if error is not None:
            print(error, file=sys.stderr)
            failed = True
    if failed:
        raise typer.Exit(1)
