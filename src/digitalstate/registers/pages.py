"""People's pages at a register: see the details held about you, change your address.

The person is signed in through the charter; the `sub` this node gets is its pseudonym for
them, which is also the key of their record here. Before a change the page says which services
will be told; afterwards it says which were told, and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.federation.domain import FederationDocument
from digitalstate.identity.relying_party import Subject, require_subject
from digitalstate.node.runtime import NodeRuntime
from digitalstate.registers.domain import AddressParts, FieldError, address_errors, field_label
from digitalstate.registers.presenter import display_date, display_lines
from digitalstate.registers.service import (
    ADDRESS,
    ChangeConflictError,
    RecordNotFoundError,
    change_address,
    held_fields,
    read_record,
    services_to_tell,
    told_about,
)
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.web.error_pages import not_found_page
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.i18n import _
from digitalstate.web.session import require_csrf

# The inputs of the address question page, by the address part each one is.
ADDRESS_INPUTS = {
    "line_1": "address-line-1",
    "line_2": "address-line-2",
    "town": "address-town",
    "postcode": "address-postcode",
}

SubjectDep = Annotated[Subject, Depends(require_subject)]


def make_pages_router(node: NodeRuntime, templates: Jinja2Templates) -> APIRouter:
    """The person's pages at this register, bound to node."""
    pages = RegisterPages(node, templates)
    router = Router(include_in_schema=False)
    html: dict[str, Any] = {"response_class": HTMLResponse}
    router.add_api_route("/my/details", pages.my_details, methods=["GET"], **html)
    router.add_api_route("/my/details/address", pages.address_question, methods=["GET"], **html)
    router.add_api_route(
        "/my/details/address",
        pages.change_address,
        methods=["POST"],
        dependencies=[Depends(require_csrf)],
        **html,
    )
    router.add_api_route(
        "/my/details/changes/{version}", pages.change_made, methods=["GET"], **html
    )
    return router


class RegisterPages:
    """The pages, with the node they show; plain methods run in FastAPI's thread pool."""

    def __init__(self, node: NodeRuntime, templates: Jinja2Templates) -> None:
        self.node = node
        self.templates = templates
        self.name = node.settings.node.name

    def my_details(self, request: Request, subject: SubjectDep) -> Response:
        """Your details at this register, with a way to change your address."""
        federation = self.node.keeper.current()
        with self.node.sessions.begin() as session:
            record = read_record(session, subject.sub)
        rows = _summary_rows(federation, self.node.settings.node.id, record[0] if record else {})
        context = {"rows": rows, "found": record is not None}
        return self.render(request, "registers/details.html", context)

    def address_question(self, request: Request, subject: SubjectDep) -> Response:
        """The question page: what is your address?"""
        if not self.holds_address():
            return self.not_found(request, f"{self.name} does not hold your address.")
        with self.node.sessions.begin() as session:
            record = read_record(session, subject.sub)
        told = self.to_tell(subject.sub)
        if record is None:
            return self.not_found(request, f"{self.name} holds no details about you.")
        current = record[0].get(ADDRESS) or {}
        lines = [*current.get("lines", []), "", ""]
        values = {
            "line_1": lines[0],
            "line_2": ", ".join(line for line in lines[1:] if line),
            "town": current.get("town", ""),
            "postcode": current.get("postcode", ""),
        }
        context = {"values": values, "errors": {}, "told": told}
        return self.render(request, "registers/address.html", context)

    async def change_address(
        self,
        request: Request,
        subject: SubjectDep,
    ) -> Response:
        """Check the address typed; change it and tell the services that asked, or show errors."""
        form = await read_form(request)
        line_1, line_2, town, postcode = (
            form_text(form, f"address-{name}") for name in ("line-1", "line-2", "town", "postcode")
        )
        # A coroutine, unlike the other pages: waking the delivery worker must happen on the
        # event loop, so the database work goes to a thread and the wake-up stays here.
        if not self.holds_address():
            return self.not_found(request, f"{self.name} does not hold your address.")
        parts = AddressParts(line_1, line_2, town, postcode)
        errors = address_errors(ADDRESS, parts)
        if not errors:
            try:
                before, version = await run_blocking(self.change, subject.sub, parts)
            except RecordNotFoundError:
                return self.not_found(
                    request, _("%(register)s holds no details about you.") % {"register": self.name}
                )
            except FieldError as exc:
                errors = [exc]
            except ChangeConflictError:
                # Two changes at once: nothing of this one was written; ask to try again.
                errors = [
                    FieldError(
                        ADDRESS,
                        _("Your details changed while you were typing. Check them and try again"),
                        "line_1",
                    )
                ]
            else:
                if version == before:
                    return RedirectResponse("/my/details", status_code=303)  # the same again
                self.node.wake("outbox")
                return RedirectResponse(f"/my/details/changes/{version}", status_code=303)
        told = await run_blocking(self.to_tell, subject.sub)
        context = {
            "values": {"line_1": line_1, "line_2": line_2, "town": town, "postcode": postcode},
            "errors": {e.part or "line_1": e.message for e in errors},
            "error_list": [
                {"text": e.message, "href": "#" + ADDRESS_INPUTS[e.part or "line_1"]}
                for e in errors
            ],
            "told": told,
        }
        return self.render(request, "registers/address.html", context, status=400)

    def change_made(self, request: Request, version: int, subject: SubjectDep) -> Response:
        """Your address was changed: which services were told, and when."""
        federation = self.node.keeper.current()
        with self.node.sessions.begin() as session:
            record = read_record(session, subject.sub)
            told = told_about(session, subject.sub, version)
        if record is None or not 1 < version <= record[1]:
            return self.not_found(request, _("There is no such change."))
        rows = [
            {
                "service": _member_name(federation, t.requester),
                "fields": t.fields,
                "delivered_at": t.delivered_at,
                "dead": t.dead,
            }
            for t in told
        ]
        context = {"told": rows, "version": version}
        return self.render(request, "registers/changed.html", context)

    def change(self, pseudonym: str, parts: AddressParts) -> tuple[int, int]:
        """Write the new address and its notices in one transaction: the versions before, after."""
        with self.node.sessions.begin() as session:
            made = change_address(
                session,
                pseudonym=pseudonym,
                address=parts.as_value(),
                now=datetime.now(UTC),
                catalogue=self.node.keeper.current().fields,
            )
        return made.before, made.version

    def holds_address(self) -> bool:
        """True when this register is the one that holds people's addresses."""
        held = held_fields(self.node.keeper.current(), self.node.settings.node.id)
        return any(f.name == ADDRESS for f in held)

    def to_tell(self, pseudonym: str) -> list[dict[str, str]]:
        """The services a change of address would be announced to, and since when."""
        federation = self.node.keeper.current()
        with self.node.sessions.begin() as session:
            consents = services_to_tell(session, pseudonym, [ADDRESS], datetime.now(UTC))
        return [
            {
                "service": _member_name(federation, consent.requester),
                "since": display_date(consent.granted_at.date()),
            }
            for consent in consents
        ]

    def render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        """A page of this register."""
        context = {"register_name": self.name, **context}
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def not_found(self, request: Request, detail: str) -> Response:
        """The 404 page, saying why."""
        return not_found_page(self.templates, request, detail)


def _member_name(federation: FederationDocument, member_id: str) -> str:
    member = federation.member(member_id)
    return member.name if member else member_id


def _summary_rows(
    federation: FederationDocument, member_id: str, data: dict[str, Any]
) -> list[dict[str, Any]]:
    return [
        {
            "label": field_label(field.name),
            "lines": display_lines(field.type, data.get(field.name)),
            "change": "/my/details/address" if field.name == ADDRESS else None,
        }
        for field in held_fields(federation, member_id)
    ]
