"""The trust anchor's use cases on a real database: every change a new, signed version."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.federation import service
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import (
    DocumentRefusedError,
    FederationDocument,
    verify_document,
)
from digitalstate.federation.models import FederationDocumentRow
from digitalstate.federation.service import FederationChangeError
from digitalstate.keys import KeyPair
from digitalstate.problems import Problem

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
VALIDITY = timedelta(hours=24)
ANCHOR = KeyPair.from_seed(bytes(range(100, 132)))
SWANSEA = KeyPair.from_seed(bytes(range(132, 164)))
NEWCASTLE = KeyPair.from_seed(bytes(range(164, 196)))


def _issue(sessions: sessionmaker[Session], now: datetime = NOW) -> FederationDocument:
    with sessions.begin() as session:
        return service.issue_first(
            session,
            ANCHOR,
            federation="test federation",
            catalogue=load_catalogue(),
            now=now,
            validity=VALIDITY,
        )


def _add(
    sessions: sessionmaker[Session],
    member_id: str = "swansea-motoring",
    key: KeyPair = SWANSEA,
    now: datetime = NOW,
) -> FederationDocument:
    with sessions.begin() as session:
        return _add_in(session, member_id, key, now)


def _add_in(session: Session, member_id: str, key: KeyPair, now: datetime) -> FederationDocument:
    return service.add_member(
        session,
        ANCHOR,
        member_id=member_id,
        name=member_id.replace("-", " ").title(),
        roles=["register", "service"],
        base_url="http://127.0.0.1:8101",
        public_key=key.public,
        now=now,
        validity=VALIDITY,
    )


def _revoke(
    sessions: sessionmaker[Session], member_id: str = "swansea-motoring", now: datetime = NOW
) -> FederationDocument:
    with sessions.begin() as session:
        return service.revoke_member(
            session, ANCHOR, member_id=member_id, now=now, validity=VALIDITY
        )


def _latest_version(sessions: sessionmaker[Session]) -> int | None:
    with sessions() as session:
        document = service.latest_document(session)
    return None if document is None else document.version


def _rows(sessions: sessionmaker[Session]) -> list[FederationDocumentRow]:
    with sessions() as session:
        return list(
            session.scalars(select(FederationDocumentRow).order_by(FederationDocumentRow.version))
        )


def test_a_new_anchor_holds_no_document(sessions: sessionmaker[Session]) -> None:
    assert _latest_version(sessions) is None
    with sessions() as session:
        assert service.latest_envelope(session) is None


def test_issue_first_writes_version_one_with_the_catalogue_and_no_members(
    sessions: sessionmaker[Session],
) -> None:
    document = _issue(sessions)

    assert document.version == 1
    assert document.members == ()
    assert document.purposes == load_catalogue().purposes
    assert document.issued_at == NOW
    assert document.expires_at == NOW + VALIDITY
    with sessions() as session:
        assert service.latest_document(session) == document


def test_issuing_a_second_first_document_is_refused(sessions: sessionmaker[Session]) -> None:
    _issue(sessions)
    with pytest.raises(FederationChangeError, match="already holds"):
        _issue(sessions)
    assert _latest_version(sessions) == 1


def test_a_change_before_the_first_document_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(FederationChangeError, match="federation init"):
        _add(sessions)
    assert _rows(sessions) == []


def test_adding_a_member_issues_the_next_version_with_its_key(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    document = _add(sessions, now=NOW + timedelta(minutes=5))

    assert document.version == 2
    member = document.member("swansea-motoring")
    assert member is not None
    assert member.roles == ("register", "service")
    assert [k.public_key for k in member.keys] == [SWANSEA.public.b64]
    assert member.keys[0].not_before == NOW + timedelta(minutes=5)
    assert document.expires_at == NOW + timedelta(minutes=5) + VALIDITY


def test_each_change_raises_the_version_by_exactly_one(sessions: sessionmaker[Session]) -> None:
    versions = [_issue(sessions).version]
    versions.append(_add(sessions, "swansea-motoring", SWANSEA).version)
    versions.append(_add(sessions, "newcastle-tax", NEWCASTLE).version)
    versions.append(_revoke(sessions, "swansea-motoring").version)

    assert versions == [1, 2, 3, 4]
    assert [row.version for row in _rows(sessions)] == [1, 2, 3, 4]


def test_adding_an_existing_member_is_refused(sessions: sessionmaker[Session]) -> None:
    _issue(sessions)
    _add(sessions)
    with pytest.raises(FederationChangeError, match="swansea-motoring is already a member"):
        _add(sessions, key=NEWCASTLE)
    assert _latest_version(sessions) == 2


def test_a_revoked_members_keys_verify_before_the_revocation_and_not_after(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    _add(sessions, now=NOW)
    revoked_at = NOW + timedelta(hours=1)
    document = _revoke(sessions, now=revoked_at)

    member = document.member("swansea-motoring")
    assert member is not None
    assert member.revoked_at == revoked_at
    assert all(k.revoked_at == revoked_at for k in member.keys)
    before = int((revoked_at - timedelta(seconds=1)).timestamp())
    assert document.keys_for("swansea-motoring", before) == [SWANSEA.public]
    for after in (revoked_at, revoked_at + timedelta(days=1)):
        with pytest.raises(Problem) as refused:
            document.keys_for("swansea-motoring", int(after.timestamp()))
        assert refused.value.slug == "key-revoked"


def test_a_member_key_does_not_verify_before_it_was_added(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    document = _add(sessions, now=NOW)
    with pytest.raises(Problem) as refused:
        document.keys_for("swansea-motoring", int((NOW - timedelta(seconds=1)).timestamp()))
    assert refused.value.slug == "key-revoked"
    with pytest.raises(Problem) as unknown:
        document.keys_for("newcastle-tax", int(NOW.timestamp()))
    assert unknown.value.slug == "key-unknown"


def test_revoking_twice_or_revoking_a_stranger_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    _add(sessions)
    _revoke(sessions)
    with pytest.raises(FederationChangeError, match="already revoked"):
        _revoke(sessions)
    with pytest.raises(FederationChangeError, match="newcastle-tax is not a member"):
        _revoke(sessions, "newcastle-tax")
    assert _latest_version(sessions) == 3


def test_a_revoked_member_stays_in_the_history(sessions: sessionmaker[Session]) -> None:
    _issue(sessions)
    _add(sessions)
    _revoke(sessions, now=NOW + timedelta(hours=2))

    documents = [
        FederationDocument.model_validate(json.loads(row.envelope)["document"])
        for row in _rows(sessions)
    ]
    assert documents[1].member("swansea-motoring").revoked_at is None  # type: ignore[union-attr]
    assert documents[2].member("swansea-motoring").revoked_at is not None  # type: ignore[union-attr]


def test_every_stored_envelope_verifies_with_the_anchor_key(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    _add(sessions, "swansea-motoring", SWANSEA)
    _add(sessions, "newcastle-tax", NEWCASTLE)
    _revoke(sessions, "newcastle-tax")

    rows = _rows(sessions)
    assert len(rows) == 4
    for row in rows:
        document = verify_document(json.loads(row.envelope), ANCHOR.public, now=NOW)
        assert document.version == row.version
        assert row.issued_at == document.issued_at
        assert row.expires_at == document.expires_at


def test_a_stored_envelope_does_not_verify_with_another_key(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    with sessions() as session:
        envelope = service.latest_envelope(session)
    with pytest.raises(DocumentRefusedError) as refused:
        verify_document(envelope, SWANSEA.public, now=NOW)
    assert refused.value.reason == "bad-signature"


def test_reissue_is_not_due_before_the_fraction_of_validity_has_passed(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    with sessions.begin() as session:
        issued = service.reissue_if_due(
            session,
            ANCHOR,
            now=NOW + VALIDITY / 2 - timedelta(seconds=1),
            validity=VALIDITY,
            reissue_fraction=0.5,
        )
    assert issued is None
    assert _latest_version(sessions) == 1


def test_reissue_re_signs_the_same_content_once_the_fraction_has_passed(
    sessions: sessionmaker[Session],
) -> None:
    _issue(sessions)
    before = _add(sessions)
    later = NOW + VALIDITY / 2
    with sessions.begin() as session:
        issued = service.reissue_if_due(
            session, ANCHOR, now=later, validity=VALIDITY, reissue_fraction=0.5
        )

    assert issued is not None
    assert issued.version == before.version + 1
    assert issued.issued_at == later
    assert issued.expires_at == later + VALIDITY
    assert issued.members == before.members
    assert issued.purposes == before.purposes
    with sessions() as session:
        envelope = service.latest_envelope(session)
    assert verify_document(envelope, ANCHOR.public, now=later).version == issued.version


def test_reissue_without_a_document_does_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert (
            service.reissue_if_due(
                session, ANCHOR, now=NOW, validity=VALIDITY, reissue_fraction=0.5
            )
            is None
        )
    assert _rows(sessions) == []


def test_a_refused_change_leaves_nothing_written(sessions: sessionmaker[Session]) -> None:
    _issue(sessions)
    _add(sessions, "swansea-motoring", SWANSEA)

    # One transaction: a good change, then a refused one. Neither may remain.
    with pytest.raises(FederationChangeError), sessions.begin() as session:
        _add_in(session, "newcastle-tax", NEWCASTLE, NOW)
        _add_in(session, "swansea-motoring", SWANSEA, NOW)

    assert _latest_version(sessions) == 2
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FederationDocumentRow)) == 2
        latest = service.latest_document(session)
    assert latest is not None
    assert latest.member("newcastle-tax") is None
