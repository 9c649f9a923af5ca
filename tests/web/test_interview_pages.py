"""The self-check as the adaptive interview over HTTP: one question per page, sessions, bad answers.

Every case of the development corpus is answered through the pages, as a person who knows
the case's findings would (a finding the case does not give is "don't know"), and must end
in exactly the assessment the core's :class:`Interview` gives for the same answers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import Question
from pinchpoint.io.casefile import read_case
from pinchpoint.service.contract import to_contract
from pinchpoint.service.sessions import STATE_FORMAT, STATE_VERSION
from pinchpoint.service.store import Store
from pinchpoint.web.content import WebContent
from tests.corpus import shared_case_params
from tests.test_plain_words import ids_in, shown_text
from tests.web.answering import form_for

_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}
_SESSION = re.compile(r"^/check/interviews/([0-9a-f]{32})$")
_RESULT = re.compile(r"^/assessments/([0-9a-f]{32})$")
_MAX_STEPS = 80


def _post(client: TestClient, path: str, items: list[tuple[str, str]]) -> Any:
    return client.post(path, content=urlencode(items), headers=_SAME_ORIGIN, follow_redirects=False)


def _answer_of(question: Question, findings: dict[str, Any]) -> object:
    if question.single:
        value = findings.get(question.finding)
        return list(value) if isinstance(value, tuple) else value
    return {cell.finding: findings.get(cell.finding) for cell in question.cells}


def _start(client: TestClient, items: list[tuple[str, str]] | None = None) -> str:
    response = _post(client, "/check/interviews", items or [("mode", "self_check")])
    assert response.status_code == 303
    location = response.headers["location"]
    assert _SESSION.match(location)
    return str(location)


def _current(client: TestClient, session: str) -> str:
    page = client.get(session)
    assert page.status_code == 200
    assert ids_in(shown_text(page.text)) == []  # every question page speaks in words
    found = re.search(r'name="question" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", shared_case_params())
def test_a_case_answered_page_by_page_gives_the_cores_interview_assessment(
    client: TestClient, knowledge: Knowledge, store: Store, path: Path
) -> None:
    """Each page asks the core's next question; the saved result is the core interview's, linked to it."""
    case = read_case(path, knowledge.vocabulary)
    findings = dict(case.findings)
    core = Interview.start(knowledge)
    session = _start(client)
    session_id = _SESSION.match(session).group(1)  # type: ignore[union-attr]
    location = session
    for _ in range(_MAX_STEPS):
        question = core.next_question()
        assert question is not None
        assert _current(client, session) == question.id
        response = _post(client, session + "/answer", form_for(question, findings))
        assert response.status_code == 303, response.text
        core.answer(question.id, _answer_of(question, findings))
        location = response.headers["location"]
        if location != session:
            break
    assert core.finished
    record_id = _RESULT.match(location).group(1)  # type: ignore[union-attr]
    record = store.get_assessment(record_id)
    expected = core.assessment()
    assert record is not None
    assert record.triage == expected.triage.id
    assert record.result == to_contract(expected)
    assert ids_in(shown_text(client.get(location).text)) == []  # and so does the result
    assert store.get_interview(session_id).assessment_id == record_id  # type: ignore[union-attr]
    assert client.get(session, follow_redirects=False).headers["location"] == location


def test_the_start_page_asks_the_intake_and_offers_the_one_page_form(
    client: TestClient, content: WebContent
) -> None:
    """/check is the interview's start: age, sex, pain map; the full form stays one link away."""
    page = client.get("/check")
    assert page.status_code == 200
    for name in ('name="age"', 'name="sex" value="male"', 'data-input-name="pain_regions"'):
        assert name in page.text
    assert 'href="/check/form"' in page.text
    assert content.ui.safety.supports.replace("'", "&#39;") in page.text
    assert client.get("/check/form").status_code == 200


def test_the_intake_answers_are_kept_and_the_rest_is_asked(client: TestClient, store: Store) -> None:
    """Age and pain map given on the start page; sex left out is asked first, one question per page."""
    session = _start(
        client,
        [
            ("mode", "self_check"),
            ("age", "44"),
            ("pain_regions", "low_back"),
            ("pain_regions", "buttock.left"),
        ],
    )
    state = store.get_interview(session.rsplit("/", 1)[1]).state  # type: ignore[union-attr]
    assert state["format"] == STATE_FORMAT
    assert state["interview"]["answers"] == [
        {"question": "age", "value": 44, "phase": "intake"},
        {"question": "pain_regions", "value": ["low_back", "buttock.left"], "phase": "intake"},
    ]
    assert _current(client, session) == "sex"


def test_an_intake_answer_that_does_not_fit_is_shown_at_its_field(client: TestClient, store: Store) -> None:
    """Age 300 on the start page: 422, the page again with the core's message, nothing saved."""
    response = _post(client, "/check/interviews", [("mode", "self_check"), ("age", "300")])
    assert response.status_code == 422
    assert "expected a whole number from 0 to 120 (you entered 300)" in response.text
    assert 'aria-invalid="true"' in response.text


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([("age", "abc")], "expected a whole number from 0 to 120 (you entered &#39;abc&#39;)."),
        ([("age", "121")], "expected a whole number from 0 to 120 (you entered 121)."),
        ([("age", "4.5")], "expected a whole number from 0 to 120 (you entered &#39;4.5&#39;)."),
        ([], "Type a number, or choose “I don&#39;t know”."),
        ([("age", "  ")], "Type a number, or choose “I don&#39;t know”."),
    ],
)
def test_a_bad_answer_is_refused_at_its_field_and_changes_nothing(
    client: TestClient, items: list[tuple[str, str]], message: str
) -> None:
    """Interview.answer's refusal is shown at the field (422) and the same question is asked again."""
    session = _start(client)
    response = _post(client, session + "/answer", [("question", "age"), ("action", "answer"), *items])
    assert response.status_code == 422
    assert message in response.text
    assert 'id="err-age"' in response.text
    assert _current(client, session) == "age"


def test_a_bad_choice_region_or_form_item_is_refused(client: TestClient) -> None:
    """An unknown option, an unknown region, a yes/no cell saying 'maybe': each 422 with the reason."""
    session = _start(client, [("mode", "self_check"), ("age", "40")])
    response = _post(
        client, session + "/answer", [("question", "sex"), ("action", "answer"), ("sex", "other")]
    )
    assert response.status_code == 422
    assert "expected one of female, male (you entered &#39;other&#39;)" in response.text
    _post(client, session + "/answer", [("question", "sex"), ("action", "answer"), ("sex", "female")])
    response = _post(
        client,
        session + "/answer",
        [("question", "pain_regions"), ("action", "answer"), ("pain_regions", "elbow")],
    )
    assert response.status_code == 422
    assert "elbow" in response.text
    response = _post(client, session + "/answer", [("question", "pain_regions"), ("action", "answer")])
    assert response.status_code == 422
    assert "Mark at least one place" in response.text
    _post(
        client,
        session + "/answer",
        [("question", "pain_regions"), ("action", "answer"), ("pain_regions", "none")],
    )
    question = _current(client, session)
    assert question in {"weakness", "bladder_bowel"}
    cell = "foot_drop.left" if question == "weakness" else "urinary_retention"
    response = _post(
        client, session + "/answer", [("question", question), ("action", "answer"), (cell, "maybe")]
    )
    assert response.status_code == 422
    assert f'id="err-{cell.replace(".", "-")}"' in response.text
    assert "expected true or false" in response.text
    assert _current(client, session) == question


def test_answering_a_question_that_is_not_asked_now_is_a_conflict(client: TestClient) -> None:
    """An answer for another question (a second tab, a double send): 409 with the reason; nothing changes."""
    session = _start(client)
    response = _post(
        client, session + "/answer", [("question", "sex"), ("action", "answer"), ("sex", "male")]
    )
    assert response.status_code == 409
    assert "the question asked now is another one" in response.text
    response = _post(client, session + "/answer", [("action", "answer"), ("age", "40")])
    assert response.status_code == 409
    assert _current(client, session) == "age"


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", "/check/interviews/" + "0" * 32, 404, "no self-check with this id; it may have been deleted"),
        ("GET", "/check/interviews/not-an-id", 404, "an id is 32 letters and digits"),
        ("POST", "/check/interviews/" + "0" * 32 + "/answer", 404, "no self-check with this id"),
        ("POST", "/check/interviews/" + "0" * 32 + "/back", 404, "no self-check with this id"),
        ("GET", "/check?mode=vet", 422, "Unknown interview mode &#39;vet&#39;"),
    ],
)
def test_an_unknown_session_or_mode_is_a_readable_4xx(
    client: TestClient, method: str, path: str, status: int, reason: str
) -> None:
    """No session behind the id: 404 with the reason, on a page with the safety notes."""
    response = client.request(method, path, headers=_SAME_ORIGIN)
    assert response.status_code == status
    assert reason in response.text
    assert "call your local emergency number" in response.text


def _state(interview: object, redo: object = (), asked: object = None) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "interview": interview,
        "asked": asked,
        "redo": list(redo) if isinstance(redo, tuple) else redo,
    }


_CORRUPT = [
    ({"nothing": "useful"}, "its saved answers are not in the expected form"),
    ({**_state({}), "version": 99}, "its saved answers are not in the expected form"),
    (
        _state({"format": "pinchpoint-interview"}),
        "cannot be resumed with this version of pinchpoint (session: the key &#39;version&#39; is missing",
    ),
    (
        _state(
            {
                "format": "pinchpoint-interview",
                "version": 1,
                "mode": "self_check",
                "knowledge_version": "0.0.1+old",
                "answers": [{"question": "favourite_colour", "value": "blue", "phase": "intake"}],
            }
        ),
        "the answer names no question of the bank",
    ),
    (_state(None, redo="x"), "cannot be resumed"),
]


@pytest.mark.parametrize(("state", "reason"), _CORRUPT)
def test_a_corrupt_or_stale_session_is_a_conflict_never_a_500(
    client: TestClient, store: Store, state: dict[str, Any], reason: str
) -> None:
    """A damaged or no longer loadable session: 409 with why, on every route, never a traceback."""
    record = store.create_interview(state)
    for method, suffix in (("GET", ""), ("POST", "/answer"), ("POST", "/back"), ("POST", "/finish")):
        response = client.request(method, f"/check/interviews/{record.id}{suffix}", headers=_SAME_ORIGIN)
        assert response.status_code == 409
        assert reason in response.text
        assert "start a new self-check" in response.text.lower()


def test_back_and_forward_keep_the_earlier_answer(client: TestClient) -> None:
    """Back asks the last question again with its answer shown; forward gives it again; a new answer wins."""
    session = _start(client)
    assert _post(client, session + "/back", []).status_code == 409  # nothing to go back to
    _post(client, session + "/answer", [("question", "age"), ("action", "answer"), ("age", "61")])
    assert _current(client, session) == "sex"
    assert _post(client, session + "/forward", []).status_code == 409  # nothing taken back yet
    assert _post(client, session + "/back", []).status_code == 303
    page = client.get(session).text
    assert 'name="question" value="age"' in page
    assert 'value="61"' in page
    assert "Forward: keep my earlier answer" in page
    assert _post(client, session + "/forward", []).status_code == 303
    assert _current(client, session) == "sex"
    _post(client, session + "/back", [])
    _post(client, session + "/answer", [("question", "age"), ("action", "answer"), ("age", "35")])
    assert _current(client, session) == "sex"
    assert "Forward: keep my earlier answer" not in client.get(session).text


def test_dont_know_leaves_the_finding_unknown_and_warns(client: TestClient, store: Store) -> None:
    """'I don't know' to the bladder and bowel screen is never silently 'no': the result warns about it."""
    session = _start(
        client, [("mode", "self_check"), ("age", "50"), ("sex", "female"), ("pain_regions", "none")]
    )
    for _ in range(_MAX_STEPS):
        question = _current(client, session)
        response = _post(client, session + "/answer", [("question", question), ("action", "dont_know")])
        if response.headers["location"] != session:
            break
    record = store.get_assessment(_RESULT.match(response.headers["location"]).group(1))  # type: ignore[union-attr]
    assert record is not None
    assert any("You were not sure about this warning sign" in w for w in record.result["warnings"])
    shown = client.get(response.headers["location"]).text
    assert "You were not sure about this warning sign" in shown


def test_an_emergency_answer_in_a_self_check_goes_straight_to_the_result(client: TestClient) -> None:
    """Urinary retention in a self-check: the answer itself leads to the saved emergency result."""
    session = _start(
        client, [("mode", "self_check"), ("age", "44"), ("sex", "male"), ("pain_regions", "low_back")]
    )
    for _ in range(_MAX_STEPS):
        question = _current(client, session)
        if question == "bladder_bowel":
            break
        _post(client, session + "/answer", [("question", question), ("action", "dont_know")])
    response = _post(
        client,
        session + "/answer",
        [("question", "bladder_bowel"), ("action", "answer"), ("urinary_retention", "yes")],
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/assessments/")
    result = client.get(response.headers["location"]).text
    assert 'data-triage="emergency"' in result
    assert "What to do now" in result


def test_an_emergency_answer_shows_the_banner_at_once_and_can_finish_early(client: TestClient) -> None:
    """Urinary retention, clinician: the next page carries the banner and a way to the result."""
    session = _start(
        client, [("mode", "clinician"), ("age", "44"), ("sex", "male"), ("pain_regions", "low_back")]
    )
    assert _post(client, session + "/finish", []).status_code == 409  # not finished, no emergency
    for _ in range(_MAX_STEPS):
        question = _current(client, session)
        if question == "bladder_bowel":
            break
        _post(client, session + "/answer", [("question", question), ("action", "dont_know")])
    assert 'data-triage="emergency"' not in client.get(session).text
    _post(
        client,
        session + "/answer",
        [("question", "bladder_bowel"), ("action", "answer"), ("urinary_retention", "yes")],
    )
    page = client.get(session).text
    assert 'data-triage="emergency"' in page
    assert 'role="alert"' in page
    assert "What to do now" in page
    response = _post(client, session + "/finish", [])
    assert response.status_code == 303
    result = client.get(response.headers["location"]).text
    assert 'data-triage="emergency"' in result
    again = _post(client, session + "/answer", [("question", "x"), ("action", "dont_know")])
    assert again.status_code == 409
    assert "is finished and its result is saved" in again.text


def test_the_clinician_interview_asks_examination_questions(client: TestClient, knowledge: Knowledge) -> None:
    """?mode=clinician starts an interview in clinician wording that may ask for examination findings."""
    page = client.get("/check?mode=clinician")
    assert 'name="mode" value="clinician"' in page.text
    session = _start(
        client, [("mode", "clinician"), ("age", "40"), ("sex", "male"), ("pain_regions", "none")]
    )
    asked = []
    for _ in range(_MAX_STEPS):
        question = _current(client, session)
        asked.append(question)
        response = _post(client, session + "/answer", [("question", question), ("action", "dont_know")])
        if response.headers["location"] != session:
            break
    assert any(knowledge.questions[q].needs_examiner for q in asked)
