"""CDS Hooks 2.0 services: the logic, without a web framework (the router is :mod:`pinchpoint.cds_router`).

Three services:

* ``pinchpoint-triage`` on ``patient-view``: reads the prefetched Patient, Conditions and
  Observations (and intake QuestionnaireResponses if the client sends them), assesses them, and
  returns one card with the triage and the red flags that set it. A chart with nothing that
  bears on a pinched nerve gets no card (``{"cards": []}``): the hook fires on every chart.
* ``pinchpoint-lumbar-imaging-select`` on ``order-select`` and ``pinchpoint-lumbar-imaging-sign``
  on ``order-sign``: for each draft ``ServiceRequest`` for lumbar spine imaging
  (``terminology.yaml`` ``imaging_orders``), asks :func:`pinchpoint.core.imaging.imaging_decision`
  and, only when guidance says imaging is not indicated, returns a warning card suggesting to
  remove the order. When imaging is indicated, or the decision is not clear, it says nothing.
  It also says nothing when pinchpoint's own plan for the same findings offers lumbar imaging
  (an investigation that ``terminology.yaml`` imaging orders carry out): the plan weighs the
  probabilities of the sites and causes (a cauda equina lesion at 10 %, a likely spondylolisthesis),
  which the rules of ``imaging.yaml`` cannot see, and the service must never advise removing an
  order that pinchpoint itself proposes.

The service fetches nothing: a prefetch key it needs that the client left out gives
:class:`~pinchpoint.errors.PrefetchMissingError` (HTTP 412, as the specification requires when
a service cannot obtain its data); a key sent as ``null`` means "no data" and is fine. A
malformed request gives :class:`~pinchpoint.errors.InvalidRequestError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, cast

from fhir.resources.R4B.servicerequest import ServiceRequest

from pinchpoint.core.case import FindingValue
from pinchpoint.core.imaging import ImagingDecision
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.triage import UNANSWERED_RULE
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InvalidRequestError, PrefetchMissingError
from pinchpoint.io.fhir._boundary import validate_resource
from pinchpoint.io.fhir.inputs import FhirInput, assess_fhir
from pinchpoint.io.fhir.record import RecordFacts, read_resources, record_to_case, refuse_other_patients
from pinchpoint.io.fhir.terminology import Terminology, pinchpoint_system
from pinchpoint.knowledge import schema as s
from pinchpoint.service.orders import review_lumbar_order

__all__ = [
    "SERVICES",
    "Service",
    "discovery",
    "handle_request",
]

Hook = Literal["patient-view", "order-select", "order-sign"]

_REFERENCE = re.compile(r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_PLAN_CHUNK = 256
_CARD_NAMESPACE = uuid.UUID("6f0c7c1e-5d0b-4c62-9d1a-7d3f3c1a9b10")
_SOURCE_LABEL = "pinchpoint"
_DEMOGRAPHICS = frozenset({"age", "sex"})
_RECORD_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
}
_INTAKE_PREFETCH = {"intake": "QuestionnaireResponse?subject=Patient/{{context.patientId}}&status=completed"}


@dataclass(frozen=True, slots=True)
class Service:
    """A CDS service: its id, hook, discovery text and the prefetch keys it cannot work without."""

    id: str
    hook: Hook
    title: str
    description: str
    prefetch: Mapping[str, str]
    required: frozenset[str]

    def discovery(self) -> dict[str, Any]:
        """Return this service's entry of the discovery response."""
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
        }


SERVICES: Mapping[str, Service] = {
    service.id: service
    for service in (
        Service(
            id="pinchpoint-triage",
            hook="patient-view",
            title="pinchpoint: leg nerve pain triage",
            description=(
                "Triage (how soon to be seen) and red flags for a pinched nerve in the leg, from the "
                "patient's conditions and observations. Supports, does not replace, clinical judgement."
            ),
            prefetch={**_RECORD_PREFETCH, **_INTAKE_PREFETCH},
            required=frozenset(_RECORD_PREFETCH),
        ),
        Service(
            id="pinchpoint-lumbar-imaging-select",
            hook="order-select",
            title="pinchpoint: lumbar spine imaging appropriateness (order-select)",
            description=(
                "Warns when a selected lumbar spine imaging order is not indicated by guidance (no red "
                "flags; non-specific low back pain or early uncomplicated sciatica). Silent otherwise."
            ),
            prefetch=dict(_RECORD_PREFETCH),
            required=frozenset(_RECORD_PREFETCH),
        ),
        Service(
            id="pinchpoint-lumbar-imaging-sign",
            hook="order-sign",
            title="pinchpoint: lumbar spine imaging appropriateness (order-sign)",
            description=(
                "Warns before signing when a lumbar spine imaging order is not indicated by guidance (no "
                "red flags; non-specific low back pain or early uncomplicated sciatica). Silent otherwise."
            ),
            prefetch=dict(_RECORD_PREFETCH),
            required=frozenset(_RECORD_PREFETCH),
        ),
    )
}
"""The services of this CDS Hooks endpoint, by id."""


def discovery() -> dict[str, Any]:
    """Return the body of ``GET /cds-services``."""
    return {"services": [service.discovery() for service in SERVICES.values()]}


def handle_request(service_id: str, body: object, knowledge: Knowledge, *, today: dt.date) -> dict[str, Any]:
    """Answer one hook call: check the request, read the prefetch, return the cards.

    Args:
        service_id: The id in the service URL.
        body: The parsed JSON request body.
        knowledge: The knowledge base.
        today: The date ages and durations are counted to.

    Raises:
        KeyError: There is no service with this id (the router answers 404).
        InvalidRequestError: The body is not a CDS Hooks request for this service's hook, or its
            context is malformed.
        PrefetchMissingError: A prefetch key the service needs is missing (HTTP 412).
        FhirMappingError: A prefetched resource is not valid FHIR R4.
    """
    service = SERVICES[service_id]
    request = _Request.parse(body, service)
    facts = _prefetched_facts(request, service, knowledge, today)
    if service.hook == "patient-view":
        cards = _patient_view(request, facts, knowledge)
    else:
        cards = _order_review(request, service, facts, knowledge)
    return {"cards": cards}


# --- request checking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any]

    @classmethod
    def parse(cls, body: object, service: Service) -> _Request:
        if not isinstance(body, Mapping):
            _refuse(
                "$",
                "the request body is not a JSON object",
                "a CDS Hooks request object",
                type(body).__name__,
            )
        hook = body.get("hook")
        if hook != service.hook:
            _refuse(
                "$.hook", "the hook does not match the service", f"{service.hook!r} for {service.id}", hook
            )
        instance = body.get("hookInstance")
        if not isinstance(instance, str) or not instance.strip():
            _refuse("$.hookInstance", "hookInstance is missing", "a UUID string", instance)
        for key in ("fhirServer", "fhirAuthorization"):
            if key in body and body[key] is not None and not isinstance(body[key], str | Mapping):
                _refuse(f"$.{key}", f"{key} has the wrong type", "a string or object", body[key])
        context = body.get("context")
        if not isinstance(context, Mapping):
            _refuse(
                "$.context",
                "context is missing or not an object",
                "an object with userId and patientId",
                context,
            )
        _check_context(context, service)
        prefetch = body.get("prefetch", {})
        if prefetch is None:
            prefetch = {}
        if not isinstance(prefetch, Mapping):
            _refuse(
                "$.prefetch",
                "prefetch is not an object",
                "an object of prefetch keys",
                type(prefetch).__name__,
            )
        return cls(instance, context, prefetch)


def _check_context(context: Mapping[str, Any], service: Service) -> None:
    user = context.get("userId")
    if not isinstance(user, str) or not _REFERENCE.match(user):
        _refuse(
            "$.context.userId",
            "userId is missing or malformed",
            "a reference such as Practitioner/123 or PractitionerRole/abc",
            user,
        )
    patient = context.get("patientId")
    if not isinstance(patient, str) or not _FHIR_ID.match(patient):
        _refuse(
            "$.context.patientId", "patientId is missing or malformed", "a FHIR id such as 1288992", patient
        )
    encounter = context.get("encounterId")
    if encounter is not None and (not isinstance(encounter, str) or not _FHIR_ID.match(encounter)):
        _refuse("$.context.encounterId", "encounterId is malformed", "a FHIR id", encounter)
    if service.hook == "patient-view":
        return
    if service.hook == "order-select":
        selections = context.get("selections")
        if (
            not isinstance(selections, list)
            or not selections
            or not all(isinstance(x, str) for x in selections)
        ):
            _refuse(
                "$.context.selections",
                "selections is missing or malformed",
                "a non-empty array of references such as ServiceRequest/abc",
                selections,
            )
    draft = context.get("draftOrders")
    if not isinstance(draft, Mapping) or draft.get("resourceType") != "Bundle":
        got = draft.get("resourceType") if isinstance(draft, Mapping) else draft
        _refuse(
            "$.context.draftOrders",
            "draftOrders is missing or not a Bundle",
            "a FHIR Bundle of draft orders",
            got,
        )
    entries = draft.get("entry", [])
    if not isinstance(entries, list):
        _refuse("$.context.draftOrders.entry", "entry is not an array", "an array of Bundle entries", entries)


def _refuse(location: str, problem: str, expected: str, got: object) -> NoReturn:
    raise InvalidRequestError(problem, location=location, expected=expected, got=got)


# --- prefetch -----------------------------------------------------------------------------------


def _prefetched_facts(
    request: _Request, service: Service, knowledge: Knowledge, today: dt.date
) -> RecordFacts:
    missing = sorted(service.required - set(request.prefetch))
    if missing:
        raise PrefetchMissingError(
            "the request lacks prefetched data that this service needs and it fetches nothing itself",
            location="$.prefetch",
            expected="the prefetch keys "
            + ", ".join(sorted(service.required))
            + " (null when there is no data)",
            got=missing,
        )
    resources: list[tuple[str, object]] = []
    for key in service.prefetch:
        value = request.prefetch.get(key)
        if value is None:
            continue
        resources += _prefetch_resources(f"$.prefetch.{key}", value)
    patient = request.prefetch.get("patient")
    if isinstance(patient, Mapping) and patient.get("id") not in (None, request.context["patientId"]):
        expected = repr(request.context["patientId"])
        _refuse(
            "$.prefetch.patient.id",
            "the prefetched Patient is not the context's patient",
            expected,
            patient.get("id"),
        )
    refuse_other_patients(resources, "request", patient=(request.context["patientId"], "$.context.patientId"))
    return read_resources(resources, knowledge, today=today, origin="request")


def _prefetch_resources(path: str, value: object) -> list[tuple[str, object]]:
    if not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str):
        _refuse(
            path,
            "a prefetch value is not a FHIR resource",
            "a resource, a Bundle or null",
            type(value).__name__,
        )
    if value.get("resourceType") != "Bundle":
        return [(path, value)]
    entries = value.get("entry") or []
    if not isinstance(entries, list):
        _refuse(f"{path}.entry", "entry is not an array", "an array of Bundle entries", entries)
    return [
        (f"{path}.entry[{index}].resource", entry["resource"])
        for index, entry in enumerate(entries)
        if isinstance(entry, Mapping) and entry.get("resource") is not None
    ]


# --- patient-view -------------------------------------------------------------------------------


def _patient_view(request: _Request, facts: RecordFacts, knowledge: Knowledge) -> list[dict[str, Any]]:
    relevant = set(facts.findings) - _DEMOGRAPHICS
    if not relevant and not facts.diagnoses and not facts.presentations:
        return []
    case = record_to_case(facts, "record")
    subject = {"reference": f"Patient/{request.context['patientId']}"}
    assessment = assess_fhir(FhirInput(case, "Bundle", facts, subject, facts.basis), knowledge)
    interop = cast(s.InteropTable, knowledge.tables["interop"])
    wording = interop.levels[assessment.triage.id]
    flags = [
        r
        for r in assessment.triage_reasons
        if r.level >= Urgency.SOON and not r.rule.startswith("cause-care")
    ]
    if flags and all(r.rule == UNANSWERED_RULE for r in flags):
        wording = interop.unasked_red_flags
    lines = (
        []
        if wording is interop.unasked_red_flags
        else [f"**{knowledge.vocabulary.triage[assessment.triage.id]}**", ""]
    )
    if flags:
        lines += ["Red flags and reasons:", *(f"- {r.clinician} ({r.source})" for r in flags), ""]
    if assessment.warnings:
        lines += ["Warnings:", *(f"- {warning}" for warning in assessment.warnings), ""]
    lines += [interop.safety_note, "", f"Knowledge version {knowledge.version}."]
    return [
        _card(
            request,
            "triage",
            summary=wording.summary,
            indicator=wording.indicator,
            detail="\n".join(lines).strip(),
            knowledge=knowledge,
        )
    ]


# --- order-select / order-sign ------------------------------------------------------------------


def _order_review(
    request: _Request, service: Service, facts: RecordFacts, knowledge: Knowledge
) -> list[dict[str, Any]]:
    terms = Terminology.of(knowledge)
    draft = cast(Mapping[str, Any], request.context["draftOrders"])
    selections = set(request.context.get("selections") or [])
    orders = []
    for index, entry in enumerate(draft.get("entry", [])):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "ServiceRequest":
            continue
        reference = f"ServiceRequest/{resource.get('id')}" if resource.get("id") else None
        if service.hook == "order-select" and reference not in selections:
            continue
        path = f"$.context.draftOrders.entry[{index}].resource"
        orders.append((path, resource, reference))
    cards = []
    for path, resource, reference in orders:
        imaging = [
            row
            for coding in _codings(resource.get("code"))
            if (row := terms.imaging_orders.get((str(coding.get("system")), str(coding.get("code")))))
            is not None
            and row.region == "lumbar"
        ]
        if not imaging:
            continue
        validate_resource(resource, ServiceRequest, "request", path)
        review = review_lumbar_order(
            facts,
            knowledge,
            reason_findings=_reason_findings(resource, terms),
            reason_presentations=_reason_presentations(resource, terms),
        )
        if review.warns:
            card = _imaging_card(
                request,
                review.decision,
                display=imaging[0].display,
                reference=reference,
                facts=facts,
                knowledge=knowledge,
            )
            cards.append(card)
    return cards


def _reason_findings(resource: Mapping[str, Any], terms: Terminology) -> dict[str, FindingValue]:
    """Findings stated by the order's reason codes (a reason of urinary retention is a red flag)."""
    found: dict[str, FindingValue] = {}
    for concept in resource.get("reasonCode") or []:
        for coding in _codings(concept):
            row = terms.conditions.get((str(coding.get("system")), str(coding.get("code"))))
            if row is not None and row.value is True:
                found[row.finding] = True
    return found


def _reason_presentations(resource: Mapping[str, Any], terms: Terminology) -> set[str]:
    found = set()
    for concept in resource.get("reasonCode") or []:
        for coding in _codings(concept):
            row = terms.presentations.get((str(coding.get("system")), str(coding.get("code"))))
            if row is not None:
                found.add(row.presentation)
    return found


def _codings(concept: object) -> Sequence[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding") or []
    return [c for c in codings if isinstance(c, Mapping)] if isinstance(codings, list) else []


def _imaging_card(
    request: _Request,
    decision: ImagingDecision,
    *,
    display: str,
    reference: str | None,
    facts: RecordFacts,
    knowledge: Knowledge,
) -> dict[str, Any]:
    interop = cast(s.InteropTable, knowledge.tables["interop"])
    reason = decision.reasons[0]
    unasked = knowledge.triage.unasked_emergency_flags(facts.findings)
    lines = [f"{reason.clinician} ({_cited(reason.source, knowledge)})", ""]
    if unasked:
        described = {spec.base: spec.description for spec in knowledge.vocabulary.findings.values()}
        words = "; ".join(described.get(base, base) for base in unasked)
        lines += ["No red flag is recorded. Not recorded either way: " + words + "."]
    lines += ["", interop.safety_note]
    card = _card(
        request,
        f"imaging:{reference or display}",
        summary=decision.summary,
        indicator="warning",
        detail="\n".join(lines).strip(),
        knowledge=knowledge,
    )
    if reference is not None:
        card["selectionBehavior"] = "at-most-one"
        card["suggestions"] = [
            {
                "label": f"Remove the order: {display}",
                "uuid": str(uuid.uuid5(_CARD_NAMESPACE, f"{request.hook_instance}|remove|{reference}")),
                "actions": [{"type": "delete", "description": f"Remove {display}", "resourceId": reference}],
            }
        ]
    return card


def _card(
    request: _Request, key: str, *, summary: str, indicator: str, detail: str, knowledge: Knowledge
) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid5(_CARD_NAMESPACE, f"{request.hook_instance}|{key}")),
        "summary": summary,
        "indicator": indicator,
        "detail": detail,
        "source": {
            "label": f"{_SOURCE_LABEL} (knowledge {knowledge.version})",
            "topic": {"system": pinchpoint_system("cds-topic"), "code": key.split(":", 1)[0]},
        },
    }


def _cited(source: str, knowledge: Knowledge) -> str:
    entry = knowledge.sources.get(source)
    return entry.title if entry is not None else source
