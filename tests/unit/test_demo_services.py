"""The demo's services ask for what their purpose wording names, from the register that holds it."""

from __future__ import annotations

import pytest

from digitalstate.demo.federation import DEMO_NODES, DEMO_SERVICES, DemoNode, demo_service
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.services.definitions import read_definition
from digitalstate.services.domain import ServiceEntry

CATALOGUE = load_catalogue()
PURPOSES = {p.code: p for p in CATALOGUE.purposes}
HOLDERS = {f.name: f.holder for f in CATALOGUE.fields}
SERVICES = {n.id: demo_service(n.id) for n in DEMO_NODES if n.service}
ENTRIES = [pytest.param(entry, id=entry.member) for entry in SERVICES.values()]
WORDS = {
    "people.given_names": "name",
    "people.family_name": "name",
    "people.date_of_birth": "date of birth",
    "people.address": "address",
}


def test_every_demo_service_node_runs_a_service() -> None:
    service_nodes = {n.id for n in DEMO_NODES if "service" in n.roles}
    assert {n.id for n in DEMO_NODES if n.service_files} == service_nodes
    # The People register runs a service with pages only: it reads nothing from elsewhere.
    assert set(SERVICES) == service_nodes - {"people-register"}


# Services with pages of questions whose submission actions no node runs yet (later work):
# no node names them.
UNHANDLED: set[str] = set()


def test_every_packaged_service_file_is_one_nodes() -> None:
    named = {name for n in DEMO_NODES for name in n.service_files}
    assert {p.name for p in DEMO_SERVICES.glob("*.toml")} - UNHANDLED == named
    journeys = {n.id: n.journey for n in DEMO_NODES if n.journey}
    assert journeys == {
        "people-register": "change-your-address.toml",
        "liverpool-pensions": "apply-for-state-pension.toml",
        "birmingham-social-care": "ask-for-a-care-assessment.toml",
        "electoral-registration": "register-to-vote.toml",
        "prisons": "book-a-prison-visit.toml",
    }


@pytest.mark.parametrize(
    "node", [pytest.param(n, id=n.id) for n in DEMO_NODES if n.journey is not None]
)
def test_each_journey_names_a_purpose_whose_wording_names_its_fields(node: DemoNode) -> None:
    assert node.journey is not None
    definition = read_definition(DEMO_SERVICES / node.journey)
    assert definition.purpose in PURPOSES
    wording = PURPOSES[definition.purpose].wording
    assert {WORDS[f] for f in definition.fields} <= {w for w in WORDS.values() if w in wording}
    assert {HOLDERS[f] for f in definition.fields} == {"people-register"}


@pytest.mark.parametrize("entry", ENTRIES)
def test_each_service_names_a_purpose_of_the_catalogue(entry: ServiceEntry) -> None:
    assert entry.purpose in PURPOSES


@pytest.mark.parametrize("entry", ENTRIES)
def test_each_service_asks_only_for_what_its_purpose_wording_names(entry: ServiceEntry) -> None:
    wording = PURPOSES[entry.purpose].wording
    named = {field for field, word in WORDS.items() if word in wording}
    assert set(entry.fields) == named, wording


@pytest.mark.parametrize("entry", ENTRIES)
def test_each_service_asks_the_register_that_holds_its_fields(entry: ServiceEntry) -> None:
    assert {HOLDERS[f] for f in entry.fields} == {entry.holder} == {"people-register"}
    assert entry.notify and entry.duration_days == 365


def test_pensions_checks_your_state_pension_details_from_address_and_date_of_birth() -> None:
    entry = demo_service("liverpool-pensions")
    assert entry.member == "liverpool-pensions"
    assert entry.title == "Check your State Pension details"
    assert entry.fields == ("people.address", "people.date_of_birth")


def test_a_node_with_no_entry_runs_no_service() -> None:
    for member_id in ("people-register", "charter"):
        with pytest.raises(KeyError):
            demo_service(member_id)
