"""Casework for tests: a node running journey_support's two services, its staff, and browsers.

`casework_node` runs the pensions node in-process with the bus pass and viewing services (the
real app, its staff feature and its /staff session zone). The person's browser is the
JourneyNode's own; each member of staff gets a browser of their own (`staff`), signed in
through the real /staff/sign-in form, so that two of them can act at once. `apply` and
`book_viewing` make an application as a person does, through the journey's pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from digitalstate.mail.models import OutboxEmail
from digitalstate.node.runtime import NodeRuntime
from digitalstate.services.models import Application, ApplicationEvent
from digitalstate.transparency.entries import LogEntry
from digitalstate.transparency.models import LogEntryRow
from support.clients import InProcessClient

from .journey_support import (
    FILES,
    MEMBER,
    REFERENCE,
    VIEW,
    JourneyNode,
    bus_pass_answers,
    journey_node,
)
from .staff_support import PASSWORD, add_staff_account, csrf_of

QUEUE = "/staff/applications"
ASSISTED = "/staff/assisted"
BUS_SLUG = "apply-for-a-bus-pass"
CASE_PAGE = re.compile(rf"^{ASSISTED}/{BUS_SLUG}/([0-9a-f]{{32}})/name$")
TOKEN = re.compile(r'name="submission_token" value="([^"]+)"')
ADA, BEA = "ada-pseudonym-at-pensions", "bea-pseudonym-at-pensions"
VIEW_REFERENCE = re.compile(r"\bVIEW-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\b")
EMAIL = {
    "email": {
        "smtp_host": "127.0.0.1",
        "smtp_port": 2525,
        "from_address": "pensions@example.test",
        "starttls": False,
    }
}


@dataclass
class Browser:
    """A browser of the node with cookies of its own."""

    http: InProcessClient
    client: httpx.AsyncClient

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer: httpx.Response = self.http.run(self.client.request(method, path, **kwargs))
        return answer

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def send(self, page: str, action: str, data: Mapping[str, Any] | None = None) -> httpx.Response:
        """Post data to action with the CSRF token of the form on page (as pressing its button)."""
        shown = self.get(page)
        assert shown.status_code == 200, shown.text
        return self.post(action, data={"csrf_token": csrf_of(shown), **(data or {})})


@dataclass
class StaffBrowser(Browser):
    """A browser signed in as a member of staff."""

    account_id: str
    email: str


@dataclass
class CaseworkNode:
    """The pensions node with its two services, the person's browser and staff's."""

    journeys: JourneyNode

    @property
    def runtime(self) -> NodeRuntime:
        return self.journeys.node.runtime

    def browser(self) -> Browser:
        """A new browser, with no cookies."""
        http = self.journeys.node.http
        return Browser(http, http.from_address(follow_redirects=False))

    def staff(self, email: str, role: str = "caseworker", name: str = "Jo Bloggs") -> StaffBrowser:
        """A new member of staff (staff_support's PASSWORD), signed in in a browser of their
        own."""
        account = add_staff_account(self.runtime, email, role, name, datetime.now(UTC))
        browser = self.browser()
        signed = browser.send(
            "/staff/sign-in", "/staff/sign-in", {"email": email, "password": PASSWORD}
        )
        assert signed.status_code == 303, signed.text
        return StaffBrowser(browser.http, browser.client, account, email)

    def apply(
        self, sub: str, *, email: bool = True, proof: tuple[str, bytes, str] | None = None
    ) -> str:
        """The person sub applies for a bus pass, typing each answer; the reference."""
        person = self.journeys
        person.sign_in(sub)
        person.type_answers()
        for page, data in bus_pass_answers(email=email):
            files = {"proof": proof} if page == "proof" and proof else None
            answered = person.answer(page, data, files=files)
            assert answered.status_code == 303, (page, answered.text)
        sent = person.submit()
        found = REFERENCE.search(sent.headers["location"])
        assert sent.status_code == 303 and found, sent.text
        return found.group(0)

    def book_viewing(self, sub: str, times: list[str]) -> str:
        """The person sub asks for a viewing at times; the reference."""
        person = self.journeys
        person.sign_in(sub)
        chose = person.answer("times", {"times": times}, base=VIEW)
        assert chose.status_code == 303, chose.text
        sent = person.submit(VIEW)
        found = VIEW_REFERENCE.search(sent.headers["location"])
        assert sent.status_code == 303 and found, sent.text
        return found.group(0)

    def application(self, reference: str) -> Application:
        with self.runtime.sessions.begin() as session:
            row = session.scalar(select(Application).where(Application.reference == reference))
            assert row is not None, reference
            session.expunge(row)
            return row

    def history(self, reference: str) -> list[tuple[str, str | None, str]]:
        """The application's events, oldest first: (status, reason, by)."""
        with self.runtime.sessions.begin() as session:
            rows = session.execute(
                select(ApplicationEvent.status, ApplicationEvent.reason, ApplicationEvent.by)
                .join(Application, Application.id == ApplicationEvent.application_id)
                .where(Application.reference == reference)
                .order_by(ApplicationEvent.id)
            )
            return [(status, reason, by) for status, reason, by in rows]

    def entries(self) -> list[LogEntry]:
        """Every entry of the node's log, oldest first."""
        with self.runtime.sessions.begin() as db:
            bodies = db.scalars(select(LogEntryRow.body).order_by(LogEntryRow.id)).all()
        return [LogEntry.decode(bytes(body)) for body in bodies]

    def staff_entries(self, account_id: str) -> list[tuple[str, str, str]]:
        """What the log says account_id did, oldest first: (action, pseudonym, reason)."""
        requester = f"staff:{account_id}"
        return [
            (e.action, e.pseudonym, e.reason)
            for e in self.entries()
            if e.requester == requester and e.action not in ("staff-signed-in",)
        ]

    def outbox(self) -> list[tuple[str, list[str], str, str]]:
        """The email queued: (dedupe key, recipients, subject, body), oldest first."""
        with self.runtime.sessions.begin() as db:
            rows = db.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
            return [(r.dedupe_key, json.loads(r.recipients), r.subject, r.body) for r in rows]

    def add_applications(self, count: int, slug: str, start: datetime) -> list[str]:
        """count applications of slug, sent a minute apart from start, put straight into the
        table (for paging; their answers are empty); their references, oldest first."""
        references = [f"BUS-{n:04d}-AAAA-A" for n in range(count)]
        with self.runtime.sessions.begin() as session:
            for n, reference in enumerate(references):
                at = start + timedelta(minutes=n)
                session.add(
                    Application(
                        reference=reference,
                        slug=slug,
                        subject=f"someone-{n}",
                        channel="digital",
                        acting_by=None,
                        answers="{}",
                        sources="{}",
                        language="en",
                        submitted_at=at,
                        status="submitted",
                        updated_at=at,
                        submission_token=f"token-{n}",
                    )
                )
        return references


def start_assisted(staff: StaffBrowser) -> str:
    """Start the bus pass with a person; the case's pages' path."""
    started = staff.send(ASSISTED, f"{ASSISTED}/{BUS_SLUG}/start")
    assert started.status_code == 303, started.text
    assert CASE_PAGE.match(started.headers["location"]), started.headers["location"]
    return started.headers["location"].removesuffix("/name")


def fill_in_assisted(staff: StaffBrowser, base: str, *, stop_after: str | None = None) -> None:
    """Type the person's answers to each page, as they give them."""
    for page, data in bus_pass_answers():
        answered = staff.send(f"{base}/{page}", f"{base}/{page}", data)
        assert answered.status_code == 303, (page, answered.text)
        if page == stop_after:
            return


def send_assisted(staff: StaffBrowser, base: str) -> str:
    """Send the application from check your answers; the confirmation's path."""
    check = staff.get(f"{base}/check-answers")
    found = TOKEN.search(check.text)
    assert found, check.text
    sent = staff.send(
        f"{base}/check-answers", f"{base}/submit", {"submission_token": found.group(1)}
    )
    assert sent.status_code == 303, sent.text
    return str(sent.headers["location"])


@contextmanager
def casework_node(
    directory: Path,
    database_url: str,
    *,
    member: str = MEMBER,
    extra: Mapping[str, dict[str, Any]] | None = None,
) -> Iterator[CaseworkNode]:
    """The node (pensions unless member) with the bus pass and viewing services, in-process."""
    with journey_node(directory, database_url, FILES, member=member, extra=extra) as running:
        yield CaseworkNode(running)
