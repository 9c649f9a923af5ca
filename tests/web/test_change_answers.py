"""Changing the answers from a result page: back into the interview for interview results, the form otherwise.

An interview's result reopens the interview in a new session that keeps every answer and
resumes at the last question, whose answer is shown again; the finished session and its
result stay as they were. A form's result, or an interview that can no longer be resumed,
opens the one-page form filled with the saved answers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from pinchpoint.service.sessions import STATE_FORMAT
from pinchpoint.service.store import Store

_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}
_SESSION = re.compile(r"^/check/interviews/([0-9a-f]{32})$")
_RESULT = re.compile(r"^/assessments/([0-9a-f]{32})$")
_REOPEN = re.compile(r'<form method="post" action="(/check/interviews/[0-9a-f]{32}/reopen)"')
_MAX_STEPS = 80


def _post(client: TestClient, path: str, items: list[tuple[str, str]]) -> Any:
    return client.post(path, content=urlencode(items), headers=_SAME_ORIGIN, follow_redirects=False)


def _question(page: str) -> str:
    found = re.search(r'name="question" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _interview_to_the_end(client: TestClient, mode: str, intake: list[tuple[str, str]]) -> tuple[str, str]:
    """Start an interview, answer "don't know" to everything; return the session path and the result path."""
    response = _post(client, "/check/interviews", [("mode", mode), *intake])
    session = response.headers["location"]
    assert _SESSION.match(session)
    for _ in range(_MAX_STEPS):
        question = _question(client.get(session).text)
        response = _post(client, session + "/answer", [("question", question), ("action", "dont_know")])
        assert response.status_code == 303
        if response.headers["location"] != session:
            return session, response.headers["location"]
    raise AssertionError("the interview did not finish")


@pytest.mark.parametrize("mode", ["self_check", "clinician"])
def test_change_the_answers_of_an_interview_goes_back_into_the_interview(
    client: TestClient, store: Store, mode: str
) -> None:
    """The result offers the interview again: a new session, every answer kept, the last one shown again."""
    session, result = _interview_to_the_end(
        client, mode, [("age", "52"), ("sex", "female"), ("pain_regions", "low_back")]
    )
    old_id = _SESSION.match(session).group(1)  # type: ignore[union-attr]
    old_state = store.get_interview(old_id).state  # type: ignore[union-attr]
    page = client.get(result).text
    found = _REOPEN.search(page)
    assert found is not None, "the result of an interview must reopen the interview"
    assert found.group(1) == f"/check/interviews/{old_id}/reopen"
    assert "/check/form?from=" not in page
    assert "/clinician?from=" not in page
    response = _post(client, found.group(1), [])
    assert response.status_code == 303
    new = _SESSION.match(response.headers["location"])
    assert new is not None
    assert new.group(1) != old_id
    state = store.get_interview(new.group(1)).state  # type: ignore[union-attr]
    answers = old_state["interview"]["answers"]
    assert state["format"] == STATE_FORMAT
    assert state["interview"]["mode"] == mode
    assert state["interview"]["answers"] == answers[:-1]
    assert state["redo"] == [{"question": answers[-1]["question"], "value": answers[-1]["value"]}]
    question_page = client.get(response.headers["location"]).text
    assert _question(question_page) == answers[-1]["question"]
    assert "Forward: keep my earlier answer" in question_page
    # The finished session and its result are untouched.
    assert store.get_interview(old_id).state == old_state  # type: ignore[union-attr]
    assert store.get_interview(old_id).assessment_id == _RESULT.match(result).group(1)  # type: ignore[union-attr]
    # Forward gives the last answer again: the interview finishes into a second result.
    again = _post(client, response.headers["location"] + "/forward", [])
    assert again.status_code == 303
    assert _RESULT.match(again.headers["location"])
    assert again.headers["location"] != result
    assert store.count_assessments() == 2


@pytest.mark.parametrize(("page", "path"), [("self_check", "/check/form"), ("clinician", "/clinician")])
def test_change_the_answers_of_a_form_opens_the_form(client: TestClient, page: str, path: str) -> None:
    """A form's result has no interview behind it: "Change the answers" opens the form, filled."""
    response = _post(client, path, [("age", "47")])
    assert response.status_code == 303
    result = response.headers["location"]
    record_id = _RESULT.match(result).group(1)  # type: ignore[union-attr]
    shown = client.get(result).text
    assert _REOPEN.search(shown) is None
    assert f'href="{path}?from={record_id}" data-edit>Change the answers' in shown


def test_an_interview_that_cannot_be_resumed_falls_back_to_the_form(client: TestClient, store: Store) -> None:
    """A session gone or no longer loadable: the result still offers its answers, on the form."""
    session, result = _interview_to_the_end(client, "self_check", [("age", "60")])
    session_id = _SESSION.match(session).group(1)  # type: ignore[union-attr]
    record_id = _RESULT.match(result).group(1)  # type: ignore[union-attr]
    state = dict(store.get_interview(session_id).state)  # type: ignore[union-attr]
    store.update_interview(session_id, {**state, "format": "something-else"})
    shown = client.get(result).text
    assert _REOPEN.search(shown) is None
    assert f'href="/check/form?from={record_id}" data-edit>Change the answers' in shown
    store.delete_interview(session_id)
    assert f'href="/check/form?from={record_id}" data-edit>' in client.get(result).text


def test_reopening_a_session_not_finished_shows_it(client: TestClient, store: Store) -> None:
    """Reopen on a session still running changes nothing and shows its current question."""
    response = _post(client, "/check/interviews", [("mode", "self_check"), ("age", "40")])
    session = response.headers["location"]
    before = store.get_interview(session.rsplit("/", 1)[1]).state  # type: ignore[union-attr]
    again = _post(client, session + "/reopen", [])
    assert again.status_code == 303
    assert again.headers["location"] == session
    assert store.get_interview(session.rsplit("/", 1)[1]).state == before  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        (
            "/check/interviews/" + "0" * 32 + "/reopen",
            404,
            "no self-check with this id; it may have been deleted",
        ),
        ("/check/interviews/nope/reopen", 404, "an id is 32 letters and digits"),
    ],
)
def test_reopening_an_unknown_session_is_a_readable_404(
    client: TestClient, path: str, status: int, reason: str
) -> None:
    """No session behind the id: 404 with the reason."""
    response = _post(client, path, [])
    assert response.status_code == status
    assert reason in response.text


def test_store_finds_the_interview_of_an_assessment(store: Store) -> None:
    """interview_of_assessment: the session an assessment finished; None for a form's result or none."""
    session = store.create_interview({"format": STATE_FORMAT})
    linked = store.save_assessment(
        case={"id": "interview", "findings": {}},
        result={"triage": "self_care", "knowledge_version": "x"},
        mode="self_check",
        interview_id=session.id,
    )
    alone = store.save_assessment(
        case={"id": "web", "findings": {}},
        result={"triage": "self_care", "knowledge_version": "x"},
        mode="clinician",
    )
    found = store.interview_of_assessment(linked.id)
    assert found is not None
    assert found.id == session.id
    assert store.interview_of_assessment(alone.id) is None
    assert store.interview_of_assessment("f" * 32) is None
    store.delete_assessment(linked.id)
    assert store.interview_of_assessment(linked.id) is None


@pytest.mark.parametrize(
    ("path", "link", "nav"),
    [
        ("/clinician", 'href="/check?mode=clinician"', "Clinician mode"),  # the form -> the interview
        ("/check?mode=clinician", 'href="/clinician"', "Clinician mode"),  # the interview -> the form
        ("/check/form", 'href="/check"', "Self-check"),  # the self-check's pair, for consistency
        ("/check", 'href="/check/form"', "Self-check"),
    ],
)
def test_each_mode_links_its_form_and_its_interview(
    client: TestClient, path: str, link: str, nav: str
) -> None:
    """The one-page form and the interview of a mode link to each other, under the same navigation item."""
    page = client.get(path).text
    alternative = re.search(r'<p class="alternative">(.*?)</p>', page, re.S)
    assert alternative is not None
    assert link in alternative.group(1)
    current = re.search(r'<a href="[^"]+" aria-current="page">(.*?)</a>', page)
    assert current is not None
    assert re.sub(r"<[^>]+>", "", current.group(1)) == nav
