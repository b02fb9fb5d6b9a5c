"""Whom each browser test module signs in as on the demo: person n is
`make_person(DEFAULT_SEED, n)`, one of the demo's synthetic people.

The browser tests share one demo (conftest.py's `demo`), so what a person did in one module
(applications, consents, helpers, a new address, who has seen their data) is still there in
the next. No person is given to two modules: whatever ran before on the demo, and in whatever
order, a test meets only what its own module did. `by_js` and `one` hand the numbers out and
refuse one given already; the demo seeds DEMO_PEOPLE, as many as are handed out. A few are
picked for what the seed made them, as said beside them (`digitalstate.demo.synthetic`).
"""

from __future__ import annotations

from digitalstate.demo.federation import DEFAULT_SEED
from digitalstate.demo.synthetic import SyntheticPerson, make_person

_GIVEN: set[int] = set()


def one(number: int) -> int:
    """Person number, for one module only."""
    assert number not in _GIVEN, f"person {number} is another test module's already"
    _GIVEN.add(number)
    return number


def by_js(with_js: int, without_js: int) -> dict[bool, int]:
    """Two people of one module, by whether the test runs with JavaScript."""
    return {True: one(with_js), False: one(without_js)}


def person(number: int) -> SyntheticPerson:
    """The demo's person number."""
    return make_person(DEFAULT_SEED, number)


# test_consent_journey: consents to pensions reading their details, withdraws the consent and
# reads who has seen their data (which nobody else's journey may add to).
CONSENTING = by_js(0, 1)

# test_pension_journeys: claimants of State Pension age (Dorota Sample, Rosie Murray), who then
# move; people of State Pension age whose helper claims it for them; and their helpers.
PENSION_CLAIMANTS = by_js(3, 15)
HELPED_PENSIONERS = by_js(10, 16)
PENSIONERS_HELPERS = by_js(11, 18)

# test_performance_pages: people who leave the care assessment part-way.
LEAVERS = by_js(19, 20)

# test_service_journeys: people who ask for a care assessment, and one who then looks for
# another's; prison visitors; the care assessment with the keyboard only; people a caseworker
# fills the care assessment in with (their names typed, their accounts never used).
CARE_APPLICANTS = by_js(2, 17)
ANOTHER_PERSON = one(9)
PRISON_VISITORS = by_js(21, 8)
KEYBOARD_USER = one(5)
ASSISTED = by_js(6, 7)

# test_vote_journeys: people not registered to vote yet (Eilidh Sample, Theodore Thompson) who
# register; people who give SOMEONE_ELSE's National Insurance number and must send a document.
VOTERS = by_js(4, 13)
UNMATCHED_VOTERS = by_js(12, 14)
SOMEONE_ELSE = one(22)  # only their number is typed: they never sign in

DEMO_PEOPLE = max(_GIVEN) + 1
