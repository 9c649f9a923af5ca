"""Tests of the REST API (``/api/v1``): assessment, knowledge, FHIR endpoints, problem details."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.riskassessment import RiskAssessment

from pinchpoint import assess
from pinchpoint.api.app import PROBLEM_JSON, create_api_app
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import to_json, validate_resource
from pinchpoint.io.fhir.questionnaire import build_questionnaire
from pinchpoint.io.fhir.response import case_to_response
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.contract import to_contract
from tests.corpus import shared_case_params

pytestmark = pytest.mark.core

TODAY = dt.date(2025, 3, 1)


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A client of the API app, with today's date fixed."""
    return TestClient(create_api_app(load_knowledge(), clock=lambda: TODAY), raise_server_exceptions=False)


@pytest.mark.parametrize("path", shared_case_params())
def test_assess_gives_the_contract_json(client, path: Path):
    """POST /api/v1/assess with a case's findings answers what the engine answers for that case."""
    knowledge = load_knowledge()
    case = read_case(path, knowledge.vocabulary)
    findings = {
        key: list(value) if isinstance(value, tuple) else value for key, value in case.findings.items()
    }
    response = client.post("/api/v1/assess", json={"id": case.id, "findings": findings})
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(to_contract(assess(case, knowledge))))


@pytest.mark.parametrize(
    ("body", "field", "expected", "got"),
    [
        pytest.param({"findings": {"exam.slr": True}}, "findings.exam.slr", "a finding id of the vocabulary",
                     None, id="unknown-finding"),
        pytest.param({"findings": {"pain_severity": 12}}, "findings.pain_severity",
                     "a whole number from 0 to 10", "12", id="out-of-range"),
        pytest.param({"findings": {"pain_regions": ["buttock"]}}, "findings.pain_regions",
                     "a side on this region: buttock.left or buttock.right", "buttock",
                     id="region-without-side"),
        pytest.param({"id": "Bad Id", "findings": {}}, "id",
                     "String should match pattern '^[a-z0-9][a-z0-9-]*$'", '"Bad Id"', id="bad-case-id"),
        pytest.param({"findings": {}, "finding": {}}, "finding", "Extra inputs are not permitted", "{}",
                     id="unknown-key"),
        pytest.param({}, "findings", "Field required", "{}", id="no-findings"),
    ],
)  # fmt: skip
def test_input_errors_are_problem_details_naming_the_field(client, body, field, expected, got):
    """An unusable case is a 422 problem+json naming the field, the expectation and the value."""
    response = client.post("/api/v1/assess", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 422
    assert problem["field"] == field
    assert problem["expected"] == expected
    assert problem.get("got") == got
    assert problem["type"].startswith("https://")


def test_region_without_side_names_the_region(client):
    """The region error names the region that arrived."""
    problem = client.post("/api/v1/assess", json={"findings": {"pain_regions": ["calf"]}}).json()
    assert problem["detail"].endswith("(got 'calf')")


def test_knowledge_lists_ids_version_and_sources(client):
    """GET /api/v1/knowledge lists the vocabulary's ids and every source, with the knowledge version."""
    knowledge = load_knowledge()
    body = client.get("/api/v1/knowledge").json()
    assert body["version"] == knowledge.version
    assert [item["id"] for item in body["findings"]] == list(knowledge.vocabulary.findings)
    assert [item["id"] for item in body["sites"]] == list(knowledge.vocabulary.sites)
    assert [item["id"] for item in body["causes"]] == list(knowledge.vocabulary.causes)
    assert {item["id"] for item in body["sources"]} == set(knowledge.sources)
    assert [item["id"] for item in body["triage"]] == list(knowledge.vocabulary.triage)


def test_questionnaire_endpoint_serves_the_intake(client):
    """GET /api/v1/fhir/Questionnaire serves the generated intake, valid FHIR."""
    body = client.get("/api/v1/fhir/Questionnaire").json()
    validate_resource(body, Questionnaire, "test")
    assert body == to_json(build_questionnaire(load_knowledge()))


@pytest.mark.parametrize("path", shared_case_params()[:4])
def test_fhir_assess_answers_a_risk_assessment(client, path: Path):
    """A QuestionnaireResponse posted to /fhir/assess gives a valid RiskAssessment with the same triage."""
    knowledge = load_knowledge()
    case = read_case(path, knowledge.vocabulary)
    response = client.post("/api/v1/fhir/assess", json=to_json(case_to_response(case, knowledge)))
    assert response.status_code == 200
    body = response.json()
    validate_resource(body, RiskAssessment, "test")
    assert body["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == assess(case, knowledge).triage.id
    assert body["basis"] == [{"reference": f"QuestionnaireResponse/{case.id}"}]


def test_fhir_bundle_uses_the_date_parameter(client):
    """A Bundle's age is counted to the ?date= given, and the plan endpoint answers a valid Bundle."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "2000-06-01"}},
            {"resource": {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
                          "code": {"coding": [{"system": "http://snomed.info/sct", "code": "267064002"}]}}},
        ],
    }  # fmt: skip
    risk = client.post("/api/v1/fhir/assess?date=2020-06-01", json=bundle).json()
    assert risk["subject"] == {"reference": "Patient/p"}
    assert risk["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == "emergency"
    plan = client.post("/api/v1/fhir/plan", json=bundle).json()
    validate_resource(plan, Bundle, "test")
    kinds = [entry["resource"]["resourceType"] for entry in plan["entry"]]
    assert kinds[:2] == ["CarePlan", "ServiceRequest"]
    assert set(kinds[1:]) == {"ServiceRequest"}
    referral = plan["entry"][1]["resource"]
    assert (referral["id"], referral["priority"]) == ("pinchpoint-plan-triage-emergency", "stat")


def test_recorded_cauda_equina_gets_an_emergency_care_plan(client):
    """A record of cauda equina syndrome alone answers an emergency CarePlan: referral, MRI, no self-care.

    The recorded diagnosis is an input of the triage (``recorded`` in triage.yaml), so the plan is
    made from the emergency level instead of being patched after a self-care plan was made.
    """
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p"},
                          "clinicalStatus": {"coding": [{
                              "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                              "code": "active"}]},
                          "code": {"coding": [{"system": "http://snomed.info/sct", "code": "192970008"}]}}},
        ],
    }  # fmt: skip
    response = client.post("/api/v1/fhir/plan", json=bundle)
    assert response.status_code == 200
    plan = response.json()
    validate_resource(plan, Bundle, "test")
    activities = plan["entry"][0]["resource"]["activity"]
    requests = {entry["resource"]["id"]: entry["resource"] for entry in plan["entry"][1:]}
    texts = [activity["detail"]["code"]["text"] for activity in activities if "detail" in activity]
    actions = load_knowledge().plan.actions
    assert activities[0]["reference"] == {"reference": "ServiceRequest/pinchpoint-plan-triage-emergency"}
    assert requests["pinchpoint-plan-triage-emergency"]["priority"] == "stat"
    assert requests["pinchpoint-plan-mri-emergency-cauda-equina"]["priority"] == "stat"
    assert actions[Urgency.EMERGENCY].title in texts
    assert not {action.title for level, action in actions.items() if level < Urgency.EMERGENCY} & set(texts)


def test_bad_fhir_is_422_with_the_json_path(client):
    """Invalid FHIR in the body is a 422 problem naming the JSON path."""
    body = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [{"answer": []}]}
    problem = client.post("/api/v1/fhir/assess", json=body).json()
    assert problem["status"] == 422
    assert problem["field"] == "$.item[0].linkId"


def test_unknown_path_is_a_404_problem(client):
    """An unknown path is a 404 problem, not an HTML page."""
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
