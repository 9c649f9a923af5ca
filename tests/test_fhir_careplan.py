"""The real plan as a FHIR CarePlan: every verdict becomes what FHIR can say about it, all valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.servicerequest import ServiceRequest

from pinchpoint import assess
from pinchpoint.core.careplan import Verdict
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import check_codes, to_json, validate_resource
from pinchpoint.io.fhir.results import (
    VERDICT_EXTENSION,
    CarePlanItem,
    assessment_plan_items,
    care_plan,
    care_plan_bundle,
)
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.corpus import shared_case_params

pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _valid(resource: Any, model: type[Any]) -> dict[str, Any]:
    document = json.loads(json.dumps(to_json(resource)))
    validate_resource(document, model, "test")
    check_codes(document, "test")
    return document


def _verdict(element: dict[str, Any]) -> str:
    (extension,) = [e for e in element["extension"] if e["url"] == VERDICT_EXTENSION]
    return str(extension["valueCode"])


@pytest.mark.parametrize("path", shared_case_params())
def test_the_plan_of_every_case_is_a_valid_care_plan(knowledge, path: Path):
    """Each case's plan and investigations become a valid CarePlan with ServiceRequests, item by item.

    Things to do that are ordered become ServiceRequest proposals; advice becomes activities;
    anything advised against is an activity with doNotPerform and never a request; unproven items
    are notes, never activities.
    """
    assessment = assess(read_case(path, knowledge.vocabulary), knowledge)
    items = assessment_plan_items(assessment, knowledge)
    plan, requests = care_plan(items, knowledge, subject={"reference": "Patient/p"})
    document = _valid(plan, CarePlan)
    by_id = {to_json(r)["id"]: _valid(r, ServiceRequest) for r in requests}
    _valid(care_plan_bundle(plan, requests), Bundle)

    referral = (
        [f"triage-{assessment.triage.id}"]
        if knowledge.tables["interop"].levels[assessment.triage.id].request
        else []
    )
    expected = [
        *referral,
        *(t.id for t in assessment.investigations),
        *(i.id for i in assessment.plan.items()),
    ]
    assert [i.id for i in items] == expected
    activities = iter(document["activity"])
    for item in items:
        if item.verdict == Verdict.NO_EVIDENCE:
            assert any(item.text in note["text"] for note in document["note"])
            continue
        activity = next(activities)
        assert _verdict(activity) == item.verdict
        if item.verdict in (Verdict.NOT_RECOMMENDED, Verdict.UNSAFE):
            assert activity["detail"]["doNotPerform"] is True
            assert "reference" not in activity
        elif item.request:
            request = by_id[activity["reference"]["reference"].removeprefix("ServiceRequest/")]
            assert (request["intent"], request["status"]) == ("proposal", "draft")
            assert "doNotPerform" not in request
            assert _verdict(request) == item.verdict
            assert request["code"]["text"].startswith("Consider: ") is (item.verdict == Verdict.OPTION)
            assert [c["code"] for c in request["code"].get("coding", [])] == [c["code"] for c in item.codes]
        else:
            assert activity["detail"]["status"] == "not-started"
            assert "doNotPerform" not in activity["detail"]
    assert next(activities, None) is None
    assert document["note"][0]["text"] == knowledge.tables["interop"].safety_note


def test_coded_investigations_carry_their_loinc_code(knowledge):
    """An investigation named by an imaging order of terminology.yaml is requested with its code."""
    case = read_case(Path(__file__).parents[1] / "examples" / "cauda-equina.yaml", knowledge.vocabulary)
    assessment = assess(case, knowledge)
    _, requests = care_plan(assessment_plan_items(assessment, knowledge), knowledge)
    mri = next(to_json(r) for r in requests if r.id.endswith("mri-emergency-cauda-equina"))
    assert mri["code"]["coding"] == [
        {"system": "http://loinc.org", "code": "24968-0", "display": "MR Lumbar spine"}
    ]
    assert mri["priority"] == "stat"
    assert mri["patientInstruction"] == next(
        t.patient for t in assessment.investigations if t.id == "mri-emergency-cauda-equina"
    )


@pytest.mark.parametrize("verdict", ["recommended", "option", "not_recommended", "unsafe", "no_evidence"])
@pytest.mark.parametrize("request_kind", [True, False], ids=["request", "advice"])
def test_each_verdict_maps_as_documented(knowledge, verdict, request_kind):
    """One item of each verdict, as a request and as advice, becomes what the module's table says."""
    item = CarePlanItem("x", "Something", verdict, "nice-ng59", request=request_kind)
    plan, requests = care_plan((item,), knowledge)
    document = _valid(plan, CarePlan)
    if verdict == "no_evidence":
        assert (document.get("activity"), requests) == (None, ())
        assert document["note"][-1]["text"].startswith("No evidence either way: Something.")
        return
    (activity,) = document["activity"]
    assert _verdict(activity) == verdict
    is_request = request_kind and verdict in ("recommended", "option")
    assert len(requests) == int(is_request)
    assert ("reference" in activity) is is_request
    if not is_request:
        assert activity["detail"].get("doNotPerform", False) is (verdict in ("not_recommended", "unsafe"))
