"""The service's use cases on both databases, with the exchange replaced by a recorded double.

The pages test runs them against real nodes; these tests pin each answer the charter or the
register can give (refusals, an unreachable peer, an older version arriving late) without
having to provoke it in a real node.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.demo.federation import demo_service
from digitalstate.exchange.client import ExchangeError, ExchangeResponse
from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.problems import PROBLEM_BASE, read_problem
from digitalstate.services.returns import ReturnRefusedError, use_return
from digitalstate.services.service import (
    ServiceError,
    held_copy,
    latest_copy,
    record_consent,
    refresh_copy,
    request_consent,
)
from digitalstate.storage.engine import make_engine, make_sessions
from support.federation import federation_document, member

PENSIONS = demo_service("liverpool-pensions")
SUBJECT = "s" * 32
KEY = KeyPair.from_seed(bytes(32)).public.b64
NOW = datetime.now(UTC).replace(microsecond=0)
Answer = ExchangeResponse | ExchangeError


def answer(status: int, body: Any) -> ExchangeResponse:
    return ExchangeResponse(status, {}, json.dumps(body).encode())


def problem(slug: str, status: int = 403) -> dict[str, Any]:
    return {"type": PROBLEM_BASE + slug, "status": status, "detail": f"because {slug}"}


@dataclass
class Exchange:
    """Records each call and answers with the next prepared answer."""

    answers: list[Answer]
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def call(self, peer: str, method: str, path: str, **kwargs: Any) -> ExchangeResponse:
        self.calls.append({"peer": peer, "method": method, "path": path, **kwargs})
        next_answer = self.answers.pop(0)
        if isinstance(next_answer, ExchangeError):
            raise next_answer
        return next_answer


def document(*, charter: bool = True) -> FederationDocument:
    since = NOW - timedelta(days=1)
    members = [
        member(
            "liverpool-pensions",
            KEY,
            roles=("service",),
            base_url="http://pensions.test",
            since=since,
        )
    ]
    if charter:
        members.append(
            member("charter", KEY, roles=("charter",), base_url="http://charter.test", since=since)
        )
    return federation_document(
        members, federation="unit federation", issued_at=NOW, expires_at=NOW + timedelta(hours=1)
    )


def make_node(sessions: sessionmaker[Session], exchange: Exchange, **kw: Any) -> Any:
    """The parts of a node the use cases touch: settings, keeper, client and database."""
    doc = document(**kw)
    return SimpleNamespace(
        settings=SimpleNamespace(
            node=SimpleNamespace(id="liverpool-pensions", base_url="http://pensions.test")
        ),
        keeper=SimpleNamespace(current=lambda: doc, document=doc),
        client=exchange,
        sessions=sessions,
    )


def run(coroutine_factory: Callable[[], Any]) -> Any:
    return asyncio.run(coroutine_factory())


def consent(sessions: sessionmaker[Session]) -> str:
    consent_id = str(uuid.uuid4())
    with sessions.begin() as session:
        record_consent(session, consent_id, SUBJECT, PENSIONS, NOW)  # type: ignore[arg-type]
    return consent_id


# --- asking for consent ----------------------------------------------------------------------


def test_request_consent_asks_the_charter_for_the_services_fields_and_purpose(
    sessions: sessionmaker[Session],
) -> None:
    exchange = Exchange([answer(201, {"request_id": "r1", "url": "http://charter.test/c/r1"})])
    node = make_node(sessions, exchange)

    asked = run(lambda: request_consent(node, SUBJECT, PENSIONS))

    assert (asked.request_id, asked.url) == ("r1", "http://charter.test/c/r1")
    [call] = exchange.calls
    assert (call["peer"], call["method"], call["path"]) == (
        "charter",
        "POST",
        "/exchange/v1/consent-requests",
    )
    assert call["json_body"] == {
        "subject": SUBJECT,
        "holder": "people-register",
        "fields": ["people.address", "people.date_of_birth"],
        "purpose": "pension-administration",
        "duration_days": 365,
        "notify": True,
        "return_url": "http://pensions.test/service/consent-return",
    }


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        pytest.param(
            answer(201, {"request_id": "r1", "url": "http://evil.test/c/r1"}),
            "outside http://charter.test",
            id="a consent address elsewhere",
        ),
        pytest.param(
            answer(201, {"request_id": "r1", "url": "http://charter.test.evil.test/c"}),
            "outside http://charter.test",
            id="a look-alike host",
        ),
        pytest.param(answer(201, {"url": "http://charter.test/c"}), "no request_id", id="no id"),
        pytest.param(answer(201, ["r1", "http://charter.test/c"]), "no request_id", id="a list"),
        pytest.param(ExchangeResponse(201, {}, b"<html>"), "not JSON", id="not JSON"),
        pytest.param(
            ExchangeResponse(201, {}, b"[" * 100_000 + b"]" * 100_000),
            "not JSON",
            id="nested past the parser",
        ),
        pytest.param(
            answer(422, problem("consent-request-invalid", 422)),
            "consent-request-invalid",
            id="a refusal",
        ),
        pytest.param(
            ExchangeError("charter at http://charter.test did not answer"),
            "did not answer",
            id="down",
        ),
    ],
)
def test_request_consent_fails_with_the_reason_when_the_charter_cannot_be_trusted_or_refuses(
    sessions: sessionmaker[Session], reply: Answer, reason: str
) -> None:
    node = make_node(sessions, Exchange([reply]))
    with pytest.raises(ServiceError, match=reason):
        run(lambda: request_consent(node, SUBJECT, PENSIONS))


def test_request_consent_needs_a_charter_in_the_federation(sessions: sessionmaker[Session]) -> None:
    node = make_node(sessions, Exchange([]), charter=False)
    with pytest.raises(ServiceError, match="no charter node"):
        run(lambda: request_consent(node, SUBJECT, PENSIONS))


def test_recording_the_same_consent_twice_is_a_no_op_but_not_for_someone_else(
    sessions: sessionmaker[Session],
) -> None:
    consent_id = consent(sessions)
    with sessions.begin() as session:
        again = record_consent(session, consent_id, SUBJECT, PENSIONS, NOW + timedelta(hours=1))  # type: ignore[arg-type]
        assert again.received_at is not None
    with pytest.raises(ServiceError, match="given by someone else"), sessions.begin() as session:
        record_consent(session, consent_id, "t" * 32, PENSIONS, NOW)  # type: ignore[arg-type]


def test_a_way_back_used_at_one_worker_is_refused_at_the_other_also_at_the_same_moment(
    sessions: sessionmaker[Session], migrated_database_url: str
) -> None:
    """Two workers (two engines) take the same answer from the consent screen at once, then
    once more: it is used once (the primary key of service_consent_returns decides)."""
    other = make_engine(migrated_database_url)
    barrier = threading.Barrier(2)
    consent_id = str(uuid.uuid4())

    def take(factory: sessionmaker[Session], wait: bool = True) -> str:
        if wait:
            barrier.wait(10)
        try:
            with factory.begin() as session:
                use_return(
                    session,
                    request_id="request-1",
                    consent_id=consent_id,
                    subject=SUBJECT,
                    entry=PENSIONS,  # type: ignore[arg-type]
                    now=NOW,
                )
        except ReturnRefusedError as exc:
            return str(exc)
        return "used"

    try:
        workers = (sessions, make_sessions(other))
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(take, workers))
        later = [take(worker, wait=False) for worker in workers]
    finally:
        other.dispose()

    refused = "the answer to request request-1 was used before"
    assert outcomes == [refused, "used"]
    assert later == [refused, refused]


# --- reading under the consent ---------------------------------------------------------------


def read_answer(address: str, version: int) -> ExchangeResponse:
    return answer(
        200,
        {
            "fields": {
                "people.address": {"lines": [address], "town": "Liverpool", "postcode": "L1 1AA"}
            },
            "version": version,
        },
    )


def test_a_refresh_reads_the_consented_fields_under_the_consent_and_keeps_them(
    sessions: sessionmaker[Session],
) -> None:
    consent_id = consent(sessions)
    exchange = Exchange([read_answer("1 High Street", 3)])

    result = run(lambda: refresh_copy(make_node(sessions, exchange), consent_id))

    assert result.outcome == "updated"
    [call] = exchange.calls
    assert (call["peer"], call["path"]) == ("people-register", "/exchange/v1/records/read")
    assert call["json_body"] == {"fields": ["people.address", "people.date_of_birth"]}
    assert (call["purpose"], call["consent"]) == ("pension-administration", consent_id)
    with sessions.begin() as session:
        held = latest_copy(session, SUBJECT)
    assert held is not None and held.version == 3 and held.status == "active"
    assert held.data == {
        "people.address": {"lines": ["1 High Street"], "town": "Liverpool", "postcode": "L1 1AA"}
    }


def test_an_older_answer_arriving_late_does_not_replace_a_newer_copy(
    sessions: sessionmaker[Session],
) -> None:
    consent_id = consent(sessions)
    exchange = Exchange([read_answer("new", 5), read_answer("old", 4)])
    node = make_node(sessions, exchange)

    assert run(lambda: refresh_copy(node, consent_id)).outcome == "updated"
    assert run(lambda: refresh_copy(node, consent_id)).outcome == "unchanged"

    with sessions.begin() as session:
        held = held_copy(session, consent_id)
    assert held is not None and held.version == 5
    assert held.data is not None and held.data["people.address"]["lines"] == ["new"]


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(answer(403, problem("consent-refused")), id="a signed refusal"),
        pytest.param(
            ExchangeError("unsigned refusal", read_problem(json.dumps(problem("consent-refused")))),
            id="an unsigned refusal",
        ),
    ],
)
def test_a_refused_read_marks_the_consent_refused_and_keeps_the_last_copy(
    sessions: sessionmaker[Session], refusal: Answer
) -> None:
    consent_id = consent(sessions)
    node = make_node(sessions, Exchange([read_answer("1 High Street", 2), refusal]))
    run(lambda: refresh_copy(node, consent_id))

    result = run(lambda: refresh_copy(node, consent_id))

    assert result.outcome == "refused"
    with sessions.begin() as session:
        held = held_copy(session, consent_id)
    assert held is not None and held.status == "refused"
    assert held.version == 2 and held.data is not None


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(ExchangeError("people-register did not answer"), id="unreachable"),
        pytest.param(answer(403, problem("purpose-unknown")), id="another refusal"),
        pytest.param(answer(404, problem("record-not-found", 404)), id="no record"),
        pytest.param(answer(200, {"fields": "nope"}), id="an unreadable answer"),
    ],
)
def test_a_read_that_fails_otherwise_changes_nothing_so_it_can_be_tried_again(
    sessions: sessionmaker[Session], failure: Answer
) -> None:
    consent_id = consent(sessions)
    result = run(lambda: refresh_copy(make_node(sessions, Exchange([failure])), consent_id))

    assert result.outcome == "failed" and result.detail
    with sessions.begin() as session:
        held = held_copy(session, consent_id)
    assert held is not None and held.status == "active" and held.data is None


def test_a_refresh_of_a_consent_the_service_does_not_hold_reads_nothing(
    sessions: sessionmaker[Session],
) -> None:
    exchange = Exchange([])
    result = run(lambda: refresh_copy(make_node(sessions, exchange), str(uuid.uuid4())))
    assert result.outcome == "unknown" and exchange.calls == []


def test_the_latest_consent_of_a_person_is_the_one_shown(sessions: sessionmaker[Session]) -> None:
    first = consent(sessions)
    later = str(uuid.uuid4())
    with sessions.begin() as session:
        record_consent(session, later, SUBJECT, PENSIONS, NOW + timedelta(days=1))  # type: ignore[arg-type]
        shown = latest_copy(session, SUBJECT)
        nobody = latest_copy(session, "n" * 32)
    assert shown is not None and shown.consent_id == later != first
    assert nobody is None
