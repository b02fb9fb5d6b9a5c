"""How the prisons feature is installed on a node (docs/services.md, "Book a prison visit").

Importing this module registers the code the book-a-prison-visit service names (the engine's
registries are per process, and a process runs one node): the `prison-visit` action, its
decision hook and cancellation, and the `prison-visit-slots` source. The feature serves
service nodes, before the services feature reads their files: a node whose [services] files
name the `prison-visit` action must keep the prisons' register ([prisons] in its settings),
and the definition must ask the questions the action reads; otherwise the node does not
start, in one line naming the file and the fix. A node with [prisons] says in /readyz what
its register holds (prisons, prisoners, slots ahead).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.prisons.domain import ACTION, SOURCE, missing_questions
from digitalstate.prisons.service import (
    CANCELLATION,
    decide_visit,
    offer_slots,
    register_summary,
    submit_visit,
)
from digitalstate.services.definitions import ServiceDefinitionError, read_definitions
from digitalstate.services.handlers import (
    CANCELLATIONS,
    DECISION_HOOKS,
    SLOT_SOURCES,
    SUBMIT_ACTIONS,
)

SUBMIT_ACTIONS.register(ACTION, submit_visit)
DECISION_HOOKS.register(ACTION, decide_visit)
CANCELLATIONS.register(ACTION, CANCELLATION)
SLOT_SOURCES.register(SOURCE, offer_slots)


def install(_app: FastAPI, node: NodeRuntime, _templates: Jinja2Templates) -> None:
    """Refuse a node that names the prison-visit action without [prisons], or whose file lacks
    a question the action reads; add the readiness check of a node with [prisons]."""
    files = node.settings.service_files
    for path, definition in zip(files, read_definitions(files), strict=True):
        if definition.submit is None or definition.submit.action != ACTION:
            continue
        if node.settings.prisons is None:
            raise ServiceDefinitionError(
                f"{path}: submit.action: the {ACTION!r} action books visits in the prisons' "
                "register, which this node does not keep; fix: add a [prisons] section to the "
                "node's settings (docs/configuration.md#prisons)"
            )
        missing = missing_questions(q.id for _, q in definition.questions())
        if missing:
            raise ServiceDefinitionError(
                f"{path}: pages: the {ACTION!r} action reads the answer to {missing[0]!r}, "
                "which no question asks; fix: add that question (see the demo's "
                "book-a-prison-visit.toml)"
            )
    if node.settings.prisons is None:
        return

    def ready() -> dict[str, Any]:
        with node.sessions() as session:
            held = register_summary(session, datetime.now(UTC))
        detail = (
            f"{held.prisons} prisons, {held.prisoners} prisoners, "
            f"{held.slots_ahead} visit slots ahead"
        )
        # Said, not judged: a node with no prison yet starts, and its operator adds them.
        return {"ok": True, "detail": detail}

    node.checks["prisons"] = ready


FEATURE = Feature(name="prisons", roles=frozenset({"service"}), install=install)
