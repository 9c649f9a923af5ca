"""Assessments and plans as FHIR R4 resources: ``RiskAssessment``, ``CarePlan``, ``ServiceRequest``.

:func:`risk_assessment` writes one prediction for the triage (its level as ``qualitativeRisk``,
the rules that fired as ``rationale``) and one per ranked site and cause with its probability
(those the contract JSON shows: the first three, and any other of p >= 0.001),
coded in pinchpoint's code systems and, where ``terminology.yaml`` has them, in SNOMED CT or
ICD-10. The knowledge version is stamped in an extension and in a note, beside the safety note.

:func:`care_plan` takes generic plan items (:class:`CarePlanItem`: id, text, verdict, source) so
that any plan can be sent: each recommended item becomes a ``ServiceRequest`` proposal referenced
by a CarePlan activity; an item advised against becomes an activity with ``doNotPerform``.
:func:`triage_plan_items` derives the items that the triage alone asks for (interop.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir.resources.R4B.servicerequest import ServiceRequest

from pinchpoint.assessment import Assessment, Hypothesis
from pinchpoint.fhir._boundary import to_json, validate_resource
from pinchpoint.fhir.terminology import CANONICAL_BASE, Terminology, coding, pinchpoint_system
from pinchpoint.knowledge import schema as s
from pinchpoint.knowledge.model import Knowledge

__all__ = [
    "KNOWLEDGE_VERSION_EXTENSION",
    "CarePlanItem",
    "care_plan",
    "care_plan_bundle",
    "risk_assessment",
    "triage_plan_items",
]

KNOWLEDGE_VERSION_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/knowledge-version"
"""Extension URL whose ``valueString`` is the knowledge version a result was computed with."""

_UNKNOWN_SUBJECT = {"display": "patient not identified"}
_MIN_SHOWN = 3
_MIN_P = 0.001
Verdict = Literal["recommended", "consider", "not_recommended"]
Priority = Literal["routine", "urgent", "asap", "stat"]


def risk_assessment(
    assessment: Assessment,
    knowledge: Knowledge,
    *,
    subject: Mapping[str, Any] | None = None,
    basis: Sequence[str] = (),
    resource_id: str | None = None,
) -> RiskAssessment:
    """Write an assessment as a FHIR R4 RiskAssessment, validated.

    Args:
        assessment: The assessment.
        knowledge: The knowledge base (labels, codes, interop wording).
        subject: A Reference to the patient as JSON; RiskAssessment.subject is required, so
            without one the reference says the patient is not identified.
        basis: References (``QuestionnaireResponse/abc``, ``Condition/x``) of the resources used.
        resource_id: The id of the resource, if it is to be stored.
    """
    terms = Terminology.of(knowledge)
    interop = cast(s.InteropTable, knowledge.tables["interop"])
    level = assessment.triage.id
    triage_rationale = " ".join(reason.clinician for reason in assessment.triage_reasons)
    predictions: list[dict[str, Any]] = [
        {
            "outcome": {
                "coding": [coding(pinchpoint_system("assessment"), "triage", "how soon to be seen")],
                "text": knowledge.vocabulary.triage[level],
            },
            "qualitativeRisk": {
                "coding": [coding(pinchpoint_system("triage"), level, knowledge.vocabulary.triage[level])],
                "text": interop.levels[level].summary,
            },
            "rationale": triage_rationale or interop.levels[level].summary,
        }
    ]
    sites, causes = _shown(assessment.sites), _shown(assessment.causes)
    predictions += [_prediction(h, "site", terms.site_codes.get(_base_site(h.id), ()), terms) for h in sites]
    predictions += [_prediction(h, "cause", terms.cause_codes.get(h.id, ()), terms) for h in causes]
    document: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "extension": [{"url": KNOWLEDGE_VERSION_EXTENSION, "valueString": assessment.knowledge_version}],
        "status": "final",
        "method": {
            "coding": [coding(pinchpoint_system("method"), "pinchpoint", "pinchpoint Bayesian assessment")],
            "text": f"pinchpoint, knowledge version {assessment.knowledge_version}",
        },
        "subject": dict(subject) if subject is not None else _UNKNOWN_SUBJECT,
        "prediction": [p for p in predictions if p is not None],
        "note": [
            {"text": interop.safety_note},
            {"text": f"Knowledge version {assessment.knowledge_version}."},
            *({"text": warning} for warning in assessment.warnings),
        ],
    }
    if basis:
        document["basis"] = [{"reference": reference} for reference in basis]
    if resource_id is not None:
        document["id"] = resource_id
    return validate_resource(document, RiskAssessment, "generated RiskAssessment")


def _shown(hypotheses: Sequence[Hypothesis]) -> list[Hypothesis]:
    """The hypotheses the contract JSON shows: the first three, and any other of p >= 0.001."""
    return [h for rank, h in enumerate(hypotheses) if rank < _MIN_SHOWN or h.p >= _MIN_P]


def _base_site(site_id: str) -> str:
    base, _, side = site_id.rpartition(".")
    return base if side in ("left", "right") else site_id


def _prediction(
    hypothesis: Hypothesis, kind: str, codes: Sequence[s.Code], terms: Terminology
) -> dict[str, Any]:
    outcome = {
        "coding": [
            coding(pinchpoint_system(kind), hypothesis.id, hypothesis.label),
            *(terms.coding_of(code) for code in codes),
        ],
        "text": hypothesis.label,
    }
    prediction: dict[str, Any] = {"outcome": outcome, "probabilityDecimal": round(hypothesis.p, 6)}
    reasons = [evidence.clinician for evidence in hypothesis.evidence_for]
    if reasons:
        prediction["rationale"] = "For: " + "; ".join(reasons)
    return prediction


@dataclass(frozen=True, slots=True)
class CarePlanItem:
    """One item of a plan, in the generic shape that any planner can produce.

    ``verdict``: ``recommended`` and ``consider`` become ServiceRequest proposals (``consider``
    at routine priority with the word in its text); ``not_recommended`` becomes a CarePlan
    activity with ``doNotPerform``. ``source`` is a source id of sources.yaml.
    """

    id: str
    text: str
    verdict: Verdict
    source: str
    priority: Priority = "routine"
    codes: tuple[Mapping[str, Any], ...] = ()


def triage_plan_items(assessment: Assessment, knowledge: Knowledge) -> tuple[CarePlanItem, ...]:
    """Return the plan items that the triage level alone asks for (interop.yaml ``levels.request``)."""
    interop = cast(s.InteropTable, knowledge.tables["interop"])
    wording = interop.levels[assessment.triage.id]
    if wording.request is None:
        return ()
    return (
        CarePlanItem(
            id=f"triage-{assessment.triage.id}",
            text=wording.request.text,
            verdict="recommended",
            source=wording.source,
            priority=wording.request.priority,
        ),
    )


def care_plan(
    items: Sequence[CarePlanItem],
    knowledge: Knowledge,
    *,
    subject: Mapping[str, Any] | None = None,
    plan_id: str = "pinchpoint-plan",
    title: str = "pinchpoint plan",
) -> tuple[CarePlan, tuple[ServiceRequest, ...]]:
    """Write plan items as a proposed CarePlan and its ServiceRequest proposals, all validated.

    Args:
        items: The plan items, in the order they should be shown.
        knowledge: The knowledge base (sources for the citations, the safety note).
        subject: A Reference to the patient as JSON; both resources require one.
        plan_id: The CarePlan id; ServiceRequest ids are ``<plan_id>-<item id>``.
        title: The CarePlan title.
    """
    interop = cast(s.InteropTable, knowledge.tables["interop"])
    patient = dict(subject) if subject is not None else _UNKNOWN_SUBJECT
    requests = []
    activities = []
    for item in items:
        note = {"text": f"Source: {_cited(item.source, knowledge)}"}
        if item.verdict == "not_recommended":
            activities.append(
                {
                    "detail": {
                        "kind": "ServiceRequest",
                        "code": _concept(item),
                        "status": "not-started",
                        "doNotPerform": True,
                        "description": item.text,
                    },
                    "progress": [note],
                }
            )
            continue
        request_id = _fhir_id(f"{plan_id}-{item.id}")
        request = {
            "resourceType": "ServiceRequest",
            "id": request_id,
            "status": "draft",
            "intent": "proposal",
            "priority": item.priority,
            "code": _concept(item),
            "subject": patient,
            "note": [note],
        }
        requests.append(validate_resource(request, ServiceRequest, f"generated ServiceRequest {request_id}"))
        activities.append({"reference": {"reference": f"ServiceRequest/{request_id}"}})
    plan = {
        "resourceType": "CarePlan",
        "id": _fhir_id(plan_id),
        "extension": [{"url": KNOWLEDGE_VERSION_EXTENSION, "valueString": knowledge.version}],
        "status": "draft",
        "intent": "proposal",
        "title": title,
        "subject": patient,
        "activity": activities,
        "note": [{"text": interop.safety_note}],
    }
    return validate_resource(plan, CarePlan, "generated CarePlan"), tuple(requests)


def care_plan_bundle(plan: CarePlan, requests: Sequence[ServiceRequest]) -> Bundle:
    """Return a CarePlan and its ServiceRequests as one ``collection`` Bundle, validated."""
    entries = [
        {"fullUrl": f"urn:pinchpoint:{r.get_resource_type()}/{r.id}", "resource": to_json(r)}
        for r in (plan, *requests)
    ]
    return validate_resource(
        {"resourceType": "Bundle", "type": "collection", "entry": entries}, Bundle, "generated Bundle"
    )


def _concept(item: CarePlanItem) -> dict[str, Any]:
    text = item.text if item.verdict != "consider" else f"Consider: {item.text}"
    concept: dict[str, Any] = {"text": text}
    if item.codes:
        concept["coding"] = [dict(code) for code in item.codes]
    return concept


def _cited(source: str, knowledge: Knowledge) -> str:
    entry = knowledge.sources.get(source)
    return f"{source} ({entry.title})" if entry is not None else source


def _fhir_id(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text)
    return cleaned[:64] or "item"
