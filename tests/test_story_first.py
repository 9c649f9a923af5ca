"""Story first: an interview started from the person's own words asks only what is still open.

Through the one :class:`~pinchpoint.service.sessions.InterviewService` (``start_from_story``) and the
REST API (``POST /api/v1/interviews`` with ``story``): what the story states answers its questions, a
warning sign it states is asked by its question (never taken unconfirmed), and one it denies or doubts
is never taken as "no".
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint.api.app import PROBLEM_JSON, create_api_app
from pinchpoint.core.interview import Interview, _rest_of
from pinchpoint.evaluation.simulation import simulated_answer
from pinchpoint.io.freetext import interview_from_story, is_warning_sign, read_text, red_flag_findings
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.sessions import InterviewService
from pinchpoint.service.store import MemoryInterviewStore

_KNOWLEDGE = load_knowledge()
_STORY = (
    "I'm 52. For three weeks pain has shot from my right buttock down the back of my thigh into my calf. "
    "Since this morning I can't pass urine. I have no fever."
)


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A client of the API app with sessions in memory."""
    return TestClient(create_api_app(_KNOWLEDGE), raise_server_exceptions=False)


def _service() -> InterviewService:
    return InterviewService(_KNOWLEDGE, MemoryInterviewStore())


def _problem(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = dict(response.json())
    assert body["field"] == field
    return body


# --- the service --------------------------------------------------------------------------------------


def test_a_story_answers_what_it_states_and_leaves_warning_signs_to_their_questions() -> None:
    """Age and duration are answered from the story; a stated and a denied red flag are not."""
    session, _ = _service().start_from_story(_STORY)
    findings = session.interview.findings
    assert findings["age"] == 52
    assert findings["duration_days"] == 21
    assert "urinary_retention" not in findings  # stated: its question confirms it
    assert "fever" not in findings  # denied: never taken as "no"
    assert "age" in session.interview.asked
    assert session.interview.next_question() is not None


def test_a_stated_red_flag_is_confirmed_by_its_question() -> None:
    """Answering the questions as the story says reaches the emergency the story describes."""
    service = _service()
    session, _ = service.start_from_story(_STORY)
    person = {"sex": "male", "pain_regions": ("buttock.right",), "urinary_retention": True}
    asked = []
    while (question := session.interview.next_question()) is not None:
        asked.append(question.id)
        service.answer(session, question.id, simulated_answer(question, person))
    assert "bladder_bowel" in asked
    assert service.result(session, case_id="story").triage.id == "emergency"


def test_confirmed_proposals_count_at_once() -> None:
    """A red flag the person confirmed (``accepted``) counts at once: a self-check stops at the emergency."""
    reading = read_text(_STORY, _KNOWLEDGE)
    index = next(i for i, m in enumerate(reading.proposals) if m.finding == "urinary_retention")
    session, _ = _service().start_from_story(_STORY, accepted=[index])
    assert session.interview.findings["urinary_retention"] is True
    assert session.interview.emergency
    assert session.interview.next_question() is None


def test_the_intake_given_beside_the_story_wins() -> None:
    """An intake answer sent with the story is the answer; the story does not answer it again."""
    session, _ = _service().start_from_story(_STORY, intake={"age": 53, "sex": "female"})
    assert session.interview.findings["age"] == 53
    assert session.interview.findings["sex"] == "female"


def test_a_story_of_pregnancy_beside_a_male_intake_is_left_to_ask() -> None:
    """A story answer that the intake does not enable is left out, not an error."""
    session, _ = _service().start_from_story("I am 34 weeks pregnant", intake={"sex": "male"})
    assert "pregnant" not in session.interview.findings


_WORDS = st.sampled_from(
    [
        *("no", "not", "never", "don't", "I", "have", "had", "can't", "can", "pee", "pass", "urine", "fever"),
        *("numb", "between", "my", "legs", "bladder", "and", "bowels", "are", "normal", "cancer", "mother"),
        *("foot", "slaps", "left", "right", "heels", "toes", "walk", "on", "weak", "leg", "weeks", "for"),
        *("three", "maybe", "think", ".", ",", "pain", "in", "calf", "since", "yesterday", "lost", "weight"),
    ]
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(words=st.lists(_WORDS, min_size=1, max_size=18))
def test_no_story_takes_a_red_flag_as_absent_or_a_warning_sign_unconfirmed(words: list[str]) -> None:
    """Whatever the words, a story start holds no red flag as absent and no unconfirmed warning sign."""
    reading = read_text(" ".join(words), _KNOWLEDGE)
    findings = interview_from_story(reading, _KNOWLEDGE).findings
    red = red_flag_findings(_KNOWLEDGE)
    vocabulary = _KNOWLEDGE.vocabulary
    for finding, value in findings.items():
        assert not (vocabulary.findings[finding].base in red and value is False), (reading.text, finding)
        assert not is_warning_sign(finding, _KNOWLEDGE), (reading.text, finding)


def test_a_form_stated_in_part_is_scored_on_the_rest() -> None:
    """The selection scores a form half answered by a story on its open findings only."""
    bank = _KNOWLEDGE.questions
    onset = bank["onset"]
    assert len(onset.findings) > 1
    known = {onset.findings[0]: True}
    rest = _rest_of(onset, known)
    assert rest.findings == onset.findings[1:]
    assert all(cell.finding in rest.findings for cell in rest.cells)
    assert rest.id != onset.id  # scored apart from the whole form
    assert _rest_of(onset, {}) is onset


def test_a_stated_form_is_still_asked_for_the_rest() -> None:
    """A story that states one item of a warning-sign form, confirmed, leaves the form to ask for the rest."""
    reading = read_text("I can't pass urine.", _KNOWLEDGE, mode="clinician")
    interview = interview_from_story(reading, _KNOWLEDGE, mode="clinician", accepted=[0])
    assert interview.findings["urinary_retention"] is True
    assert "bladder_bowel" not in interview.asked
    assert isinstance(Interview.from_dict(interview.to_dict(), _KNOWLEDGE), Interview)


# --- the REST API ----------------------------------------------------------------------------------------


def test_rest_start_with_a_story(client: TestClient) -> None:
    """``POST /api/v1/interviews`` with a story: what it answered, what is still asked, what to do now."""
    response = client.post("/api/v1/interviews", json={"mode": "self_check", "story": _STORY})
    assert response.status_code == 201, response.text
    body = response.json()
    answered = {row["finding"]: row["value"] for row in body["story"]["answered"]}
    assert answered["age"] == 52
    assert answered["duration_days"] == 21
    asked = {row["finding"] for row in body["story"]["asked"]}
    assert {"urinary_retention", "fever"} <= asked
    assert not {"urinary_retention", "fever"} & answered.keys()
    assert body["story"]["emergency"]  # the stated red flag shows what to do now, before it is confirmed
    assert body["question"]["id"] != "age"  # the story told the age
    assert body["finished"] is False


def test_rest_start_without_a_story_has_no_story(client: TestClient) -> None:
    """The plain start is unchanged: no ``story`` in its view."""
    response = client.post("/api/v1/interviews", json={"mode": "self_check"})
    assert response.status_code == 201
    assert "story" not in response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"story": ""}, "story", id="empty"),
        pytest.param({"story": "x" * 6000}, "story", id="too-long"),
        pytest.param({"story": "pain\x00in my leg"}, "story", id="binary"),
        pytest.param({"accepted": [0]}, "accepted", id="accepted-without-story"),
        pytest.param({"story": "my left calf hurts", "accepted": [9]}, "accepted", id="no-such-proposal"),
        pytest.param(
            {"story": "my left calf hurts", "intake": {"age": "old"}}, "intake.age", id="bad-intake"
        ),
    ],
)
def test_bad_story_starts_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    """A bad story or a wrong accepted index is a 422 problem naming its field, never a 5xx."""
    _problem(client.post("/api/v1/interviews", json=body), field)


def test_the_story_fields_are_in_the_openapi_document(client: TestClient) -> None:
    """The start's request documents the story and the accepted proposals."""
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"story", "accepted"} <= schema["StartIn"]["properties"].keys()
    assert "story" in schema["InterviewOut"]["properties"]
