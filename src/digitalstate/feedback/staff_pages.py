"""The staff's pages of stories: the moderation queue, a story, its actions, subscriptions.

Under the staff session zone (/staff, docs/adr/0018), for the node's own staff only
(`require_staff`). A member of staff reads a held story as told, with what the node's rules
flagged in it and why, and publishes it as it is, de-identifies it (edits names out of the
text that is published; the original is kept and never published), or rejects it with a
reason. A published story is answered in public under the role of who answers, never their
name, and an answer can mark a change as planned or made. Every action is an entry in the
node's log about no one person (a story's teller is not known to the node), in the action's
own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.feedback.catalogue import Catalogue
from digitalstate.feedback.domain import (
    CHANGE_LABELS,
    CHANGES,
    MAX_BODY,
    MAX_REASON,
    MAX_RESPONSE,
    MAX_TAGS,
    MAX_TITLE,
    STATUS_LABELS,
    STATUSES,
    TAGS_PROBLEM,
    change_of,
    clean_text,
    parse_tags,
)
from digitalstate.feedback.service import (
    NODE_WIDE,
    HeldStory,
    find_held,
    is_story_id,
    moderation_queue,
    publish_story,
    recent_comments,
    reject_story,
    respond_to_story,
    set_subscriptions,
    subscriptions_of,
)
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.service import record_staff_action
from digitalstate.staff.sessions import ANY_STAFF, StaffSignedIn, render_staff_page
from digitalstate.storage.retrying import run_step
from digitalstate.web.error_pages import not_found_page
from digitalstate.web.hardening import form_text, form_texts, read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.languages import request_language
from digitalstate.web.pagination import pagination
from digitalstate.web.session import require_csrf

STORIES_PATH = "/staff/stories"
SUBSCRIPTIONS_PATH = "/staff/stories/subscriptions"
PUBLISHED = "staff-published-story"
DEIDENTIFIED = "staff-deidentified-story"
REJECTED = "staff-rejected-story"
ANSWERED = "staff-answered-story"
SUBSCRIBED = "staff-changed-story-subscriptions"
DONE = {
    "published": N_("You published the story"),
    "deidentified": N_("You published the story with your edits; the original is kept"),
    "rejected": N_("You rejected the story"),
    "answered": N_("Your response is published"),
}
QUEUE_SIZE = 25
Done = Annotated[str, Query(max_length=20)]
Status = Annotated[str, Query(max_length=20)]
Page = Annotated[int, Query(ge=1, le=10_000)]


def error(text: str, anchor: str) -> dict[str, str]:
    """One error of the error summary, linking to the input with the id anchor."""
    return {"text": text, "href": f"#{anchor}"}


def too_long(label: str, most: int) -> str:
    """The error of a text longer than most characters."""
    return _("%(what)s must be %(num)s characters or fewer") % {"what": label, "num": f"{most:,}"}


class StoryStaffPages:
    """The route handlers of the staff's story pages."""

    def __init__(
        self,
        node: NodeRuntime,
        templates: Jinja2Templates,
        catalogue: Catalogue,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.node = node
        self.templates = templates
        self.catalogue = catalogue
        self.clock = clock
        self.holder = node.settings.node.id

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
            section="stories",
            **context,
        )

    def not_found(self, request: Request) -> Response:
        """The 404 page: no story has this id."""
        detail = _("There is no story with this address. Go back to the stories and choose one.")
        return not_found_page(self.templates, request, detail)

    def log(self, db: Session, staff: StaffMember, action: str, detail: str) -> None:
        """Log what staff did to a story (about no one person: its teller is unknown here)."""
        record_staff_action(db, staff, action, holder=self.holder, now=self.clock(), detail=detail)

    # --- the queue --------------------------------------------------------------------------

    async def queue(
        self, request: Request, staff: StaffSignedIn, status: Status = "held", page: Page = 1
    ) -> Response:
        """The stories of a status: the held ones first, oldest first."""
        if status not in STATUSES:
            status = "held"
        found = await run_step(
            self.node.sessions, lambda db: moderation_queue(db, status, page, QUEUE_SIZE)
        )
        lang = request_language(request)
        comments = await run_step(
            self.node.sessions, lambda db: recent_comments(db, list(self.catalogue.services), 10)
        )
        return self.render(
            request,
            "stories",
            staff,
            status_name=status,
            tabs=[
                {
                    "href": f"{STORIES_PATH}?status={s}",
                    "text": _(STATUS_LABELS[s]),
                    "count": found.counts.get(s, 0),
                    "current": s == status,
                }
                for s in STATUSES
            ],
            rows=[self.row(s, lang) for s in found.rows],
            pagination=pagination(
                found.page, found.last, lambda n: f"{STORIES_PATH}?status={status}&page={n}"
            ),
            comments=[
                {"title": self.catalogue.title(c.service, lang), "comment": c} for c in comments
            ],
        )

    def row(self, story: HeldStory, lang: str) -> dict[str, Any]:
        """What the queue shows of a story."""
        return {
            "story": story,
            "href": f"{STORIES_PATH}/{story.id}",
            "about": self.catalogue.about_text(story.node, story.service, lang),
            "flags": [_(f.label) for f in story.flags],
        }

    # --- one story --------------------------------------------------------------------------

    async def show(
        self, request: Request, story_id: str, staff: StaffSignedIn, done: Done = ""
    ) -> Response:
        """One story, as told, with its flags and the actions its status allows."""
        story = await self.story(story_id)
        if story is None:
            return self.not_found(request)
        return self.story_page(request, staff, story, done=_(DONE[done]) if done in DONE else "")

    async def story(self, story_id: str) -> HeldStory | None:
        """The story with this id, or None."""
        if not is_story_id(story_id):
            return None
        return await run_step(self.node.sessions, lambda db: find_held(db, story_id))

    def story_page(
        self,
        request: Request,
        staff: StaffMember,
        story: HeldStory,
        *,
        status: int = 200,
        errors: list[dict[str, str]] | None = None,
        form: Mapping[str, str] | None = None,
        done: str = "",
    ) -> Response:
        """Render a story's staff page (with errors of the last action and what was typed)."""
        lang = request_language(request)
        typed = dict(form or {})
        typed.setdefault("title", story.public_title or story.title)
        typed.setdefault("body", story.public_body or story.body)
        shown_tags = story.tags if story.public_tags is None else story.public_tags
        typed.setdefault("tags", ", ".join(shown_tags))
        return self.render(
            request,
            "story",
            staff,
            status=status,
            story=story,
            about=self.catalogue.about_text(story.node, story.service, lang),
            status_label=_(STATUS_LABELS[story.status]),
            flags=[{"label": _(f.label), "excerpt": f.excerpt} for f in story.flags],
            changes=[{"value": c, "text": _(CHANGE_LABELS[c])} for c in CHANGES],
            change_label=_(CHANGE_LABELS[story.change]),
            change_labels={c: _(CHANGE_LABELS[c]) for c in CHANGES},
            public_href=f"/stories/{story.id}",
            errors=errors or [],
            messages={e["href"].lstrip("#"): e["text"] for e in errors or []},
            form=typed,
            done=done,
            max_title=MAX_TITLE,
            max_body=MAX_BODY,
            max_tags=MAX_TAGS,
            max_reason=MAX_REASON,
            max_response=MAX_RESPONSE,
        )

    async def problem(
        self,
        request: Request,
        staff: StaffMember,
        story_id: str,
        status: int,
        errors: list[dict[str, str]],
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """The story's page again, as it is now, with why the last action did nothing."""
        story = await self.story(story_id)
        if story is None:
            return self.not_found(request)
        return self.story_page(request, staff, story, status=status, errors=errors, form=form)

    async def not_held(self, request: Request, staff: StaffMember, story_id: str) -> Response:
        """The page of an action on a story that is no longer held."""
        message = _("This story has been moderated already: nothing changed")
        return await self.problem(request, staff, story_id, 409, [error(message, "status")])

    async def publish(self, request: Request, story_id: str, staff: StaffSignedIn) -> Response:
        """Publish a held story as told, or with the moderator's edits (de-identified)."""
        if not is_story_id(story_id):
            return self.not_found(request)
        form = await read_form(request)
        typed = {name: clean_text(form_text(form, name)) for name in ("title", "body", "tags")}
        edit = form_text(form, "edit") == "yes"
        # A form without the field (sent by hand) leaves the tags as told.
        edit_tags = "tags" in form
        tags, tags_problem = parse_tags(typed["tags"])
        errors = []
        if edit:
            if not typed["title"]:
                errors.append(error(_("Enter the title to publish"), "title"))
            elif len(typed["title"]) > MAX_TITLE:
                errors.append(error(too_long(_("The title"), MAX_TITLE), "title"))
            if not typed["body"]:
                errors.append(error(_("Enter the story to publish"), "body"))
            elif len(typed["body"]) > MAX_BODY:
                errors.append(error(too_long(_("The story"), MAX_BODY), "body"))
            if tags_problem:
                errors.append(error(_(TAGS_PROBLEM) % {"num": MAX_TAGS}, "tags"))
        if errors:
            return await self.problem(request, staff, story_id, 400, errors, typed)
        now = self.clock()

        def step(db: Session) -> tuple[str, bool]:
            if edit:
                title, body = typed["title"], typed["body"]
                kept = tags if edit_tags else None
                outcome = publish_story(db, story_id, now, title=title, body=body, tags=kept)
            else:
                outcome = publish_story(db, story_id, now)
            story = find_held(db, story_id)
            changed = story is not None and story.deidentified
            if outcome == "published":
                action = DEIDENTIFIED if changed else PUBLISHED
                self.log(db, staff, action, f"story {story_id}")
            return outcome, changed

        outcome, changed = await run_step(self.node.sessions, step)
        if outcome == "unknown":
            return self.not_found(request)
        if outcome == "not-held":
            return await self.not_held(request, staff, story_id)
        done = "deidentified" if changed else "published"
        return RedirectResponse(f"{STORIES_PATH}/{story_id}?done={done}", status_code=303)

    async def reject(self, request: Request, story_id: str, staff: StaffSignedIn) -> Response:
        """Reject a held story, with the reason."""
        if not is_story_id(story_id):
            return self.not_found(request)
        reason = clean_text(form_text(await read_form(request), "reason"))
        problem = ""
        if not reason:
            problem = _("Enter the reason for rejecting the story")
        elif len(reason) > MAX_REASON:
            problem = too_long(_("The reason"), MAX_REASON)
        if problem:
            errors = [error(problem, "reason")]
            return await self.problem(request, staff, story_id, 400, errors, {"reason": reason})
        now = self.clock()

        def step(db: Session) -> str:
            outcome = reject_story(db, story_id, reason, now)
            if outcome == "rejected":
                self.log(db, staff, REJECTED, f"story {story_id}")
            return outcome

        outcome = await run_step(self.node.sessions, step)
        if outcome == "unknown":
            return self.not_found(request)
        if outcome == "not-held":
            return await self.not_held(request, staff, story_id)
        return RedirectResponse(f"{STORIES_PATH}/{story_id}?done=rejected", status_code=303)

    async def respond(self, request: Request, story_id: str, staff: StaffSignedIn) -> Response:
        """Answer a published story in public, under the role of who answers."""
        if not is_story_id(story_id):
            return self.not_found(request)
        form = await read_form(request)
        typed = {
            "response": clean_text(form_text(form, "response")),
            "change": form_text(form, "change"),
        }
        errors = []
        if not typed["response"]:
            errors.append(error(_("Enter your response"), "response"))
        elif len(typed["response"]) > MAX_RESPONSE:
            errors.append(error(too_long(_("Your response"), MAX_RESPONSE), "response"))
        change = change_of(typed["change"])
        if change is None:
            errors.append(error(_("Select if the story led to a change"), "change"))
        if errors:
            return await self.problem(request, staff, story_id, 400, errors, typed)
        assert change is not None
        now = self.clock()

        def step(db: Session) -> str:
            outcome = respond_to_story(db, story_id, staff, typed["response"], change, now)
            if outcome == "answered":
                self.log(db, staff, ANSWERED, f"story {story_id}: change {change}")
            return outcome

        outcome = await run_step(self.node.sessions, step)
        if outcome == "unknown":
            return self.not_found(request)
        if outcome == "not-published":
            message = _("Only a published story can be answered")
            return await self.problem(request, staff, story_id, 409, [error(message, "response")])
        return RedirectResponse(f"{STORIES_PATH}/{story_id}?done=answered", status_code=303)

    # --- subscriptions ----------------------------------------------------------------------

    def choices(self, lang: str, chosen: set[str]) -> list[dict[str, Any]]:
        """The checkboxes of the subscriptions form."""
        items = [
            {"value": slug, "text": self.catalogue.title(slug, lang), "checked": slug in chosen}
            for slug in sorted(self.catalogue.services)
        ]
        node_wide = _("Stories about %(name)s in general") % {"name": self.catalogue.name}
        items.append({"value": "node", "text": node_wide, "checked": NODE_WIDE in chosen})
        return items

    async def subscriptions(
        self, request: Request, staff: StaffSignedIn, done: Done = ""
    ) -> Response:
        """The services whose new stories this member of staff is emailed about."""
        chosen = await run_step(self.node.sessions, lambda db: subscriptions_of(db, staff.id))
        lang = request_language(request)
        return self.render(
            request,
            "story_subscriptions",
            staff,
            items=self.choices(lang, chosen),
            done=_("Your subscriptions are saved") if done == "saved" else "",
            email=self.node.settings.email is not None,
        )

    async def subscribe(self, request: Request, staff: StaffSignedIn) -> Response:
        """Save the services this member of staff is emailed about."""
        form = await read_form(request)
        wanted = [
            NODE_WIDE if value == "node" else value
            for value in form_texts(form, "services")
            if value == "node" or value in self.catalogue.services
        ]

        def step(db: Session) -> None:
            set_subscriptions(db, staff.id, wanted)
            names = ", ".join(sorted(w or "node" for w in wanted)) or "none"
            self.log(db, staff, SUBSCRIBED, f"stories of: {names}")

        await run_step(self.node.sessions, step)
        return RedirectResponse(f"{SUBSCRIPTIONS_PATH}?done=saved", status_code=303)


def make_staff_router(
    node: NodeRuntime, templates: Jinja2Templates, catalogue: Catalogue
) -> APIRouter:
    """/staff/stories: the moderation queue, a story, its actions, subscriptions."""
    pages = StoryStaffPages(node, templates, catalogue)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    checked = [Depends(ANY_STAFF), Depends(require_csrf)]
    router.add_api_route(STORIES_PATH, pages.queue, methods=["GET"])
    router.add_api_route(SUBSCRIPTIONS_PATH, pages.subscriptions, methods=["GET"])
    router.add_api_route(
        SUBSCRIPTIONS_PATH, pages.subscribe, methods=["POST"], dependencies=checked
    )
    one = STORIES_PATH + "/{story_id}"
    router.add_api_route(one, pages.show, methods=["GET"])
    for action, post in (
        ("/publish", pages.publish),
        ("/reject", pages.reject),
        ("/responses", pages.respond),
    ):
        router.add_api_route(one + action, post, methods=["POST"], dependencies=checked)
    return router
