"""One property across every entry point: the plan starts with the action of the final triage level.

A person's facts reach the core by six doors: a YAML case file, ``POST /api/v1/assess``, a FHIR
QuestionnaireResponse, a FHIR record Bundle (which may hold a recorded diagnosis), a CDS Hooks
``patient-view`` call and the web app's ``POST /api/assess``. Whatever the door, the assessment is
made once, in the core, from everything the input says, so the first action of the plan is the
action of the triage level that is reported, and a CarePlan never pairs an emergency referral with
a self-care plan (the defect of a recorded cauda equina syndrome, issue 12).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint.api.app import create_api_app
from pinchpoint.core.case import Case
from pinchpoint.core.engine import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import FhirMappingError
from pinchpoint.io.casefile import parse_case_yaml
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.response import case_to_response
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from pinchpoint.service.contract import to_contract
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from tests.strategies import cases

pytestmark = pytest.mark.core

TODAY = dt.date(2025, 3, 1)
_SNOMED = "http://snomed.info/sct"
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


@cache
def _doors() -> tuple[Knowledge, TestClient, TestClient]:
    """The knowledge, the REST API with the CDS services (today fixed) and the web app (in memory).

    Built once and kept out of the test's arguments, so that hypothesis never prints them.
    """
    knowledge = load_knowledge()
    api = TestClient(create_api_app(knowledge, clock=lambda: TODAY), raise_server_exceptions=False)
    app = create_app(Settings(), knowledge=knowledge, store=Store.open("sqlite://"))
    web = TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False)
    return knowledge, api, web


def _recorded_codes(knowledge: Knowledge) -> list[str]:
    """SNOMED codes of terminology.yaml's recorded diagnoses that a triage floor reads."""
    terms = knowledge.tables["terminology"]
    assert isinstance(terms, s.TerminologyTable)
    systems = {key for key, system in terms.systems.items() if system.url == _SNOMED}
    named = {**terms.sites, **terms.causes}
    floors = {floor.diagnosis for floor in knowledge.tables["triage"].recorded}  # type: ignore[attr-defined]
    return sorted(code.code for name in floors for code in named.get(name, ()) if code.system in systems)


def _level_of_contract(body: Mapping[str, Any], knowledge: Knowledge) -> Urgency:
    """Check a contract JSON's plan starts with its triage level's action; return the level."""
    level = Urgency.from_id(body["triage"])
    assert body["plan"]["actions"][0]["id"] == knowledge.plan.actions[level].id
    return level


def _level_of_care_plan(api: TestClient, resource: Mapping[str, Any], knowledge: Knowledge) -> Urgency:
    """Send a FHIR resource to both FHIR endpoints; check the CarePlan follows the RiskAssessment's level."""
    risk = api.post("/api/v1/fhir/assess", json=resource)
    assert risk.status_code == 200, risk.text
    level = Urgency.from_id(risk.json()["prediction"][0]["qualitativeRisk"]["coding"][0]["code"])
    plan = api.post("/api/v1/fhir/plan", json=resource)
    assert plan.status_code == 200, plan.text
    activities = plan.json()["entry"][0]["resource"]["activity"]
    titles = {a["detail"]["code"]["text"] for a in activities if "detail" in a}
    actions = {action.title: urgency for urgency, action in knowledge.plan.actions.items()}
    assert {actions[title] for title in titles if title in actions} == {level}
    interop = knowledge.tables["interop"]
    assert isinstance(interop, s.InteropTable)
    if interop.levels[level.id].request is not None:
        referral = f"ServiceRequest/pinchpoint-plan-triage-{level.id}"
        assert activities[0]["reference"] == {"reference": referral}
    return level


def _record(response: Mapping[str, Any], codes: list[str]) -> list[dict[str, Any]]:
    """The resources of a record: a Patient, the intake answers and active recorded diagnoses."""
    conditions = [
        {
            "resourceType": "Condition",
            "id": f"c{index}",
            "subject": {"reference": "Patient/p"},
            "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": "active"}]},
            "code": {"coding": [{"system": _SNOMED, "code": code}]},
        }
        for index, code in enumerate(codes)
    ]
    return [{"resourceType": "Patient", "id": "p"}, dict(response), *conditions]


def _bundle(resources: list[dict[str, Any]], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def _patient_view(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "p"},
        "prefetch": {
            "patient": resources[0],
            "conditions": _bundle(resources[1:], "searchset"),
            "observations": None,
        },
    }


def _answerable(case: Case, knowledge: Knowledge) -> dict[str, Any] | None:
    """The case as an intake QuestionnaireResponse, or None when the intake cannot hold it."""
    try:
        return to_json(case_to_response(case, knowledge))
    except FhirMappingError:
        return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(max_size=12), with_record=st.booleans())
def test_every_entry_point_starts_the_plan_with_its_final_level(case: Case, with_record: bool) -> None:
    """Each door reports a level, and its plan starts with that level's action, recorded floors included."""
    knowledge, api, web = _doors()
    findings = {
        key: list(value) if isinstance(value, tuple) else value for key, value in case.findings.items()
    }
    body = {"id": case.id, "findings": findings}
    expected = assess(case, knowledge).triage

    from_yaml = assess(parse_case_yaml(yaml.safe_dump(body).encode(), knowledge.vocabulary,
                                       origin="case.yaml", default_id="case"), knowledge)  # fmt: skip
    assert _level_of_contract(to_contract(from_yaml), knowledge) == expected
    from_api = api.post("/api/v1/assess", json=body)
    assert from_api.status_code == 200, from_api.text
    assert _level_of_contract(from_api.json(), knowledge) == expected
    from_web = web.post("/api/assess", json=body)
    assert from_web.status_code == 200, from_web.text
    assert _level_of_contract(from_web.json(), knowledge) == expected

    response = _answerable(case, knowledge)
    if response is None:
        return
    assert _level_of_care_plan(api, response, knowledge) == expected
    codes = _recorded_codes(knowledge) if with_record else []
    resources = _record(response, codes)
    from_bundle = _level_of_care_plan(api, _bundle(resources), knowledge)
    assert from_bundle == (Urgency.EMERGENCY if codes else expected)
    answer = api.post("/cds-services/pinchpoint-triage", json=_patient_view(resources))
    assert answer.status_code == 200, answer.text
    cards = answer.json()["cards"]
    interop = knowledge.tables["interop"]
    assert isinstance(interop, s.InteropTable)
    summaries = {interop.levels[from_bundle.id].summary}
    if from_bundle <= Urgency.SOON:  # soon may be the floor of unanswered warning signs alone
        summaries.add(interop.unasked_red_flags.summary)
    if codes:
        assert cards, "a record with a recorded diagnosis has a card"
    if cards:
        assert cards[0]["summary"] in summaries
