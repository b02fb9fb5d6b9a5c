"""The demo's declared services as a simulated person completes them, over real HTTP.

Each journey opens the service's start page, presses **Start now**, signs in at the charter
when the person is not signed in yet (OIDC: the charter's sign-in form, its authorize
redirect, the node's callback), chooses to have answers filled in from the People register
and agrees on the charter's consent screen (for a service that pre-fills), answers each page
(taking every value the service holds: `<question>-use-held=yes`), and sends the application
from check your answers. It ends on the confirmation page; any other page, or any status but
200 after the redirects, is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

from digitalstate.benchmarks.services_browser import Browser, Form, JourneyError
from digitalstate.demo.prisons import PRISONERS
from digitalstate.demo.seed import DEMO_PASSWORD
from digitalstate.demo.synthetic import SyntheticPerson
from digitalstate.pensions.domain import too_early

Answers = Mapping[str, str | list[str]]
# A service's answers to one of its pages: (person, page id, the page's form, today).
AnswerFor = Callable[[SyntheticPerson, str, Form, date], Answers]
MAX_PAGES = 30  # a journey longer than this is going round in circles
CHECK_PAGE = "check-answers"
USE_HELD = "-use-held"


def _date(question: str, day: date) -> dict[str, str]:
    return {
        f"{question}-day": str(day.day),
        f"{question}-month": str(day.month),
        f"{question}-year": str(day.year),
    }


def _address(question: str, line_1: str, town: str, postcode: str) -> dict[str, str]:
    return {
        f"{question}-line-1": line_1,
        f"{question}-line-2": "",
        f"{question}-town": town,
        f"{question}-postcode": postcode,
    }


def _vote(who: SyntheticPerson, page: str, _form: Form, _today: date) -> Answers:
    return {
        "nationality": {"nationality": "british"},
        "moved": {"moved": "no"},
        "has-national-insurance": {"has-national-insurance": "yes"},
        "national-insurance": {"national-insurance-number": who.nino},
        "open-register": {"open-register": "no"},
        "postal-vote": {"postal-vote": "no"},
    }.get(page, {})


def _pension(who: SyntheticPerson, page: str, _form: Form, _today: date) -> Answers:
    bank = {
        "bank-details-name": f"{who.given_names} {who.family_name}",
        "bank-details-sort-code": who.bank_details["sort_code"],
        "bank-details-account-number": who.bank_details["account_number"],
    }
    return {
        "national-insurance": {"national-insurance-number": who.nino},
        "bank": bank,
        "phone": {"phone": ""},
    }.get(page, {})


def _prison_visit(who: SyntheticPerson, page: str, form: Form, _today: date) -> Answers:
    prisoner = PRISONERS[who.number % len(PRISONERS)]
    if page == "prisoner":
        return {
            "prisoner-first-name": prisoner.given_names,
            "prisoner-last-name": prisoner.family_name,
            **_date("prisoner-date-of-birth", prisoner.born),
            "prisoner-number": prisoner.number,
        }
    if page == "times":
        offered = form.choices.get("times", [])
        if not offered:
            raise JourneyError("times: no visit times offered")
        return {"times": offered[:3]}
    return {
        "prison": {"prison": prisoner.prison},
        "other-visitors": {"other-visitors": "0"},
        "email": {"email": who.email},
    }.get(page, {})


def _change_address(who: SyntheticPerson, page: str, _form: Form, today: date) -> Answers:
    if page == "new-address":
        return _address("new-address", f"{who.number % 200 + 1} Bench Street", "Leeds", "LS1 4AP")
    if page == "moved-on":
        return _date("moved-on", today - timedelta(days=1))
    return {}


def _care_assessment(_who: SyntheticPerson, page: str, _form: Form, _today: date) -> Answers:
    answers: dict[str, Answers] = {
        "where": {"lives-in-birmingham": "yes"},
        "help": {"help": ["washing", "dressing"]},
        "more": {"more": "I cannot reach my feet."},
        "phone": {"phone": "0121 496 0000"},
    }
    return answers.get(page, {})


@dataclass(frozen=True)
class Service:
    """A declared service of the demo with pages: where it runs and how a person answers it."""

    slug: str
    node: str
    answers: AnswerFor


SERVICES: tuple[Service, ...] = (
    Service("register-to-vote", "electoral-registration", _vote),
    Service("book-a-prison-visit", "prisons", _prison_visit),
    Service("apply-for-state-pension", "liverpool-pensions", _pension),
    Service("change-your-address", "people-register", _change_address),
    Service("ask-for-a-care-assessment", "birmingham-social-care", _care_assessment),
)


def takes_everyone(who: SyntheticPerson, today: date) -> bool:
    """Whether every service accepts who today: the State Pension from 4 months before
    State Pension age (pensions/domain.py), the others anyone the demo seeds."""
    return too_early(who.date_of_birth, today) is None


def start_url(urls: Mapping[str, str], service: Service) -> str:
    """The service's start page: the first page a person loads."""
    return f"{urls[service.node]}/services/{service.slug}"


async def complete(
    browser: Browser, urls: Mapping[str, str], service: Service, who: SyntheticPerson, today: date
) -> str:
    """Complete service as who, signing in and consenting on the way; the confirmation URL."""
    base = start_url(urls, service)
    base_path = urlsplit(base).path
    charter = urls["charter"]
    await browser.get(base)
    page = await browser.get(base + "/begin")
    if page.url.startswith(charter + "/sign-in"):
        page = await browser.post(
            page, page.form("/sign-in"), {"email": who.email, "password": DEMO_PASSWORD}
        )
    if page.path == base_path + "/begin":  # "We can fill in some of your answers"
        page = await browser.post(page, page.form(base_path + "/consent"), {"choice": "share"})
        if page.url.startswith(charter + "/consent/"):
            page = await browser.post(page, page.form("/consent/"), {"answer": "yes"})
    for _ in range(MAX_PAGES):
        if page.path.startswith(base_path + "/confirmation/"):
            return page.url
        if not page.path.startswith(base_path + "/"):
            raise JourneyError(f"{service.slug}: ended up at {page.url}")
        step = page.path.removeprefix(base_path + "/")
        if step == CHECK_PAGE:
            page = await browser.post(page, page.form(base_path + "/submit"), {})
            continue
        form = page.form(page.path)
        held = {name: "yes" for name in form.fields if name.endswith(USE_HELD)}
        page = await browser.post(page, form, {**held, **service.answers(who, step, form, today)})
    raise JourneyError(f"{service.slug}: more than {MAX_PAGES} pages")
