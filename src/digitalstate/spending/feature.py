"""How public spending is installed: on every node (docs/spending.md). It publishes the
node's payments as the dataset `spending` (publishing/feature.py serves it)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.spending.datasets import spending_dataset


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Publish the node's payments."""
    dataset = spending_dataset(node.settings.spending, node.settings.node.name)
    node.datasets[dataset.spec.name] = dataset


FEATURE = Feature(name="spending", roles=frozenset({"*"}), install=install)
