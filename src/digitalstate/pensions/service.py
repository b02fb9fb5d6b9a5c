"""The state-pension action: a claim checked against State Pension age, and the award.

A person may claim from 4 months before their State Pension age (pensions/domain.py): earlier,
the journey stops them at its not-eligible page (handlers.ELIGIBILITY), and a claim sent any
other way is refused by the action. A claim in time waits for a caseworker; their approval
(services/applications.decide) runs the decision hook, which writes the award to this node's
pensions register in the decision's transaction: the person's `pensions.state_pension_status`
and the `pensions.bank_details` to pay into, under this node's pseudonym for them (the
applicant's `sub` here is also the key of their record). A refusal writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from digitalstate.federation.domain import FieldDefinition
from digitalstate.pensions.domain import award_status, too_early
from digitalstate.registers.service import put_fields
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.handlers import (
    APPROVED,
    DECISION_HOOKS,
    ELIGIBILITY,
    REFUSED,
    SUBMIT_ACTIONS,
    SUBMITTED,
    Decision,
    DecisionRefusedError,
    Outcome,
    Stop,
)
from digitalstate.services.models import Application

ACTION = "state-pension"
HOLDER = "liverpool-pensions"
STATUS = "pensions.state_pension_status"
BANK = "pensions.bank_details"
# The catalogue's entries of the two fields the award writes (the demo catalogue's): a decision
# hook is not given the federation document, and these are this register's own fields.
AWARD_FIELDS = (
    FieldDefinition(name=STATUS, type="string", holder=HOLDER),
    FieldDefinition(name=BANK, type="bank-account", holder=HOLDER, sensitivity="sensitive"),
)


def _question(definition: ServiceDefinition, kind: str, prefill: str | None = None) -> str | None:
    """The id of the definition's question of type kind (the one pre-filled from prefill, if
    there is one), or None."""
    matching = [q for _, q in definition.questions() if q.type == kind]
    preferred = [q for q in matching if prefill is not None and q.prefill == prefill]
    chosen = (preferred or matching)[:1]
    return chosen[0].id if chosen else None


def date_of_birth(definition: ServiceDefinition, answers: Mapping[str, Any]) -> date | None:
    """The date of birth the claimant gave, or None."""
    question = _question(definition, "date", "people.date_of_birth")
    value = answers.get(question) if question is not None else None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def eligibility(
    definition: ServiceDefinition, answers: Mapping[str, Any], today: date
) -> Stop | None:
    """Stop someone more than 4 months before their State Pension age, naming the date."""
    born = date_of_birth(definition, answers)
    question = _question(definition, "date", "people.date_of_birth")
    reason = too_early(born, today) if born is not None else None
    if reason is None or question is None:
        return None
    return Stop(reason, (question,))


def submit_claim(
    _session: Session, application: Application, definition: ServiceDefinition, now: datetime
) -> Outcome:
    """Keep a claim made in time for a caseworker; refuse one made too early, saying why."""
    answers = json.loads(application.answers)
    stopped = eligibility(definition, answers, now.date())
    if stopped is not None:
        return Outcome(REFUSED, stopped.reason)
    return Outcome(SUBMITTED)


def award(
    session: Session,
    application: Application,
    definition: ServiceDefinition,
    decision: Decision,
    now: datetime,
) -> str | None:
    """On approval, write the award to the pensions register: its status and the account; the
    note kept as the decision's reason when staff gave none."""
    if decision.status != APPROVED:
        return None
    answers = json.loads(application.answers)
    born = date_of_birth(definition, answers)
    if born is None:
        raise DecisionRefusedError("The claim has no date of birth: it cannot be awarded")
    changes: dict[str, Any] = {STATUS: award_status(born, now.date())}
    bank_question = _question(definition, "bank-details")
    bank = answers.get(bank_question) if bank_question is not None else None
    if isinstance(bank, Mapping):
        changes[BANK] = {"sort_code": bank["sort_code"], "account_number": bank["account_number"]}
    put_fields(
        session,
        pseudonym=application.subject,
        changes=changes,
        now=now,
        catalogue=AWARD_FIELDS,
    )
    return f"{changes[STATUS]} (pensions register)"


SUBMIT_ACTIONS.register(ACTION, submit_claim)
DECISION_HOOKS.register(ACTION, award)
ELIGIBILITY.register(ACTION, eligibility)
