"""Whole-spine MRI is coded with LOINC in the CarePlan, and the lumbar order review leaves it alone.

terminology.yaml's ``imaging_orders`` rows of ``region: whole_spine`` code the plan's whole-spine
MRI requests; they are not lumbar imaging, so the CDS order review neither reviews an order for
them nor counts them as the plan's lumbar imaging.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pinchpoint import assess
from pinchpoint.api.app import create_api_app
from pinchpoint.core.case import Case
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.results import assessment_plan_items, care_plan
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.corpus import shared_case_params

pytestmark = pytest.mark.core

_LOINC = "http://loinc.org"
_WHOLE_SPINE_MRI = {
    "system": _LOINC,
    "code": "30854-4",
    "display": "MR Cervical and thoracic and lumbar spine WO contrast",
}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _codes_by_investigation(knowledge: Knowledge) -> dict[str, list[str]]:
    table = knowledge.tables["terminology"]
    codes: dict[str, list[str]] = {}
    for order in table.imaging_orders:
        for test in order.investigations:
            codes.setdefault(test, []).append(order.code)
    return codes


def test_the_whole_spine_rows_name_the_whole_spine_investigations(knowledge: Knowledge) -> None:
    """Every whole-spine MRI of investigations.yaml is coded, and only by whole-spine MRI codes."""
    table = knowledge.tables["terminology"]
    tests = {row.id: row for row in knowledge.tables["investigations"].items}
    whole = {
        t for order in table.imaging_orders if order.region == "whole_spine" for t in order.investigations
    }
    assert whole == {test for test, row in tests.items() if "whole spine" in row.title.lower()}
    for order in table.imaging_orders:
        if order.region == "whole_spine":
            assert order.modality == "mri"
            assert order.display.startswith("MR Cervical and thoracic and lumbar spine")
            assert order.source == "loinc-radiology-spine"


@pytest.mark.parametrize("path", shared_case_params())
def test_every_coded_investigation_is_requested_with_its_rows_codes(knowledge: Knowledge, path: Path) -> None:
    """A plan's investigation that an imaging-order row names carries exactly that row's codes."""
    codes = _codes_by_investigation(knowledge)
    assessment = assess(read_case(path, knowledge.vocabulary), knowledge)
    tests = {test.id for test in assessment.investigations}
    for item in assessment_plan_items(assessment, knowledge):
        if item.request and item.id in tests:
            assert [c["code"] for c in item.codes] == codes.get(item.id, [])


@pytest.mark.parametrize(
    ("findings", "investigation"),
    [
        ({"cancer_history": True, "exam.power.ankle_dorsiflexion.left": 2}, "mri-whole-spine-mscc"),
        ({"cancer_history": True, "foot_drop.left": True}, "mri-whole-spine-mscc"),
    ],
)
def test_a_whole_spine_mri_request_carries_the_whole_spine_loinc_code(
    knowledge: Knowledge, findings: dict[str, Any], investigation: str
) -> None:
    """Cancer with a new deficit: the whole-spine MRI ServiceRequest is coded 30854-4, not lumbar."""
    case = Case(id="whole-spine", findings=findings)
    assessment = assess(case, knowledge)
    assert investigation in {t.id for t in assessment.investigations if t.verdict.to_do}
    _, requests = care_plan(assessment_plan_items(assessment, knowledge), knowledge)
    mri = next(to_json(r) for r in requests if str(r.id).endswith(investigation))
    assert mri["code"]["coding"] == [_WHOLE_SPINE_MRI]


def test_the_order_review_does_not_take_a_whole_spine_order_for_lumbar_imaging(knowledge: Knowledge) -> None:
    """Early back pain, no red flag: an MR lumbar order gets a warning card, an MR whole-spine order none."""
    client = TestClient(create_api_app(knowledge, clock=lambda: dt.date(2025, 3, 1)))
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-05-05"}
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "279039007"}]},
        "onsetDateTime": "2025-02-15",
    }

    def review(code: str, display: str) -> list[Any]:
        order = {
            "resourceType": "ServiceRequest",
            "id": "o1",
            "status": "draft",
            "intent": "order",
            "code": {"coding": [{"system": _LOINC, "code": code, "display": display}]},
            "subject": {"reference": "Patient/p1"},
        }
        body = {
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2eb",
            "hook": "order-sign",
            "context": {
                "userId": "PractitionerRole/123",
                "patientId": "p1",
                "draftOrders": {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"resource": order}],
                },
            },
            "prefetch": {
                "patient": patient,
                "conditions": {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "entry": [{"resource": condition}],
                },
                "observations": None,
            },
        }
        response = client.post("/cds-services/pinchpoint-lumbar-imaging-sign", json=body)
        assert response.status_code == 200
        return list(response.json()["cards"])

    assert len(review("24968-0", "MR Lumbar spine")) == 1
    assert review(_WHOLE_SPINE_MRI["code"], _WHOLE_SPINE_MRI["display"]) == []
