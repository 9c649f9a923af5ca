"""The plan's lumbar imaging and the CDS Hooks order review never contradict each other, end to end.

The agreement is structural: the core's imaging decision reads the plan's lumbar imaging
(:func:`pinchpoint.core.imaging.offered_imaging`) and is never "not indicated" while the plan
offers it, and the order review warns exactly when the decision is "not indicated"
(tests/test_definitions.py). These tests check the whole path a CDS Hooks client takes.

For the same person, when the plan offers lumbar imaging (an investigation that an imaging order of
terminology.yaml carries out, as something to do), the order-sign service does not warn against a
lumbar MRI order; and when the service warns that imaging is not indicated, the plan offers no lumbar
imaging. The person reaches the service as the CDS Hooks client would send them: the intake as a
QuestionnaireResponse, and the presenting problem (sciatica, low back pain, or none) as a recorded
Condition. Checked for every development case and for generated findings.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pinchpoint import assess
from pinchpoint.api.cds_hooks import handle_request
from pinchpoint.core.case import Case
from pinchpoint.core.imaging import lumbar_imaging, offered_imaging
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import FhirMappingError
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.response import case_to_response, check_enabled
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.corpus import SHARED_CASES, shared_case_params
from tests.strategies import findings

pytestmark = pytest.mark.core

TODAY = dt.date(2025, 3, 1)
_PATIENT_ID = "p1"
_SNOMED = "http://snomed.info/sct"
_LOINC = "http://loinc.org"
# The presenting problems a record can state (codes of terminology.yaml), or none at all.
_PRESENTATION_CODES = {"none": None, "sciatica": "23056005", "low_back_pain": "279039007"}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _offered(case: Case, knowledge: Knowledge) -> tuple[str, ...]:
    return offered_imaging(assess(case, knowledge).investigations, knowledge)


def _order_sign(case: Case, knowledge: Knowledge, presentation: str | None) -> dict[str, Any]:
    response = to_json(case_to_response(case, knowledge, subject={"reference": f"Patient/{_PATIENT_ID}"}))
    response.pop("id", None)
    conditions = []
    if presentation is not None:
        conditions.append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "presenting",
                    "subject": {"reference": f"Patient/{_PATIENT_ID}"},
                    "code": {"coding": [{"system": _SNOMED, "code": presentation}]},
                }
            }
        )
    order = {
        "resourceType": "ServiceRequest",
        "id": "mri",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": _LOINC, "code": "24968-0", "display": "MR Lumbar spine"}]},
        "subject": {"reference": f"Patient/{_PATIENT_ID}"},
    }
    body = {
        "hook": "order-sign",
        "hookInstance": "0d4c0f3e-7b39-4d3c-9c53-2f1f5b7b1e11",
        "context": {
            "userId": "Practitioner/1",
            "patientId": _PATIENT_ID,
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]},
        },
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": _PATIENT_ID},
            "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": conditions},
            "observations": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": response}],
            },
        },
    }
    return handle_request("pinchpoint-lumbar-imaging-sign", body, knowledge, today=TODAY)


def _check(case: Case, knowledge: Knowledge) -> int:
    """Assert the agreement for every presentation; return how many warnings the service gave."""
    offered = _offered(case, knowledge)
    warnings = 0
    for name, code in _PRESENTATION_CODES.items():
        cards = _order_sign(case, knowledge, code)["cards"]
        warned = any(card["indicator"] == "warning" for card in cards)
        warnings += warned
        assert not (warned and offered), (
            f"{case.id}, presentation {name}: the order review says lumbar imaging is not indicated "
            f"while the plan offers {offered}"
        )
    return warnings


def test_the_lumbar_imaging_investigations_exist_and_are_imaging(knowledge):
    """Every investigation an imaging order names is an imaging investigation of the plan."""
    table = knowledge.tables["investigations"]
    rows = {row.id: row for row in table.items}
    lumbar = lumbar_imaging(knowledge)
    assert lumbar
    for test in lumbar:
        assert table.modalities[rows[test].modality].imaging


@pytest.mark.parametrize("path", shared_case_params())
def test_plan_and_order_review_agree_on_every_case(knowledge, path: Path):
    """For each development case, under each presentation, plan and order review do not contradict."""
    _check(read_case(path, knowledge.vocabulary), knowledge)


@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason="the development cases are absent")
def test_the_agreement_is_not_vacuous(knowledge):
    """The service warns for some development cases and the plan offers imaging for others.

    So the agreement above is tested on both of its sides.
    """
    cases = [read_case(path, knowledge.vocabulary) for path in sorted(SHARED_CASES.glob("*.yaml"))]
    assert sum(_check(case, knowledge) for case in cases) > 0
    assert any(_offered(case, knowledge) for case in cases)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(findings=findings(), duration=st.one_of(st.none(), st.integers(0, 120)))
def test_plan_and_order_review_agree_on_generated_findings(findings, duration):
    """The same agreement holds for generated findings (with a duration, often within 6 weeks)."""
    case_findings = dict(findings)
    if duration is not None:
        case_findings["duration_days"] = duration
    knowledge = load_knowledge()
    try:  # a QuestionnaireResponse cannot say "pregnant" of a man: its enableWhen disables the item
        check_enabled(case_findings, knowledge.questions, origin="generated")
    except FhirMappingError:
        assume(False)
    _check(Case(id="generated", findings=case_findings), knowledge)


@pytest.mark.parametrize(
    "case_findings",
    [
        # The posterior puts a cauda equina lesion at >= 10 % (a flaccid calf on one side, a positive
        # straight leg raise on the other), so the plan proposes an emergency MRI; no triage rule that
        # imaging.yaml lists fires.
        {"exam.slr.right": True, "pain_hip_movement": True, "exam.power.ankle_plantarflexion.left": 0,
         "duration_days": 0},
        # A child: spondylolisthesis leads, and the plan offers a standing X-ray.
        {"age": 0, "alcohol_excess": False, "exam.power.ankle_inversion.left": 0},
    ],
    ids=["posterior-cauda-equina", "child-spondylolisthesis"],
)  # fmt: skip
def test_the_order_review_defers_to_the_plan_found_by_hypothesis(knowledge, case_findings):
    """The order review stays silent where hypothesis found the rules alone contradicting the plan.

    In both, imaging.yaml's rules said "not indicated" while the plan offered lumbar imaging.
    """
    case = Case(id="found", findings=case_findings)
    assert _offered(case, knowledge)
    assert _check(case, knowledge) == 0
