"""The staff's experiment pages: /staff/experiments, one experiment's report, and stopping it.

Staff only, and never published (docs/experiments.md): any member of staff sees the figures
(they name no one: counts of journeys, shares and times); a manager stops an experiment,
keeping the winner for everyone, which is logged like every other staff action. The figures
are computed again on each view from the node's service events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.experiments.domain import Difference, Interval, MeanTime, Share
from digitalstate.experiments.service import (
    ExperimentReport,
    VariantComparison,
    report,
    statuses,
    stop,
)
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.variant_state import ExperimentStoppedError
from digitalstate.services.variants import Experiment, experiment_of
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.sessions import ANY_STAFF, StaffRoleError, StaffSignedIn, render_staff_page
from digitalstate.storage.retrying import run_step
from digitalstate.web.error_pages import not_found_page
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.languages import request_language
from digitalstate.web.session import require_csrf

EXPERIMENTS_PATH = "/staff/experiments"
STOPPER = "manager"  # the role that stops an experiment: it changes what everyone sees
STATUS_LABELS = {"running": N_("Running"), "stopped": N_("Stopped"), "waiting": N_("Waiting")}
STATUS_TAGS = {"running": "govuk-tag--blue", "stopped": "govuk-tag--grey", "waiting": ""}


def percent(value: float) -> str:
    """A share as a whole percentage."""
    return f"{value * 100:.0f}%"


def interval_text(interval: Interval | None, unit: Callable[[float], str]) -> str:
    """An interval as "from to to"."""
    if interval is None:
        return ""
    return _("%(low)s to %(high)s") % {"low": unit(interval.low), "high": unit(interval.high)}


def duration(seconds: float) -> str:
    """A time in minutes and seconds."""
    whole = max(0, round(seconds))
    minutes, rest = divmod(whole, 60)
    if not minutes:
        return _("%(s)s s") % {"s": rest}
    return _("%(m)s min %(s)s s") % {"m": minutes, "s": rest}


def share_cell(found: Share) -> dict[str, str]:
    """A table cell: the share, its count and its interval."""
    if found.value is None:
        return {"text": _("No one yet")}
    text = _("%(share)s (%(count)s of %(total)s)") % {
        "share": percent(found.value),
        "count": f"{found.count:,}",
        "total": f"{found.total:,}",
    }
    return {"text": text, "interval": interval_text(found.interval, percent)}


def time_cell(found: MeanTime) -> dict[str, str]:
    """A table cell: the mean time, and its interval."""
    if found.mean is None:
        return {"text": _("No one yet")}
    return {"text": duration(found.mean), "interval": interval_text(found.interval, duration)}


def verdict(difference: Difference) -> str:
    """What a comparison says, in plain words."""
    if difference.p_value is None:
        return _("Not enough people yet to compare.")
    p = "p < 0.001" if difference.p_value < 0.001 else f"p = {difference.p_value:.3f}"
    if difference.significant:
        return _("Significant: a difference this size is unlikely by chance (%(p)s).") % {"p": p}
    if difference.more_people is None:
        return _("No difference seen so far (%(p)s).") % {"p": p}
    return _(
        "Not yet significant (%(p)s). About %(more)s more people would be needed to tell "
        "whether a difference this size is real."
    ) % {"p": p, "more": f"{_round_up(difference.more_people):,}"}


def _round_up(people: int) -> int:
    """A count of people still needed, rounded up to two significant figures (it is an
    estimate; more digits would claim a precision it does not have)."""
    if people < 100:
        return people
    step = 10 ** (int(math.log10(people)) - 1)
    return int(-(-people // step) * step)


def comparison_view(comparison: VariantComparison) -> dict[str, str]:
    """A variant's comparison with the control, in words."""
    return {
        "variant": comparison.variant,
        "completion": verdict(comparison.completion),
        "satisfaction": verdict(comparison.satisfaction),
        "time": verdict(comparison.time),
    }


class ExperimentPages:
    """The route handlers of the experiment pages."""

    def __init__(
        self,
        node: NodeRuntime,
        templates: Jinja2Templates,
        definitions: Sequence[ServiceDefinition],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.node = node
        self.templates = templates
        self.definitions = {d.slug: d for d in definitions if d.experiments}
        self.clock = clock

    def render(
        self, request: Request, template: str, staff: StaffMember, status: int = 200, **context: Any
    ) -> Response:
        """A page of staff/ with what every one shows."""
        return render_staff_page(
            self.templates,
            request,
            self.node,
            staff,
            template,
            status,
            section="experiments",
            **context,
        )

    def found(self, slug: str, experiment_id: str) -> tuple[ServiceDefinition, Experiment] | None:
        """The service and its experiment at /staff/experiments/<slug>/<experiment>."""
        definition = self.definitions.get(slug)
        experiment = experiment_of(definition, experiment_id) if definition else None
        return None if definition is None or experiment is None else (definition, experiment)

    def not_found(self, request: Request) -> Response:
        """The 404 page: no experiment of this node's services here."""
        return not_found_page(self.templates, request)

    async def index(self, request: Request, staff: StaffSignedIn) -> Response:
        """Every experiment of the node's services, with where it stands."""
        lang = request_language(request)

        def step(session: Any) -> list[dict[str, str]]:
            rows = []
            for definition in self.definitions.values():
                states = statuses(session, definition)
                for experiment in definition.experiments:
                    status = states[experiment.id]
                    rows.append(
                        {
                            "service": definition.title.text(lang),
                            "experiment": experiment.id,
                            "page": experiment.page,
                            "status": _(STATUS_LABELS[status]),
                            "tag": STATUS_TAGS[status],
                            "href": f"{EXPERIMENTS_PATH}/{definition.slug}/{experiment.id}",
                        }
                    )
            return rows

        rows = await run_step(self.node.sessions, step)
        return self.render(request, "experiments", staff, rows=rows)

    async def report_page(
        self,
        request: Request,
        staff: StaffMember,
        definition: ServiceDefinition,
        experiment: Experiment,
        *,
        status: int = 200,
        errors: Sequence[dict[str, str]] = (),
        done: bool = False,
    ) -> Response:
        """The experiment's page, with errors of a stop that did nothing."""
        made = await run_step(self.node.sessions, lambda s: report(s, definition, experiment))
        return self.render(
            request,
            "experiment",
            staff,
            status=status,
            **self.report_view(request, made, definition),
            errors=list(errors),
            done=done,
            may_stop=staff.role == STOPPER,
            action=f"{EXPERIMENTS_PATH}/{definition.slug}/{experiment.id}/stop",
        )

    def report_view(
        self, request: Request, made: ExperimentReport, definition: ServiceDefinition
    ) -> Mapping[str, Any]:
        """What the experiment's page shows of a report."""
        lang = request_language(request)
        page = definition.page(made.experiment.page)
        rows = [
            {
                "variant": figures.variant,
                "share": f"{figures.share}%",
                "started": f"{figures.started:,}",
                "completion": share_cell(figures.completion),
                "satisfaction": share_cell(figures.satisfaction),
                "time": time_cell(figures.time),
            }
            for figures in made.figures
        ]
        return {
            "report": made,
            "service": definition.title.text(lang),
            "page_title": page.title.text(lang) if page is not None else made.experiment.page,
            "status_label": _(STATUS_LABELS[made.status]),
            "tag": STATUS_TAGS[made.status],
            "rows": rows,
            "control": made.experiment.variants[0].id,
            "comparisons": [comparison_view(c) for c in made.comparisons],
        }

    async def stop(
        self, request: Request, slug: str, experiment: str, staff: StaffSignedIn
    ) -> Response:
        """Stop the experiment, keeping the variant chosen for everyone (managers only)."""
        found = self.found(slug, experiment)
        if found is None:
            return self.not_found(request)
        if staff.role != STOPPER:
            raise StaffRoleError(staff, STOPPER)
        definition, chosen = found
        winner = form_text(await read_form(request), "winner")[:64]
        if chosen.variant(winner) is None:
            error = {"text": _("Select the variant to keep"), "href": "#winner"}
            return await self.report_page(
                request, staff, definition, chosen, status=400, errors=[error]
            )
        now = self.clock()
        holder = self.node.settings.node.id
        try:
            await run_step(
                self.node.sessions,
                lambda s: stop(s, staff, definition, chosen, winner, holder=holder, now=now),
            )
        except (ExperimentStoppedError, IntegrityError):
            message = _("This experiment has been stopped already: nothing changed")
            error = {"text": message, "href": "#status"}
            return await self.report_page(
                request, staff, definition, chosen, status=409, errors=[error]
            )
        return RedirectResponse(f"{EXPERIMENTS_PATH}/{slug}/{experiment}?done=stopped", 303)

    async def show(
        self, request: Request, slug: str, experiment: str, staff: StaffSignedIn, done: str = ""
    ) -> Response:
        """One experiment: each variant's figures and how it compares with the control
        (done=stopped: just stopped)."""
        found = self.found(slug, experiment)
        if found is None:
            return self.not_found(request)
        return await self.report_page(request, staff, *found, done=done == "stopped")


def make_experiments_router(
    node: NodeRuntime, templates: Jinja2Templates, definitions: Sequence[ServiceDefinition]
) -> APIRouter:
    """/staff/experiments: the list, one experiment's page, and stopping it."""
    pages = ExperimentPages(node, templates, definitions)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    one = EXPERIMENTS_PATH + "/{slug}/{experiment}"
    router.add_api_route(EXPERIMENTS_PATH, pages.index, methods=["GET"])
    router.add_api_route(one, pages.show, methods=["GET"])
    # A POST without a staff session goes to sign in before its CSRF token is checked.
    checked = [Depends(ANY_STAFF), Depends(require_csrf)]
    router.add_api_route(one + "/stop", pages.stop, methods=["POST"], dependencies=checked)
    return router
