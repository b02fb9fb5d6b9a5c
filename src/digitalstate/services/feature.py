"""How the services feature is installed on a node (docs/adr/0008, 0017)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.services.definitions import check_against, read_definitions
from digitalstate.services.domain import ServiceEntry
from digitalstate.services.pages import make_pages_router


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Read every service the node's [services] files declare (the node does not start if
    one is unusable, or two share a slug), and add the "check your details" pages of the
    first service without pages of questions, if any."""
    files = node.settings.service_files
    if not files:
        return  # a node that declares no service shows no service pages
    member = node.settings.node.id
    definitions = read_definitions(files)
    entries: list[tuple[Path, ServiceEntry]] = [
        (path, definition.entry(member))
        for path, definition in zip(files, definitions, strict=True)
    ]

    def ready() -> dict[str, Any]:
        document = node.keeper.document
        if document is None:
            return {"ok": False, "detail": "no federation document to check the services against"}
        for path, entry in entries:
            problem = check_against(path, entry, document)
            if problem is not None:
                return {"ok": False, "detail": problem}
        return {"ok": True, "detail": ", ".join(f"{e.purpose}: {p.name}" for p, e in entries)}

    node.checks["services"] = ready
    # The pages of services with questions are not built yet (issue 10): only the
    # "check your details" flow has pages, for one service at /service.
    simple = [
        entry for (_, entry), d in zip(entries, definitions, strict=True) if not d.has_journey
    ]
    if simple:
        app.include_router(make_pages_router(node, templates, simple[0]))


FEATURE = Feature(name="services", roles=frozenset({"service"}), install=install)
