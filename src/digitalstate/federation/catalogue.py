"""Read a federation catalogue (purposes, statutory bases, fields) from TOML."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from digitalstate.federation.domain import Catalogue

DEMO_CATALOGUE = "demo-catalogue.toml"


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; str() is the one-line message."""


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue in path, or the demo federation's catalogue shipped with the package."""
    if path is None:
        text = resources.files("digitalstate.federation").joinpath(DEMO_CATALOGUE).read_text()
        name = f"<package>/{DEMO_CATALOGUE}"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogueError(f"{path}: cannot read the catalogue ({exc.strerror})") from exc
        name = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{name}: not valid TOML ({exc}); fix the syntax there") from exc
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise CatalogueError(f"{name}: {where}: {error['msg']}; fix that entry") from exc
