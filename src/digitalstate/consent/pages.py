"""The charter's consent pages: the consent screen, your consents, who has seen your data."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.consent import service
from digitalstate.consent.flows import (
    HolderUnreachableError,
    NotYoursError,
    Screen,
    answer_request,
    load_screen,
    utcnow,
    visible_consent,
    withdraw_consent,
)
from digitalstate.consent.people import display_name, people_helped
from digitalstate.consent.presenter import ConsentView, consent_view, event_view
from digitalstate.consent.service import RequestUnavailableError
from digitalstate.federation.domain import member_name
from digitalstate.identity.charter_session import require_person
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.transparency.disclosure import gather_activity
from digitalstate.transparency.disclosure_presenter import (
    Filters,
    activity_rows,
    counts,
    export_csv,
    export_json,
    filter_options,
)
from digitalstate.transparency.person import Activity
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.session import require_csrf

PersonDep = Annotated[str, Depends(require_person)]
ANSWERS = {"yes": True, "no": False}
UNAVAILABLE = {
    "unknown": (
        404,
        N_("This request is not recognised"),
        N_("Go back to the service and start again."),
    ),
    "expired": (
        410,
        N_("This request has expired"),
        N_(
            "A request to share your details lasts 30 minutes. Go back to the service and "
            "start again."
        ),
    ),
    "decided": (
        409,
        N_("You have already answered this request"),
        N_("You can see and withdraw the consents you have given."),
    ),
}


class ConsentPages:
    """The charter's consent pages; each method is a route."""

    def __init__(self, node: NodeRuntime, templates: Jinja2Templates) -> None:
        self.node = node
        self.templates = templates

    def render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        """A page of this feature, with the charter's name for the navigation."""
        context = {"charter_name": self.node.settings.node.name, **context}
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def unavailable(self, request: Request, exc: RequestUnavailableError) -> Response:
        """The page for a request that cannot be answered."""
        status, title, detail = UNAVAILABLE[exc.kind]
        context = {"title": _(title), "detail": _(detail), "kind": exc.kind}
        return self.render(request, "consent/unavailable.html", context, status)

    def not_found(self, request: Request) -> Response:
        """The page for a consent that is not there, or not the person's to see."""
        context = {"title": _("Page not found"), "detail": _("There is no consent of yours here.")}
        return self.render(request, "consent/unavailable.html", {**context, "kind": "unknown"}, 404)

    def not_yours(self, request: Request) -> Response:
        """The page for a request about someone the signed-in person may not act for."""
        context = {
            "title": _("This request is for someone else"),
            "detail": _("Sign in as the person the service asked about, or as their helper."),
            "kind": "not-yours",
        }
        return self.render(request, "consent/unavailable.html", context, 403)

    def screen_page(self, request: Request, screen: Screen, error: bool = False) -> Response:
        """The consent screen, with the error summary when no answer was chosen."""
        context = {"screen": screen, "terms": screen.terms, "actor": screen.actor, "error": error}
        return self.render(request, "consent/screen.html", context, 400 if error else 200)

    def consent_screen(self, request: Request, request_id: str, person: PersonDep) -> Response:
        """The consent screen: who asks for which details from whom, why and for how long."""
        try:
            with self.node.sessions.begin() as session:
                screen = load_screen(
                    session, self.node, request_id=request_id, signed_in=person, now=utcnow()
                )
        except RequestUnavailableError as exc:
            return self.unavailable(request, exc)
        except NotYoursError:
            return self.not_yours(request)
        return self.screen_page(request, screen)

    async def answer_consent(
        self, request: Request, request_id: str, person: PersonDep
    ) -> Response:
        """Agree or refuse; agreeing first gives the register its copy of the consent."""
        answer = form_text(await read_form(request), "answer")
        try:
            if answer not in ANSWERS:
                screen = await _screen(self.node, request_id, person)
                return self.screen_page(request, screen, error=True)
            url = await answer_request(
                self.node,
                request_id=request_id,
                signed_in=person,
                agree=ANSWERS[answer],
                now=utcnow(),
            )
        except RequestUnavailableError as exc:
            return self.unavailable(request, exc)
        except NotYoursError:
            return self.not_yours(request)
        except HolderUnreachableError as exc:
            context = {"holder": exc.holder.name, "request_id": request_id}
            return self.render(request, "consent/holder_unreachable.html", context, 503)
        return RedirectResponse(url, status_code=303)

    def my_consents(self, request: Request, person: PersonDep) -> Response:
        """Your consents, and those of the people you help: active, withdrawn and expired."""
        views = _consent_views(self.node, person)
        groups = {
            s: [v for v in views if v.status == s] for s in ("active", "withdrawn", "expired")
        }
        return self.render(request, "consent/list.html", {"groups": groups})

    def consent_details(self, request: Request, consent_id: str, person: PersonDep) -> Response:
        """One consent: what it allows, its history and its receipt."""
        found = _one_consent(self.node, consent_id, person)
        if found is None:
            return self.not_found(request)
        view, events, envelope = found
        context = {"consent": view, "events": events, "envelope": envelope}
        return self.render(request, "consent/details.html", context)

    def consent_receipt(self, request: Request, consent_id: str, person: PersonDep) -> Response:
        """Download the consent's receipt: the record the charter signed."""
        found = _one_consent(self.node, consent_id, person)
        if found is None:
            return self.not_found(request)
        body = json.dumps(found[2], indent=2, ensure_ascii=False)
        disposition = f'attachment; filename="consent-{consent_id}.json"'
        return Response(
            body, media_type="application/json", headers={"content-disposition": disposition}
        )

    def confirm_withdrawal(self, request: Request, consent_id: str, person: PersonDep) -> Response:
        """Ask the person to confirm they want to withdraw a consent."""
        found = _one_consent(self.node, consent_id, person)
        if found is None:
            return self.not_found(request)
        if found[0].status != "active":
            return RedirectResponse(f"/my/consents/{consent_id}", status_code=303)
        return self.render(request, "consent/withdraw.html", {"consent": found[0]})

    async def withdraw(self, request: Request, consent_id: str, person: PersonDep) -> Response:
        """Withdraw a consent; it takes effect at once, and the register is told."""
        try:
            done = await withdraw_consent(
                self.node, consent_id=consent_id, signed_in=person, now=utcnow()
            )
        except NotYoursError:
            return self.not_found(request)
        if done.consent.withdrawn_at is None:
            return RedirectResponse(f"/my/consents/{consent_id}", status_code=303)
        view = await run_blocking(_view_of, self.node, done.consent, person)
        return self.render(request, "consent/withdrawn.html", {"consent": view})

    async def my_activity(self, request: Request, person: PersonDep) -> Response:
        """Who has seen your data: every entry about you in every log, checked, newest first."""
        chosen = Filters.of(request.query_params)
        activity = await gather_activity(self.node, person)
        views = await run_blocking(_consent_views, self.node, person)
        federation = self.node.keeper.current()
        everything = activity_rows(federation, activity, Filters())
        rows = activity_rows(federation, activity, chosen) if chosen.active else everything
        context = {
            "activity": activity,
            "rows": rows,
            "counts": counts(everything),
            "filters": chosen,
            "options": filter_options(federation, activity, chosen),
            "unreachable": [member_name(federation, m) for m in activity.unreachable],
            "consents": {v.id for v in views},
        }
        return self.render(request, "consent/activity.html", context)

    async def my_activity_json(self, request: Request, person: PersonDep) -> Response:
        """Download who has seen your data as JSON, with what it takes to check each entry."""
        chosen, activity = await self._activity(request, person)
        body = export_json(self.node.keeper.current(), activity, chosen, utcnow())
        return _attachment(body, "application/json", "who-has-seen-my-data.json")

    async def my_activity_csv(self, request: Request, person: PersonDep) -> Response:
        """Download who has seen your data as CSV, one entry a row."""
        chosen, activity = await self._activity(request, person)
        body = export_csv(self.node.keeper.current(), activity, chosen)
        return _attachment(body, "text/csv; charset=utf-8", "who-has-seen-my-data.csv")

    async def _activity(self, request: Request, person: str) -> tuple[Filters, Activity]:
        return Filters.of(request.query_params), await gather_activity(self.node, person)


def make_pages_router(node: NodeRuntime, templates: Jinja2Templates) -> APIRouter:
    """The charter's consent pages, bound to node."""
    pages = ConsentPages(node, templates)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    csrf = [Depends(require_csrf)]
    router.add_api_route("/consent/{request_id}", pages.consent_screen, methods=["GET"])
    router.add_api_route(
        "/consent/{request_id}", pages.answer_consent, methods=["POST"], dependencies=csrf
    )
    router.add_api_route("/my/consents", pages.my_consents, methods=["GET"])
    router.add_api_route("/my/consents/{consent_id}", pages.consent_details, methods=["GET"])
    router.add_api_route(
        "/my/consents/{consent_id}/receipt.json", pages.consent_receipt, methods=["GET"]
    )
    router.add_api_route(
        "/my/consents/{consent_id}/withdraw", pages.confirm_withdrawal, methods=["GET"]
    )
    router.add_api_route(
        "/my/consents/{consent_id}/withdraw", pages.withdraw, methods=["POST"], dependencies=csrf
    )
    router.add_api_route("/my/activity", pages.my_activity, methods=["GET"])
    router.add_api_route("/my/activity.json", pages.my_activity_json, methods=["GET"])
    router.add_api_route("/my/activity.csv", pages.my_activity_csv, methods=["GET"])
    return router


def _attachment(body: str, media_type: str, filename: str) -> Response:
    headers = {
        "content-disposition": f'attachment; filename="{filename}"',
        "cache-control": "no-store",  # a person's own data: no shared cache keeps it
    }
    return Response(body, media_type=media_type, headers=headers)


async def _screen(node: NodeRuntime, request_id: str, person: str) -> Screen:
    def read() -> Screen:
        with node.sessions.begin() as session:
            return load_screen(session, node, request_id=request_id, signed_in=person, now=utcnow())

    return await run_blocking(read)


def _consent_views(node: NodeRuntime, person: str) -> list[ConsentView]:
    now = utcnow()
    federation = node.keeper.current()
    with node.sessions.begin() as session:
        helped = people_helped(session, helper_id=person, now=now)
        consents = service.consents_of(session, [person, *helped])
        ids = {person, *helped, *(c.given_by for c in consents if c.given_by)}
        names = {i: display_name(session, i) for i in ids}
    return [consent_view(c, federation, now=now, viewer=person, names=names) for c in consents]


def _one_consent(
    node: NodeRuntime, consent_id: str, person: str
) -> tuple[ConsentView, list[Any], dict[str, Any]] | None:
    now = utcnow()
    federation = node.keeper.current()
    with node.sessions.begin() as session:
        try:
            consent, _actor = visible_consent(
                session, consent_id=consent_id, signed_in=person, now=now
            )
        except NotYoursError:
            return None
        ids = {person, consent.person_id, *([consent.given_by] if consent.given_by else [])}
        names = {i: display_name(session, i) for i in ids}
        events = [event_view(e) for e in service.events_of(session, consent.id)]
    view = consent_view(consent, federation, now=now, viewer=person, names=names)
    return view, events, json.loads(consent.record)


def _view_of(node: NodeRuntime, consent: Any, person: str) -> ConsentView:
    with node.sessions.begin() as session:
        ids = {person, consent.person_id, *([consent.given_by] if consent.given_by else [])}
        names = {i: display_name(session, i) for i in ids}
    return consent_view(consent, node.keeper.current(), now=utcnow(), viewer=person, names=names)
