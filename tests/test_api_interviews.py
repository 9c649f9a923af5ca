"""Tests of the interview sessions of the REST API (``/api/v1/interviews``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pinchpoint.api.app import PROBLEM_JSON, create_api_app
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.evaluation.simulation import simulate, simulated_answer
from pinchpoint.io.casefile import read_case
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.contract import to_contract
from pinchpoint.service.store import MemoryInterviewStore, Store
from tests.corpus import shared_case_params

pytestmark = pytest.mark.core

INTAKE = {"age": 44, "sex": "male", "pain_regions": ["low_back", "buttock.left"]}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


@pytest.fixture(scope="module")
def client(knowledge: Knowledge) -> TestClient:
    """A client of the API app with sessions in memory."""
    return TestClient(create_api_app(knowledge), raise_server_exceptions=False)


def _json(value: object) -> Any:
    return json.loads(json.dumps(value, default=list))


def _start(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/interviews", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = dict(response.json())
    assert body["status"] == status
    return body


@pytest.mark.parametrize("path", shared_case_params())
def test_a_rest_interview_asks_and_concludes_as_the_core_does(client, knowledge, path: Path):
    """A REST interview answered from a case asks what the core interview asks and concludes alike.

    The questions come in the same order, and the result is the core's assessment with its plan.
    """
    case = read_case(path, knowledge.vocabulary)
    direct = simulate(case, knowledge, mode="clinician")
    bank = knowledge.questions
    intake = {q: simulated_answer(bank[q], case.findings) for q in bank.intake}
    view = _start(client, mode="clinician", intake=_json(intake))
    asked = []
    while not view["finished"]:
        question = bank[view["question"]["id"]]
        asked.append(question.id)
        response = client.post(
            f"/api/v1/interviews/{view['id']}/answers",
            json={"question": question.id, "value": _json(simulated_answer(question, case.findings))},
        )
        assert response.status_code == 200, response.text
        view = response.json()
    assert tuple(asked) == direct.questions
    result = client.get(f"/api/v1/interviews/{view['id']}/result")
    assert result.status_code == 200
    expected = {**_json(to_contract(direct.assessment)), "case": f"interview-{view['id']}"}
    assert result.json() == expected
    assert result.json()["plan"]["actions"]


@pytest.mark.parametrize("mode", ["self_check", "clinician"])
def test_the_current_question_is_worded_for_the_mode(client, knowledge, mode):
    """The view carries the question asked now in the mode's wording, with its cells and progress."""
    view = _start(client, mode=mode, intake=INTAKE)
    question = knowledge.questions[view["question"]["id"]]
    assert view["question"]["text"] == question.wording.text(mode)
    assert view["question"]["kind"] == question.kind
    if question.cells:
        assert [cell["finding"] for cell in view["question"]["cells"]] == list(question.findings)
        assert [cell["text"] for cell in view["question"]["cells"]] == [
            cell.wording.text(mode) for cell in question.cells
        ]
    assert view["progress"] == {"answered": 0, "open_red_flags": view["progress"]["open_red_flags"],
                                "phase": "screening"}  # fmt: skip
    assert view["progress"]["open_red_flags"] > 0
    assert view["answers"] == len(INTAKE)
    assert view["disclaimer"] == knowledge.questions.label("disclaimer", mode)


def test_without_intake_the_intake_is_asked_first(client, knowledge):
    """A session started without intake asks age first, as a number with its range."""
    view = _start(client)
    assert view["question"]["id"] == knowledge.questions.intake[0]
    assert view["question"]["phase"] == "intake"
    age = knowledge.questions[view["question"]["id"]]
    assert (view["question"]["minimum"], view["question"]["maximum"]) == (age.minimum, age.maximum)


def test_yes_no_and_body_map_options_are_values_to_send(client, knowledge):
    """A yes/no question offers true and false, a body map every sided region id."""
    view = _start(client, intake={"age": None, "sex": None})
    assert view["question"]["kind"] == "body_map"
    options = [option["value"] for option in view["question"]["options"]]
    assert sorted(options) == sorted(knowledge.vocabulary.region_ids)
    yes_no = next(q for q in knowledge.questions if q.kind == "yes_no")
    labels = {knowledge.questions.label("yes", "self_check"), knowledge.questions.label("no", "self_check")}
    assert len(labels) == 2
    assert yes_no.findings


def test_dont_know_and_back(client, knowledge):
    """Null answers "don't know" and moves on; back takes the answer back and asks it again."""
    view = _start(client, intake=INTAKE)
    first = view["question"]["id"]
    after = client.post(f"/api/v1/interviews/{view['id']}/answers", json={"question": first, "value": None})
    assert after.status_code == 200
    assert after.json()["question"]["id"] != first
    assert after.json()["progress"]["answered"] == 1
    again = client.post(f"/api/v1/interviews/{view['id']}/back")
    assert again.status_code == 200
    assert again.json()["question"]["id"] == first
    assert again.json()["progress"]["answered"] == 0
    assert client.get(f"/api/v1/interviews/{view['id']}").json() == again.json()


def test_a_red_flag_answer_makes_the_result_an_emergency(client, knowledge):
    """Answering the bladder screen with retention, then don't know to the rest, gives an emergency."""
    view = _start(client, intake=INTAKE)
    while not view["finished"]:
        question = view["question"]["id"]
        value = {"urinary_retention": True} if question == "bladder_bowel" else None
        view = client.post(
            f"/api/v1/interviews/{view['id']}/answers", json={"question": question, "value": value}
        ).json()
    result = client.get(f"/api/v1/interviews/{view['id']}/result").json()
    assert result["triage"] == "emergency"
    assert result["plan"]["actions"][0]["kind"] == "action"


@pytest.mark.parametrize(
    ("answer", "field", "expected", "got"),
    [
        pytest.param({"question": "weakness", "value": {"foot_drop.left": "yes"}}, "value.foot_drop.left",
                     "true or false (or null for don't know)", "yes", id="cell-wrong-type"),
        pytest.param({"question": "weakness", "value": {"urinary_retention": True}}, "value",
                     "one of leg_weakness.left, leg_weakness.right, foot_drop.left, foot_drop.right, "
                         "cannot_tiptoe.left, cannot_tiptoe.right, "
                     "knee_buckling.left, knee_buckling.right", "urinary_retention", id="cell-not-asked"),
        pytest.param({"question": "weakness", "value": True}, "value",
                     "finding ids of this question mapped to values or null, "
                     "e.g. {'leg_weakness.left': True}",
                     "True", id="not-a-mapping"),
        pytest.param({"question": "no_such_question", "value": True}, "question",
                     "the id of the question asked now, as GET /interviews/{id} gives it", "no_such_question",
                     id="unknown-question"),
        pytest.param({"question": "weakness"}, "value", "Field required", None, id="no-value"),
    ],
)  # fmt: skip
def test_wrong_answers_are_422_naming_the_field(client, answer, field, expected, got):
    """A value that does not fit, or an unknown question id, is a 422 naming the request field."""
    view = _start(client, intake=INTAKE)
    assert view["question"]["id"] == "weakness"
    problem = _problem(client.post(f"/api/v1/interviews/{view['id']}/answers", json=answer), 422)
    assert problem["field"] == field
    assert problem["expected"] == expected
    if got is not None:
        assert problem["got"] == got
    unchanged = client.get(f"/api/v1/interviews/{view['id']}").json()
    assert unchanged == view


def test_answering_another_question_is_a_409_naming_the_current_one(client):
    """An answer to a real question that is not the one asked now is a conflict, naming the current one."""
    view = _start(client, intake=INTAKE)
    problem = _problem(
        client.post(
            f"/api/v1/interviews/{view['id']}/answers", json={"question": "worsening", "value": True}
        ),
        409,
    )
    assert problem["field"] == "question"
    assert problem["expected"] == f"an answer to {view['question']['id']!r}"
    assert problem["got"] == "worsening"


def test_result_of_an_unfinished_interview_is_a_409(client):
    """The result is given only when the interview has finished (the red-flag screen is answered)."""
    view = _start(client, intake=INTAKE)
    problem = _problem(client.get(f"/api/v1/interviews/{view['id']}/result"), 409)
    assert problem["expected"] == f"an answer to {view['question']['id']!r} first (null for don't know)"


def test_back_without_answers_is_a_409(client):
    """Nothing to take back is a conflict with the session's state."""
    view = _start(client)
    problem = _problem(client.post(f"/api/v1/interviews/{view['id']}/back"), 409)
    assert problem["detail"].startswith("interview_id: there is no answer to take back")


@pytest.mark.parametrize("operation", ["get", "answers", "back", "result"])
def test_unknown_session_is_a_404_naming_the_id(client, operation):
    """Every operation on a session id that does not exist is a 404 naming ``interview_id``."""
    missing = "0" * 32
    url = f"/api/v1/interviews/{missing}" + ("" if operation == "get" else f"/{operation}")
    if operation in ("answers", "back"):
        response = client.post(url, json={"question": "age", "value": 40})
    else:
        response = client.get(url)
    problem = _problem(response, 404)
    assert problem["field"] == "interview_id"
    assert problem["got"] == missing


@pytest.mark.parametrize(
    ("body", "field", "got"),
    [
        pytest.param({"intake": {"age": "old"}}, "intake.age", "old", id="wrong-type"),
        pytest.param({"intake": {"worsening": True}}, "intake", "worsening", id="not-intake"),
        pytest.param({"intake": {"pain_regions": ["calf"]}}, "intake.pain_regions", "['calf']",
                     id="region-without-side"),
        pytest.param({"mode": "doctor"}, "mode", '"doctor"', id="unknown-mode"),
    ],
)  # fmt: skip
def test_bad_starts_are_422_naming_the_field(client, body, field, got):
    """A start with a wrong intake answer or mode is a 422 naming the field."""
    problem = _problem(client.post("/api/v1/interviews", json=body), 422)
    assert problem["field"] == field
    assert problem["got"] == got


def test_sessions_survive_in_any_store(knowledge, tmp_path):
    """The SQL store keeps a session between two apps: a second app resumes where the first stopped."""
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        first = TestClient(create_api_app(knowledge, sessions=store))
        view = _start(first, intake=INTAKE)
        answered = first.post(
            f"/api/v1/interviews/{view['id']}/answers",
            json={"question": view["question"]["id"], "value": None},
        ).json()
        second = TestClient(create_api_app(knowledge, sessions=store))
        assert second.get(f"/api/v1/interviews/{view['id']}").json() == answered
        record = store.get_interview(view["id"])
        assert record is not None
        assert len(record.state["interview"]["answers"]) == len(INTAKE) + 1
    finally:
        store.close()


def test_memory_store_forgets_the_least_recently_used():
    """The in-memory store is bounded: beyond its limit the oldest session is forgotten."""
    store = MemoryInterviewStore(limit=2)
    first = store.create_interview({"n": 1})
    second = store.create_interview({"n": 2})
    assert store.get_interview(first.id) is not None  # first is now the most recently used
    store.create_interview({"n": 3})
    assert store.get_interview(second.id) is None
    assert store.get_interview(first.id) is not None
