"""What a node runs besides the shared machinery: a feature per concern, installed by role.

Each feature package exports FEATURE from its feature.py. The app factory installs every
feature that serves one of the node's roles (docs/adr/0008).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.templating import Jinja2Templates

    from digitalstate.node.runtime import NodeRuntime

FEATURE_MODULES: tuple[str, ...] = (
    "digitalstate.identity.feature",
    "digitalstate.registers.feature",
    "digitalstate.consent.feature",
    "digitalstate.tellusonce.feature",
    "digitalstate.prisons.feature",  # before services: it registers the prison-visit action
    "digitalstate.services.feature",
    "digitalstate.experiments.feature",  # after services: the staff's pages of its experiments
    "digitalstate.electoral.feature",
    "digitalstate.pensions.feature",
    "digitalstate.staff.feature",
    "digitalstate.feedback.feature",
    "digitalstate.transparency.feature",
    "digitalstate.mail.feature",
    "digitalstate.spending.feature",
    "digitalstate.publishing.feature",
    "digitalstate.opendata.feature",
)


@dataclass(frozen=True)
class Feature:
    """A feature: its name, the roles it serves ("*" for every node) and how to install it.

    install(app, node, templates) adds the feature's routes and background work; templates is
    the app's one Jinja environment (web/templating.py), which every page router renders with.
    """

    name: str
    roles: frozenset[str]
    install: Callable[[FastAPI, NodeRuntime, Jinja2Templates], None]

    def serves(self, roles: Sequence[str]) -> bool:
        """True when a node with these roles runs this feature."""
        return "*" in self.roles or bool(self.roles.intersection(roles))


def all_features() -> list[Feature]:
    """Every feature, in installation order."""
    return [importlib.import_module(name).FEATURE for name in FEATURE_MODULES]


def features_for(roles: Sequence[str]) -> list[Feature]:
    """The features a node with these roles runs."""
    return [f for f in all_features() if f.serves(roles)]
