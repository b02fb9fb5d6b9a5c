"""A service node with staff, running in-process, and a browser that signs its staff in and out.

The node is the real app (create_node_app) with the real staff feature; its database is the
test's (SQLite or PostgreSQL). Test-only routes: /test/sign-in?sub= puts a person's signed-in
session in the people's cookie (as /auth/callback does), /test/whoami answers only a person's
session, /test/csrf gives the people's CSRF token, and /staff/test/managers is a staff page
only a manager may open.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy import select

from digitalstate.federation.domain import FederationDocument
from digitalstate.identity.service import hash_password
from digitalstate.node.runtime import NodeRuntime
from digitalstate.settings import NodeSettings
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.service import add_staff
from digitalstate.staff.sessions import require_staff
from digitalstate.transparency.entries import LogEntry
from digitalstate.transparency.models import LogEntryRow
from digitalstate.web.session import (
    SESSION_ID_KEY,
    SealedCookie,
    load_or_create_session_key,
    session_cookie_name,
    zone_sealing_key,
)
from digitalstate.web.session_store import SqlSessionStore
from support.clocks import Clock
from support.federation import ANCHOR, nodes_document
from support.nodes import InProcessNode, node_settings, running_node

from .identity_support import add_test_routes
from .services_support import add_sign_in_route

PENSIONS = "liverpool-pensions"
TAX = "newcastle-tax"
CASEWORKER = "jo.caseworker@pensions.example.org"
MANAGER = "sam.manager@pensions.example.org"
PASSWORD = "tangerine otter copper lantern"
PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: argon2 is slow on purpose
MANAGERS_PAGE = "/staff/test/managers"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_staff_test_routes(app: FastAPI) -> None:
    """The people's test routes, and a staff page only a manager may open (tests only)."""
    add_sign_in_route(app)
    add_test_routes(app)

    @app.get(MANAGERS_PAGE)
    def managers_only(staff: StaffMember = Depends(require_staff("manager"))) -> dict[str, str]:
        """Who opened it (tests only)."""
        return {"email": staff.email, "role": staff.role}


def add_staff_account(runtime: NodeRuntime, email: str, role: str, name: str, now: datetime) -> str:
    """A staff account of the node with PASSWORD; its id."""
    with runtime.sessions.begin() as db:
        return add_staff(
            db, email=email, display_name=name, role=role, password_hash=PASSWORD_HASH, now=now
        ).id


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token in a page's form."""
    found = CSRF.search(page.text)
    assert found, f"no csrf_token in the page:\n{page.text[:2000]}"
    return found.group(1)


@dataclass
class StaffNode:
    """A service node in-process, with a clock its staff sessions and sign-in limits run on."""

    running: InProcessNode
    clock: Clock

    @property
    def settings(self) -> NodeSettings:
        return self.running.settings

    @property
    def member_id(self) -> str:
        return self.settings.node.id

    @property
    def http(self) -> httpx.AsyncClient:
        """The browser: an httpx client with a cookie jar."""
        return self.running.http.client

    @property
    def staff_store(self) -> SqlSessionStore:
        store: SqlSessionStore = self.running.app.state.staff_session_store
        return store

    @property
    def people_store(self) -> SqlSessionStore:
        store: SqlSessionStore = self.running.app.state.session_store
        return store

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.running.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.running.http.post(path, **kwargs)

    def add_staff(self, email: str, role: str = "caseworker", name: str = "Jo Bloggs") -> str:
        """A staff account with PASSWORD; its id."""
        return add_staff_account(self.running.runtime, email, role, name, self.clock())

    def sign_in_form(self, next_path: str = "", **fields: str) -> httpx.Response:
        """Post the staff sign-in form with fields, its CSRF token and next."""
        page = self.get("/staff/sign-in", params={"next": next_path} if next_path else None)
        return self.post(
            "/staff/sign-in", data={"csrf_token": csrf_of(page), "next": next_path, **fields}
        )

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        """Sign the browser in as the member of staff with email."""
        answer = self.sign_in_form(email=email, password=password)
        assert answer.status_code == 303, answer.text

    def sign_out(self) -> httpx.Response:
        """Press "Sign out" on the staff home page."""
        return self.post("/staff/sign-out", data={"csrf_token": csrf_of(self.get("/staff"))})

    def is_signed_in_as_staff(self) -> bool:
        """True when /staff opens (not sent to the sign-in page)."""
        answer = self.get("/staff")
        assert answer.status_code in (200, 303), answer.text
        return answer.status_code == 200

    def is_signed_in_as_a_person(self) -> bool:
        """True when a page behind a person's sign-in opens."""
        answer = self.get("/test/whoami")
        assert answer.status_code in (200, 303), answer.text
        return answer.status_code == 200

    def sign_in_person(self, sub: str = "a-pseudonym-of-ada") -> None:
        """Sign a person in on this node's pages, as /auth/callback does."""
        assert self.get("/test/sign-in", params={"sub": sub}).status_code == 204

    @property
    def staff_cookie_name(self) -> str:
        return session_cookie_name(self.member_id, "staff")

    @property
    def people_cookie_name(self) -> str:
        return session_cookie_name(self.member_id)

    def cookie(self, name: str) -> str:
        """The browser's copy of the cookie called name."""
        value = self.http.cookies.get(name)
        assert value, f"no {name} cookie"
        return value

    def holding_only(self, name: str, value: str, path: str = "/") -> None:
        """Make the browser hold value as its only cookie, called name, as a thief would."""
        self.http.cookies.clear()
        self.http.cookies.set(name, value, path=path)

    def staff_session_id(self) -> str:
        """The session id sealed in the browser's staff cookie (the test holds the node's key)."""
        key = zone_sealing_key(load_or_create_session_key(self.settings.data_dir), "staff")
        opened = SealedCookie(key).unsign(self.cookie(self.staff_cookie_name).encode())
        session_id: str = json.loads(base64.b64decode(opened))[SESSION_ID_KEY]
        return session_id

    def entries(self) -> list[LogEntry]:
        """Every entry of the node's log, oldest first."""
        with self.running.runtime.sessions.begin() as db:
            bodies = db.scalars(select(LogEntryRow.body).order_by(LogEntryRow.id)).all()
        return [LogEntry.decode(bytes(body)) for body in bodies]


def staff_node_settings(
    directory: Path,
    database_url: str,
    member_id: str = PENSIONS,
    *,
    port: int = 8105,
    extra: dict[str, dict[str, Any]] | None = None,
) -> NodeSettings:
    """A service node's settings in directory/member_id, on database_url."""
    return node_settings(
        directory / member_id,
        member_id,
        database_url,
        name={PENSIONS: "Liverpool: pensions", TAX: "Newcastle: tax"}.get(member_id),
        roles=("service",),
        port=port,
        anchor=ANCHOR,
        extra=extra,
    )


@contextmanager
def running_staff_node(settings: NodeSettings, document: FederationDocument) -> Iterator[StaffNode]:
    """The node's app in-process (no background work) with the test routes and a clock."""
    with running_node(
        settings, document, background=False, prepare=add_staff_test_routes
    ) as running:
        clock = Clock(datetime.now(UTC).replace(microsecond=0))
        running.app.state.staff_session_store.clock = clock.seconds
        running.app.state.session_store.clock = clock.seconds
        running.app.state.staff_sign_in_guard.clock = clock
        yield StaffNode(running, clock)


def start_staff_node(
    tmp_path: Path, database_url: str, extra: dict[str, dict[str, Any]] | None = None
) -> Iterator[StaffNode]:
    """Liverpool: pensions on database_url, alone in its federation (for `yield from`)."""
    settings = staff_node_settings(tmp_path, database_url, extra=extra)
    with running_staff_node(settings, nodes_document(settings)) as node:
        yield node
