"""Tests of the CDS Hooks 2.0 services, over HTTP, with request bodies shaped like the specification's.

The bodies follow the examples of the CDS Hooks specification (``hookInstance``, ``fhirServer``,
``fhirAuthorization``, ``context`` with ``userId``/``patientId``, ``prefetch`` keyed as discovery
declares), for each hook, including missing prefetch and malformed context.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pinchpoint.api.app import PROBLEM_JSON, create_api_app
from pinchpoint.io.knowledge.loader import load_knowledge

pytestmark = pytest.mark.core

TODAY = dt.date(2025, 3, 1)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
_INDICATORS = {"info", "warning", "critical"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A client of the API app, with today's date fixed."""
    return TestClient(create_api_app(load_knowledge(), clock=lambda: TODAY), raise_server_exceptions=False)


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def _condition(
    code: str, *, onset: str | None = None, system: str = SNOMED, cid: str = "c1"
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/1288992"},
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if onset:
        resource["onsetDateTime"] = onset
    return resource


_PATIENT = {"resourceType": "Patient", "id": "1288992", "gender": "male", "birthDate": "1970-05-05"}


def _patient_view(conditions: list[dict[str, Any]] | None, observations: list[dict[str, Any]] | None = None):
    return {
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://fhir.example.org",
        "hook": "patient-view",
        "fhirAuthorization": {
            "access_token": "some-opaque-fhir-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read",
            "subject": "cds-service4",
        },
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
        "prefetch": {
            "patient": _PATIENT,
            "conditions": None if conditions is None else _searchset(*conditions),
            "observations": None if observations is None else _searchset(*observations),
        },
    }


def _mri(order_id: str = "example-MRI-59879846", reason: str | None = None) -> dict[str, Any]:
    order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": LOINC, "code": "24968-0", "display": "MR Lumbar spine"}]},
        "subject": {"reference": "Patient/1288992"},
    }
    if reason:
        order["reasonCode"] = [{"coding": [{"system": SNOMED, "code": reason}]}]
    return order


def _order_hook(
    hook: str, conditions: list[dict[str, Any]], *orders: dict[str, Any], selected: list[str] | None = None
):
    context: dict[str, Any] = {
        "userId": "PractitionerRole/123",
        "patientId": "1288992",
        "encounterId": "89284",
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": o} for o in orders],
        },
    }
    if hook == "order-select":
        context["selections"] = selected if selected is not None else [f"ServiceRequest/{orders[0]['id']}"]
    return {
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2eb",
        "hook": hook,
        "context": context,
        "prefetch": {"patient": _PATIENT, "conditions": _searchset(*conditions), "observations": None},
    }


def _check_cards(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Check every card against the specification and return the cards."""
    assert set(body) == {"cards"}
    for card in body["cards"]:
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in _INDICATORS
        assert card["source"]["label"]
        assert str(uuid.UUID(card["uuid"])) == card["uuid"]
        if "suggestions" in card:
            assert card["selectionBehavior"] in {"at-most-one", "any"}
    return list(body["cards"])


def test_discovery_lists_the_services(client):
    """GET /cds-services names each service with its hook, description and prefetch templates."""
    services = client.get("/cds-services").json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {
        ("pinchpoint-triage", "patient-view"),
        ("pinchpoint-lumbar-imaging-select", "order-select"),
        ("pinchpoint-lumbar-imaging-sign", "order-sign"),
    }
    for service in services:
        assert service["description"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"


# --- patient-view -------------------------------------------------------------------------------


def test_patient_view_red_flag_gives_a_critical_card(client):
    """A recorded urinary retention gives a critical card with the triage and the red flag."""
    response = client.post("/cds-services/pinchpoint-triage", json=_patient_view([_condition("267064002")]))
    assert response.status_code == 200
    (card,) = _check_cards(response.json())
    assert card["indicator"] == "critical"
    assert card["summary"] == "pinchpoint triage: EMERGENCY, refer immediately (seen within hours)"
    assert "suspected cauda equina syndrome" in card["detail"]
    assert "does not replace, a clinician's judgement" in card["detail"]


def test_patient_view_recorded_cauda_equina_is_critical(client):
    """A recorded cauda equina syndrome sets the triage floor at emergency."""
    response = client.post("/cds-services/pinchpoint-triage", json=_patient_view([_condition("192970008")]))
    (card,) = _check_cards(response.json())
    assert card["indicator"] == "critical"


def test_patient_view_with_nothing_relevant_says_nothing(client):
    """A chart with only demographics and unrelated codes gets no card; unknown codes are not guessed."""
    body = _patient_view([_condition("38341003")], observations=None)
    assert client.post("/cds-services/pinchpoint-triage", json=body).json() == {"cards": []}


def test_sparse_record_never_says_self_care(client):
    """Back pain with no red flag recorded either way: the card asks to check them, not 'self-care'."""
    response = client.post("/cds-services/pinchpoint-triage", json=_patient_view([_condition("279039007")]))
    (card,) = _check_cards(response.json())
    assert card["summary"] == (
        "pinchpoint: no red flag recorded, but emergency warning signs are not recorded either; check them"
    )
    assert "Urinary retention or painless overflow" in card["detail"]  # the bank's words, not an id
    assert "urinary_retention" not in card["detail"]
    assert "look after it at home" not in card["detail"]


def test_patient_view_null_prefetch_means_no_data(client):
    """Prefetch keys sent as null ('no data') are accepted."""
    response = client.post("/cds-services/pinchpoint-triage", json=_patient_view(None, None))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_pregnancy_status_observation_is_read(client):
    """A pregnancy-status Observation (LOINC 82810-3) and sciatica give a card."""
    pregnant = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA15173-0"}]},
    }
    body = _patient_view([_condition("23056005", onset="2025-02-20")], [pregnant])
    body["prefetch"]["patient"] = {**_PATIENT, "gender": "female"}
    (card,) = _check_cards(client.post("/cds-services/pinchpoint-triage", json=body).json())
    assert card["indicator"] in _INDICATORS


# --- problems: missing prefetch, malformed context --------------------------------------------------


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    target = copied
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copied


def _with(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


_BASE = _patient_view([_condition("267064002")])
_MISSING = (
    "$.prefetch: the request lacks prefetched data that this service needs and it fetches nothing itself; "
    "expected the prefetch keys conditions, observations, patient (null when there is no data) "
)


@pytest.mark.parametrize(
    ("body", "status", "field", "detail"),
    [
        pytest.param(
            _without(_BASE, "prefetch", "observations"), 412, "$.prefetch",
            _MISSING + "(got ['observations'])",
            id="missing-prefetch-key",
        ),
        pytest.param(
            _without(_BASE, "prefetch"), 412, "$.prefetch",
            _MISSING + "(got ['conditions', 'observations', 'patient'])",
            id="no-prefetch-at-all",
        ),
        pytest.param(
            _without(_BASE, "context", "patientId"), 400, "$.context.patientId",
            "$.context.patientId: patientId is missing or malformed; expected a FHIR id such as 1288992",
            id="context-without-patient",
        ),
        pytest.param(
            _with(_BASE, "dr-who", "context", "userId"), 400, "$.context.userId",
            "$.context.userId: userId is missing or malformed; expected a reference such as "
            "Practitioner/123 or PractitionerRole/abc (got 'dr-who')",
            id="context-user-not-a-reference",
        ),
        pytest.param(
            _with(_BASE, ["x"], "context"), 400, "$.context",
            "$.context: context is missing or not an object; expected an object with userId and patientId "
            "(got ['x'])",
            id="context-not-an-object",
        ),
        pytest.param(
            _with(_BASE, "order-sign", "hook"), 400, "$.hook",
            "$.hook: the hook does not match the service; expected 'patient-view' for pinchpoint-triage "
            "(got 'order-sign')",
            id="wrong-hook",
        ),
        pytest.param(
            _without(_BASE, "hookInstance"), 400, "$.hookInstance",
            "$.hookInstance: hookInstance is missing; expected a UUID string",
            id="no-hook-instance",
        ),
        pytest.param(
            _with(_BASE, {**_PATIENT, "id": "other"}, "prefetch", "patient"), 400, "$.prefetch.patient.id",
            "$.prefetch.patient.id: the prefetched Patient is not the context's patient; expected '1288992' "
            "(got 'other')",
            id="prefetch-of-another-patient",
        ),
        pytest.param(
            _with(_BASE, {**_PATIENT, "gender": "robot"}, "prefetch", "patient"), 422,
            "$.prefetch.patient.gender",
            "request: $.prefetch.patient.gender: a code is not in its FHIR value set; expected one of "
            "female, male, other, unknown (got 'robot')",
            id="invalid-fhir-in-prefetch",
        ),
        pytest.param(
            _with(_BASE, 7, "prefetch", "conditions"), 400, "$.prefetch.conditions",
            "$.prefetch.conditions: a prefetch value is not a FHIR resource; expected a resource, a Bundle "
            "or null (got 'int')",
            id="prefetch-not-a-resource",
        ),
    ],
)  # fmt: skip
def test_bad_requests_get_a_problem_naming_the_field(client, body, status, field, detail):
    """Missing prefetch is 412; malformed context or data is 400/422; never 5xx, always problem+json."""
    response = client.post("/cds-services/pinchpoint-triage", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == status
    assert problem["field"] == field
    assert problem["detail"] == detail


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{", 400), (b"[]", 400), (b"null", 400), (b'"text"', 400)],
    ids=["broken-json", "array", "null", "string"],
)
def test_bodies_that_are_not_requests_are_400(client, content, status):
    """A body that is not a JSON object is a 400 problem."""
    response = client.post(
        "/cds-services/pinchpoint-triage", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON


def test_unknown_service_is_404(client):
    """A service id that is not in the discovery response is a 404 problem."""
    response = client.post("/cds-services/nothing-here", json=_BASE)
    assert response.status_code == 404
    assert response.json()["detail"] == "no CDS service 'nothing-here'"


def test_feedback_is_acknowledged(client):
    """The feedback endpoint accepts the specification's example and refuses a body without feedback."""
    feedback = {
        "feedback": [
            {
                "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            }
        ]
    }
    assert client.post("/cds-services/pinchpoint-triage/feedback", json=feedback).status_code == 200
    assert client.post("/cds-services/pinchpoint-triage/feedback", json={}).status_code == 400


# --- order-select / order-sign ------------------------------------------------------------------

_SELECT = "/cds-services/pinchpoint-lumbar-imaging-select"
_SIGN = "/cds-services/pinchpoint-lumbar-imaging-sign"


@pytest.mark.parametrize(("url", "hook"), [(_SELECT, "order-select"), (_SIGN, "order-sign")])
def test_imaging_for_early_back_pain_gets_a_warning_to_remove_it(client, url, hook):
    """An MRI for low back pain of 2 weeks without red flags: a warning card suggesting removal."""
    body = _order_hook(hook, [_condition("279039007", onset="2025-02-15")], _mri())
    response = client.post(url, json=body)
    assert response.status_code == 200
    (card,) = _check_cards(response.json())
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Lumbar imaging is not indicated")
    (suggestion,) = card["suggestions"]
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Remove MR Lumbar spine",
            "resourceId": "ServiceRequest/example-MRI-59879846",
        }
    ]


@pytest.mark.parametrize(
    ("conditions", "order"),
    [
        pytest.param([_condition("279039007", onset="2025-02-15"), _condition("192970008", cid="c2")], _mri(),
                     id="recorded-cauda-equina"),
        pytest.param([_condition("23056005", onset="2025-02-15")], _mri(reason="267064002"),
                     id="reason-urinary-retention"),
        pytest.param([_condition("23056005", onset="2024-11-01")], _mri(), id="sciatica-beyond-6-weeks"),
        pytest.param([_condition("23056005")], _mri(), id="sciatica-duration-unknown"),
        pytest.param([_condition("363346000", cid="c3"), _condition("279039007", onset="2025-02-15")], _mri(),
                     id="cancer-history-leaves-it-open"),
        pytest.param([], _mri(), id="no-presentation"),
    ],
)  # fmt: skip
def test_imaging_is_silent_when_indicated_or_unclear(client, conditions, order):
    """Red flags, a long or unknown course, or no recognised presentation: no card."""
    response = client.post(_SELECT, json=_order_hook("order-select", conditions, order))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_order_select_reviews_only_the_selected_orders(client):
    """An imaging order in draftOrders but not in selections is not reviewed on order-select."""
    other = {**_mri("other-order"), "code": {"coding": [{"system": LOINC, "code": "2345-7"}]}}
    body = _order_hook("order-select", [_condition("279039007", onset="2025-02-15")], other, _mri(),
                       selected=["ServiceRequest/other-order"])  # fmt: skip
    assert client.post(_SELECT, json=body).json() == {"cards": []}


def test_order_select_without_selections_is_400(client):
    """order-select requires a non-empty selections array."""
    body = _order_hook("order-select", [], _mri(), selected=[])
    response = client.post(_SELECT, json=body)
    assert response.status_code == 400
    assert response.json()["field"] == "$.context.selections"


def test_order_sign_without_draft_orders_is_400(client):
    """order-sign requires draftOrders as a Bundle."""
    body = _without(_order_hook("order-sign", [], _mri()), "context", "draftOrders")
    response = client.post(_SIGN, json=body)
    assert response.status_code == 400
    assert response.json()["field"] == "$.context.draftOrders"
