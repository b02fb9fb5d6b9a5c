"""Declared services' journeys for tests: two small definitions, a node running them, a person.

BUS_PASS has a page of each kind the tests need: a text question, a date and an address a
register can pre-fill (under consent), radios that show a page by condition, an optional file
upload, an optional last page and an eligibility rule; its action is `record`. VIEWING asks
for slots from a source the test registers (`viewing_times`). `journey_node` runs a service
node with both in-process (no charter to reach: a person there types their answers); with a
charter and a register for pre-fill, services_support.running_federation takes the same files.
A person signs in through the node's test-only route, as /auth/callback would. Both are built
with definition() and page(), which tests use for definitions of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.services.handlers import SLOT_SOURCES, SlotRequest
from digitalstate.settings import NodeSettings
from digitalstate.tomlwrite import toml_value
from integration.services_support import add_sign_in_route
from support.federation import federation_document, member_of
from support.nodes import InProcessNode, node_settings, running_node

MEMBER = "liverpool-pensions"
BUS = "/services/apply-for-a-bus-pass"
VIEW = "/services/book-a-viewing"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="submission_token" value="([^"]+)"')
REFERENCE = re.compile(r"\bBUS-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\b")
PHOTO_LIMIT = 20_000
# The smallest files each kind is told by (services/filetypes.py reads their first bytes).
PDF = b"%PDF-1.7\n" + b"0" * 200 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40


def toml_keys(table: Mapping[str, Any]) -> str:
    """A table's keys, one line each."""
    return "".join(f"{key} = {toml_value(value)}\n" for key, value in table.items())


def page(
    page_id: str,
    kind: str,
    title: str,
    *,
    question: str | None = None,
    label: str | None = None,
    show_if: Mapping[str, Any] | None = None,
    **options: Any,
) -> str:
    """A [[pages]] table that asks one question of type kind: the question's id is the
    page's unless told, its label the page's title unless told; options are its other keys
    (error_name, prefill, choices, required...)."""
    shown = {"show_if": show_if} if show_if else {}
    asked = {"id": question or page_id, "type": kind, "label": label or title, **options}
    return (
        f"[[pages]]\n{toml_keys({'id': page_id, 'title': title, **shown})}\n"
        f"[[pages.questions]]\n{toml_keys(asked)}"
    )


def definition(
    pages: Sequence[str],
    *,
    submit: Mapping[str, Any],
    start: Mapping[str, Any] | None = None,
    eligibility: Sequence[Mapping[str, Any]] = (),
    **head: Any,
) -> str:
    """A service definition file: head's keys (slug, title, purpose...), its [start], its
    pages (page()), its [[eligibility]] rules and its [submit]."""
    parts = [toml_keys(head)]
    if start is not None:
        parts.append(f"[start]\n{toml_keys(start)}")
    parts += pages
    parts += [f"[[eligibility]]\n{toml_keys(rule)}" for rule in eligibility]
    parts.append(f"[submit]\n{toml_keys(submit)}")
    return "\n".join(parts)


BUS_PASS = definition(
    slug="apply-for-a-bus-pass",
    title="Apply for a bus pass",
    description="Apply for a free bus pass if you are 60 or over.",
    purpose="pension-administration",
    fields=["people.address", "people.date_of_birth"],
    reference_prefix="BUS",
    start={"minutes": 5, "paragraphs": ["You can apply if you live in Liverpool."]},
    pages=[
        page(
            "name",
            "text",
            "What is your name?",
            question="full-name",
            label="Full name",
            max_length=60,
        ),
        page(
            "date-of-birth",
            "date",
            "What is your date of birth?",
            error_name="your date of birth",
            prefill="people.date_of_birth",
            when="past",
        ),
        page("address", "uk-address", "What is your address?", prefill="people.address"),
        page(
            "contact",
            "radios",
            "How should we contact you?",
            error_name="how we should contact you",
            choices=[{"value": "email", "label": "Email"}, {"value": "post", "label": "Post"}],
        ),
        page(
            "email",
            "email",
            "What is your email address?",
            label="Email address",
            show_if={"question": "contact", "equals": "email"},
        ),
        page(
            "proof",
            "file",
            "Upload proof of your address",
            hint="A council tax bill or a bank statement.",
            required=False,
            accept=["pdf", "png"],
            max_bytes=PHOTO_LIMIT,
        ),
        page("notes", "long-text", "Is there anything else we should know?", required=False),
    ],
    eligibility=[
        {
            "condition": {"question": "date-of-birth", "age_under": 60},
            "reason": "You can get a bus pass from the age of 60.",
        }
    ],
    submit={"action": "record", "next_steps": "We will post your bus pass within 10 working days."},
)

VIEWING = definition(
    slug="book-a-viewing",
    title="Book a viewing",
    description="Book a time to view your records.",
    purpose="pension-administration",
    fields=["people.address"],
    reference_prefix="VIEW",
    pages=[
        page(
            "times",
            "slots",
            "When can you come?",
            error_name="times",
            source="test-viewings",
            max_choices=2,
        )
    ],
    submit={"action": "record", "next_steps": "We will confirm your time by post."},
)

FILES = {"bus-pass.toml": BUS_PASS, "viewing.toml": VIEWING}
TIMES = ["2026-05-04T14:00", "2026-05-05T10:30", "2026-05-06T09:00"]


def write_definitions(directory: Path, files: Mapping[str, str] = FILES) -> list[str]:
    """The definition files written in directory; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        (directory / name).write_text(text)
        paths.append(str(directory / name))
    return paths


@dataclass
class Offer:
    """The viewing times the test's slot source offers now (change it to take one away)."""

    times: list[str] = field(default_factory=lambda: list(TIMES))

    async def __call__(self, _request: SlotRequest) -> list[str]:
        return list(self.times)


@dataclass
class JourneyNode:
    """A service node running the test definitions in-process, and a browser of it."""

    node: InProcessNode
    offer: Offer

    @property
    def settings(self) -> NodeSettings:
        return self.node.settings

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.node.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.node.http.post(path, **kwargs)

    def sign_in(self, sub: str, helper: str | None = None) -> None:
        """Sign the browser in as the person this node knows as sub (helper: the pseudonym of
        someone acting for them with a delegation)."""
        self.node.http.client.cookies.clear()
        params = {"sub": sub} | ({"act": helper} if helper else {})
        assert self.get("/test/sign-in", params=params).status_code == 204

    def csrf(self, path: str) -> str:
        """The CSRF token of the form on the page at path."""
        page = self.get(path)
        found = CSRF.search(page.text)
        assert found, f"{path} ({page.status_code}) has no CSRF token"
        return found.group(1)

    def answer(
        self,
        page: str,
        data: Mapping[str, Any],
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        base: str = BUS,
        query: str = "",
    ) -> httpx.Response:
        """Post a question page's answers (with the page's CSRF token)."""
        path = f"{base}/{page}{query}"
        form = {"csrf_token": self.csrf(path), **data}
        return self.post(path, data=form, files=files)

    def type_answers(self, base: str = BUS, first: str = "name") -> None:
        """Start a journey and choose to type the answers: the first page comes next."""
        begin = self.get(f"{base}/begin")
        assert begin.status_code == 200 and "We can fill in some of your answers" in begin.text
        chose = self.post(
            f"{base}/consent", data={"csrf_token": self.csrf(f"{base}/begin"), "choice": "type"}
        )
        assert chose.status_code == 303 and chose.headers["location"] == f"{base}/{first}"

    def fill_in(self, *, email: bool = True) -> None:
        """Answer every page of the bus pass journey, typing each answer."""
        for page, data in bus_pass_answers(email=email):
            answered = self.answer(page, data)
            assert answered.status_code == 303, (page, answered.text)

    def token(self, base: str = BUS) -> str:
        """The submission token on check your answers."""
        page = self.get(f"{base}/check-answers")
        found = TOKEN.search(page.text)
        assert found, page.text
        return found.group(1)

    def submit(self, base: str = BUS, token: str | None = None) -> httpx.Response:
        """Send the application from check your answers (its token, unless another is given)."""
        sent = token or self.token(base)
        form = {"csrf_token": self.csrf(f"{base}/check-answers"), "submission_token": sent}
        return self.post(f"{base}/submit", data=form)


def date_form(question: str, day: int, month: int, year: int) -> dict[str, str]:
    """A date question's inputs."""
    return {
        f"{question}-day": str(day),
        f"{question}-month": str(month),
        f"{question}-year": str(year),
    }


ADDRESS_FORM = {
    "address-line-1": "22 Dale Street",
    "address-town": "Liverpool",
    "address-postcode": "l2 2ab",
}


VOTE = "/services/register-to-vote"


def register_to_vote() -> str:
    """The demo's register-to-vote definition, its action swapped to `record` (the demo's
    electoral-registration action needs the electoral register)."""
    text = (DEMO_SERVICES / "register-to-vote.toml").read_text()
    return text.replace('action = "electoral-registration"', 'action = "record"')


# Each page of register-to-vote and a British voter's typed answers to it.
VOTE_ANSWERS: list[tuple[str, dict[str, Any]]] = [
    ("nationality", {"nationality": "british"}),
    ("name", {"given-names": "Ada", "family-name": "Lovelace"}),
    ("date-of-birth", date_form("date-of-birth", 10, 12, 1985)),
    ("address", ADDRESS_FORM),
    ("moved", {"moved": "no"}),
    ("has-national-insurance", {"has-national-insurance": "yes"}),
    ("national-insurance", {"national-insurance-number": "jg 10 37 26 a"}),
    ("open-register", {"open-register": "no"}),
    ("postal-vote", {"postal-vote": "yes"}),
]


def bus_pass_answers(*, email: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """Each page of the bus pass journey and a person's typed answers to it."""
    pages: list[tuple[str, dict[str, Any]]] = [
        ("name", {"full-name": "Ada  Lovelace"}),
        (
            "date-of-birth",
            {
                "date-of-birth-use-held": "no",
                "date-of-birth-day": "2",
                "date-of-birth-month": "4",
                "date-of-birth-year": "1950",
            },
        ),
        ("address", {"address-use-held": "no", **ADDRESS_FORM}),
        ("contact", {"contact": "email" if email else "post"}),
    ]
    if email:
        pages.append(("email", {"email": "ada@Example.ORG"}))
    pages += [("proof", {}), ("notes", {"notes": ""})]
    return pages


@contextmanager
def journey_node(
    directory: Path,
    database_url: str,
    definitions: Mapping[str, str] = FILES,
    *,
    member: str = MEMBER,
    extra: Mapping[str, dict[str, Any]] | None = None,
) -> Iterator[JourneyNode]:
    """The pensions node (or member) running definitions (the test ones by default)
    in-process on database_url, signed-in through a test route, with the viewing times offered
    by a source the test controls; extra: more settings sections ([email])."""
    offer = Offer()
    files = write_definitions(directory / "definitions", definitions)
    settings = node_settings(
        directory / member,
        member,
        database_url,
        name="Liverpool: pensions" if member == MEMBER else member,
        roles=["service"],
        extra={"services": {"files": files}, **(extra or {})},
    )
    document = federation_document((member_of(settings),), federation="journey test federation")
    with (
        SLOT_SOURCES.registered("test-viewings", offer),
        running_node(settings, document, background=False, prepare=add_sign_in_route) as node,
    ):
        yield JourneyNode(node, offer)


@contextmanager
def another_worker(node: JourneyNode) -> Iterator[JourneyNode]:
    """Another worker of node: a second runtime and app over its database and files, reached
    by the same browser (node's cookies, copied as they are now)."""
    with running_node(
        node.settings, node.node.document, cached=False, background=False, prepare=add_sign_in_route
    ) as other:
        other.http.client.cookies = node.node.http.client.cookies
        yield JourneyNode(other, node.offer)
