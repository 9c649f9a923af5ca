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


def test_a_description_is_shown_as_proposals_to_accept_or_reject(client: TestClient) -> None:
    """Each proposal offers accept (chosen) and reject, with the words it came from.

    A denied warning sign is listed apart; the words read are marked in the description; the safety
    notes are there.
    """
    response = client.post("/check/text", data={"text": _STORY, "mode": "self_check"})
    assert response.status_code == 200
    page = response.text
    # foot drop, shooting, where (thigh and calf), below the knee: each an accept and a reject choice
    assert len(re.findall(r'name="proposal-\d+" value="accept" checked', page)) == 4
    assert len(re.findall(r'name="proposal-\d+" value="reject">', page)) == 4
    assert "from “foot slaps”" in page
    proposals, left = page.split("Warning signs we will ask you about")
    assert "bladder" not in proposals.split("Is this right?")[1]
    assert "“problems with my bladder”" in left
    assert '<mark class="read-proposed">foot slaps</mark>' in page
    assert '<mark class="read-left">problems with my bladder</mark>' in page
    assert "does not replace" in page  # the disclaimer
    assert "emergency number" in page  # what to do in an emergency


def test_confirming_starts_the_interview_with_the_ticked_findings(
    client: TestClient, store: Store, knowledge: Knowledge
) -> None:
    """Ticked proposals are answered before the first question; the rest is still asked.

    A question is answered from text only when every finding it sets was confirmed (the foot
    drop's question also asks about the right foot, so it is still asked whole).
    """
    response = client.post(
        "/check/text/confirm",
        data={"text": _STORY, "mode": "self_check", "proposal-0": "accept", "proposal-1": "accept"},
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


@pytest.mark.parametrize(
    "choices",
    [{}, {f"proposal-{n}": "reject" for n in range(4)}],
    ids=["no choice sent", "every proposal rejected"],
)
def test_nothing_accepted_starts_the_interview_empty(
    client: TestClient, store: Store, knowledge: Knowledge, choices: dict[str, str]
) -> None:
    """Rejecting every proposal (or sending no choice) leaves nothing answered from the text."""
    response = client.post(
        "/check/text/confirm", data={"text": _STORY, "mode": "self_check", **choices}, follow_redirects=False
    )
    assert response.status_code == 303
    assert dict(_stored_interview(store, knowledge, response.headers["location"]).findings) == {}


def test_confirming_goes_through_the_one_service_story_start(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web's confirmation starts the session as the REST story-first start does.

    One service call, with the story and the accepted proposals (a rejected one left out).
    """
    from pinchpoint.service.sessions import InterviewService  # noqa: PLC0415

    calls: list[tuple[str, object, object]] = []
    original = InterviewService.start_from_story

    def spy(self: InterviewService, story: str, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append((story, kwargs.get("mode"), list(kwargs.get("accepted") or [])))
        return original(self, story, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(InterviewService, "start_from_story", spy)
    data = {"text": _STORY, "mode": "self_check", "proposal-0": "accept", "proposal-1": "reject"}
    data |= {"proposal-2": "accept", "proposal-3": "accept"}
    response = client.post("/check/text/confirm", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert calls == [(_STORY, "self_check", [0, 2, 3])]


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
        data={"text": text, "mode": "self_check", "proposal-0": "accept"},
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
