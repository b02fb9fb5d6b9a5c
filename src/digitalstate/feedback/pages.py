"""The public pages of feedback: the satisfaction question at a service's end points, telling
a story, the published stories (per story, per service, per node) and their Atom feed.

No page here needs a sign-in. Every form carries the people's session CSRF token; every
submission counts against the client's flood limit ([feedback], service.take_submission).
Stories are read only through published.published_page and published.published_story, which see
nothing but published stories' public text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.feedback.atom import ATOM_MEDIA_TYPE, FeedEntry, atom_feed
from digitalstate.feedback.catalogue import Catalogue
from digitalstate.feedback.domain import (
    CHANGE_LABELS,
    ENDS,
    MAX_BODY,
    MAX_COMMENT,
    MAX_TAGS,
    MAX_TITLE,
    SATISFACTION,
    TAGS_PROBLEM,
    PublicStory,
    StoryDraft,
    clean_text,
    parse_tags,
    rating_of,
)
from digitalstate.feedback.published import (
    StoryFilters,
    change_counts,
    published_page,
    published_story,
)
from digitalstate.feedback.service import (
    alert_subscribers,
    is_story_id,
    rules_from,
    save_comment,
    take_submission,
    tell_story,
)
from digitalstate.identity.throttle import client_key
from digitalstate.mail.worker import EMAIL_EVENT
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.services.journey import JOURNEY_ID
from digitalstate.storage.retrying import run_step
from digitalstate.web.error_pages import not_found_page
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.languages import request_language
from digitalstate.web.pagination import pagination
from digitalstate.web.session import require_csrf

STORIES_PATH = "/stories"
TELL_PATH = "/stories/tell"
FEED_PATH = "/stories/feed.atom"
FEEDBACK_PATH = "/feedback"
MODERATE_PATH = "/staff/stories"
Page = Annotated[int, Query(ge=1, le=10_000)]
ROLES = {"caseworker": N_("caseworker"), "manager": N_("manager")}
"""The roles staff answer under, as a response's heading names them."""

Record = Callable[[Session, str, str | None, int, datetime], None]
"""Records a satisfaction answer as a service event: (db, service, journey, rating, now)."""


def error(text: str, anchor: str) -> dict[str, str]:
    """One error of the error summary, linking to the input with the id anchor."""
    return {"text": text, "href": f"#{anchor}"}


class FeedbackPages:
    """The route handlers of the public feedback and story pages."""

    def __init__(
        self,
        node: NodeRuntime,
        templates: Jinja2Templates,
        catalogue: Catalogue,
        record: Record,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.node = node
        self.templates = templates
        self.catalogue = catalogue
        self.record = record
        self.clock = clock
        self.settings = node.settings.feedback
        self.rules = rules_from(self.settings)

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        """A page of feedback/ with what every one shows."""
        base = {"node": self.node.settings.node, "catalogue": self.catalogue, "roles": ROLES}
        return self.templates.TemplateResponse(
            request, f"feedback/{template}.html", base | context, status_code=status
        )

    def not_found(self, request: Request) -> Response:
        """The 404 page."""
        return not_found_page(self.templates, request)

    async def within_limit(self, request: Request) -> bool:
        """Count this submission against its client's limit; False when over it."""
        client = client_key(request.client.host if request.client else None)
        window = timedelta(minutes=self.settings.window_minutes)
        limit, now = self.settings.submissions_per_client, self.clock()
        return await run_step(
            self.node.sessions,
            lambda db: take_submission(db, client, limit=limit, window=window, now=now),
        )

    def too_many(self, request: Request) -> Response:
        """The page of a client over its limit: 429, and when to try again."""
        minutes = max(1, round(self.settings.window_minutes))
        response = self.render(request, "too_many", status=429, minutes=minutes)
        response.headers["Retry-After"] = str(minutes * 60)
        return response

    # --- the satisfaction question ----------------------------------------------------------

    @staticmethod
    def end_of(request: Request) -> tuple[str, str | None] | None:
        """The end point and journey id the question was linked with, or None when wrong."""
        end = request.query_params.get("end", "done")
        journey = request.query_params.get("journey") or None
        if end not in ENDS or (journey is not None and not JOURNEY_ID.fullmatch(journey)):
            return None
        return end, journey

    def satisfaction(
        self,
        request: Request,
        slug: str,
        *,
        status: int = 200,
        errors: list[dict[str, str]] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """The question form."""
        lang = request_language(request)
        return self.render(
            request,
            "satisfaction",
            status=status,
            slug=slug,
            title=self.catalogue.title(slug, lang),
            end=(form or {}).get("end") or request.query_params.get("end", "done"),
            journey=(form or {}).get("journey") or request.query_params.get("journey", ""),
            choices=[(str(value), _(label)) for value, label in SATISFACTION.items()],
            errors=errors or [],
            messages={e["href"].lstrip("#"): e["text"] for e in errors or []},
            form=dict(form or {}),
            max_comment=MAX_COMMENT,
        )

    async def ask(self, request: Request, slug: str) -> Response:
        """The satisfaction question of a service, at one of its end points."""
        if slug not in self.catalogue.services or self.end_of(request) is None:
            return self.not_found(request)
        return self.satisfaction(request, slug)

    async def answer(self, request: Request, slug: str) -> Response:
        """Take an answer (and an optional comment): a `rated` event, the comment kept."""
        if slug not in self.catalogue.services:
            return self.not_found(request)
        form = await read_form(request)
        typed = {
            "rating": form_text(form, "rating"),
            "comment": clean_text(form_text(form, "comment")),
            "end": form_text(form, "end"),
            "journey": form_text(form, "journey"),
        }
        end = typed["end"] if typed["end"] in ENDS else "done"
        journey = typed["journey"] if JOURNEY_ID.fullmatch(typed["journey"]) else None
        rating = rating_of(typed["rating"])
        errors = []
        if rating is None:
            errors.append(error(_("Select how you feel about the service"), "rating"))
        if len(typed["comment"]) > MAX_COMMENT:
            text = _("Your comment must be %(num)s characters or fewer") % {
                "num": f"{MAX_COMMENT:,}"
            }
            errors.append(error(text, "comment"))
        if errors:
            return self.satisfaction(request, slug, status=400, errors=errors, form=typed)
        assert rating is not None
        if not await self.within_limit(request):
            return self.too_many(request)
        now = self.clock()

        def step(db: Session) -> None:
            self.record(db, slug, journey, rating, now)
            save_comment(
                db,
                service=slug,
                journey=journey,
                end=end,
                rating=rating,
                comment=typed["comment"],
                now=now,
            )

        await run_step(self.node.sessions, step)
        return RedirectResponse(f"{FEEDBACK_PATH}/{slug}/thanks", status_code=303)

    async def thanks(self, request: Request, slug: str) -> Response:
        """Thank you for your feedback."""
        if slug not in self.catalogue.services:
            return self.not_found(request)
        lang = request_language(request)
        return self.render(request, "thanks", title=self.catalogue.title(slug, lang), slug=slug)

    # --- telling a story --------------------------------------------------------------------

    def tell_form(
        self,
        request: Request,
        *,
        status: int = 200,
        errors: list[dict[str, str]] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """The form to tell a story."""
        typed = dict(form or {})
        chosen = typed.get("about") or request.query_params.get("about", "")
        lang = request_language(request)
        return self.render(
            request,
            "tell",
            status=status,
            abouts=[
                {"value": value, "text": text, "selected": value == chosen}
                for value, text in self.catalogue.abouts(lang)
            ],
            errors=errors or [],
            messages={e["href"].lstrip("#"): e["text"] for e in errors or []},
            form=typed,
            max_title=MAX_TITLE,
            max_body=MAX_BODY,
            max_tags=MAX_TAGS,
        )

    async def tell(self, request: Request) -> Response:
        """The form to tell the story of your experience."""
        return self.tell_form(request)

    def draft_of(self, typed: Mapping[str, str]) -> tuple[StoryDraft | None, list[dict[str, str]]]:
        """The story typed, or what is wrong with it (each error linking to its input)."""
        errors = []
        about = self.catalogue.about(typed["about"])
        if not typed["about"]:
            errors.append(error(_("Select what your story is about"), "about"))
        elif about is None:
            errors.append(
                error(
                    _("Select a service or node of this federation that your story is about"),
                    "about",
                )
            )
        if not typed["title"]:
            errors.append(error(_("Enter a title for your story"), "title"))
        elif len(typed["title"]) > MAX_TITLE:
            text = _("The title must be %(num)s characters or fewer") % {"num": MAX_TITLE}
            errors.append(error(text, "title"))
        if not typed["body"]:
            errors.append(error(_("Enter your story"), "body"))
        elif len(typed["body"]) > MAX_BODY:
            text = _("Your story must be %(num)s characters or fewer") % {"num": f"{MAX_BODY:,}"}
            errors.append(error(text, "body"))
        tags, problem = parse_tags(typed["tags"])
        if problem is not None:
            errors.append(error(_(TAGS_PROBLEM) % {"num": MAX_TAGS}, "tags"))
        if errors or about is None:
            return None, errors
        node, service = about
        return StoryDraft(node, service, typed["title"], typed["body"], tags), []

    async def told(self, request: Request) -> Response:
        """Take a story: held for moderation, subscribers told, and what happens next."""
        form = await read_form(request)
        typed = {
            name: clean_text(form_text(form, name)) for name in ("about", "title", "body", "tags")
        }
        draft, errors = self.draft_of(typed)
        if draft is None:
            return self.tell_form(request, status=400, errors=errors, form=typed)
        if not await self.within_limit(request):
            return self.too_many(request)
        now = self.clock()
        settings = self.node.settings
        about = self.catalogue.about_text(draft.node, draft.service, "en")

        def step(db: Session) -> int:
            story = tell_story(db, draft, self.rules, now)
            if settings.email is None:
                return 0
            link = f"{settings.node.base_url}{MODERATE_PATH}/{story.id}"
            return alert_subscribers(
                db, story, about=about, link=link, node_name=settings.node.name, now=now
            )

        if await run_step(self.node.sessions, step):
            self.node.wake(EMAIL_EVENT)
        return RedirectResponse(f"{TELL_PATH}/sent", status_code=303)

    async def sent(self, request: Request) -> Response:
        """Your story was sent: it is published once a moderator has read it."""
        return self.render(request, "sent")

    # --- published stories ------------------------------------------------------------------

    async def listing(
        self,
        request: Request,
        filters: StoryFilters,
        *,
        heading: str,
        base: str,
        query: Mapping[str, str] | None = None,
    ) -> Response:
        """A page of published stories, newest first, with the changes they led to."""
        size = self.settings.page_size

        def step(db: Session) -> tuple[Any, dict[str, int]]:
            found = published_page(db, filters, size)
            counts = change_counts(db, node=filters.node, service=filters.service)
            return found, counts

        found, counts = await run_step(self.node.sessions, step)
        kept = dict(query or {})

        def href(number: int) -> str:
            return f"{base}?{urlencode(kept | {'page': str(number)})}"

        lang = request_language(request)
        return self.render(
            request,
            "stories",
            heading=heading,
            found=found,
            counts=counts,
            stories=[self.story_view(s, lang) for s in found.rows],
            pagination=pagination(found.page, found.last, href),
            filters=filters,
            feed=FEED_PATH + (f"?service={filters.service}" if filters.service else ""),
        )

    def story_view(self, story: PublicStory, lang: str) -> dict[str, Any]:
        """What a page shows of a story."""
        return {
            "story": story,
            "href": f"{STORIES_PATH}/{story.id}",
            "about": self.catalogue.about_text(story.node, story.service, lang),
            "change": _(CHANGE_LABELS[story.change]) if story.change != "none" else "",
        }

    async def node_stories(self, request: Request, page: Page = 1) -> Response:
        """Every published story told at this node, newest first."""
        heading = _("Stories told at %(name)s") % {"name": self.node.settings.node.name}
        return await self.listing(
            request, StoryFilters(page=page), heading=heading, base=STORIES_PATH
        )

    async def service_stories(self, request: Request, slug: str, page: Page = 1) -> Response:
        """The published stories about one of this node's services."""
        if slug not in self.catalogue.services:
            return self.not_found(request)
        title = self.catalogue.title(slug, request_language(request))
        heading = _("Stories about %(service)s") % {"service": title}
        filters = StoryFilters(service=slug, page=page)
        return await self.listing(
            request, filters, heading=heading, base=f"{STORIES_PATH}/services/{slug}"
        )

    async def member_stories(self, request: Request, member: str, page: Page = 1) -> Response:
        """The published stories about one node of the federation."""
        name = self.catalogue.member_name(member)
        if name is None:
            return self.not_found(request)
        heading = _("Stories about %(name)s") % {"name": name}
        filters = StoryFilters(node=member, page=page)
        return await self.listing(
            request, filters, heading=heading, base=f"{STORIES_PATH}/nodes/{member}"
        )

    async def one_story(self, request: Request, story_id: str) -> Response:
        """One published story and the answers to it."""
        if not is_story_id(story_id):
            return self.not_found(request)
        story = await run_step(self.node.sessions, lambda db: published_story(db, story_id))
        if story is None:
            return self.not_found(request)
        lang = request_language(request)
        return self.render(request, "story", **self.story_view(story, lang))

    async def feed(
        self, request: Request, service: str | None = Query(None, max_length=63)
    ) -> Response:
        """The Atom feed of the newest published stories (of a service, with ?service=)."""
        if service is not None and service not in self.catalogue.services:
            return self.not_found(request)
        filters = StoryFilters(service=service)
        size = self.settings.page_size
        found = await run_step(self.node.sessions, lambda db: published_page(db, filters, size))
        base = self.node.settings.node.base_url
        suffix = f"?service={service}" if service else ""
        page_path = f"{STORIES_PATH}/services/{service}" if service else STORIES_PATH
        entries = [
            FeedEntry(
                url=f"{base}{STORIES_PATH}/{s.id}",
                title=s.title,
                body=s.body,
                updated=s.published_at,
                categories=s.tags,
            )
            for s in found.rows
        ]
        name = self.node.settings.node.name
        title = (
            f"Stories about {self.catalogue.title(service, 'en')} at {name}"
            if service
            else f"Stories about {name}"
        )
        updated = found.rows[0].published_at if found.rows else datetime(2000, 1, 1, tzinfo=UTC)
        body = atom_feed(
            feed_url=f"{base}{FEED_PATH}{suffix}",
            page_url=f"{base}{page_path}",
            title=title,
            author=name,
            entries=entries,
            updated=updated,
        )
        return Response(body, media_type=ATOM_MEDIA_TYPE)


def make_pages_router(
    node: NodeRuntime, templates: Jinja2Templates, catalogue: Catalogue, record: Record
) -> APIRouter:
    """/feedback/<service> and /stories: the question, telling, the public stories, the feed."""
    pages = FeedbackPages(node, templates, catalogue, record)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    csrf = [Depends(require_csrf)]
    one = FEEDBACK_PATH + "/{slug}"
    router.add_api_route(one, pages.ask, methods=["GET"])
    router.add_api_route(one, pages.answer, methods=["POST"], dependencies=csrf)
    router.add_api_route(one + "/thanks", pages.thanks, methods=["GET"])
    router.add_api_route(TELL_PATH, pages.tell, methods=["GET"])
    router.add_api_route(TELL_PATH, pages.told, methods=["POST"], dependencies=csrf)
    router.add_api_route(TELL_PATH + "/sent", pages.sent, methods=["GET"])
    router.add_api_route(FEED_PATH, pages.feed, methods=["GET"], response_class=Response)
    router.add_api_route(STORIES_PATH, pages.node_stories, methods=["GET"])
    router.add_api_route(STORIES_PATH + "/services/{slug}", pages.service_stories, methods=["GET"])
    router.add_api_route(STORIES_PATH + "/nodes/{member}", pages.member_stories, methods=["GET"])
    router.add_api_route(STORIES_PATH + "/{story_id}", pages.one_story, methods=["GET"])
    return router
