"""Tests of free text on the self-check's first page: proposals shown, confirmed, then asked on.

The description of a left foot drop with shooting pain, and a bladder problem denied: the
foot drop, the shooting pain and the pain region are proposed; the denied bladder problem is
a warning sign the interview still asks, never an absent finding.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import AdapterError
from pinchpoint.io.freetext import interview_from_findings, read_text
from pinchpoint.service.store import Store

_STORY = (
    "My left foot slaps when I walk, shooting pain down the back of my left leg, "
    "and no problems with my bladder."
)
_SESSION = re.compile(r"^/check/interviews/([0-9a-f]{32})$")


def _stored_interview(store: Store, knowledge: Knowledge, location: str) -> Interview:
    match = _SESSION.match(location)
    assert match, location
    record = store.get_interview(match.group(1))
    assert record is not None
    return Interview.from_dict(record.state["interview"], knowledge)


def test_the_first_page_offers_a_description_box(client: TestClient) -> None:
    """The self-check's first page has a labelled box that posts to the free-text reader."""
    page = client.get("/check").text
    assert 'action="/check/text"' in page
    assert '<label for="q-text">' in page


def test_a_description_is_shown_as_proposals_to_tick(client: TestClient) -> None:
    """Each proposal is a ticked box with the words it came from; a denied warning sign is listed apart."""
    response = client.post("/check/text", data={"text": _STORY, "mode": "self_check"})
    assert response.status_code == 200
    page = response.text
    assert page.count('name="accept"') == 4  # foot drop, shooting, where (thigh and calf), below the knee
    assert "from “foot slaps”" in page
    proposals, left = page.split("Warning signs we will ask you about")
    assert "bladder" not in proposals.split("Tick what is right")[1]
    assert "“problems with my bladder”" in left


def test_confirming_starts_the_interview_with_the_ticked_findings(
    client: TestClient, store: Store, knowledge: Knowledge
) -> None:
    """Ticked proposals are answered before the first question; the rest is still asked.

    A question is answered from text only when every finding it sets was confirmed (the foot
    drop's question also asks about the right foot, so it is still asked whole).
    """
    response = client.post(
        "/check/text/confirm",
        data={"text": _STORY, "mode": "self_check", "accept": ["0", "1"]},
        follow_redirects=False,
    )
    assert response.status_code == 303
    interview = _stored_interview(store, knowledge, response.headers["location"])
    reading = read_text(_STORY, knowledge)
    expected = interview_from_findings(reading.findings([0, 1]), knowledge).findings
    assert interview.findings == expected
    assert interview.findings["pain_shooting"] is True
    assert "bladder_change" not in interview.findings  # denied in words, still to be asked
    assert interview.next_question() is not None


def test_nothing_ticked_starts_the_interview_empty(
    client: TestClient, store: Store, knowledge: Knowledge
) -> None:
    """Unticking every proposal leaves nothing answered from the text."""
    response = client.post(
        "/check/text/confirm", data={"text": _STORY, "mode": "self_check"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert dict(_stored_interview(store, knowledge, response.headers["location"]).findings) == {}


def test_blank_text_comes_back_to_the_first_page_with_why(client: TestClient) -> None:
    """An empty description is refused on the first page (422), with the reason at the box."""
    response = client.post("/check/text", data={"text": "   ", "mode": "self_check"})
    assert response.status_code == 422
    assert 'id="err-text"' in response.text
    assert "The text to read is empty" in response.text


def test_a_server_without_the_reader_says_so_on_the_first_page(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the free-text extra, the page says descriptions cannot be read and keeps the words."""

    def missing(text: str, knowledge: Knowledge, **_: object) -> None:
        raise AdapterError("free text cannot be read: medspaCy is not installed")

    monkeypatch.setattr("pinchpoint.web.text.read_text", missing)
    response = client.post("/check/text", data={"text": _STORY, "mode": "self_check"})
    assert response.status_code == 503
    assert "cannot read descriptions" in response.text
    assert "foot slaps when I walk" in response.text


def test_an_emergency_in_the_description_is_said_at_once_and_kept(
    client: TestClient, store: Store, knowledge: Knowledge
) -> None:
    """A ticked red flag: the confirmation says it is an emergency; confirming saves the emergency result."""
    text = "My groin and bottom feel numb and I can't pee properly."
    page = client.post("/check/text", data={"text": text, "mode": "self_check"}).text
    assert "data-emergency" in page
    assert knowledge.vocabulary.triage["emergency"] in page
    response = client.post(
        "/check/text/confirm",
        data={"text": text, "mode": "self_check", "accept": ["0"]},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/assessments/")  # no question before it
    saved = client.get("/api" + response.headers["location"]).json()
    assert saved["result"]["triage"] == "emergency"
    assert saved["case"]["findings"] == {"saddle_numbness": True}  # the first proposal: "bottom feel numb"


def test_a_description_without_an_emergency_says_none(client: TestClient) -> None:
    """No red flag proposed: no emergency message on the confirmation page."""
    page = client.post("/check/text", data={"text": _STORY, "mode": "self_check"}).text
    assert "data-emergency" not in page
