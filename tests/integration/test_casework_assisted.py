"""Assisted digital at a service node, in-process, on SQLite and PostgreSQL: a member of staff
fills the bus pass journey in with a person through the journey's own pages under /staff, and
who may decide the application it makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .casework_support import (
    ASSISTED,
    BUS_SLUG,
    QUEUE,
    TOKEN,
    CaseworkNode,
    StaffBrowser,
    casework_node,
    fill_in_assisted,
    send_assisted,
    start_assisted,
)
from .journey_support import PDF


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[CaseworkNode]:
    with casework_node(tmp_path, migrated_database_url) as running:
        yield running


def test_staff_fill_in_a_journey_with_a_person_and_it_is_sent_as_assisted_in_their_name(
    node: CaseworkNode,
) -> None:
    jo = node.staff("jo@pensions.example.org")

    listed = jo.get(ASSISTED)
    assert listed.status_code == 200
    assert "Apply for a bus pass" in listed.text and "Book a viewing" in listed.text
    assert "Nothing is filled in from a register" in listed.text
    base = start_assisted(jo)
    first = jo.get(f"{base}/name")
    assert first.status_code == 200 and "Assisted" in first.text
    assert "their answers are not filled in from a register" in first.text
    assert f'action="{base}/name"' in first.text and f'href="{ASSISTED}"' in first.text
    fill_in_assisted(jo, base, stop_after="email")
    assert "Ada Lovelace" in jo.get(ASSISTED).text  # in progress: the first answer tells it apart
    assert jo.send(f"{base}/proof", f"{base}/proof", {}).status_code == 303
    assert jo.send(f"{base}/notes", f"{base}/notes", {"notes": ""}).status_code == 303
    check = jo.get(f"{base}/check-answers")
    assert "Check the answers before sending the application" in check.text
    assert f'href="{base}/name?return=check#full-name"' in check.text
    assert f'action="{base}/submit"' in check.text

    confirmation = send_assisted(jo, base)

    assert confirmation.startswith(f"{base}/confirmation/BUS-")
    reference = confirmation.rsplit("/", 1)[1]
    done = jo.get(confirmation)
    assert done.status_code == 200 and reference in done.text
    assert "Give the person the reference number" in done.text
    application = node.application(reference)
    assert application.channel == "assisted"
    assert application.acting_by == jo.account_id
    case = base.rsplit("/", 1)[1]
    assert application.subject == f"assisted-{case}"
    assert node.history(reference) == [("submitted", None, "caseworker")]
    assert node.staff_entries(jo.account_id) == [
        ("staff-started-assisted", f"assisted-{case}", BUS_SLUG),
        ("staff-submitted-assisted", f"assisted-{case}", reference),
    ]
    # Sent again (a double click, the back button): the same application, no other.
    assert send_again(jo, base, check.text) == confirmation
    assert jo.get(f"{base}/name").headers["location"] == confirmation
    assert "Applications you are filling in" not in jo.get(ASSISTED).text
    # The case page says how it was made and who acted.
    page = jo.get(f"{QUEUE}/{reference}").text
    assert "With staff help (assisted digital)" in page
    assert "Filled in with the person by Jo Bloggs" in page
    assert "Typed in by staff, as the person told them" in page


def send_again(staff: StaffBrowser, base: str, check_page: str) -> str:
    found = TOKEN.search(check_page)
    assert found
    again = staff.send(ASSISTED, f"{base}/submit", {"submission_token": found.group(1)})
    assert again.status_code == 303
    return str(again.headers["location"])


def test_a_case_is_the_staff_members_own_and_no_other_opens_or_answers_it(
    node: CaseworkNode,
) -> None:
    jo = node.staff("jo@pensions.example.org")
    sam = node.staff("sam@pensions.example.org", "manager", "Sam Manager")
    base = start_assisted(jo)
    fill_in_assisted(jo, base, stop_after="name")
    token = re.search(r'name="csrf_token" value="([^"]+)"', sam.get(ASSISTED).text)
    assert token

    for path in (f"{base}/name", f"{base}/check-answers", f"{base}/not-eligible"):
        assert sam.get(path).status_code == 404, path
    answered = sam.post(f"{base}/name", data={"csrf_token": token.group(1), "full-name": "Eve"})
    assert answered.status_code == 404
    sent = sam.post(f"{base}/submit", data={"csrf_token": token.group(1), "submission_token": "x"})
    assert sent.status_code == 404
    assert sam.get(f"{ASSISTED}/{BUS_SLUG}/{'0' * 32}/name").status_code == 404
    assert sam.get(f"{ASSISTED}/{BUS_SLUG}/not-a-case/name").status_code == 404
    assert sam.get(f"{ASSISTED}/no-such-service/{'0' * 32}/name").status_code == 404
    assert "Ada Lovelace" in jo.get(f"{base}/name").text
    assert "Eve" not in jo.get(f"{base}/name").text


def test_an_assisted_page_takes_its_files_and_no_more(node: CaseworkNode) -> None:
    jo = node.staff("jo@pensions.example.org")
    base = start_assisted(jo)
    fill_in_assisted(jo, base, stop_after="email")
    limit = node.journeys.settings.web.max_body_bytes
    token = re.search(r'name="csrf_token" value="([^"]+)"', jo.get(f"{base}/proof").text)
    assert token
    form = {"csrf_token": token.group(1)}

    big = {"proof": ("bill.pdf", PDF + b"0" * (limit + 100), "application/pdf")}
    refused = jo.post(f"{base}/proof", data=form, files=big)
    assert refused.status_code == 400 and "must be smaller than" in refused.text
    huge = {"proof": ("bill.pdf", PDF + b"0" * (limit + 30_000), "application/pdf")}
    assert jo.post(f"{base}/proof", data=form, files=huge).status_code == 413
    kept = jo.post(
        f"{base}/proof", data=form, files={"proof": ("bill.pdf", PDF, "application/pdf")}
    )
    assert kept.status_code == 303
    assert "You have uploaded bill.pdf" in jo.get(f"{base}/proof").text


def test_a_manager_who_did_not_fill_it_in_decides_an_assisted_application(
    node: CaseworkNode,
) -> None:
    jo = node.staff("jo@pensions.example.org")
    sam = node.staff("sam@pensions.example.org", "manager", "Sam Manager")
    alex = node.staff("alex@pensions.example.org", "manager", "Alex Manager")
    base = start_assisted(sam)
    fill_in_assisted(sam, base)
    reference = send_assisted(sam, base).rsplit("/", 1)[1]
    case = f"{QUEUE}/{reference}"

    page = jo.get(case).text
    assert "decided by a manager, who did not fill it in" in page
    assert "What is your decision?" not in page and "Mark as in review" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    by_caseworker = jo.post(
        f"{case}/decision", data={"csrf_token": token.group(1), "decision": "approved"}
    )
    assert by_caseworker.status_code == 403 and "This page is for a manager" in by_caseworker.text
    assert "You filled in this application with the person" in sam.get(case).text
    own = sam.send(case, f"{case}/decision", {"decision": "approved"})
    assert own.status_code == 403 and "another manager decides it" in own.text
    assert node.application(reference).status == "submitted"

    # A caseworker may still mark it in review and add a note.
    assert jo.send(case, f"{case}/in-review").status_code == 303
    assert jo.send(case, f"{case}/notes", {"note": "Checked by phone."}).status_code == 303
    decided = alex.send(case, f"{case}/decision", {"decision": "approved"})
    assert decided.status_code == 303
    assert node.history(reference)[-1] == ("approved", None, "manager")
