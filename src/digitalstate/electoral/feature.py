"""How the electoral feature is installed: the register-to-vote action and its identity checks.

Importing this module (node/features.py reads every feature module before installing any)
registers the `electoral-registration` action, its decision hook (the roll), the notes its
application pages show, the reasons it writes on events and the event the journey sets after
a submission. On a service node
whose [services] files name the action, install adds the identity check worker and the
applicant's evidence page; a definition naming the action without the questions it reads
(electoral/domain.py QUESTIONS) stops the node at start, in one line naming the file.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.electoral.domain import QUESTIONS
from digitalstate.electoral.pages import SEND_PATH, make_evidence_router, services_of
from digitalstate.electoral.service import ACTION, REASONS, add_to_roll, notes, start_check
from digitalstate.electoral.worker import CHECK_EVENT, IdentityCheckWorker
from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes
from digitalstate.services.definitions import ServiceDefinitionError, read_definitions
from digitalstate.services.handlers import (
    DECISION_HOOKS,
    NOTES,
    SUBMIT_ACTIONS,
    WAKES,
)
from digitalstate.services.handlers import (
    REASONS as EVENT_REASONS,
)
from digitalstate.web.hardening import allow_larger_body

SUBMIT_ACTIONS.register(ACTION, start_check)
DECISION_HOOKS.register(ACTION, add_to_roll)
NOTES.register(ACTION, notes)
WAKES.register(ACTION, (CHECK_EVENT,))
EVENT_REASONS.register(ACTION, REASONS)


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the identity check worker and the evidence page where a service names the action."""
    files = node.settings.service_files
    if not files:
        return
    definitions = read_definitions(files)
    for path, definition in zip(files, definitions, strict=True):
        if definition.submit is None or definition.submit.action != ACTION:
            continue
        missing = [q for q in QUESTIONS if definition.question(q) is None]
        if missing:
            raise ServiceDefinitionError(
                f"{path}: pages: the {ACTION} action reads the questions "
                f"{', '.join(missing)}, which this service does not ask; fix: add them "
                f"(see the demo's register-to-vote.toml)"
            )
    ours = services_of({d.slug: d for d in definitions})
    if not ours:
        return
    cap = node.settings.services.max_upload_bytes
    largest = max(
        min(question.upload_limit, cap)
        for definition in ours.values()
        if (question := definition.question(QUESTIONS[-1])) is not None
    )
    allow_larger_body(app, SEND_PATH, node.settings.web.max_body_bytes + largest)
    install_routes(app, make_evidence_router(node, templates, ours))
    node.background.append(IdentityCheckWorker(node, ours).run)


FEATURE = Feature(name="electoral", roles=frozenset({"service"}), install=install)
