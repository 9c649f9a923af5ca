"""Assessments and plans as FHIR R4 resources: ``RiskAssessment``, ``CarePlan``, ``ServiceRequest``.

:func:`risk_assessment` writes one prediction for the triage (its level as ``qualitativeRisk``,
the rules that fired as ``rationale``) and one per ranked site and cause with its probability
(those the contract JSON shows: the first three, and any other of p >= 0.001),
coded in pinchpoint's code systems and, where ``terminology.yaml`` has them, in SNOMED CT or
ICD-10. The knowledge version is stamped in an extension and in a note, beside the safety note.

:func:`care_plan` takes generic plan items (:class:`CarePlanItem`: id, text, verdict, source) so
that any plan can be sent. What each evidence verdict becomes:

=================  =====================================================================================
verdict            FHIR
=================  =====================================================================================
recommended        a request (investigation, referral): ``ServiceRequest`` ``intent=proposal``,
                   ``status=draft``, referenced by a CarePlan activity; advice: an activity ``detail``
                   with ``status=not-started``
option             the same, with "Consider: " before the text (FHIR has no strength of
                   recommendation; the verdict extension below carries it as a code)
not_recommended,   an activity ``detail`` with ``doNotPerform=true`` (never a ServiceRequest, so nothing
unsafe             advised against can be signed as an order by mistake), the reason in its description
no_evidence        no activity: a CarePlan ``note`` ("no evidence either way"), because an activity
                   would read as something to do
=================  =====================================================================================

Every activity and request carries the verdict as a code in the extension
:data:`VERDICT_EXTENSION` and its source in a note. :func:`assessment_plan_items` turns an
assessment's real plan (:class:`~pinchpoint.core.careplan.Plan`) and investigations into such items: the
referral that the triage level asks for (interop.yaml) first, then the investigations (soonest
first, coded in LOINC where terminology.yaml's imaging orders name them), then the plan's actions,
stages, self-help, safety net, prevention, complications, things to avoid, and unproven items.
:func:`triage_plan_items` derives only the referral.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir.resources.R4B.servicerequest import ServiceRequest

from pinchpoint.core.assessment import Assessment, Hypothesis
from pinchpoint.core.careplan import PlanItem
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.fhir._boundary import to_json, validate_resource
from pinchpoint.io.fhir.terminology import CANONICAL_BASE, Terminology, coding, pinchpoint_system
from pinchpoint.knowledge import schema as s

__all__ = [
    "KNOWLEDGE_VERSION_EXTENSION",
    "VERDICT_EXTENSION",
    "CarePlanItem",
    "assessment_plan_items",
    "care_plan",
    "care_plan_bundle",
    "risk_assessment",
    "triage_plan_items",
]

KNOWLEDGE_VERSION_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/knowledge-version"
"""Extension URL whose ``valueString`` is the knowledge version a result was computed with."""

VERDICT_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/evidence-verdict"
"""Extension URL whose ``valueCode`` is the evidence verdict of an activity or request."""

_UNKNOWN_SUBJECT = {"display": "patient not identified"}
_MIN_SHOWN = 3
_MIN_P = 0.001
Verdict = Literal["recommended", "option", "consider", "not_recommended", "unsafe", "no_evidence"]
_TO_DO = frozenset({"recommended", "option", "consider"})
_TO_AVOID = frozenset({"not_recommended", "unsafe"})
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

    ``verdict`` is an evidence verdict of :class:`~pinchpoint.core.careplan.Verdict` (``consider`` is
    read as ``option``); see the module's table for what each becomes. ``request`` says whether
    the item is something to order (an investigation or a referral: a ServiceRequest) or advice (a
    CarePlan activity). ``source`` is a source id of sources.yaml; ``description`` the clinician's
    text, ``patient`` the person's, ``when`` how soon in words.
    """

    id: str
    text: str
    verdict: Verdict
    source: str
    priority: Priority = "routine"
    codes: tuple[Mapping[str, Any], ...] = ()
    request: bool = True
    description: str = ""
    patient: str = ""
    when: str = ""


_PRIORITY_BY_DUE: dict[str, Priority] = {"emergency": "stat", "urgent": "urgent"}


def assessment_plan_items(assessment: Assessment, knowledge: Knowledge) -> tuple[CarePlanItem, ...]:
    """Return the plan of an assessment as care plan items, in the order a clinician reads them.

    The referral the triage level asks for comes first, then the investigations, then the plan's
    actions, treatment stages, self-help, safety net, prevention, complications, things to avoid
    and unproven items. An investigation is coded where an imaging order of terminology.yaml names it.
    """
    terms = Terminology.of(knowledge)
    codes = _investigation_codes(knowledge, terms)
    return (
        *triage_plan_items(assessment, knowledge),
        *(_item(test, request=True, codes=codes.get(test.id, ())) for test in assessment.investigations),
        *(_item(entry, request=False) for entry in assessment.plan.items()),
    )


def _item(entry: PlanItem, *, request: bool, codes: tuple[Mapping[str, Any], ...] = ()) -> CarePlanItem:
    return CarePlanItem(
        id=entry.id,
        text=entry.title,
        verdict=entry.verdict.value,
        source=entry.source,
        priority=_PRIORITY_BY_DUE.get(entry.due or "", "routine"),
        codes=codes,
        request=request,
        description=entry.clinician,
        patient=entry.patient,
        when=entry.due_text,
    )


def _investigation_codes(
    knowledge: Knowledge, terms: Terminology
) -> dict[str, tuple[Mapping[str, Any], ...]]:
    table = cast(s.TerminologyTable, knowledge.tables["terminology"])
    codes: dict[str, list[Mapping[str, Any]]] = {}
    for order in table.imaging_orders:
        for investigation in order.investigations:
            codes.setdefault(investigation, []).append(terms.coding_of(order))
    return {key: tuple(value) for key, value in codes.items()}


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
    activities: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = [{"text": interop.safety_note}]
    for item in items:
        cited = f"Source: {_cited(item.source, knowledge)}"
        verdict = "option" if item.verdict == "consider" else item.verdict
        extension = [{"url": VERDICT_EXTENSION, "valueCode": verdict}]
        if verdict == "no_evidence":
            notes.append({"text": f"No evidence either way: {item.text}. {cited}"})
            continue
        if verdict in _TO_AVOID or not item.request:
            detail: dict[str, Any] = {
                "kind": "ServiceRequest" if item.request else None,
                "code": _concept(item),
                "status": "not-started",
                "doNotPerform": True if verdict in _TO_AVOID else None,
                "scheduledString": item.when or None,
                "description": item.description or item.text,
            }
            activities.append(
                {
                    "extension": extension,
                    "detail": {key: value for key, value in detail.items() if value is not None},
                    "progress": [{"text": cited}],
                }
            )
            continue
        request_id = _fhir_id(f"{plan_id}-{item.id}")
        request: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": request_id,
            "extension": extension,
            "status": "draft",
            "intent": "proposal",
            "priority": item.priority,
            "code": _concept(item),
            "subject": patient,
            "note": [
                {"text": text}
                for text in (item.description, f"When: {item.when}" if item.when else "", cited)
                if text
            ],
        }
        if item.patient:
            request["patientInstruction"] = item.patient
        requests.append(validate_resource(request, ServiceRequest, f"generated ServiceRequest {request_id}"))
        activities.append(
            {"extension": extension, "reference": {"reference": f"ServiceRequest/{request_id}"}}
        )
    plan = {
        "resourceType": "CarePlan",
        "id": _fhir_id(plan_id),
        "extension": [{"url": KNOWLEDGE_VERSION_EXTENSION, "valueString": knowledge.version}],
        "status": "draft",
        "intent": "proposal",
        "title": title,
        "subject": patient,
        "activity": activities,
        "note": notes,
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
    text = item.text if item.verdict not in ("consider", "option") else f"Consider: {item.text}"
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
