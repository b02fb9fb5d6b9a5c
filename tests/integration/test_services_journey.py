"""A person's journey through a declared service at a node: pages, drafts, submission, status.

The node runs journey_support's two small definitions in-process, on SQLite and PostgreSQL;
the person types their answers (pre-fill under consent is test_services_journey_prefill.py).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.services.definitions import read_definition
from digitalstate.services.models import (
    Application,
    ApplicationEvent,
    ApplicationFile,
    ServiceDraft,
)
from digitalstate.services.references import parse_reference
from digitalstate.services.service import record_consent, store_copy
from integration.journey_support import (
    BUS,
    FILES,
    PDF,
    PNG,
    REFERENCE,
    VIEW,
    VOTE,
    VOTE_ANSWERS,
    JourneyNode,
    another_worker,
    date_form,
    definition,
    journey_node,
    page,
    register_to_vote,
    write_definitions,
)

ADA, BEA = "ada-pseudonym-at-pensions", "bea-pseudonym-at-pensions"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[JourneyNode]:
    with journey_node(tmp_path, migrated_database_url) as running:
        yield running


def test_the_test_definitions_are_built_as_the_service_loader_reads_them(tmp_path: Path) -> None:
    quoted = definition(
        slug="say-hello",
        title='Say "hello" \u2013 in Welsh: "Shw\u2019mae"',
        description="A\\B",
        purpose="pension-administration",
        fields=["people.address"],
        pages=[page("hello", "yes-no", "Shall we say it?", required=False)],
        submit={"action": "record", "next_steps": "We will say it."},
    )
    files = write_definitions(tmp_path, {**FILES, "quoted.toml": quoted})
    bus, viewing, hello = (read_definition(Path(path)) for path in files)
    assert [p.id for p in bus.pages] == [
        "name",
        "date-of-birth",
        "address",
        "contact",
        "email",
        "proof",
        "notes",
    ]
    assert bus.question("full-name") is not None and bus.question("email") is not None
    assert [q.type for _, q in viewing.questions()] == ["slots"]
    assert hello.title.text("en") == 'Say "hello" \u2013 in Welsh: "Shw\u2019mae"'
    assert hello.description.text("en") == "A\\B"


def applications(node: JourneyNode) -> list[Application]:
    with node.node.runtime.sessions.begin() as session:
        return list(session.scalars(select(Application).order_by(Application.id)))


def test_the_start_page_says_what_it_is_and_starting_asks_to_sign_in(node: JourneyNode) -> None:
    page = node.get(BUS)
    assert page.status_code == 200
    assert (
        "Apply for a bus pass" in page.text
        and "You can apply if you live in Liverpool" in page.text
    )
    assert "It takes around 5 minutes" in page.text
    assert f'href="{BUS}/begin"' in page.text and "Start now" in page.text
    begin = node.get(f"{BUS}/begin")
    assert begin.status_code == 303
    assert (
        begin.headers["location"] == "/auth/sign-in?next=%2Fservices%2Fapply-for-a-bus-pass%2Fbegin"
    )
    assert node.get("/services/no-such-service").status_code == 404


def test_a_full_journey_from_start_to_withdrawal(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()

    # An error: the summary links to the input at fault, the input says why, values come back.
    wrong = node.answer("name", {"full-name": ""})
    assert wrong.status_code == 400
    assert 'href="#full-name">Enter full name</a>' in wrong.text
    assert 'id="full-name-error"' in wrong.text
    # A page after the first one not yet answered is not shown: the person goes back to it.
    ahead = node.get(f"{BUS}/contact")
    assert ahead.status_code == 303 and ahead.headers["location"] == f"{BUS}/name"
    assert (
        node.answer("name", {"full-name": "Ada Lovelace"}).headers["location"]
        == f"{BUS}/date-of-birth"
    )
    date = node.answer("date-of-birth", {"date-of-birth-day": "2", "date-of-birth-year": "1950"})
    assert date.status_code == 400
    assert 'href="#date-of-birth-month">Your date of birth must include a month</a>' in date.text
    assert 'name="date-of-birth-day" type="text" value="2"' in date.text

    node.fill_in()
    check = node.get(f"{BUS}/check-answers")
    assert check.status_code == 200
    assert "Ada Lovelace" in check.text and "2 April 1950" in check.text
    assert "22 Dale Street<br>Liverpool<br>L2 2AB" in check.text and "ada@example.org" in check.text
    change = f"{BUS}/name?return=check#full-name"
    assert f'href="{change}"' in check.text

    # Change comes back to check your answers, and the back link goes there too.
    again = node.get(f"{BUS}/name?return=check")
    assert f'href="{BUS}/check-answers"' in again.text and 'value="Ada Lovelace"' in again.text
    changed = node.answer("name", {"full-name": "Ada King"}, query="?return=check")
    assert changed.status_code == 303 and changed.headers["location"] == f"{BUS}/check-answers"
    assert "Ada King" in node.get(f"{BUS}/check-answers").text

    sent = node.submit()
    assert sent.status_code == 303
    location = sent.headers["location"]
    assert location.startswith(f"{BUS}/confirmation/BUS-")
    reference = location.rsplit("/", 1)[1]
    parse_reference(reference, "BUS")  # a real reference: its check character holds
    confirmation = node.get(location)
    assert "Application complete" in confirmation.text and reference in confirmation.text
    assert "We will post your bus pass within 10 working days." in confirmation.text

    listed = node.get("/applications")
    assert (
        reference in listed.text
        and "Apply for a bus pass" in listed.text
        and "Submitted" in listed.text
    )
    shown = node.get(f"/applications/{reference}")
    assert "Ada King" in shown.text and "Withdraw application" in shown.text
    confirm = node.get(f"/applications/{reference}/withdraw")
    assert "Are you sure you want to withdraw your application?" in confirm.text
    token = node.csrf(f"/applications/{reference}/withdraw")
    withdrawn = node.post(f"/applications/{reference}/withdraw", data={"csrf_token": token})
    assert withdrawn.status_code == 303
    after = node.get(f"/applications/{reference}")
    assert "Withdrawn" in after.text and "Withdraw application" not in after.text

    [application] = applications(node)
    assert application.reference == reference and application.status == "withdrawn"
    assert application.channel == "digital" and application.acting_by is None
    answers = json.loads(application.answers)
    assert answers["full-name"] == "Ada King" and answers["email"] == "ada@example.org"
    assert json.loads(application.sources)["address"] == "entered"
    with node.node.runtime.sessions.begin() as session:
        events = session.execute(
            select(ApplicationEvent.status, ApplicationEvent.by).order_by(ApplicationEvent.id)
        ).all()
        assert session.scalar(select(func.count()).select_from(ServiceDraft)) == 0
    assert [tuple(event) for event in events] == [("submitted", "person"), ("withdrawn", "person")]


def test_a_helper_acting_for_a_person_applies_and_withdraws_as_their_helper(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA, helper="helper-pseudonym-at-pensions")
    node.type_answers()
    node.fill_in()
    reference = node.submit().headers["location"].rsplit("/", 1)[1]
    assert "by someone helping you" in node.get(f"/applications/{reference}").text
    token = node.csrf(f"/applications/{reference}/withdraw")
    node.post(f"/applications/{reference}/withdraw", data={"csrf_token": token})

    [application] = applications(node)
    assert application.subject == ADA  # the person's application, not the helper's
    assert application.channel == "helper"
    assert application.acting_by == "helper-pseudonym-at-pensions"
    with node.node.runtime.sessions.begin() as session:
        events = session.scalars(select(ApplicationEvent.by).order_by(ApplicationEvent.id)).all()
    assert list(events) == ["helper", "helper"]
    node.sign_in(ADA)  # the person sees it among theirs
    assert reference in node.get("/applications").text


def test_a_page_a_condition_hides_is_skipped_and_its_answers_are_not_sent(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in(email=True)
    # Post instead of email: the email page is no longer shown, its answer is kept in the
    # draft (a change back shows it again) but not sent.
    changed = node.answer("contact", {"contact": "post"}, query="?return=check")
    assert changed.headers["location"] == f"{BUS}/check-answers"
    check = node.get(f"{BUS}/check-answers")
    assert "Email address" not in check.text and "ada@example.org" not in check.text
    assert node.get(f"{BUS}/email").headers["location"] == f"{BUS}/check-answers"

    node.submit()

    [application] = applications(node)
    answers = json.loads(application.answers)
    assert answers["contact"] == "post" and "email" not in answers
    assert "email" not in json.loads(application.sources)


def test_choosing_a_page_shown_by_condition_leads_to_it_before_check_answers(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in(email=False)
    changed = node.answer("contact", {"contact": "email"}, query="?return=check")
    assert changed.headers["location"] == f"{BUS}/email"  # a new page to answer first
    assert node.get(f"{BUS}/check-answers").headers["location"] == f"{BUS}/email"


def test_an_answer_an_eligibility_rule_stops_shows_why_and_how_to_change_it(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.answer("name", {"full-name": "Young Person"})
    young = date_form("date-of-birth", 1, 1, 2000)
    stopped = node.answer("date-of-birth", young)
    assert stopped.headers["location"] == f"{BUS}/not-eligible"
    page = node.get(f"{BUS}/not-eligible")
    assert page.status_code == 200
    assert "You cannot use this service" in page.text
    assert "You can get a bus pass from the age of 60." in page.text
    assert f'href="{BUS}/date-of-birth?return=check"' in page.text
    # Coming back, or jumping to check answers, still stops them: nothing can be sent.
    assert node.get(f"{BUS}/begin").headers["location"] == f"{BUS}/not-eligible"
    assert node.get(f"{BUS}/check-answers").headers["location"] == f"{BUS}/not-eligible"
    older = date_form("date-of-birth", 1, 1, 1950)
    assert node.answer("date-of-birth", older, query="?return=check").status_code == 303
    assert node.get(f"{BUS}/not-eligible").headers["location"] == f"{BUS}/address"


def test_a_double_submit_and_a_submit_after_going_back_make_one_application(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    assert REFERENCE.search(node.get(f"{BUS}/check-answers").text) is None  # none yet
    form = {"csrf_token": node.csrf(f"{BUS}/check-answers"), "submission_token": node.token()}

    first = node.post(f"{BUS}/submit", data=form)
    second = node.post(f"{BUS}/submit", data=form)  # a double click
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    # Back to check your answers (the page the browser kept) and send again: the same.
    again = node.post(f"{BUS}/submit", data=form)
    assert again.headers["location"] == first.headers["location"]
    assert len(applications(node)) == 1
    # The draft is gone: check your answers starts a new application from the beginning.
    assert node.get(f"{BUS}/check-answers").headers["location"] == f"{BUS}/begin"


def test_a_submit_sent_to_two_workers_at_once_makes_one_application(node: JourneyNode) -> None:
    """The submission token is used once per node: the same form at two workers (a double
    click the load balancer spread), at the same moment, makes one application, and both
    answers lead to it."""
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    form = {"csrf_token": node.csrf(f"{BUS}/check-answers"), "submission_token": node.token()}
    with another_worker(node) as other:
        barrier = threading.Barrier(2)

        def send(worker: JourneyNode) -> httpx.Response:
            barrier.wait(10)
            return worker.post(f"{BUS}/submit", data=form)

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(send, (node, other))
        again = other.post(f"{BUS}/submit", data=form)  # later, at the other worker

    assert first.status_code == second.status_code == again.status_code == 303
    assert first.headers["location"] == second.headers["location"] == again.headers["location"]
    assert len(applications(node)) == 1


def test_answers_are_kept_across_signing_out_and_the_person_carries_on_where_they_left(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.answer("name", {"full-name": "Ada Lovelace"})
    node.answer("date-of-birth", date_form("date-of-birth", 2, 4, 1950))
    token = node.csrf(f"{BUS}/address")
    assert node.post("/auth/sign-out", data={"csrf_token": token}).status_code in (200, 303)
    assert node.get(f"{BUS}/address").status_code == 303  # to sign in

    node.sign_in(ADA)  # a new session, as after an expired one
    carry_on = node.get(f"{BUS}/begin")
    assert carry_on.headers["location"] == f"{BUS}/address"
    back = node.get(f"{BUS}/date-of-birth")  # the back button shows what was saved
    assert 'value="2"' in back.text and 'value="1950"' in back.text
    assert 'value="Ada Lovelace"' in node.get(f"{BUS}/name").text
    # Someone else starts with nothing of Ada's.
    node.sign_in(BEA)
    assert "Ada" not in node.get(f"{BUS}/name").text


def test_an_optional_page_left_blank_counts_as_answered(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    assert node.get(f"{BUS}/begin").headers["location"] == f"{BUS}/check-answers"


def upload(node: JourneyNode, name: str, content: bytes, kind: str) -> str:
    answer = node.answer("proof", {}, files={"proof": (name, content, kind)})
    return answer.text if answer.status_code == 400 else answer.headers["location"]


def test_uploads_are_checked_by_their_content_and_a_good_one_is_kept_with_the_application(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()

    too_big = upload(node, "bill.pdf", PDF + b"0" * 20_000, "application/pdf")
    assert "The selected file must be smaller than 19KB" in too_big
    assert 'href="#proof"' in too_big
    wrong = upload(node, "notes.txt", b"plain text, not a document", "text/plain")
    assert "The selected file must be a PDF or PNG" in wrong
    renamed = upload(node, "bill.pdf", PNG, "application/pdf")
    assert "The selected file is a PNG but its name ends .pdf" in renamed
    with node.node.runtime.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(ApplicationFile)) == 0

    assert upload(node, "C:\\Users\\ada\\bill.pdf", PDF, "application/pdf") == f"{BUS}/notes"
    shown = node.get(f"{BUS}/proof")
    assert "You have uploaded bill.pdf" in shown.text
    # Continue without choosing a file again keeps the one uploaded.
    assert (
        node.answer("proof", {}, files={"proof": ("", b"", "application/octet-stream")}).status_code
        == 303
    )
    assert "bill.pdf" in node.get(f"{BUS}/check-answers").text

    node.submit()

    [application] = applications(node)
    with node.node.runtime.sessions.begin() as session:
        [kept] = session.scalars(select(ApplicationFile)).all()
        assert kept.application_id == application.id and kept.draft_id is None
        assert kept.content == PDF and kept.content_type == "application/pdf"
        assert kept.sha256 == hashlib.sha256(PDF).hexdigest() and kept.name == "bill.pdf"
    assert json.loads(application.answers)["proof"]["sha256"] == kept.sha256


def test_slots_are_chosen_from_what_the_source_offers_and_a_time_gone_is_refused(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    page = node.get(f"{VIEW}/times")
    assert "Monday 4 May 2026, 2pm" in page.text and "Select up to 2." in page.text
    not_offered = node.answer("times", {"times": ["2026-06-01T09:00"]}, base=VIEW)
    assert not_offered.status_code == 400 and "Select times from the list" in not_offered.text
    too_many = node.answer("times", {"times": node.offer.times}, base=VIEW)
    assert "Select up to 2 times" in too_many.text
    chose = node.answer("times", {"times": ["2026-05-05T10:30"]}, base=VIEW)
    assert chose.headers["location"] == f"{VIEW}/check-answers"

    node.offer.times.remove("2026-05-05T10:30")  # taken by someone else meanwhile
    sent = node.submit(VIEW)
    assert sent.status_code == 400
    assert "Tuesday 5 May 2026, 10:30am is no longer available: choose times again" in sent.text
    assert f'href="{VIEW}/times?return=check"' in sent.text
    assert applications(node) == []


def test_the_api_lists_the_services_their_eforms_and_the_persons_own_applications(
    node: JourneyNode,
) -> None:
    listed = node.get("/api/v1/services").json()
    assert listed["member"] == "liverpool-pensions"
    bus = next(s for s in listed["services"] if s["slug"] == "apply-for-a-bus-pass")
    assert bus["kind"] == "application" and bus["title"] == {"en": "Apply for a bus pass"}
    assert bus["links"]["start"].endswith(BUS)
    eform = node.get(bus["links"]["eform"].split("127.0.0.1:8101", 1)[1]).json()
    assert eform["title"] == "Apply for a bus pass" and "full-name" in eform["properties"]
    welsh = node.get("/api/v1/services/apply-for-a-bus-pass/eform?lang=cy")
    assert welsh.status_code == 404 and welsh.headers["content-type"].startswith(
        "application/problem+json"
    )

    anonymous = node.get("/api/v1/applications")
    assert anonymous.status_code == 401
    assert anonymous.json()["type"] == "urn:digitalstate:problem:sign-in-required"

    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    reference = node.submit().headers["location"].rsplit("/", 1)[1]
    mine = node.get("/api/v1/applications").json()["applications"]
    assert [a["reference"] for a in mine] == [reference]
    detail = node.get(f"/api/v1/applications/{reference.lower()}").json()
    assert detail["status"] == "submitted" and detail["answers"]["full-name"] == "Ada Lovelace"
    assert [e["status"] for e in detail["events"]] == ["submitted"]
    node.sign_in(BEA)
    assert node.get("/api/v1/applications").json() == {"applications": []}
    assert node.get(f"/api/v1/applications/{reference}").status_code == 404


def test_register_to_vote_runs_its_pages_with_the_record_action(
    tmp_path: Path, migrated_database_url: str
) -> None:
    with journey_node(tmp_path, migrated_database_url, {"vote.toml": register_to_vote()}) as voting:
        vote = VOTE
        voting.sign_in(ADA)
        voting.type_answers(vote, "nationality")
        for page, data in VOTE_ANSWERS:
            answered = voting.answer(page, data, base=vote)
            assert answered.status_code == 303, (page, answered.text)
        check = voting.get(f"{vote}/check-answers")
        assert "JG 10 37 26 A" in check.text and "What was your previous address?" not in check.text
        sent = voting.submit(vote)
        assert sent.headers["location"].startswith(f"{vote}/confirmation/RTV-")


def test_a_page_of_two_questions_a_register_can_answer_offers_each_held_value(
    tmp_path: Path, migrated_database_url: str
) -> None:
    care = (DEMO_SERVICES / "ask-for-a-care-assessment.toml").read_text()
    with journey_node(tmp_path, migrated_database_url, {"care.toml": care}) as caring:
        path = "/services/ask-for-a-care-assessment"
        definition = read_definition(DEMO_SERVICES / "ask-for-a-care-assessment.toml")
        entry = definition.entry(caring.settings.node.id)
        record = {
            "people.given_names": "Ada Augusta",
            "people.family_name": "King",
            "people.date_of_birth": "1950-04-02",
            "people.address": {"lines": ["1 High Street"], "town": "Leeds", "postcode": "LS1 4AP"},
        }
        now = datetime.now(UTC)
        with caring.node.runtime.sessions.begin() as session:
            record_consent(session, "consent-of-ada", ADA, entry, now)
            store_copy(session, "consent-of-ada", record, 3, now)
        caring.sign_in(ADA)
        # A consent is held: no question about sharing (the register, not running here, is
        # not reached: the copy kept is what is offered).
        assert caring.get(f"{path}/begin").headers["location"] == f"{path}/where"
        caring.answer("where", {"lives-in-birmingham": "yes"}, base=path)
        page = caring.get(f"{path}/name")
        assert "Use the given names we already hold: Ada Augusta" in page.text
        assert "Use the family name we already hold: King" in page.text
        both = {"given-names-use-held": "yes", "family-name-use-held": "no", "family-name": "Byron"}
        assert caring.answer("name", both, base=path).headers["location"] == f"{path}/date-of-birth"
        with caring.node.runtime.sessions.begin() as session:
            draft = session.scalars(select(ServiceDraft)).one()
            answers, sources = json.loads(draft.answers), json.loads(draft.sources)
        assert answers["given-names"] == "Ada Augusta" and answers["family-name"] == "Byron"
        assert sources["given-names"]["consent_id"] == "consent-of-ada"
        assert sources["given-names"]["version"] == 3 and sources["family-name"] == "entered"


def test_a_decided_application_cannot_be_withdrawn(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    reference = node.submit().headers["location"].rsplit("/", 1)[1]
    token = node.csrf(f"/applications/{reference}/withdraw")
    with node.node.runtime.sessions.begin() as session:  # decided meanwhile, as staff do
        session.execute(
            update(Application).where(Application.reference == reference).values(status="approved")
        )

    refused = node.post(f"/applications/{reference}/withdraw", data={"csrf_token": token})

    assert refused.status_code == 409
    assert "This application has been decided, so it cannot be withdrawn." in refused.text
    assert "Withdraw application" not in refused.text.split("There is a problem")[1]
    assert node.get(f"/applications/{reference}/withdraw").status_code == 303
    [application] = applications(node)
    assert application.status == "approved"
    with node.node.runtime.sessions.begin() as session:
        statuses = session.scalars(select(ApplicationEvent.status)).all()
    assert list(statuses) == ["submitted"]
