"""How the mail feature is installed on a node: on every node whose settings have [email].

It adds the outbox's worker (mail/worker.py), its metrics on /metrics and the operator's
/operator/email page. Without [email] a node sends no email and has none of these; a feature
that queues a message (mail/service.py, queue_email) still may: it waits in the outbox until
the node is given [email].
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.mail.metrics import register_email_metrics
from digitalstate.mail.pages import make_pages_router
from digitalstate.mail.smtp import SmtpConfig
from digitalstate.mail.worker import EmailWorker
from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the email worker, metrics and operator page when [email] is set."""
    if node.settings.email is None:
        return
    config = SmtpConfig.from_settings(node.settings)  # SettingsError, in one line, if unusable
    metrics = register_email_metrics(node.metrics, node.sessions)
    install_routes(app, make_pages_router(node, templates, config))
    node.background.append(EmailWorker(node, config, metrics).run)


FEATURE = Feature(name="mail", roles=frozenset({"*"}), install=install)
