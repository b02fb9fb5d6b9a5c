"""The code side of declared services: submission actions and slot sources, by name (ADR 0017).

A definition names what happens on submission (`[submit] action`) and where a slots
question's choices come from (`source`); the node runs them through these two registries.
`record` is built in: it keeps the application for the node's staff, status `submitted`. The
other actions the engine knows (electoral-registration, prison-visit, state-pension,
change-address) and every slot source are registered by the code that runs them; a node whose
services name one that is not registered refuses to start (`unregistered`), and its
`/readyz` says which.

A submission action runs in the transaction that stores the application, so the application
and whatever the action records are kept together or not at all; an action that finds an
answer wrong (a prisoner who is not in the prison's register) raises SubmissionRefusedError
naming the question, and the person sees that question's page with the error, nothing kept.
A decision hook, registered under the same name as the service's action, runs in the
transaction of a staff decision (services/applications.decide): what it records (a register
entry, a confirmed slot) is kept with the decision or not at all, a hook that refuses
(DecisionRefusedError) stops it, and the note it returns ("Visit booked: ...") is kept as the
decision's reason when staff gave none. A cancellation, registered under the action's name
too, runs in the transaction of every withdrawal of the service's applications, and lets the
person cancel an approved one as well (a prison visit booked): it undoes what the decision
hook kept.

A slot source is asked, at each page that shows its question and again at submission, what it
offers now: a choice it no longer offers is refused then.

Three more registries, each under the action's name, let an action's code do what a
definition's data cannot: ELIGIBILITY, a rule computed from the answers (State Pension age
from the date of birth) that stops the person as a declared eligibility rule does; NOTES, what
the application's confirmation and its page tell the applicant now (who was told of a change,
evidence to send); WAKES, the node events to set once an application is committed (a worker
that does the action's work outside the submit transaction).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.orm import Session

from digitalstate.federation.domain import FederationDocument
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.models import Application

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

T = TypeVar("T")
SUBMITTED = "submitted"


@dataclass(frozen=True)
class Outcome:
    """What a submission action made of an application: its first status, and why."""

    status: str = SUBMITTED
    reason: str | None = None


SubmitAction = Callable[[Session, Application, ServiceDefinition, datetime], Outcome]


class SubmissionRefusedError(Exception):
    """An answer the submission action cannot take: the question's id and the message the
    person sees by it (GOV.UK error pattern); nothing of the submission is kept."""

    def __init__(self, question: str, message: str) -> None:
        super().__init__(message)
        self.question = question
        self.message = message


@dataclass(frozen=True)
class SlotRequest:
    """What a slot source is asked with: the node, the service, the person and their answers."""

    node: NodeRuntime
    slug: str
    subject: str  # this node's pseudonym for the person
    answers: Mapping[str, Any]
    today: date


SlotSource = Callable[[SlotRequest], Awaitable[Sequence[str]]]

APPROVED, REFUSED = "approved", "refused"


@dataclass(frozen=True)
class Decision:
    """A staff decision on an application: approved or refused, why, by whom, and what was
    chosen (for a prison visit: the one slot staff confirm of the up to three asked for)."""

    status: str  # APPROVED or REFUSED
    reason: str | None
    by: str  # the staff role that decided
    choice: str | None = None


class DecisionRefusedError(Exception):
    """A decision the service's hook cannot carry out; str() says why, for the staff member."""


# Returns a note of what it did ("Visit booked: ..."), kept as the reason of the decision's
# event when staff gave none (None: nothing to add).
DecisionHook = Callable[[Session, Application, ServiceDefinition, Decision, datetime], str | None]


class WithdrawalRefusedError(Exception):
    """A withdrawal the service's cancellation cannot carry out; str() says why, for the person."""


# Given the status the application had before (submitted, in-review or approved); returns a
# note kept as the reason of the withdrawal's event (None: none).
WithdrawalHook = Callable[[Session, Application, ServiceDefinition, str, datetime], str | None]


@dataclass(frozen=True)
class Cancellation:
    """What withdrawing an application of a service also does (run, in the withdrawal's
    transaction), and the wording of cancelling one that was approved, which it allows."""

    run: WithdrawalHook
    button: str  # "Cancel this visit"
    question: str  # "Are you sure you want to cancel this visit?"


@dataclass(frozen=True)
class Stop:
    """Why an action's own eligibility rule stops the person, and the questions it tested."""

    reason: str
    questions: tuple[str, ...]


EligibilityCheck = Callable[[ServiceDefinition, Mapping[str, Any], date], Stop | None]
"""The answers of the pages shown and today: a Stop, or None when nothing stops the person."""


@dataclass(frozen=True)
class Note:
    """Something an application's pages tell the applicant now: a heading, its lines, and a
    link (its text and address) to what they can do."""

    heading: str
    lines: tuple[str, ...] = ()
    link: tuple[str, str] | None = None


ApplicationNotes = Callable[[Session, Application, FederationDocument | None], list[Note]]
"""What to tell the applicant now, from the node's database and its federation document (the
names of members), if it holds one. It only reads: the pages run it in a read-only step with
the application row given (services.applications.application_with_notes), so what it reads
agrees with that row. A handler judges by the row's status all the same: a caller that reads
outside such a step still gets a note that agrees with the status it shows."""


class Registry(Generic[T]):
    """Things of one kind by name, registered in code."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> None:
        """Register item as name; a name already taken is refused (ValueError)."""
        if name in self._items:
            raise ValueError(f"a {self.kind} named {name!r} is registered already")
        self._items[name] = item

    def unregister(self, name: str) -> None:
        """Forget name (nothing if it is not registered)."""
        self._items.pop(name, None)

    @contextmanager
    def registered(self, name: str, item: T) -> Iterator[None]:
        """name registered as item for the with block (a node built inside it keeps using it)."""
        self.register(name, item)
        try:
            yield
        finally:
            self.unregister(name)

    def get(self, name: str) -> T | None:
        """The item registered as name, or None."""
        return self._items.get(name)

    def names(self) -> frozenset[str]:
        """Every name registered."""
        return frozenset(self._items)


def record(
    _session: Session, _application: Application, _definition: ServiceDefinition, _now: datetime
) -> Outcome:
    """Keep the application for the node's staff to decide: status submitted."""
    return Outcome(SUBMITTED)


SUBMIT_ACTIONS: Registry[SubmitAction] = Registry("submission action")
SUBMIT_ACTIONS.register("record", record)
SLOT_SOURCES: Registry[SlotSource] = Registry("slot source")
DECISION_HOOKS: Registry[DecisionHook] = Registry("decision hook")
ELIGIBILITY: Registry[EligibilityCheck] = Registry("eligibility check")
NOTES: Registry[ApplicationNotes] = Registry("application notes")
WAKES: Registry[tuple[str, ...]] = Registry("events to set after a submission")
CANCELLATIONS: Registry[Cancellation] = Registry("cancellation")
# The reasons an action writes on its applications' events, each marked N_(): an applicant
# reads them in the page's language (presenter.event_reason); any other reason is shown as
# it was written (what staff typed).
REASONS: Registry[frozenset[str]] = Registry("event reasons")


def unregistered(definition: ServiceDefinition) -> str | None:
    """What definition names that no code here runs: its action or a slot source, in a
    sentence with the fix; None when everything it names is registered."""
    if definition.submit is not None and SUBMIT_ACTIONS.get(definition.submit.action) is None:
        action = definition.submit.action
        return (
            f"submit.action: this node has no handler for the action {action!r} (it runs "
            f"{', '.join(sorted(SUBMIT_ACTIONS.names()))}); fix: use one of those, or leave the "
            f"file out of [services] files until a release handles {action!r}"
        )
    for page, question in definition.questions():
        if question.source is not None and SLOT_SOURCES.get(question.source) is None:
            where = f"pages[{definition.pages.index(page)}].questions"
            where += f"[{page.questions.index(question)}].source"
            return (
                f"{where}: this node offers no slots named {question.source!r}; fix: name a "
                f"source this node registers, or leave the file out of [services] files"
            )
    return None
