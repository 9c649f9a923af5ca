"""The web app serves the REST API and the CDS Hooks services beside its pages (issue 6)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from pinchpoint import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.service.contract import to_contract

_EXAMPLES = Path(__file__).parents[2] / "src/pinchpoint/examples"


def test_api_assess_answers_the_engine_contract(client: TestClient, knowledge: Knowledge) -> None:
    """POST /api/v1/assess on the web app gives what the engine gives for the same findings."""
    case = read_case(_EXAMPLES / "cauda-equina.yaml", knowledge.vocabulary)
    findings = {key: list(v) if isinstance(v, tuple) else v for key, v in case.findings.items()}
    response = client.post("/api/v1/assess", json={"id": case.id, "findings": findings})
    assert response.status_code == 200
    body = response.json()
    expected = to_contract(assess(case, knowledge))
    assert (body["triage"], body["sites"], body["causes"]) == (
        expected["triage"],
        expected["sites"],
        expected["causes"],
    )


def test_api_errors_are_problem_details_and_page_errors_stay_html(client: TestClient) -> None:
    """An API error answers RFC 9457 problem JSON naming the field; a page error answers HTML."""
    api = client.post("/api/v1/assess", json={"findings": {"pain_severity": 12}})
    assert api.status_code == 422
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["field"] == "findings.pain_severity"
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")


def test_cds_discovery_and_openapi_are_published(client: TestClient) -> None:
    """Discovery lists the services; the OpenAPI document covers the API and not the pages."""
    services = client.get("/cds-services").json()["services"]
    assert {service["hook"] for service in services} >= {"patient-view", "order-select", "order-sign"}
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/assess" in paths
    assert "/cds-services" in paths
    assert not any(path in paths for path in ("/", "/check", "/history"))


def test_interview_sessions_are_kept_in_the_web_apps_store(client, store):
    """The web app keeps REST interview sessions in its SQL store, and its errors are problem details."""
    started = client.post("/api/v1/interviews", json={"intake": {"age": 50, "sex": "female"}})
    assert started.status_code == 201
    view = started.json()
    record = store.get_interview(view["id"])
    assert record is not None
    assert [answer["question"] for answer in record.state["interview"]["answers"]] == ["age", "sex"]
    answered = client.post(
        f"/api/v1/interviews/{view['id']}/answers", json={"question": view["question"]["id"], "value": None}
    )
    assert answered.status_code == 200
    stored = store.get_interview(view["id"])
    assert stored is not None
    assert len(stored.state["interview"]["answers"]) == 3
    missing = client.get("/api/v1/interviews/" + "f" * 32)
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
    assert missing.json()["field"] == "interview_id"
