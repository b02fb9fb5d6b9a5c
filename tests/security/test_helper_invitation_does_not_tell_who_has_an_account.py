"""Issue 8, D2: inviting a helper does not tell whether an email address has an account."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from digitalstate.identity.service import grant_delegation
from integration.identity_support import Federation
from integration.test_identity_charter_pages import ALICE, BOB, add_helper, delegations
from security.signin_support import without_tokens

NOBODY = "nobody@example.test"
FLASH = re.compile(r'<div class="govuk-notification-banner__content">.*?</div>', re.S)


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


def test_inviting_an_address_with_and_without_an_account_answers_the_same(
    fed: Federation, alice: str, bob: str
) -> None:
    fed.sign_in_at_charter(ALICE)

    known = invite(fed, BOB)
    unknown = invite(fed, NOBODY)

    assert known == unknown
    assert known[0] == 303
    assert "If EMAIL has an account, they can now act for you" in known[3]


def test_the_helper_with_an_account_can_still_act_for_the_person(
    fed: Federation, alice: str, bob: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    invite(fed, NOBODY)
    invite(fed, BOB)

    (delegation,) = delegations(fed)

    assert (delegation.person_id, delegation.helper_id) == (alice, bob)


def test_granting_to_an_address_without_an_account_grants_nothing_and_says_nothing(
    fed: Federation, alice: str
) -> None:
    with fed.charter.runtime.sessions.begin() as session:
        granted = grant_delegation(
            session,
            person_id=alice,
            helper_email=NOBODY,
            scope="consent",
            expires_at=datetime.now(UTC) + timedelta(days=30),
            now=datetime.now(UTC),
        )

    assert granted is None
    assert delegations(fed) == []
