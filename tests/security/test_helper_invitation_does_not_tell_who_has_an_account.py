"""Issue 8, D2: inviting a helper does not tell whether an email address has an account."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from digitalstate.identity.service import active_delegation, grant_delegation
from integration.identity_support import Federation, add_helper, csrf_of, delegations
from security.signin_support import without_tokens
from support.fixtures import ALICE, BOB

NOBODY = "nobody@example.test"
CAROL = "carol@example.test"
FLASH = re.compile(r'<div class="govuk-notification-banner__content">.*?</div>', re.S)
REVOKE = re.compile(r'action="/my/helpers/([^"/]+)/revoke"')
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def invite(fed: Federation, email: str) -> tuple[int, dict[str, str], str, str]:
    """What the person sees when they invite email: the answer, then the banner shown."""
    answer = add_helper(fed, email=email)
    banner = FLASH.search(fed.charter.get("/my/helpers").text)
    assert banner is not None
    shown = banner.group(0).replace(email, "EMAIL")
    headers = {
        k: without_tokens(v, email)
        for k, v in answer.headers.items()
        if k not in ("set-cookie", "content-length")
    }
    return answer.status_code, headers, without_tokens(answer.text, email), shown


def seen(page: str, email: str) -> str:
    """A whole page less its tokens, the email typed and the invitation's id."""
    return UUID.sub("ID", without_tokens(page, email))


def helpers_page_after_inviting(fed: Federation, person: str, email: str) -> str:
    """The whole helpers page person sees after inviting email."""
    fed.sign_in_at_charter(person)
    add_helper(fed, email=email)
    return seen(fed.charter.get("/my/helpers").text, email)


def helpers_page_after_stopping(fed: Federation, email: str) -> str:
    """The whole helpers page after stopping the one invitation listed (to email)."""
    page = fed.charter.get("/my/helpers")
    stop = REVOKE.search(page.text)
    assert stop is not None
    token = csrf_of(page)
    answer = fed.charter.post(f"/my/helpers/{stop.group(1)}/revoke", data={"csrf_token": token})
    assert answer.status_code == 303
    return seen(fed.charter.get("/my/helpers").text, email)


def test_inviting_an_address_with_and_without_an_account_answers_the_same(
    fed: Federation, alice: str, bob: str
) -> None:
    fed.sign_in_at_charter(ALICE)

    known = invite(fed, BOB)
    unknown = invite(fed, NOBODY)

    assert known == unknown
    assert known[0] == 303
    assert "If EMAIL has an account, they can now act for you" in known[3]


def test_the_helpers_page_is_the_same_after_inviting_an_address_with_or_without_an_account(
    fed: Federation, alice: str, bob: str
) -> None:
    fed.add_person(CAROL, "Carol Example")

    known = helpers_page_after_inviting(fed, ALICE, BOB)
    unknown = helpers_page_after_inviting(fed, CAROL, NOBODY)

    assert known == unknown
    assert "Bob Builder" not in known
    assert '<td class="govuk-table__cell">EMAIL</td>' in known


def test_stopping_an_invitation_reads_the_same_with_or_without_an_account(
    fed: Federation, alice: str, bob: str
) -> None:
    fed.add_person(CAROL, "Carol Example")
    helpers_page_after_inviting(fed, ALICE, BOB)
    known = helpers_page_after_stopping(fed, BOB)
    helpers_page_after_inviting(fed, CAROL, NOBODY)
    unknown = helpers_page_after_stopping(fed, NOBODY)

    assert known == unknown
    assert "Bob Builder" not in known
    assert "EMAIL can no longer act for you" in known
    assert "Stopped" in known


def test_the_helper_with_an_account_can_still_act_for_the_person(
    fed: Federation, alice: str, bob: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    invite(fed, NOBODY)
    invite(fed, BOB)

    kept = {d.helper_email: (d.person_id, d.helper_id) for d in delegations(fed)}

    assert kept == {NOBODY: (alice, None), BOB: (alice, bob)}
    with fed.charter.runtime.sessions.begin() as session:
        assert active_delegation(session, bob, alice, "consent", datetime.now(UTC))


def test_an_invitation_to_an_address_without_an_account_grants_nothing_until_one_has_it(
    fed: Federation, alice: str
) -> None:
    now = datetime.now(UTC)
    with fed.charter.runtime.sessions.begin() as session:
        invitation = grant_delegation(
            session,
            person_id=alice,
            helper_email=" Nobody@Example.TEST ",
            scope="consent",
            expires_at=now + timedelta(days=30),
            now=now,
        )
    assert (invitation.helper_email, invitation.helper_id) == (NOBODY, None)

    nobody = fed.add_person(NOBODY, "Nobody Yet")

    with fed.charter.runtime.sessions.begin() as session:
        assert active_delegation(session, nobody, alice, "consent", now) is not None
