"""Bad input from issue 3, across real node processes: notices that must not be lost or doubled,
and consent misuse that must be refused.

The register retries a failing notice after 0.1 s doubling to 0.3 s (instead of 1 s doubling to
5 min), so that "a subscriber down for an hour" is many failed tries in a second or two: the
same code path, on a shorter clock. Each test uses its own seeded person, so that the tests
share one federation without seeing each other's consents.
"""

from __future__ import annotations

import json
import secrets
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from browser_support import Browser, Page
from consent_e2e_support import (
    CHARTER,
    NOTICES_PATH,
    OTHER,
    PENSIONS,
    PENSIONS_FIELDS,
    PENSIONS_PURPOSE,
    READ_PATH,
    REGISTER,
    ConsentFederation,
    address_question,
    change_address,
    give_consent,
    person,
    postcode_held,
    problem_of,
    read_as_pensions,
    set_up_federation,
    sign_in_at_pensions,
    submit_address,
)
from e2e_support import operator_headers, processes, run_cli, wait_for
from log_support import logged_entries
from sqlalchemy import select

from digitalstate.registers.models import OutboxMessage
from digitalstate.settings import load_node_settings
from digitalstate.tellusonce.models import ReceivedNotice

pytestmark = pytest.mark.e2e

FAST_RETRIES = {
    "DIGITALSTATE_TELLUSONCE__RETRY_BASE_SECONDS": "0.1",
    "DIGITALSTATE_TELLUSONCE__RETRY_MAX_SECONDS": "0.3",
    "DIGITALSTATE_TELLUSONCE__POLL_SECONDS": "0.2",
}
LOCK_HELD_S = 2.0


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsentFederation]:
    """One SQLite federation whose register and pensions retry quickly."""
    root = tmp_path_factory.mktemp("delivery")
    with processes(root / "logs") as procs:
        running = set_up_federation(
            root, procs, env={REGISTER: FAST_RETRIES, PENSIONS: FAST_RETRIES}
        )
        try:
            yield running
        finally:
            running.close()


def consented(federation: ConsentFederation, number: int) -> tuple[Browser, str]:
    """Seeded person number signed in at pensions and consenting: their browser, the consent."""
    browser = Browser()
    ask = sign_in_at_pensions(browser, federation, person(number))
    consent_id, _ = give_consent(browser, federation, ask)
    return browser, consent_id


def reads_under(federation: ConsentFederation, consent_id: str) -> int:
    """How many reads under the consent the register recorded."""
    with federation.sessions(REGISTER).begin() as session:
        entries = logged_entries(session)
    return sum(1 for e in entries if e.consent_id == consent_id and e.action == "read")


def outbox_of(federation: ConsentFederation, consent_id: str) -> list[OutboxMessage]:
    """The register's outbox rows for a consent, oldest first."""
    with federation.sessions(REGISTER).begin() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.consent_id == consent_id)
                .order_by(OutboxMessage.id)
            )
        )


def notices_at_pensions(federation: ConsentFederation, consent_id: str) -> list[ReceivedNotice]:
    """The notices pensions recorded for a consent."""
    with federation.sessions(PENSIONS).begin() as session:
        return list(
            session.scalars(select(ReceivedNotice).where(ReceivedNotice.consent_id == consent_id))
        )


def all_delivered(federation: ConsentFederation, consent_id: str, count: int) -> bool:
    """True when the register made count notices for the consent and delivered every one."""
    rows = outbox_of(federation, consent_id)
    return len(rows) == count and all(r.delivered_at is not None for r in rows)


# --- notices ----------------------------------------------------------------------------------


def test_a_duplicate_notice_changes_nothing(federation: ConsentFederation) -> None:
    browser, consent_id = consented(federation, 3)
    browser.close()
    before = reads_under(federation, consent_id)
    notice = {
        "consent_id": consent_id,
        "holder": REGISTER,
        "fields": ["people.address"],
        "version": 1,
        "idempotency_key": secrets.token_hex(16),
    }

    first = federation.call(REGISTER, PENSIONS, NOTICES_PATH, notice)
    assert (first.status, first.json()) == (202, {"status": "accepted"})
    wait_for(
        lambda: reads_under(federation, consent_id) == before + 1,
        10,
        "pensions to re-read after the notice",
    )
    wait_for(
        lambda: all(n.processed_at for n in notices_at_pensions(federation, consent_id)),
        10,
        "pensions to mark the notice processed",
    )

    again = federation.call(REGISTER, PENSIONS, NOTICES_PATH, notice)
    assert (again.status, again.json()) == (200, {"status": "duplicate"})
    # A duplicate is answered without waking the re-read worker, and leaves no row to re-read
    # for: nothing can follow it. A moment's grace all the same.
    time.sleep(0.5)
    assert reads_under(federation, consent_id) == before + 1
    assert len(notices_at_pensions(federation, consent_id)) == 1


def test_a_subscriber_down_for_an_hour_gets_the_notice_when_it_returns(
    federation: ConsentFederation,
) -> None:
    browser, consent_id = consented(federation, 4)
    try:
        federation.procs.stop(federation.child(PENSIONS))
        change_address(browser, federation, "4 Patience Row", "M1 1AE")

        failing = wait_for(
            lambda: [r for r in outbox_of(federation, consent_id) if r.attempts >= 3],
            15,
            "several failed tries to be recorded on the register's outbox",
        )
        assert failing[0].delivered_at is None and failing[0].dead_at is None
        assert failing[0].last_error, "the reason of the last failure is kept"
        _the_operator_sees_it_failing(federation, consent_id)

        federation.serve(PENSIONS)
        wait_for(lambda: all_delivered(federation, consent_id, 1), 15, "the notice to arrive")
        wait_for(
            lambda: postcode_held(federation, consent_id) == "M1 1AE",
            10,
            "pensions to read the new address",
        )
    finally:
        browser.close()


def _the_operator_sees_it_failing(federation: ConsentFederation, consent_id: str) -> None:
    listed = run_cli("outbox", "list", "--config", str(federation.config(REGISTER)), "--json")
    entries = [e for e in json.loads(listed.stdout) if e["consent_id"] == consent_id]
    assert len(entries) == 1, listed.stdout
    assert entries[0]["state"] == "failing"
    assert entries[0]["attempts"] >= 3
    assert entries[0]["requester"] == PENSIONS
    operator = operator_headers(federation.config(REGISTER))
    page = httpx.get(federation.urls[REGISTER] + "/operator/outbox", headers=operator, timeout=10)
    assert page.status_code == 200
    assert consent_id in page.text and "Liverpool: pensions" in page.text


def test_a_register_killed_during_delivery_delivers_every_committed_change_after_restart(
    federation: ConsentFederation,
) -> None:
    browser, consent_id = consented(federation, 5)
    try:
        federation.procs.stop(federation.child(PENSIONS))
        postcodes = ["B1 1AA", "B2 4QA", "B3 2DS"]
        for number, postcode in enumerate(postcodes, start=1):
            change_address(browser, federation, f"{number} Restart Road", postcode)
        assert [r.delivered_at for r in outbox_of(federation, consent_id)] == [None] * 3

        register = federation.child(REGISTER).process
        assert register is not None
        register.send_signal(signal.SIGKILL)
        register.wait(timeout=10)

        federation.serve(PENSIONS)
        federation.serve(REGISTER)
        wait_for(
            lambda: all_delivered(federation, consent_id, 3), 20, "all three notices to arrive"
        )
        wait_for(
            lambda: postcode_held(federation, consent_id) == postcodes[-1],
            10,
            "pensions to read the last address",
        )
        assert len(notices_at_pensions(federation, consent_id)) == 3
    finally:
        browser.close()


def test_a_locked_register_database_delays_a_change_a_read_and_a_notice_but_loses_nothing(
    federation: ConsentFederation,
) -> None:
    browser, consent_id = consented(federation, 6)
    try:
        question = address_question(browser, federation)
        database = load_node_settings(federation.config(REGISTER)).data_dir / "node.db"
        lock = sqlite3.connect(database, isolation_level=None, timeout=10)
        changed: list[Page] = []
        read: list[int] = []
        try:
            lock.execute("BEGIN IMMEDIATE")  # the write lock, held as a busy process would
            waiting = [
                threading.Thread(
                    target=lambda: changed.append(
                        submit_address(browser, question, "6 Busy Lane", "EH1 1YZ")
                    )
                ),
                threading.Thread(
                    target=lambda: read.append(read_as_pensions(federation, consent_id).status)
                ),
            ]
            for thread in waiting:
                thread.start()
            time.sleep(LOCK_HELD_S)
            assert all(t.is_alive() for t in waiting), "the change and the read wait for the lock"
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        for thread in waiting:
            thread.join(timeout=20)
        assert changed and "Address changed" in changed[0].text
        assert read == [200]
        wait_for(lambda: all_delivered(federation, consent_id, 1), 15, "the notice to arrive")
        wait_for(
            lambda: postcode_held(federation, consent_id) == "EH1 1YZ",
            10,
            "pensions to read the new address",
        )
    finally:
        browser.close()


# --- consent misuse -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def consent(federation: ConsentFederation) -> Iterator[tuple[Browser, str]]:
    """Seeded person 7, consenting to pensions: their browser (signed in) and the consent id."""
    browser, consent_id = consented(federation, 7)
    try:
        yield browser, consent_id
    finally:
        browser.close()


def test_an_unknown_consent_id_is_refused(federation: ConsentFederation) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    problem = problem_of(read_as_pensions(federation, unknown), 403, "consent-refused")
    assert f"consent {unknown} is not known here" in problem["detail"]


def test_a_tampered_consent_record_is_refused_by_the_holder(
    federation: ConsentFederation, consent: tuple[Browser, str]
) -> None:
    browser, consent_id = consent
    receipt = browser.http.get(
        f"{federation.urls[CHARTER]}/my/consents/{consent_id}/receipt.json"
    ).json()
    receipt["record"]["fields"] = [*receipt["record"]["fields"], "people.email"]

    answer = federation.call(CHARTER, REGISTER, "/exchange/v1/consents", receipt)

    problem = problem_of(answer, 422, "consent-record-invalid")
    assert problem["reason"] == "bad-signature", problem
    refused = federation.call(
        PENSIONS,
        REGISTER,
        READ_PATH,
        {"fields": ["people.email"]},
        purpose=PENSIONS_PURPOSE,
        consent=consent_id,
    )
    problem_of(refused, 403, "consent-refused")


def test_a_consent_id_used_by_another_requester_is_refused(
    federation: ConsentFederation, consent: tuple[Browser, str]
) -> None:
    _, consent_id = consent
    answer = federation.call(
        OTHER,
        REGISTER,
        READ_PATH,
        {"fields": PENSIONS_FIELDS},
        purpose=PENSIONS_PURPOSE,
        consent=consent_id,
    )
    problem = problem_of(answer, 403, "consent-refused")
    assert f"was given to {PENSIONS}, not {OTHER}" in problem["detail"]


def test_fields_beyond_the_consent_are_refused(
    federation: ConsentFederation, consent: tuple[Browser, str]
) -> None:
    _, consent_id = consent
    answer = federation.call(
        PENSIONS,
        REGISTER,
        READ_PATH,
        {"fields": [*PENSIONS_FIELDS, "people.phone"]},
        purpose=PENSIONS_PURPOSE,
        consent=consent_id,
    )
    problem = problem_of(answer, 403, "consent-refused")
    assert "does not cover people.phone" in problem["detail"]


def test_a_forged_redirect_uri_gets_an_error_page_and_no_redirect(
    federation: ConsentFederation, consent: tuple[Browser, str]
) -> None:
    browser, _ = consent  # signed in at the charter: the most there is to steal
    query = urlencode(
        {
            "response_type": "code",
            "client_id": PENSIONS,
            "redirect_uri": "http://127.0.0.1:9/auth/callback",
            "scope": "openid",
            "state": "s" * 43,
            "nonce": "n" * 43,
            "code_challenge": "c" * 43,
            "code_challenge_method": "S256",
        }
    )
    answer = browser.http.get(
        f"{federation.urls[CHARTER]}/oidc/authorize?{query}", follow_redirects=False
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "not its own" in answer.text


def test_a_form_without_its_csrf_token_is_refused(
    federation: ConsentFederation, consent: tuple[Browser, str]
) -> None:
    browser, consent_id = consent
    url = f"{federation.urls[CHARTER]}/my/consents/{consent_id}"
    answer = browser.http.post(url + "/withdraw", data={}, follow_redirects=False)
    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert "Active" in browser.get(url).text, "the consent is still active"


def test_a_sign_in_callback_with_another_state_is_refused(
    federation: ConsentFederation, consent: tuple[Browser, str]
) -> None:
    browser, _ = consent
    pensions = federation.urls[PENSIONS]
    started = browser.http.get(pensions + "/auth/sign-in?next=/service", follow_redirects=False)
    assert started.status_code == 303
    assert "state=" in started.headers["location"]
    answer = browser.http.get(
        pensions + "/auth/callback",
        params={"code": "any-code", "state": "not-the-state-sent"},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "This sign-in was not started here" in answer.text
