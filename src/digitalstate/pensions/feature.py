"""How the pensions feature is installed: its action is registered when this module is read.

Importing it (node/features.py reads every feature module before installing any) registers the
`state-pension` action, its eligibility rule and its decision hook (pensions/service.py), so a
node whose [services] files name the action starts. It adds no routes: the claim's pages are
the declared journey's, and caseworkers decide on the staff pages.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.pensions import service as _registers_the_action  # noqa: F401


def install(_app: FastAPI, _node: NodeRuntime, _templates: Jinja2Templates) -> None:
    """Nothing to add: the action was registered when this module was imported."""


FEATURE = Feature(name="pensions", roles=frozenset({"service"}), install=install)
