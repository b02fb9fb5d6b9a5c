"""Register to vote, as plain computation: what the identity check asks, and the roll's entry.

An application names the person's National Insurance number, name and date of birth; the
identity check asks the registers that hold each of them whether the values are the person's
(registers answer "matched" or "not matched", never a value). A match puts the person on the
electoral roll at once; anything else asks them for evidence, which a caseworker decides on.
No web framework, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The register-to-vote questions the action reads, by id (demo/services/register-to-vote.toml;
# a definition naming the action without them is refused at start, electoral/feature.py).
GIVEN_NAMES = "given-names"
FAMILY_NAME = "family-name"
DATE_OF_BIRTH = "date-of-birth"
NINO = "national-insurance-number"
OPEN_REGISTER = "open-register"
POSTAL_VOTE = "postal-vote"
EVIDENCE = "identity-evidence"
QUESTIONS = (GIVEN_NAMES, FAMILY_NAME, DATE_OF_BIRTH, NINO, OPEN_REGISTER, POSTAL_VOTE, EVIDENCE)

# Which catalogue field each answer is compared with.
MATCHED_FIELDS = {
    NINO: "tax.national_insurance_number",
    GIVEN_NAMES: "people.given_names",
    FAMILY_NAME: "people.family_name",
    DATE_OF_BIRTH: "people.date_of_birth",
}
ROLL_FIELD = "electoral.registration_status"

# The states of an identity check (electoral_identity_checks.state).
PENDING = "pending"  # to be matched; the worker tries, and tries again after a failure
MATCHED = "matched"  # every value matched: the person was put on the roll
EVIDENCE_NEEDED = "evidence-needed"  # not matched: the person is asked for a document
EVIDENCE_SENT = "evidence-sent"  # a document is with the application: a caseworker decides
CLOSED = "closed"  # decided or withdrawn before the check ended


def match_values(answers: Mapping[str, Any]) -> dict[str, str] | None:
    """The values to match, by catalogue field; None when there is no National Insurance
    number to match (the person sent a document instead)."""
    values = {
        field: answers[question]
        for question, field in MATCHED_FIELDS.items()
        if isinstance(answers.get(question), str) and answers[question]
    }
    return values if MATCHED_FIELDS[NINO] in values else None


def by_holder(values: Mapping[str, str], holders: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The values grouped by the register that holds each field (holders: field -> member)."""
    grouped: dict[str, dict[str, str]] = {}
    for field, value in values.items():
        grouped.setdefault(holders[field], {})[field] = value
    return grouped


def roll_status(answers: Mapping[str, Any]) -> str:
    """The electoral roll's entry for the person: registered, whether they are on the open
    register, and whether they asked for a postal vote."""
    open_register = answers.get(OPEN_REGISTER) is True
    postal = answers.get(POSTAL_VOTE) is True
    return (
        f"Registered, {'on' if open_register else 'not on'} the open register, "
        f"{'postal vote asked for' if postal else 'votes in person'}"
    )
