"""Who has seen your data, on the log: verified, not yet verified and failed entries, the
filters and the downloads, across a real charter and People register (SQLite and PostgreSQL).

The witnesses are played by the test: it cosigns a node's newest checkpoint with the pensions
service's key, as `liverpool-pensions` would, and gives the node the cosignature through the
signed exchange route POST /exchange/v1/log/cosignatures.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import html
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from log_tamper import change_entry, delete_entry  # tests/e2e: how an insider tampers
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.federation.domain import FederationDocument, sign_document
from digitalstate.identity.service import pseudonym_for
from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import LogEntry, witness_name
from digitalstate.transparency.models import LogCheckpoint
from digitalstate.transparency.note import Checkpoint, SignedNote, cosign, sign_checkpoint
from digitalstate.transparency.store import (
    PublishedCheckpoint,
    latest_checkpoint,
    pending_count,
    read_head,
)
from digitalstate.transparency.verify import check_checkpoint, log_identity, verify_entry
from integration.consent_support import (
    ANCHOR,
    ELECTORAL,
    PENSIONS,
    Federation,
    add_person_with_record,
    agree,
    read_address,
    running_federation,
)

PURPOSE = "pension-administration"
ADDRESS = {"lines": ["1 Dock Road"], "town": "Liverpool", "postcode": "L1 1AA"}
COSIGNATURES = "/exchange/v1/log/cosignatures"
SETTLE_WITHIN_S = 20.0
WITNESS_INTERVAL_ENV = "DIGITALSTATE_LOG__WITNESS_INTERVAL_SECONDS"
TAG = re.compile(r'class="govuk-tag govuk-tag--(\w+)">\s*([^<]+?)\s*</strong>')


@pytest.fixture
def fed(
    tmp_path: Path,
    migrated_database_url: str,
    more_databases: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Federation]:
    # The nodes' own witnesses stay quiet: the test decides when a checkpoint is cosigned.
    monkeypatch.setenv(WITNESS_INTERVAL_ENV, "3600")
    yield from running_federation(tmp_path, migrated_database_url, more_databases)


@pytest.fixture
def ada(fed: Federation) -> str:
    """Ada, signed in, with a record at the People register."""
    return add_person_with_record(fed, "ada@example.org", "Ada Lovelace", ADDRESS)


def read(fed: Federation, consent_id: str) -> None:
    answer = read_address(fed, consent_id)
    assert answer.status == 200, answer.body


def basis_read(fed: Federation, person: str, basis: str = "electoral-canvass") -> None:
    """The electoral registration office reads Ada's address under a statutory basis.

    Under any other basis than electoral-canvass the charter refuses it (403), itself.
    """
    body = {
        "subject": pseudonym_for(fed.charter, "electoral-registration", person, record=True),
        "holder": "people-register",
        "fields": ["people.address"],
    }
    response = fed.signed(
        "electoral-registration",
        ELECTORAL,
        "POST",
        "/exchange/v1/basis-reads",
        body,
        purpose="electoral-registration",
        basis=basis,
    )
    expected = 200 if basis == "electoral-canvass" else 403
    assert response.status_code == expected, response.text


# --- the logs, settled and witnessed ---------------------------------------------------------


def holder_engine(fed: Federation) -> Engine:
    maker: sessionmaker[Session] = fed.holder_sessions
    engine = maker.kw["bind"]
    assert isinstance(engine, Engine)
    return engine


def _settled(engine: Engine) -> PublishedCheckpoint | None:
    """The newest checkpoint once every entry is integrated and signed for, else None."""
    with engine.connect() as db:
        # Pending first: on PostgreSQL each statement sees what was committed when it began,
        # so head and checkpoint read after "nothing pending" include the last batch.
        if pending_count(db):
            return None
        head = read_head(db)
        newest = latest_checkpoint(db)
        if head is None or newest is None or newest.size != head.size:
            return None
        return newest


def settle_holder(fed: Federation) -> PublishedCheckpoint:
    """Wait until the People register (serving in its thread) has signed for every entry."""
    deadline = time.monotonic() + SETTLE_WITHIN_S
    while (found := _settled(holder_engine(fed))) is None:
        assert time.monotonic() < deadline, "the People register's log did not settle"
        time.sleep(0.05)
    return found


def settle_charter(fed: Federation) -> PublishedCheckpoint:
    """Run the charter's loop (its sequencer runs only then) until it signed for every entry."""
    deadline = time.monotonic() + SETTLE_WITHIN_S
    while (found := _settled(fed.charter.engine)) is None:
        assert time.monotonic() < deadline, "the charter's log did not settle"
        fed.browser.run(asyncio.sleep(0.05))
    return found


def witness_note(fed: Federation, note: SignedNote) -> dict[str, str]:
    """The note cosigned by liverpool-pensions as a witness: the cosignatures route's body."""
    name = witness_name(fed.document.federation, "liverpool-pensions")
    line = cosign(note, name, PENSIONS, int(time.time()))
    return {"checkpoint": note.with_signatures([line]).render()}


def witness_holder(fed: Federation) -> int:
    """Settle the People register's log and cosign its newest checkpoint; its size."""
    found = settle_holder(fed)
    answer = fed.call_holder(
        "liverpool-pensions", PENSIONS, "POST", COSIGNATURES, witness_note(fed, found.note)
    )
    assert answer.status == 201, answer.body
    return found.size


def witness_charter(fed: Federation) -> int:
    """Settle the charter's own log and cosign its newest checkpoint; its size."""
    found = settle_charter(fed)
    answer = fed.signed(
        "liverpool-pensions", PENSIONS, "POST", COSIGNATURES, witness_note(fed, found.note)
    )
    assert answer.status_code == 201, answer.text
    return found.size


def activity(fed: Federation, query: str = "") -> str:
    """The activity page's HTML, entities decoded."""
    response = fed.browser.get("/my/activity" + query)
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


def cards(page: str) -> list[str]:
    """The summary cards of the activity page, one per access, newest first."""
    return page.split('class="govuk-summary-card ')[1:]


def tags(part: str) -> list[tuple[str, str]]:
    """The tags in part of a page: (colour, words)."""
    return TAG.findall(part)


VERIFIED = ("green", "Verified")
PENDING = ("yellow", "Not yet verified")
FAILED = ("red", "Failed verification")


def download(fed: Federation, path: str) -> Any:
    response = fed.browser.get(path)
    assert response.status_code == 200, response.text
    return response


# --- verification ----------------------------------------------------------------------------


def test_each_entry_is_verified_once_a_witness_cosigned_its_checkpoint(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    size = witness_holder(fed)

    page = activity(fed)

    found = cards(page)
    assert len(found) == 2
    assert "Read from People register" in found[0]
    assert "Your consent was recorded at People register" in found[1]
    assert [tags(card) for card in found] == [[VERIFIED], [VERIFIED]]
    assert f"Checked against People register's signed checkpoint of {size} entries" in page
    assert "confirmed by Liverpool: pensions" in page
    assert "Not yet verified" not in page and "Failed verification" not in page
    assert "We could not reach Liverpool: pensions, Electoral registration office" in page


def test_before_a_witness_cosigns_entries_are_not_yet_verified(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    settle_holder(fed)

    page = activity(fed)

    assert tags(page) == [PENDING, PENDING]
    assert "2 accesses are not yet verified" in page
    assert "which no other node has confirmed yet" in page


def test_a_changed_entry_fails_verification_and_is_shown_first_thing(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    read(fed, consent_id)
    witness_holder(fed)
    # Leaves 0 (the consent) and 1 (the first read) are siblings: changing leaf 0 breaks the
    # proofs of both; leaf 2's proof is the stored hash of the two, so it still checks.
    change_entry(holder_engine(fed), 0, reason="nobody read anything")

    page = activity(fed)

    assert "2 accesses failed verification." in page.split('id="accesses"')[0]
    newest, first_read, changed = cards(page)
    assert "nobody read anything" in changed
    assert tags(changed) == tags(first_read) == [FAILED]
    assert "the entry or the log was changed after it was recorded" in changed
    assert tags(newest) == [VERIFIED]
    listed = download(fed, "/my/activity.json").json()
    assert [e["status"] for e in listed["entries"]] == [
        "verified",
        "failed verification",
        "failed verification",
    ]


def test_an_entry_its_node_cannot_prove_fails_with_the_nodes_reason_and_no_other(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    read(fed, consent_id)
    witness_holder(fed)
    # Deleting the first read (leaf 1) takes the leaf hash the consent's proof (leaf 0) needs;
    # the newest read's proof is the stored hash of leaves 0 and 1, so it can still be made.
    delete_entry(holder_engine(fed), 1)

    page = activity(fed)

    newest, consent = cards(page)
    assert tags(newest) == [VERIFIED] and tags(consent) == [FAILED]
    assert "Your consent was recorded at People register" in consent
    # The register's own reason, as it sent it: the store lacks what the proof needs.
    assert "People register could not prove that this entry is in its signed checkpoint" in consent
    assert "the stored log lacks" in consent
    assert "1 access failed verification." in page.split('id="accesses"')[0]
    assert "could not be checked" not in page  # the answer came; one entry in it failed
    listed = download(fed, "/my/activity.json").json()["entries"]
    assert [e["status"] for e in listed] == ["verified", "failed verification"]
    assert "the stored log lacks" in listed[1]["status_detail"]


def test_a_checkpoint_the_node_did_not_sign_fails_every_entry(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    found = settle_holder(fed)
    forger = KeyPair.from_seed(bytes(range(200, 232)))
    origin = found.note.checkpoint.origin
    forged = sign_checkpoint(Checkpoint(origin, found.size, found.root), origin, forger)
    with holder_engine(fed).begin() as db:
        db.execute(
            update(LogCheckpoint)
            .where(LogCheckpoint.size == found.size)
            .values(note=forged.render())
        )

    page = activity(fed)

    assert tags(page) == [FAILED, FAILED]
    assert "signed checkpoint does not check" in page
    assert "2 accesses failed verification." in page


# --- reads under a statutory basis: one access, two records ----------------------------------


def test_a_basis_read_is_one_access_recorded_by_the_charter_and_the_register(
    fed: Federation, ada: str
) -> None:
    basis_read(fed, ada)
    witness_holder(fed)
    charter_size = witness_charter(fed)

    page = activity(fed)

    (card,) = cards(page)
    assert "Read from People register under a statutory basis, through the charter" in card
    assert "Representation of the People Act 1983, s. 9A" in card
    assert "Electoral registration office" in card
    assert tags(card) == [VERIFIED, VERIFIED]
    assert "Charter: your account: " in card and "People register: " in card
    assert f"Charter: your account's signed checkpoint of {charter_size} entr" in card
    listed = download(fed, "/my/activity.json").json()["entries"]
    assert [e["node"] for e in listed] == ["charter", "people-register"]  # relayed after
    assert [e["what"] for e in listed] == [
        "Read from People register under a statutory basis, through the charter",
        "Read from People register under a statutory basis",
    ]
    assert all(e["status"] == "verified" for e in listed)


def test_a_refusal_by_the_charter_is_its_own_access_verified_in_the_charters_log(
    fed: Federation, ada: str
) -> None:
    basis_read(fed, ada)
    basis_read(fed, ada, basis="tax-address-update")
    witness_holder(fed)
    witness_charter(fed)

    page = activity(fed)

    refused, relayed = cards(page)
    assert (
        "Tried to read from People register under a statutory basis, and was refused by the "
        "charter" in refused
    )
    assert "basis tax-address-update is for newcastle-tax only" in refused
    assert "Electoral registration office" in refused
    assert tags(refused) == [VERIFIED]
    assert "Charter: your account's signed checkpoint of 2 entries" in refused
    # The read the basis allowed still pairs: one access, two records.
    assert "Read from People register under a statutory basis, through the charter" in relayed
    assert tags(relayed) == [VERIFIED, VERIFIED]
    (only,) = cards(activity(fed, "?action=refused"))
    assert "refused by the charter" in only
    listed = download(fed, "/my/activity.json").json()["entries"]
    assert [(e["node"], e["action"], e["outcome"]) for e in listed] == [
        ("charter", "refused", "refused"),
        ("charter", "basis-read", "allowed"),
        ("people-register", "basis-read", "allowed"),
    ]


# --- what could not be checked ---------------------------------------------------------------


def revised(document: FederationDocument, member_id: str, **update: Any) -> FederationDocument:
    """The next version of document, with member_id changed."""
    members = tuple(
        m.model_copy(update=update) if m.id == member_id else m for m in document.members
    )
    return document.model_copy(update={"version": document.version + 1, "members": members})


def serve_holder_under(fed: Federation, document: FederationDocument) -> None:
    """Restart the People register under another federation document than the charter's."""
    fed.stop_holder()
    envelope = sign_document(document, ANCHOR)
    fed.holder_settings.federation_cache_path.write_text(json.dumps(envelope))
    fed.start_holder()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        # The register no longer takes the charter for one: a signed 403.
        (
            {"roles": ("service",)},
            "it answered with an error (403 caller-not-allowed: only a member with the charter "
            "role may ask)",
        ),
        # The register no longer trusts the charter's key: it cannot sign its refusal.
        ({"revoked_at": datetime(2020, 1, 1, tzinfo=UTC)}, "it answered with an error it did"),
    ],
    ids=["signed-problem", "unsigned-problem"],
)
def test_a_register_that_answers_with_a_problem_is_named_as_unchecked_not_unreachable(
    fed: Federation, ada: str, change: dict[str, Any], words: str
) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    serve_holder_under(fed, revised(fed.document, "charter", **change))

    page = activity(fed)

    warning = page.split('id="accesses"')[0]
    assert f"People register's log could not be checked: {words}" in warning
    assert "We could not reach Liverpool: pensions, Electoral registration office," in warning
    assert "We could not reach People register" not in page
    assert cards(page) == []
    listed = download(fed, "/my/activity.json").json()
    assert [u["node"] for u in listed["unchecked"]] == ["people-register"]
    assert listed["unchecked"][0]["reason"].startswith(words)
    assert "people-register" not in [u["node"] for u in listed["unreachable"]]


def test_a_register_that_left_the_federation_is_named_and_the_charters_relays_to_it_stay(
    fed: Federation, ada: str
) -> None:
    basis_read(fed, ada)
    basis_read(fed, ada, basis="tax-address-update")
    witness_charter(fed)
    # The People register leaves: its keys are no longer trusted, so nothing it holds can be
    # verified, and it is not asked. The charter's own entries about reads from it remain.
    left = revised(fed.document, "people-register", revoked_at=datetime.now(UTC))
    assert fed.charter.keeper.accept(sign_document(left, ANCHOR)).accepted

    page = activity(fed)

    warning = page.split('id="accesses"')[0]
    assert (
        "People register has left the federation: its entries about you cannot be checked, so "
        "they are not shown." in warning
    )
    assert "We could not reach Liverpool: pensions, Electoral registration office," in warning
    refused, relayed = cards(page)
    assert "and was refused by the charter" in refused
    assert "Read from People register under a statutory basis, through the charter" in relayed
    assert tags(refused) == tags(relayed) == [VERIFIED]  # the charter's log, still trusted
    options = re.findall(r'<option value="([^"]*)"', page)
    assert "people-register" not in options
    listed = download(fed, "/my/activity.json").json()
    assert listed["left_federation"] == [
        {"node": "people-register", "node_name": "People register"}
    ]
    assert listed["unchecked"] == []
    assert {e["node"] for e in listed["entries"]} == {"charter"}


# --- filters -------------------------------------------------------------------------------


def test_the_filters_narrow_the_page_and_offer_choices_in_words(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    basis_read(fed, ada)

    everything = activity(fed)
    assert len(cards(everything)) == 3
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', everything)
    assert ("people-register", "People register") in options
    assert ("charter", "Charter: your account") in options
    assert ("pension-administration", "Paying your State Pension") in options
    assert ("consent-given", "Consent recorded") in options
    for name in ("node", "purpose", "action"):
        assert f'<label class="govuk-label" for="{name}">' in everything

    by_purpose = activity(fed, "?purpose=electoral-registration")
    (relayed,) = cards(by_purpose)
    assert "through the charter" in relayed
    assert "1 access matches your filters" in by_purpose
    assert re.search(r'<option value="electoral-registration"\s+selected>', by_purpose)

    by_action = activity(fed, "?action=consent-given")
    (only,) = cards(by_action)
    assert "Your consent was recorded at People register" in only

    by_node = activity(fed, "?node=charter&purpose=&action=")
    (relayed,) = cards(by_node)
    assert "through the charter" in relayed
    assert 'href="/my/activity.json?node=charter"' in by_node
    assert 'href="/my/activity">Clear filters' in by_node

    nothing = activity(fed, "?node=charter&action=consent-given")
    assert cards(nothing) == []
    assert "No accesses match these filters." in nothing


# --- downloads -----------------------------------------------------------------------------


def test_the_json_download_holds_what_it_takes_to_verify_each_entry(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    witness_holder(fed)

    response = download(fed, "/my/activity.json")

    assert response.headers["content-type"].startswith("application/json")
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="who-has-seen-my-data.json"'
    listed = response.json()
    assert listed["filters"] == {"node": None, "purpose": None, "action": None}
    assert "SHA-256(0x00" in listed["how_to_verify"]
    assert [e["action"] for e in listed["entries"]] == ["read", "consent-given"]
    assert listed["unreachable"] == [
        {"node": "liverpool-pensions", "node_name": "Liverpool: pensions"},
        {"node": "electoral-registration", "node_name": "Electoral registration office"},
    ]
    for item in listed["entries"]:
        # Anyone can check an entry with the download and the federation's keys alone.
        _, checkpoint = check_checkpoint(
            item["checkpoint"], log_identity(fed.document, item["node"])
        )
        assert item["checkpoint_size"] == checkpoint.size
        proof = [base64.b64decode(h) for h in item["proof"]]
        verify_entry(item["entry"].encode(), item["leaf_index"], proof, checkpoint)
        entry = LogEntry.decode(item["entry"].encode())
        assert (item["requester"], item["action"], item["purpose"]) == (
            entry.requester,
            entry.action,
            entry.purpose,
        )
        assert item["status"] == "verified"
        assert item["witnesses"] == ["liverpool-pensions"]
        assert item["node_name"] == "People register"
        assert item["requester_name"] == "Liverpool: pensions"
        assert item["purpose_title"] == "Paying your State Pension"
        assert item["consent_id"] == consent_id

    filtered = download(fed, "/my/activity.json?action=read").json()
    assert filtered["filters"]["action"] == "read"
    assert [e["action"] for e in filtered["entries"]] == ["read"]


def test_the_csv_download_has_a_row_per_entry_with_its_status(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)
    read(fed, consent_id)
    basis_read(fed, ada)
    settle_holder(fed)  # not witnessed: not yet verified

    response = download(fed, "/my/activity.csv")

    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="who-has-seen-my-data.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["basis-read", "basis-read", "read", "consent-given"]
    assert [r["node"] for r in rows] == ["charter", *["people-register"] * 3]
    assert {r["status"] for r in rows} == {"not yet verified"}
    read_row = rows[2]
    assert read_row["what"] == "Read from People register"
    assert read_row["fields"] == "people.address"
    assert read_row["purpose_title"] == "Paying your State Pension"
    assert read_row["leaf_index"] == "1"
    assert read_row["checkpoint_size"] == "3"
    basis_rows = download(fed, "/my/activity.csv?node=people-register&action=basis-read").text
    (only,) = list(csv.DictReader(io.StringIO(basis_rows)))
    assert only["legislation"].startswith("Representation of the People Act 1983, s. 9A")
    assert only["what"] == "Read from People register under a statutory basis"


def test_the_page_and_downloads_need_a_sign_in(fed: Federation) -> None:
    for path in ("/my/activity", "/my/activity.json", "/my/activity.csv"):
        response = fed.browser.get(path)
        assert response.status_code in (302, 303), path
        assert response.headers["location"].startswith("/sign-in"), path
