"""The staff's queue and case pages at a service node, in-process, on SQLite and PostgreSQL.

People apply through the journey's own pages (journey_support's bus pass and viewing
services); members of staff sign in through /staff/sign-in, each in a browser of their own,
and work through the pages as a browser does: the queue, a case, its file, in review, a
decision (with the service's hook, registered for the test), notes. What each staff action
leaves in the node's log is checked where it happens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.handlers import DECISION_HOOKS, Decision, DecisionRefusedError
from digitalstate.services.models import Application

from .casework_support import ADA, BEA, EMAIL, QUEUE, CaseworkNode, StaffBrowser, casework_node
from .journey_support import PDF, TIMES

SEEN_AT = "2026-11-26T09:05:00+00:00"
REGISTER_SOURCE = {
    "register": "people-register",
    "field": "people.date_of_birth",
    "consent_id": "0b5c3d1e-2f4a-4b6c-8d9e-0f1a2b3c4d5e",
    "read_at": SEEN_AT,
    "version": 3,
}


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[CaseworkNode]:
    with casework_node(tmp_path, migrated_database_url) as running:
        yield running


@dataclass(frozen=True)
class AdasCase:
    """Ada's bus pass application, and Jo, a caseworker signed in."""

    reference: str
    jo: StaffBrowser
    path: str  # its case page


@pytest.fixture
def adas(node: CaseworkNode) -> AdasCase:
    reference = node.apply(ADA)
    return AdasCase(reference, node.staff("jo@pensions.example.org"), f"{QUEUE}/{reference}")


def tags(page: str) -> list[str]:
    """The text of each status tag on a page, in order."""
    return [t.strip() for t in re.findall(r'<strong class="govuk-tag[^"]*">\s*([^<]+)<', page)]


# the queue -------------------------------------------------------------------------------------


def test_the_queue_lists_the_applications_newest_first_with_counts_by_status_and_service(
    node: CaseworkNode,
) -> None:
    first = node.apply(ADA)
    second = node.apply(BEA, email=False)
    viewing = node.book_viewing(ADA, [TIMES[0]])
    jo = node.staff("jo@pensions.example.org")

    page = jo.get(QUEUE)

    assert page.status_code == 200
    text = page.text
    assert text.index(viewing) < text.index(second) < text.index(first)
    assert "3 applications" in text
    assert re.search(r"Submitted.*?status=submitted\">3</a>", text, re.S)
    assert re.search(
        r"Apply for a bus pass</td>.*?service=apply-for-a-bus-pass\">2</a>", text, re.S
    )
    assert re.search(r"Book a viewing</td>.*?service=book-a-viewing\">1</a>", text, re.S)
    assert '<form method="get" action="/staff/applications"' in text
    assert "Online, by the person" in text


def test_the_queue_filters_by_service_status_channel_reference_and_dates(
    node: CaseworkNode,
) -> None:
    bus = node.apply(ADA)
    viewing = node.book_viewing(BEA, [TIMES[1]])
    jo = node.staff("jo@pensions.example.org")
    jo.send(f"{QUEUE}/{bus}", f"{QUEUE}/{bus}/in-review")
    today = datetime.now(UTC).date()

    by_service = jo.get(QUEUE, params={"service": "book-a-viewing"}).text
    assert viewing in by_service and bus not in by_service
    assert "1 application matches the filters" in by_service
    # Counts by status follow the other filters; counts by service ignore the service chosen.
    assert re.search(r"In review.*?>0</a>", by_service, re.S)
    assert re.search(r"Apply for a bus pass</td>.*?>1</a>", by_service, re.S)

    in_review = jo.get(QUEUE, params=[("status", "in-review"), ("status", "approved")]).text
    assert bus in in_review and viewing not in in_review
    part = bus.split("-")[1] + bus.split("-")[2][:2]  # part of the reference, without the dash
    assert bus in jo.get(QUEUE, params={"reference": part.lower()}).text
    assert viewing not in jo.get(QUEUE, params={"reference": part}).text
    assert "0 applications" in jo.get(QUEUE, params={"channel": "assisted"}).text
    day = {"from-day": today.day, "from-month": today.month, "from-year": today.year}
    assert "2 applications" in jo.get(QUEUE, params=day).text
    later = {"from-day": 1, "from-month": 1, "from-year": today.year + 1}
    assert "0 applications" in jo.get(QUEUE, params=later).text
    # A choice not offered is dropped, and the rest applies.
    assert "2 applications" in jo.get(QUEUE, params={"service": "no-such", "status": "x"}).text


def test_a_filter_that_cannot_be_used_is_named_in_the_error_summary_and_typed_values_stay(
    node: CaseworkNode,
) -> None:
    node.apply(ADA)
    jo = node.staff("jo@pensions.example.org")

    wrong = jo.get(
        QUEUE,
        params={
            "from-day": "31",
            "from-month": "2",
            "from-year": "2026",
            "to-day": "3",
            "reference": "BUS-" + "X" * 30,
            "page": "9" * 40,
        },
    )

    assert wrong.status_code == 400
    assert "govuk-error-summary" in wrong.text
    assert 'href="#from-day">Sent from must be a real date' in wrong.text
    assert 'href="#to-day">Sent to must include a month and a year' in wrong.text
    assert 'href="#reference">Reference number must be 20 characters or fewer' in wrong.text
    assert 'value="31"' in wrong.text  # what was typed stays in the form
    assert "1 application" in wrong.text  # the filters that could not be used do not apply
    odd = jo.get(QUEUE, params={"reference": "BUS%_7", "from-day": "٣", "from-month": "²"})
    assert odd.status_code == 400
    assert "Reference number must only include letters, numbers and hyphens" in odd.text
    assert "Sent from must include a year" in odd.text


def test_the_queue_is_paged_and_a_page_past_the_last_shows_the_last(node: CaseworkNode) -> None:
    references = node.add_applications(27, "apply-for-a-bus-pass", datetime(2026, 3, 1, tzinfo=UTC))
    jo = node.staff("jo@pensions.example.org")

    first = jo.get(QUEUE).text
    assert references[-1] in first and references[2] in first and references[1] not in first
    assert "Page 1 of 2" in first and 'href="/staff/applications?page=2"' in first
    second = jo.get(QUEUE, params={"page": "2"}).text
    assert references[1] in second and references[0] in second and references[2] not in second
    assert jo.get(QUEUE, params={"page": "50"}).text.count(f'href="{QUEUE}/BUS-00') == 2
    # The pages' links keep the filters.
    march = {"from-day": "1", "from-month": "3", "from-year": "2026", "page": "2"}
    back = f'href="{QUEUE}?from-day=1&amp;from-month=3&amp;from-year=2026"'
    assert back in jo.get(QUEUE, params=march).text


# the case page ---------------------------------------------------------------------------------


def test_the_case_page_shows_the_answers_where_each_came_from_the_files_and_the_history(
    node: CaseworkNode,
) -> None:
    reference = node.apply(ADA, proof=("bill.pdf", PDF, "application/pdf"))
    with node.runtime.sessions.begin() as session:  # as a pre-filled answer is kept
        session.execute(
            update(Application)
            .where(Application.reference == reference)
            .values(sources=f'{{"date-of-birth": {_json(REGISTER_SOURCE)}}}')
        )
    jo = node.staff("jo@pensions.example.org")

    page = jo.get(f"{QUEUE}/{reference}")

    assert page.status_code == 200
    text = page.text
    assert reference in text and "Apply for a bus pass" in text
    assert "Ada Lovelace" in text and "2 April 1950" in text and "L2 2AB" in text
    assert "ada@example.org" in text
    assert "From people-register: Date of birth" in text
    assert "With the person&#39;s consent 0b5c3d1e-2f4a-4b6c-8d9e-0f1a2b3c4d5e" in text
    assert "Read 26 November 2026 at 09:05 UTC, version 3" in text
    assert "Typed in by the person" in text
    assert "Download bill.pdf" in text and "application/pdf" in text
    assert tags(text)[:2] == ["Submitted", "Submitted"]  # the status, then the history
    assert "The person, signed in" in text and "Online, by the person" in text
    assert "Mark as in review" in text and "What is your decision?" in text
    assert "No notes yet." in text
    # Another reference, a malformed one, or one of a service the node does not run: nothing.
    assert jo.get(f"{QUEUE}/BUS-7KD4-MX2Q-P").status_code == 404
    assert jo.get(f"{QUEUE}/not-a-reference").status_code == 404


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def test_a_file_downloads_as_an_attachment_of_its_stored_type_and_is_logged(
    node: CaseworkNode,
) -> None:
    reference = node.apply(ADA, proof=("bill <1>.pdf", PDF, "application/pdf"))
    jo = node.staff("jo@pensions.example.org")
    link = re.search(
        r'href="(/staff/applications/[^"]+/files/[0-9a-f]{32})"',
        jo.get(f"{QUEUE}/{reference}").text,
    )
    assert link

    answer = jo.get(link.group(1))

    assert answer.status_code == 200
    assert answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"bill _1_.pdf\"; filename*=UTF-8''bill%20%3C1%3E.pdf"
    )
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert ("staff-downloaded-file", ADA, f"{reference}: bill <1>.pdf") in node.staff_entries(
        jo.account_id
    )
    other = node.apply(BEA)
    assert jo.get(link.group(1).replace(reference, other)).status_code == 404
    assert jo.get(f"{QUEUE}/{reference}/files/{'0' * 32}").status_code == 404


def test_in_review_then_approved_the_person_sees_each_status_and_each_step_is_logged(
    node: CaseworkNode, adas: AdasCase
) -> None:
    reference, jo, case = adas.reference, adas.jo, adas.path

    marked = jo.send(case, f"{case}/in-review")
    assert marked.status_code == 303 and marked.headers["location"] == f"{case}?done=in-review"
    page = jo.get(marked.headers["location"]).text
    assert "You marked the application as in review" in page and "Mark as in review" not in page
    assert "In review" in node.journeys.get(f"/applications/{reference}").text
    again = jo.send(case, f"{case}/in-review")
    assert again.status_code == 409 and "not waiting for review" in again.text

    approved = jo.send(case, f"{case}/decision", {"decision": "approved"})
    assert approved.status_code == 303
    decided = jo.get(approved.headers["location"]).text
    assert "You approved the application" in decided and "What is your decision?" not in decided

    assert node.history(reference) == [
        ("submitted", None, "person"),
        ("in-review", None, "caseworker"),
        ("approved", None, "caseworker"),
    ]
    assert "Approved" in tags(node.journeys.get(f"/applications/{reference}").text)
    viewed = ("staff-viewed-application", ADA, reference)
    assert node.staff_entries(jo.account_id) == [
        viewed,  # opened the case to press "Mark as in review"
        ("staff-marked-in-review", ADA, reference),
        viewed,  # the case again, marked
        viewed,  # opened to press it again: refused, not logged
        viewed,  # opened to decide
        ("staff-decided", ADA, f"{reference} approved"),
        viewed,
    ]
    [decided_entry] = [e for e in node.entries() if e.action == "staff-decided"]
    assert decided_entry.purpose == "pension-administration"
    assert decided_entry.requester == f"staff:{jo.account_id}"


def test_refusing_needs_a_reason_and_the_person_sees_the_refusal_and_its_reason(
    node: CaseworkNode, adas: AdasCase
) -> None:
    reference, jo, case = adas.reference, adas.jo, adas.path

    nothing = jo.send(case, f"{case}/decision", {})
    assert nothing.status_code == 400
    assert 'href="#decision">Select if you approve or refuse the application' in nothing.text
    blank = jo.send(case, f"{case}/decision", {"decision": "refused", "reason": "  \r\n "})
    assert blank.status_code == 400
    assert 'href="#reason">Enter the reason for refusing the application' in blank.text
    long = jo.send(case, f"{case}/decision", {"decision": "refused", "reason": "x" * 2001})
    assert long.status_code == 400 and "The reason must be 2,000 characters or fewer" in long.text
    assert "x" * 2001 in long.text  # what was typed stays
    assert node.history(reference) == [("submitted", None, "person")]

    refused = jo.send(
        case, f"{case}/decision", {"decision": "refused", "reason": "You live outside Liverpool."}
    )

    assert refused.status_code == 303 and refused.headers["location"] == f"{case}?done=refused"
    mine = node.journeys.get(f"/applications/{reference}").text
    assert "Refused" in tags(mine) and "You live outside Liverpool." in mine
    assert "Withdraw application" not in mine
    assert node.history(reference)[-1] == ("refused", "You live outside Liverpool.", "caseworker")


def test_two_members_of_staff_deciding_at_once_make_one_decision(
    node: CaseworkNode, adas: AdasCase
) -> None:
    reference, jo, case = adas.reference, adas.jo, adas.path
    sam = node.staff("sam@pensions.example.org", "manager", "Sam Manager")
    jo_page, sam_page = jo.get(case), sam.get(case)  # both open the case before either decides
    token = re.compile(r'name="csrf_token" value="([^"]+)"')

    first = jo.post(
        f"{case}/decision",
        data={"csrf_token": token.findall(jo_page.text)[0], "decision": "approved"},
    )
    second = sam.post(
        f"{case}/decision",
        data={
            "csrf_token": token.findall(sam_page.text)[0],
            "decision": "refused",
            "reason": "No proof of address",
        },
    )

    assert first.status_code == 303
    assert second.status_code == 409
    assert "This application has been decided already" in second.text
    assert node.history(reference) == [
        ("submitted", None, "person"),
        ("approved", None, "caseworker"),
    ]
    assert not [e for e in node.staff_entries(sam.account_id) if e[0] == "staff-decided"]


def test_a_hook_that_refuses_the_decision_is_shown_and_changes_nothing(
    node: CaseworkNode, adas: AdasCase
) -> None:
    reference, jo, case = adas.reference, adas.jo, adas.path

    def full(*_args: object) -> None:
        raise DecisionRefusedError("The register cannot take this change today")

    with DECISION_HOOKS.registered("record", full):
        answer = jo.send(case, f"{case}/decision", {"decision": "approved"})

    assert answer.status_code == 409
    assert 'href="#decision">The register cannot take this change today' in answer.text
    assert node.application(reference).status == "submitted"
    assert node.history(reference) == [("submitted", None, "person")]
    assert [e[0] for e in node.staff_entries(jo.account_id)] == ["staff-viewed-application"]


def test_approving_a_slots_service_confirms_one_of_the_persons_times_through_the_hook(
    node: CaseworkNode,
) -> None:
    reference = node.book_viewing(ADA, [TIMES[0], TIMES[2]])
    jo = node.staff("jo@pensions.example.org")
    case = f"{QUEUE}/{reference}"
    seen: list[tuple[str, str | None, str]] = []

    def confirm(
        _s: Session, app: Application, _d: ServiceDefinition, decision: Decision, _n: datetime
    ) -> None:
        seen.append((app.reference, decision.choice, decision.by))

    page = jo.get(case).text
    assert "Which time do you confirm?" in page
    assert "Monday 4 May 2026, 2pm" in page and "Wednesday 6 May 2026, 9am" in page
    assert "Tuesday 5 May 2026" not in page
    with DECISION_HOOKS.registered("record", confirm):
        unchosen = jo.send(case, f"{case}/decision", {"decision": "approved"})
        assert unchosen.status_code == 400
        assert 'href="#choice">Select the time to confirm' in unchosen.text
        other = jo.send(case, f"{case}/decision", {"decision": "approved", "choice": TIMES[1]})
        assert other.status_code == 400  # a time the person did not choose
        chosen = jo.send(case, f"{case}/decision", {"decision": "approved", "choice": TIMES[2]})

    assert chosen.status_code == 303
    assert seen == [(reference, TIMES[2], "caseworker")]
    assert node.application(reference).status == "approved"


def test_notes_are_kept_with_who_wrote_them_bounded_and_logged(
    node: CaseworkNode, adas: AdasCase
) -> None:
    reference, jo, case = adas.reference, adas.jo, adas.path

    empty = jo.send(case, f"{case}/notes", {"note": " \r\n"})
    assert empty.status_code == 400 and 'href="#note">Enter a note' in empty.text
    long = jo.send(case, f"{case}/notes", {"note": "y" * 5001})
    assert long.status_code == 400 and "A note must be 5,000 characters or fewer" in long.text
    exactly = "z" * 4998 + "\r\n" + "w"  # 5,001 characters as sent, 5,000 as kept
    assert jo.send(case, f"{case}/notes", {"note": exactly}).status_code == 303
    added = jo.send(case, f"{case}/notes", {"note": "Phoned Ada.\r\nShe will send a bill."})

    assert added.status_code == 303 and added.headers["location"] == f"{case}?done=note"
    page = jo.get(added.headers["location"]).text
    assert "Your note was added" in page
    assert "Phoned Ada.<br>She will send a bill." in page and "Jo Bloggs (Caseworker)" in page
    assert page.index("Phoned Ada.") < page.index("z" * 50)  # the newest first
    assert [e for e in node.staff_entries(jo.account_id) if e[0] == "staff-added-note"] == [
        ("staff-added-note", ADA, f"{reference}: a note")
    ] * 2
    assert "Phoned Ada" not in str(node.entries())  # a note's text is never in the log
    assert "Phoned Ada" not in node.journeys.get(f"/applications/{reference}").text


# telling the person ----------------------------------------------------------------------------


def test_a_decision_is_emailed_to_the_address_in_the_answers_once(
    tmp_path: Path, migrated_database_url: str
) -> None:
    with casework_node(tmp_path, migrated_database_url, extra=EMAIL) as node:
        emailed = node.apply(ADA)
        posted = node.apply(BEA, email=False)
        jo = node.staff("jo@pensions.example.org")
        for reference in (emailed, posted):
            case = f"{QUEUE}/{reference}"
            reason = {"decision": "refused", "reason": "You are under 60."}
            assert jo.send(case, f"{case}/decision", reason).status_code == 303

        [(key, recipients, subject, body)] = node.outbox()

    assert key == f"application:{emailed}:refused"
    assert recipients == ["ada@example.org"]
    assert subject == f"Apply for a bus pass: your application {emailed} was refused"
    assert body == (
        f"Your application {emailed} (Apply for a bus pass) was refused.\n\n"
        "The reason:\nYou are under 60.\n\n"
        f"See your application: {node.journeys.settings.node.base_url}/applications/{emailed}\n\n"
        "If you have a question, contact Liverpool: pensions and give your reference number.\n"
    )


def test_without_email_settings_a_decision_queues_no_email(
    node: CaseworkNode, adas: AdasCase
) -> None:
    jo, case = adas.jo, adas.path
    assert jo.send(case, f"{case}/decision", {"decision": "approved"}).status_code == 303
    assert node.outbox() == []
