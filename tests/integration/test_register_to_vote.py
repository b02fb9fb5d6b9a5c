"""Register to vote across real nodes (SQLite and PostgreSQL): the identity check matches the
National Insurance number at the tax register and the name and date of birth at the People
register, each under the published basis electoral-identity-check, relayed by the charter and
recorded in both logs; a match puts the person on the roll at once, no match asks for a
document that a caseworker decides on. The match route answers only matched or not, and only
under the basis, through the charter. The worker loses nothing while the tax register is
down. Another person can neither see the application nor send its evidence."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from log_support import logged_entries
from sqlalchemy import Engine, delete, event, select

from digitalstate.electoral.domain import EVIDENCE_NEEDED
from digitalstate.electoral.models import IdentityCheck
from digitalstate.electoral.service import notes, take_evidence
from digitalstate.exchange.client import ExchangeClient, ExchangeResponse
from digitalstate.keys import KeyPair
from digitalstate.problems import PROBLEM_MEDIA_TYPE
from digitalstate.registers.models import RegisterRecord
from digitalstate.services.applications import BY_PERSON, decide
from digitalstate.services.filetypes import Upload
from digitalstate.services.handlers import SUBMITTED, Decision
from digitalstate.services.models import Application, ApplicationEvent, ApplicationFile
from digitalstate.storage.engine import make_engine, make_sessions
from integration.electoral_support import (
    ADA_NINO,
    ADA_PEOPLE,
    CHARTER,
    ELECTORAL,
    PEOPLE,
    PNG,
    TAX,
    VoteFederation,
    Voter,
    running_vote_federation,
)

BASIS = "electoral-identity-check"
ROLL = "electoral.registration_status"


@pytest.fixture
def fed(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[VoteFederation]:
    yield from running_vote_federation(tmp_path, migrated_database_url, more_databases)


@pytest.fixture
def ada(fed: VoteFederation) -> Voter:
    return fed.add_voter("ada", ADA_PEOPLE, ADA_NINO)


def roll_entry(fed: VoteFederation, voter: Voter) -> str | None:
    with fed.databases[ELECTORAL].begin() as session:
        row = session.get(RegisterRecord, voter.subject)
        return None if row is None else json.loads(row.data).get(ROLL)


def application(fed: VoteFederation, reference: str) -> tuple[str, list[tuple[str, str]]]:
    """Its status, and its history as (status, by)."""
    with fed.databases[ELECTORAL].begin() as session:
        row = session.scalars(select(Application).where(Application.reference == reference)).one()
        events = session.scalars(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == row.id)
            .order_by(ApplicationEvent.id)
        )
        return row.status, [(e.status, e.by) for e in events]


def check_state(fed: VoteFederation) -> tuple[str, int]:
    with fed.databases[ELECTORAL].begin() as session:
        check = session.scalars(select(IdentityCheck)).one()
        return check.state, check.attempts


def basis_entries(fed: VoteFederation, member: str) -> list[tuple[str, str, tuple[str, ...], str]]:
    """The log's entries of member under the identity check basis: requester, outcome, fields,
    reason."""
    with fed.databases[member].begin() as session:
        return [
            (e.requester, e.outcome, tuple(sorted(e.fields)), e.reason)
            for e in logged_entries(session)
            if e.basis_id == BASIS
        ]


def test_a_match_puts_the_person_on_the_roll_at_once_and_is_logged_at_both_ends(
    fed: VoteFederation, ada: Voter
) -> None:
    reference = fed.apply(ada, nino="jg 10 37 26 a", open_register=False, postal=True)
    assert reference.startswith("RTV-")
    page = fed.office.http.get(f"/applications/{reference}")
    assert "We are checking who you are" in page.text
    assert check_state(fed) == ("pending", 0)
    assert fed.check_due() == 1
    assert check_state(fed) == ("matched", 0)
    assert roll_entry(fed, ada) == "Registered, not on the open register, postal vote asked for"
    status, history = application(fed, reference)
    assert status == "approved"
    assert history == [("submitted", "person"), ("approved", "action:electoral-registration")]
    assert (
        "You are on the electoral register"
        in fed.office.http.get(f"/applications/{reference}").text
    )
    # At the tax register and at the People register: one match each, no value given back.
    (tax,) = basis_entries(fed, TAX)
    assert tax[:3] == (ELECTORAL, "allowed", ("tax.national_insurance_number",))
    assert "answered matched: no value was given back" in tax[3]
    (people,) = basis_entries(fed, PEOPLE)
    names = ("people.date_of_birth", "people.family_name", "people.given_names")
    assert people[:3] == (ELECTORAL, "allowed", names)
    # At the charter: the relay of each.
    relays = basis_entries(fed, CHARTER)
    assert sorted(r[3] for r in relays) == [
        "a match (no value returned) relayed to newcastle-tax",
        "a match (no value returned) relayed to people-register",
    ]
    assert fed.check_due() == 0  # nothing left to do


def test_a_row_read_before_the_match_was_committed_is_shown_as_still_being_checked(
    fed: VoteFederation, ada: Voter
) -> None:
    """The application's page reads the row and its check's note in one step, but statement by
    statement: a row read before the worker's commit (still submitted) and its check read
    after it (matched) must not put "on the register" under a Submitted tag."""
    reference = fed.apply(ada, nino="jg 10 37 26 a", open_register=False, postal=True)
    assert fed.check_due() == 1
    with fed.databases[ELECTORAL]() as session, session.no_autoflush:  # never committed
        row = session.scalars(select(Application).where(Application.reference == reference)).one()
        said = [note.heading for note in notes(session, row, None)]
        row.status = SUBMITTED  # as read a moment before the worker's commit
        before = [note.heading for note in notes(session, row, None)]
    assert said == ["You are on the electoral register"]
    assert before == ["We are checking who you are"]
    assert application(fed, reference)[0] == "approved"  # nothing was written


def test_no_match_asks_for_a_document_and_a_caseworker_approves(
    fed: VoteFederation, ada: Voter
) -> None:
    reference = fed.apply(ada, nino="JG103726B", open_register=True, postal=False)
    assert fed.check_due() == 1
    assert check_state(fed) == ("evidence-needed", 0)
    status, history = application(fed, reference)
    assert status == "submitted"
    assert history[-1] == ("submitted", "action:electoral-registration")
    assert roll_entry(fed, ada) is None
    page = fed.office.http.get(f"/applications/{reference}")
    assert "Send us a document that proves who you are" in page.text
    assert f"/applications/{reference}/evidence" in page.text
    # A file that is not a document is refused with the question's message.
    evidence = f"/applications/{reference}/evidence"
    form = {"csrf_token": fed.csrf(evidence), "reference": reference}
    wrong = fed.office.http.post(
        "/applications/evidence",
        data=form,
        files={"identity-evidence": ("a.txt", b"hello", "text/plain")},
    )
    assert wrong.status_code == 400 and "The selected file must be" in wrong.text
    sent = fed.office.http.post(
        "/applications/evidence",
        data={"csrf_token": fed.csrf(evidence), "reference": reference},
        files={"identity-evidence": ("passport.png", PNG, "image/png")},
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/applications/{reference}"
    assert check_state(fed) == ("evidence-sent", 0)
    assert fed.office.http.get(evidence).status_code == 404  # sent: not asked again
    with fed.databases[ELECTORAL].begin() as session:
        kept = session.scalars(select(ApplicationFile)).one()
        assert (kept.question_id, kept.content_type, kept.content) == (
            "identity-evidence",
            "image/png",
            PNG,
        )
        # The file and the answer are one description (services/drafts.keep_file), the file
        # held by the application, not by a draft.
        row = session.scalars(select(Application)).one()
        assert json.loads(row.answers)["identity-evidence"] == {
            "name": "passport.png",
            "type": "image/png",
            "size": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
        }
        assert (kept.draft_id, kept.application_id, kept.name) == (
            None,
            row.id,
            "passport.png",
        )
        approve = Decision("approved", None, "caseworker")
        slug = fed.definition.slug
        now = datetime.now(UTC)
        assert decide(session, slug, reference, approve, fed.definition, now) == "decided"
    assert roll_entry(fed, ada) == "Registered, on the open register, votes in person"
    assert check_state(fed) == ("closed", 0)


def test_a_person_without_a_number_sends_a_document_and_nothing_is_matched(
    fed: VoteFederation, ada: Voter
) -> None:
    reference = fed.apply(ada, nino=None, open_register=False, postal=False)
    assert check_state(fed) == ("evidence-sent", 0)
    assert fed.check_due() == 0
    assert basis_entries(fed, TAX) == [] and basis_entries(fed, CHARTER) == []
    assert (
        "A caseworker will check your document"
        in fed.office.http.get(f"/applications/{reference}").text
    )
    with fed.databases[ELECTORAL].begin() as session:
        refuse = Decision("refused", "The document was not readable", "caseworker")
        now = datetime.now(UTC)
        assert (
            decide(session, fed.definition.slug, reference, refuse, fed.definition, now)
            == "decided"
        )
    assert roll_entry(fed, ada) is None


def test_another_person_cannot_see_the_application_or_send_its_evidence(
    fed: VoteFederation, ada: Voter
) -> None:
    reference = fed.apply(ada, nino="JG103726B", open_register=False, postal=False)
    fed.check_due()
    bea = fed.add_voter("bea", {**ADA_PEOPLE, "people.given_names": "Bea"}, "JT123456C")
    fed.sign_in(bea)
    http = fed.office.http
    assert http.get(f"/applications/{reference}").status_code == 404
    assert http.get(f"/applications/{reference}/evidence").status_code == 404
    token = fed.csrf("/services/register-to-vote/begin")
    sent = http.post(
        "/applications/evidence",
        data={"csrf_token": token, "reference": reference},
        files={"identity-evidence": ("passport.png", PNG, "image/png")},
    )
    assert sent.status_code == 404
    assert check_state(fed) == ("evidence-needed", 0)
    with fed.databases[ELECTORAL].begin() as session:
        assert session.scalars(select(ApplicationFile)).first() is None


def test_two_uploads_of_evidence_at_once_at_two_workers_keep_one_document(
    fed: VoteFederation, ada: Voter, migrated_database_url: str
) -> None:
    """Two workers (two engines) both read the check waiting for evidence, then each keeps
    the document it was sent: one is kept, with its event; the other writes nothing and is
    answered as for evidence already sent. Neither read decides (SQLite takes no row lock):
    the check's conditional UPDATE does, on SQLite as on PostgreSQL."""
    reference = fed.apply(ada, nino="JG103726B", open_register=False, postal=False)
    fed.check_due()
    _, asked = application(fed, reference)
    barrier = threading.Barrier(2)

    def both_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "electoral_identity_checks" in statement:
            barrier.wait(10)

    engines = [make_engine(migrated_database_url) for _ in range(2)]
    for engine in engines:
        event.listen(engine, "after_cursor_execute", both_read)

    def upload(engine: Engine, name: str) -> str:
        with make_sessions(engine).begin() as session:
            document, now = Upload(name, PNG), datetime.now(UTC)
            return take_evidence(session, ada.subject, reference, document, BY_PERSON, now)

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(upload, engines, ("first.png", "second.png")))
    finally:
        for engine in engines:
            engine.dispose()

    assert outcomes == ["not-asked", "sent"]
    assert check_state(fed) == ("evidence-sent", 0)
    _, history = application(fed, reference)
    assert history == [*asked, ("submitted", BY_PERSON)]
    with fed.databases[ELECTORAL].begin() as session:
        [kept] = session.scalars(select(ApplicationFile)).all()
        row = session.scalars(select(Application)).one()
        assert json.loads(row.answers)["identity-evidence"]["name"] == kept.name


def asked_again(fed: VoteFederation) -> None:
    """The application waits for evidence again, its document gone."""
    with fed.databases[ELECTORAL].begin() as session:
        assert session.scalars(select(ApplicationFile)).one().content_type in DOCUMENT_TYPES
        session.execute(delete(ApplicationFile))
        session.scalars(select(IdentityCheck)).one().state = EVIDENCE_NEEDED


DOCUMENT_TYPES = ("application/pdf", "image/png", "image/jpeg")
DOCUMENT_STARTS = [b"", PNG[:16], b"%PDF-1.7\n", b"\xff\xd8\xff\xe0", b"GIF89a"]
EVIDENCE_FUZZ = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_any_evidence_upload_is_answered_with_a_page_never_a_server_error(
    fed: VoteFederation, ada: Voter
) -> None:
    """Property: whatever form reaches the evidence upload (a reference, a CSRF token, files
    of any name, type and bytes, within and beyond the question's size) it is answered 303,
    or 400 with the error summary (a problem for more files than the page has inputs), or
    403/404/413, and a document is kept only when it is one."""
    reference = fed.apply(ada, nino="JG103726B", open_register=False, postal=False)
    fed.check_due()
    http = fed.office.http
    evidence = f"/applications/{reference}/evidence"
    token = fed.csrf(evidence)
    junk = st.text(max_size=40)
    limit = fed.definition.question("identity-evidence").upload_limit  # type: ignore[union-attr]
    content = st.builds(
        bytes.__add__, st.sampled_from(DOCUMENT_STARTS), st.binary(max_size=2048)
    ) | st.just(b"%PDF-" + b"0" * limit)
    kinds = st.sampled_from(["image/png", "application/pdf", "text/plain", "x/y"])
    names = st.sampled_from(["passport.png", "scan.PDF", "photo.jpg", "no-extension"])
    upload = st.tuples(names | st.text(max_size=300), content, kinds)
    files = st.lists(upload, max_size=2)
    forms = st.fixed_dictionaries(
        {},
        optional={
            "reference": st.sampled_from([reference, reference.lower(), "RTV-0000-0000"]) | junk,
            "csrf_token": st.just(token) | junk,
            "extra": junk,
        },
    )

    seen: set[int] = set()

    @EVIDENCE_FUZZ
    @given(form=forms, sent=files)
    @example(
        form={"reference": reference, "csrf_token": token},
        sent=[("passport.png", PNG, "image/png")],
    )
    def fuzz(form: dict[str, str], sent: list[tuple[str, bytes, str]]) -> None:
        parts = [("identity-evidence", upload) for upload in sent]
        answer = http.post("/applications/evidence", data=form, files=parts)
        seen.add(answer.status_code)
        assert answer.status_code in (303, 400, 403, 404, 413), answer.text[:300]
        if answer.status_code == 303:
            assert answer.headers["location"] == f"/applications/{reference}"
            asked_again(fed)  # each example starts from an application that waits for one
        if answer.status_code == 400:  # the page with its error, or a form no page sends
            problem = answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
            assert "govuk-error-summary" in answer.text or (problem and len(sent) > 1)

    fuzz()
    assert {303, 400, 403} <= seen, seen  # kept once, refused with a message, no token
    with fed.databases[ELECTORAL].begin() as session:  # only refusals since the last reset
        assert session.scalars(select(ApplicationFile)).first() is None


def call(fed: VoteFederation, member: str, path: str, body: Any, **ground: str) -> ExchangeResponse:
    """Call member's exchange route, signed as the electoral registration office."""
    key = KeyPair.load(fed.settings[ELECTORAL].key_path)
    document = fed.office.runtime.keeper.current()

    async def signed() -> ExchangeResponse:
        async with ExchangeClient(ELECTORAL, key, lambda: document) as client:
            return await client.call(member, "POST", path, json_body=body, **ground)

    return asyncio.run(signed())


def test_the_match_route_answers_only_under_the_basis_through_the_charter_and_gives_no_value(
    fed: VoteFederation, ada: Voter
) -> None:
    nino = {"tax.national_insurance_number": ADA_NINO}
    ground = {"purpose": "electoral-registration", "basis": BASIS}
    # Straight to the register, without the charter: refused, whoever names the basis.
    direct = call(fed, TAX, "/exchange/v1/records/match", {"values": nino}, **ground)
    assert direct.status == 403 and direct.problem().slug == "basis-refused"
    assert "relayed by the charter" in (direct.problem().detail or "")
    body = {"subject": ada.subject, "holder": TAX, "values": nino}
    # Through the charter under another basis, or under none: refused there.
    other = call(
        fed,
        CHARTER,
        "/exchange/v1/basis-matches",
        body,
        purpose="electoral-registration",
        basis="electoral-canvass",
    )
    assert other.status == 403 and other.problem().slug == "basis-refused"
    none = call(fed, CHARTER, "/exchange/v1/basis-matches", body, purpose="electoral-registration")
    assert none.status == 403 and none.problem().slug == "legal-ground-missing"
    # Under the basis: a yes or a no, and nothing else.
    assert call(fed, CHARTER, "/exchange/v1/basis-matches", body, **ground).json() == {
        "matched": True
    }
    wrong = {**body, "values": {"tax.national_insurance_number": "JG103726B"}}
    assert call(fed, CHARTER, "/exchange/v1/basis-matches", wrong, **ground).json() == {
        "matched": False
    }
    # A field the basis does not list (the tax code) is refused, not compared.
    code = {**body, "values": {"tax.tax_code": "1257L"}}
    refused = call(fed, CHARTER, "/exchange/v1/basis-matches", code, **ground)
    assert refused.status == 403 and "does not cover tax.tax_code" in (
        refused.problem().detail or ""
    )


def test_the_worker_tries_again_while_the_tax_register_is_down_and_loses_nothing(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> None:
    for fed in running_vote_federation(
        tmp_path, migrated_database_url, more_databases, tax_up=False
    ):
        ada = fed.add_voter("ada", ADA_PEOPLE, ADA_NINO)
        reference = fed.apply(ada, nino=ADA_NINO, open_register=True, postal=True)
        assert fed.check_due() == 1
        assert check_state(fed) == ("pending", 1)
        assert fed.check_due() == 0  # not due again yet: backing off
        with fed.databases[ELECTORAL].begin() as session:
            check = session.scalars(select(IdentityCheck)).one()
            assert check.next_attempt_at > fed.clock.now and "newcastle-tax" in check.last_error
            assert check.claim is None
        fed.clock.advance(seconds=5)
        assert fed.check_due() == 1
        assert check_state(fed) == ("pending", 2)
        assert application(fed, reference)[0] == "submitted"
        fed.servers[TAX].start()
        fed.clock.advance(minutes=10)
        assert fed.check_due() == 1
        assert check_state(fed) == ("matched", 2)
        assert roll_entry(fed, ada) == "Registered, on the open register, postal vote asked for"
