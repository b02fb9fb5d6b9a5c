"""Feedback at a service node, through the real app on SQLite and PostgreSQL: the satisfaction
question, stories told, flagged, moderated, answered and published (pages, feed, API,
datasets), subscriptions and their email, the flood limit, and what each staff action logs."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from frictionless import validate
from sqlalchemy import select

from digitalstate.feedback.atom import ATOM
from digitalstate.performance.models import ServiceEventRow

from .casework_support import ADA, BEA
from .feedback_support import (
    BUS_SLUG,
    LIMIT,
    STAFF_STORIES,
    TELL,
    FeedbackNode,
    csrf,
    feedback_node,
    flags,
    public_paths,
)
from .journey_support import BUS, MEMBER

JOURNEY = "0b5c3d1e2f4a4b6c8d9e0f1a2b3c4d5e"  # a draft id
FEEDBACK = f"/feedback/{BUS_SLUG}"
FEEDBACK_LINK = re.compile(rf"{FEEDBACK}\?end=(\w+)&amp;journey=([0-9a-f]{{32}})")


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[FeedbackNode]:
    with feedback_node(tmp_path, migrated_database_url) as running:
        yield running


# --- the satisfaction question -----------------------------------------------------------------


def test_an_answer_at_an_end_point_is_a_rated_event_of_the_journey_and_the_comment_is_kept(
    node: FeedbackNode,
) -> None:
    person = node.browser()
    page = f"{FEEDBACK}?end=refused&journey={JOURNEY}"
    shown = person.get(page)
    assert shown.status_code == 200
    assert "Overall, how did you feel about the service you received today?" in shown.text
    assert shown.text.index("Very satisfied") < shown.text.index("Very dissatisfied")

    sent = person.send(
        page,
        FEEDBACK,
        {"rating": "2", "comment": " Too many questions ", "end": "refused", "journey": JOURNEY},
    )

    assert sent.status_code == 303 and sent.headers["location"] == f"{FEEDBACK}/thanks"
    assert node.rated() == [(BUS_SLUG, JOURNEY, 2)]
    assert node.comments() == [(BUS_SLUG, JOURNEY, "refused", 2, "Too many questions")]
    assert "Feedback sent" in person.get(f"{FEEDBACK}/thanks").text


def test_an_answer_without_a_comment_keeps_no_comment(node: FeedbackNode) -> None:
    person = node.browser()
    sent = person.send(FEEDBACK, FEEDBACK, {"rating": "5", "end": "done", "journey": ""})
    assert sent.status_code == 303
    assert node.rated() == [(BUS_SLUG, None, 5)] and node.comments() == []


def test_feedback_without_an_answer_is_refused_politely_next_to_the_question(
    node: FeedbackNode,
) -> None:
    person = node.browser()
    sent = person.send(FEEDBACK, FEEDBACK, {"comment": "no answer given", "end": "done"})
    assert sent.status_code == 400
    assert "There is a problem" in sent.text
    assert 'href="#rating"' in sent.text and "Select how you feel about the service" in sent.text
    assert "no answer given" in sent.text  # what was typed is kept
    assert node.rated() == [] and node.comments() == []


@pytest.mark.parametrize(
    "path",
    [
        "/feedback/no-such-service",
        f"{FEEDBACK}?end=finished",
        f"{FEEDBACK}?journey=../../etc",
        f"{FEEDBACK}?journey={'x' * 65}",
    ],
)
def test_the_question_of_an_unknown_service_or_end_point_is_not_found(
    node: FeedbackNode, path: str
) -> None:
    assert node.browser().get(path).status_code == 404


def test_a_flood_of_submissions_from_one_client_is_limited_with_a_clear_message(
    node: FeedbackNode,
) -> None:
    flooder = node.browser("198.51.100.7")
    for _ in range(LIMIT):
        assert flooder.send(FEEDBACK, FEEDBACK, {"rating": "1"}).status_code == 303
    refused = node.tell(browser=flooder)
    assert refused.status_code == 429
    assert "You have sent a lot of feedback" in refused.text and "Wait 10 minutes" in refused.text
    assert int(refused.headers["retry-after"]) == 600
    assert len(node.rated()) == LIMIT
    # Another client is not held back by it.
    assert node.tell(browser=node.browser("198.51.100.8")).status_code == 303


# --- telling and moderating --------------------------------------------------------------------


def test_a_story_is_held_unpublished_until_moderated(node: FeedbackNode) -> None:
    story = node.told()
    row = node.story_row(story)
    assert row.status == "held" and row.public_body is None
    anyone = node.browser()
    assert anyone.get(f"/stories/{story}").status_code == 404
    assert anyone.get(f"/api/v1/stories/{story}").status_code == 404
    assert story not in anyone.get("/stories").text
    assert story not in anyone.get("/api/v1/stories").text


def test_personal_data_and_abuse_are_flagged_with_the_reason_shown_to_moderators(
    node: FeedbackNode,
) -> None:
    story = node.told(
        "Mrs Patel helped",
        "My name is Ann Smith, ring 020 7946 0018 or ann@example.org, NI QQ 12 34 56 C. "
        "The other staff were idiots.",
    )
    assert flags(node.story_row(story)) == ["name", "name", "phone", "email", "nino", "abuse"]
    jo = node.staff("jo@pensions.example.org")
    page = jo.get(f"{STAFF_STORIES}/{story}")
    assert page.status_code == 200
    for reason in (
        "A person&#39;s name: “Ann Smith”",
        "A person&#39;s name: “Mrs Patel”",
        "A phone number: “020 7946 0018”",
        "An email address: “ann@example.org”",
        "A National Insurance number: “QQ 12 34 56 C”",
        "Abusive words: “idiots”",
    ):
        assert reason in page.text
    queue = jo.get(STAFF_STORIES)
    assert "Mrs Patel helped" in queue.text and "A phone number" in queue.text


@pytest.mark.parametrize(
    ("about", "message"),
    [
        ("node:no-such-node", "Select a service or node of this federation"),
        ("service:no-such-service", "Select a service or node of this federation"),
        ("", "Select what your story is about"),
    ],
)
def test_a_story_about_a_node_or_service_that_is_not_there_is_refused(
    node: FeedbackNode, about: str, message: str
) -> None:
    refused = node.tell(about=about)
    assert (
        refused.status_code == 400 and message in refused.text and 'href="#about"' in refused.text
    )


def test_a_story_about_the_node_itself_is_taken(node: FeedbackNode) -> None:
    story = node.told(about=f"node:{MEMBER}")
    row = node.story_row(story)
    assert (row.node, row.service) == (MEMBER, None)


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("title", {"title": ""}, "Enter a title for your story"),
        ("body", {"body": "x" * 5001}, "Your story must be 5,000 characters or fewer"),
        ("tags", {"tags": "one, two, three, four, five, six"}, "Enter up to 5 tags"),
        ("tags", {"tags": "<script>"}, "Enter up to 5 tags"),
    ],
)
def test_a_story_out_of_bounds_is_refused_next_to_its_field(
    node: FeedbackNode, field: str, data: dict[str, str], message: str
) -> None:
    refused = node.tell(**data)
    assert refused.status_code == 400 and message in refused.text
    assert f'href="#{field}"' in refused.text


def test_a_deidentified_story_publishes_the_edit_and_never_the_original(node: FeedbackNode) -> None:
    story = node.told("Ann Smith's visit", "My name is Ann Smith and the visit was cancelled.")
    jo = node.staff("jo@pensions.example.org")

    done = node.publish(
        jo, story, title="A visit", body="My name is [name removed] and the visit was cancelled."
    )

    assert done.status_code == 303 and done.headers["location"].endswith("?done=deidentified")
    row = node.story_row(story)
    assert row.deidentified and row.body.startswith("My name is Ann Smith")  # the original kept
    anyone = node.browser()
    for path in public_paths(story):
        shown = anyone.get(path)
        assert shown.status_code == 200, path
        assert "[name removed]" in shown.text, path
        assert "Ann Smith" not in shown.text, path
    # Every link the public list of stories gives to its data answers.
    listed = anyone.get("/stories").text
    for link in sorted(set(re.findall(r'href="(/(?:api|datasets)/[^"]*)"', listed))):
        assert anyone.get(link).status_code == 200, link
    staff_page = jo.get(f"{STAFF_STORIES}/{story}")
    assert "Ann Smith" in staff_page.text and "This story was de-identified" in staff_page.text
    assert [a for a, _p, _r in node.staff_entries(jo.account_id)] == ["staff-deidentified-story"]


def test_a_rejected_story_keeps_its_reason_for_staff_and_is_never_public(
    node: FeedbackNode,
) -> None:
    story = node.told()
    jo = node.staff("jo@pensions.example.org")
    refused = node.act(jo, story, "reject", {"reason": ""})
    assert refused.status_code == 400 and "Enter the reason for rejecting the story" in refused.text

    done = node.act(jo, story, "reject", {"reason": "Spam"})

    assert done.status_code == 303
    assert node.story_row(story).status == "rejected"
    assert "Spam" in jo.get(f"{STAFF_STORIES}/{story}").text
    assert node.browser().get(f"/stories/{story}").status_code == 404
    token = csrf(jo.get("/staff/stories/subscriptions"))  # the rejected story's page has no form
    again = jo.post(f"{STAFF_STORIES}/{story}/publish", data={"csrf_token": token, "edit": "no"})
    assert again.status_code == 409 and "moderated already" in again.text
    assert node.staff_entries(jo.account_id) == [("staff-rejected-story", "", f"story {story}")]


def test_staff_answer_under_their_role_and_changes_are_counted_and_shown(
    node: FeedbackNode,
) -> None:
    first, second = node.told(), node.told("Slow letters", "The letter took a month.")
    jo = node.staff("jo@pensions.example.org", name="Jo Bloggs")
    sam = node.staff("sam@pensions.example.org", "manager")
    for story in (first, second):
        assert node.publish(jo, story).status_code == 303
    assert (
        node.act(jo, first, "responses", {"response": "Thank you!", "change": "none"}).status_code
        == 303
    )
    assert (
        node.act(
            sam, second, "responses", {"response": "We will send them faster.", "change": "planned"}
        ).status_code
        == 303
    )
    answered = node.act(
        sam, second, "responses", {"response": "Letters now go first class.", "change": "made"}
    )
    assert answered.status_code == 303

    page = node.browser().get(f"/stories/{second}")
    assert "Response from a manager at Liverpool: pensions" in page.text
    assert "Change made" in page.text and "Change planned" in page.text
    assert "Jo Bloggs" not in page.text and "sam@pensions.example.org" not in page.text
    listing = node.browser().get("/stories")
    assert "2 stories published." in listing.text
    assert "0 led to a change that is planned" in listing.text
    assert "1 led to a change that is made." in listing.text
    assert node.story_row(second).change == "made"
    assert [r[:3] for r in node.responses(second)] == [
        ("manager", "We will send them faster.", "planned"),
        ("manager", "Letters now go first class.", "made"),
    ]
    assert node.staff_entries(sam.account_id) == [
        ("staff-answered-story", "", f"story {second}: change planned"),
        ("staff-answered-story", "", f"story {second}: change made"),
    ]


def test_a_response_needs_text_and_a_change_and_a_published_story(node: FeedbackNode) -> None:
    story = node.told()
    jo = node.staff("jo@pensions.example.org")
    held = node.act(jo, story, "responses", {"response": "Hello", "change": "none"})
    assert held.status_code == 409 and "Only a published story can be answered" in held.text
    node.publish(jo, story)
    empty = node.act(jo, story, "responses", {"response": "", "change": "sideways"})
    assert empty.status_code == 400
    assert (
        "Enter your response" in empty.text and "Select if the story led to a change" in empty.text
    )


def test_subscribed_staff_are_emailed_about_new_stories_without_their_text(
    node: FeedbackNode,
) -> None:
    jo = node.staff("jo@pensions.example.org")
    sam = node.staff("sam@pensions.example.org")
    saved = jo.send(
        "/staff/stories/subscriptions",
        "/staff/stories/subscriptions",
        {"services": [BUS_SLUG, "nonsense"]},
    )
    assert saved.status_code == 303
    sam.send("/staff/stories/subscriptions", "/staff/stories/subscriptions", {"services": ["node"]})

    story = node.told("Secret title", "Secret words")

    mail = [m for m in node.outbox() if m[0].startswith("story:")]
    assert [(key, to) for key, to, _s, _b in mail] == [
        (f"story:{story}:jo@pensions.example.org", ["jo@pensions.example.org"])
    ]
    _key, _to, subject, body = mail[0]
    assert "Apply for a bus pass" in subject
    assert f"/staff/stories/{story}" in body and "Secret" not in body + subject
    node.told(about=f"node:{MEMBER}")
    assert [to for _k, to, _s, _b in node.outbox() if _k.startswith("story:")][-1] == [
        "sam@pensions.example.org"
    ]
    assert node.staff_entries(jo.account_id) == [
        ("staff-changed-story-subscriptions", "", f"stories of: {BUS_SLUG}")
    ]


# --- the public pages, the feed, the API and the datasets --------------------------------------


def published(node: FeedbackNode, count: int, **story: str) -> list[str]:
    """count stories told and published as told; their ids, oldest first."""
    jo = node.staff(f"mod{count}@pensions.example.org")
    ids = []
    for n in range(count):
        ids.append(
            node.told(
                f"{story.get('title', 'Story')} {n}",
                story.get("body", "It went well."),
                tags=story.get("tags", "speed"),
            )
        )
        assert node.publish(jo, ids[-1]).status_code == 303
    return ids


def test_the_public_pages_are_paged_newest_first(node: FeedbackNode) -> None:
    ids = published(node, 22)
    anyone = node.browser()
    first = anyone.get("/stories")
    assert first.status_code == 200
    assert first.text.index(f"/stories/{ids[-1]}") < first.text.index(f"/stories/{ids[-2]}")
    assert f"/stories/{ids[0]}" not in first.text and "/stories?page=2" in first.text
    second = anyone.get("/stories?page=2")
    assert f"/stories/{ids[0]}" in second.text and "page 2 of 2" in second.text
    assert anyone.get(f"/stories/services/{BUS_SLUG}?page=2").status_code == 200
    assert anyone.get("/stories/nodes/no-such-node").status_code == 404
    assert anyone.get("/stories/services/no-such-service").status_code == 404
    assert anyone.get("/stories/NOTANID").status_code == 404


def test_the_feed_is_atom_with_the_newest_stories_escaped(node: FeedbackNode) -> None:
    (story,) = published(node, 1, title='<b>Bold</b> & "quoted"', body="5 < 6 & done")
    feed = node.browser().get("/stories/feed.atom")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith(
        "application/atom+xml"
    )
    root = ElementTree.fromstring(feed.content)
    entry = root.find(f"{{{ATOM}}}entry")
    assert entry is not None
    assert entry.findtext(f"{{{ATOM}}}title") == '<b>Bold</b> & "quoted" 0'
    assert entry.findtext(f"{{{ATOM}}}content") == "5 < 6 & done"
    assert entry.findtext(f"{{{ATOM}}}id", "").endswith(f"/stories/{story}")
    assert node.browser().get(f"/stories/feed.atom?service={BUS_SLUG}").status_code == 200
    assert node.browser().get("/stories/feed.atom?service=nope").status_code == 404


def test_the_api_lists_published_stories_filtered_and_paged(node: FeedbackNode) -> None:
    ids = published(node, 3, tags="waiting times, staff")
    node.told()  # held: never listed
    api = node.browser()
    listed = api.get("/api/v1/stories").json()
    assert listed["total"] == 3 and [s["id"] for s in listed["stories"]] == ids[::-1]
    assert all(s["status"] == "published" for s in listed["stories"])
    assert listed["stories"][0]["tags"] == ["waiting times", "staff"]
    assert api.get("/api/v1/stories", params={"tag": "waiting times"}).json()["total"] == 3
    assert api.get("/api/v1/stories", params={"tag": "other"}).json()["total"] == 0
    assert api.get("/api/v1/stories", params={"service": BUS_SLUG}).json()["total"] == 3
    assert (
        api.get(
            "/api/v1/stories", params={"node": MEMBER, "from": "2000-01-01", "to": "2999-12-31"}
        ).json()["total"]
        == 3
    )
    assert api.get("/api/v1/stories", params={"to": "2000-01-01"}).json()["total"] == 0
    one = api.get(f"/api/v1/stories/{ids[0]}").json()
    assert one["answers"] == [] and one["url"].endswith(f"/stories/{ids[0]}")


@pytest.mark.parametrize(
    "query",
    [
        {"status": "held"},
        {"status": "rejected"},
        {"page": "0"},
        {"page": "10001"},
        {"page": "two"},
        {"from": "2026-13-01"},
        {"from": "yesterday"},
        {"from": "2026-02-02", "to": "2026-02-01"},
        {"service": "x" * 64},
        {"tag": "<script>"},
        {"change": "maybe"},
        {"sort": "title"},
    ],
)
def test_bad_api_input_is_problem_json(node: FeedbackNode, query: dict[str, str]) -> None:
    answer = node.browser().get("/api/v1/stories", params=query)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "urn:digitalstate:problem:malformed-request"


def test_an_unpublished_or_unknown_story_is_not_found_in_the_api(node: FeedbackNode) -> None:
    held = node.told()
    for story in (held, "zzzzzzzzzzzz", "../../x"):
        answer = node.browser().get(f"/api/v1/stories/{story}")
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"


def test_the_dataset_validates_as_a_data_package(node: FeedbackNode, tmp_path: Path) -> None:
    ids = published(node, 2, body='Commas, "quotes"\nand lines')
    jo = node.staff("jo@pensions.example.org")
    node.act(jo, ids[0], "responses", {"response": "Thanks, noted.", "change": "planned"})
    node.told()  # held: in no table
    anyone = node.browser()
    package = anyone.get("/datasets/stories/datapackage.json").json()
    assert package["resources"][1]["schema"]["foreignKeys"] == [
        {"fields": ["story_id"], "reference": {"resource": "stories", "fields": ["id"]}}
    ]
    for resource, count in zip(package["resources"], (2, 1), strict=True):
        name = resource["name"]
        text = anyone.get(f"/datasets/stories/{name}.csv").text
        (tmp_path / f"{name}.csv").write_text(text, newline="")
        resource["path"] = f"{name}.csv"  # the package read from here: keys checked across tables
        assert len(list(csv.DictReader(io.StringIO(text)))) == count
        assert len(anyone.get(f"/datasets/stories/{name}.json").json()) == count
    (tmp_path / "datapackage.json").write_text(json.dumps(package))
    report = validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    text = anyone.get("/datasets/stories/responses.csv").text
    responses = list(csv.DictReader(io.StringIO(text)))
    assert responses[0]["role"] == "caseworker" and "jo@" not in json.dumps(responses)


# --- staff routes need a staff session ---------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [STAFF_STORIES, f"{STAFF_STORIES}/abcdefghjkmn", "/staff/stories/subscriptions"],
)
def test_staff_pages_send_a_person_without_a_staff_session_to_sign_in(
    node: FeedbackNode, path: str
) -> None:
    answer = node.browser().get(path)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/sign-in")


def test_staff_actions_without_a_staff_session_change_nothing(node: FeedbackNode) -> None:
    story = node.told()
    person = node.browser()
    token = person.get(TELL)  # a people's session with its own CSRF token
    for action, data in (
        ("publish", {"edit": "no"}),
        ("reject", {"reason": "x"}),
        ("responses", {"response": "x", "change": "made"}),
    ):
        answer = person.post(
            f"{STAFF_STORIES}/{story}/{action}", data={"csrf_token": csrf(token), **data}
        )
        assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/sign-in")
    assert node.story_row(story).status == "held"


def test_a_staff_action_without_its_csrf_token_is_refused(node: FeedbackNode) -> None:
    story = node.told()
    jo = node.staff("jo@pensions.example.org")
    answer = jo.post(f"{STAFF_STORIES}/{story}/publish", data={"edit": "no"})
    assert answer.status_code == 403
    assert node.story_row(story).status == "held"


# --- the links from the end points -------------------------------------------------------------


def test_the_confirmation_and_the_left_page_link_the_question_with_the_journeys_id(
    node: FeedbackNode,
) -> None:
    reference = node.casework.apply(ADA)
    person = node.casework.journeys
    page = person.get(f"{BUS}/confirmation/{reference}")
    found = FEEDBACK_LINK.search(page.text)
    assert found, page.text
    assert found.group(1) == "done"
    with node.runtime.sessions.begin() as db:
        completed = db.scalars(
            select(ServiceEventRow.journey).where(ServiceEventRow.kind == "completed")
        ).all()
    assert completed == [found.group(2)]

    person.sign_in(BEA)
    person.type_answers()
    left = person.get(f"{BUS}/leave")
    found = FEEDBACK_LINK.search(left.text)
    assert left.status_code == 200 and found, left.text
    assert found.group(1) == "left" and len(found.group(2)) == 32
    # Answered from there, the answer joins the journey.
    answer = node.browser()
    link = found.group(0).replace("&amp;", "&")
    sent = answer.send(link, FEEDBACK, {"rating": "4", "end": "left", "journey": found.group(2)})
    assert sent.status_code == 303
    assert node.rated() == [(BUS_SLUG, found.group(2), 4)]
