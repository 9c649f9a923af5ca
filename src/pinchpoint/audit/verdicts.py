"""pinchpoint's own verdict on each lumbar imaging order: the CDS order card's review, once per signature.

The engines reduce every order to a *signature*: the patient's age and sex on the order date and
each Condition the FHIR reader knows that was recorded by then (system, code, clinical and
verification status, and for a presentation the days from its onset to the order). Two orders with
the same signature are the same question to the card, so the review runs once per distinct
signature: the signature becomes the FHIR resources a CDS client would prefetch, the FHIR reader
reads them, and :func:`pinchpoint.service.orders.review_lumbar_orders` decides. A signature the reader
refuses (a sex that is not a FHIR gender, say) gets the verdict ``unreadable``, as the card would
answer that request with an error rather than a card. Nothing here restates a rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import PinchpointError
from pinchpoint.io.fhir.record import RecordFacts, read_resources
from pinchpoint.service.orders import review_lumbar_orders

__all__ = ["Verdict", "verdict_of", "verdicts_of"]

_ORDER_DAY = dt.date(2000, 7, 1)
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The card's review of one signature: the imaging decision, whether the card warns, and why."""

    signature: str
    verdict: str
    card_warns: bool
    reasons: str


def verdicts_of(signatures: Iterable[str], knowledge: Knowledge) -> list[Verdict]:
    """Review every distinct signature (the plans are assessed together, in chunks)."""
    ordered = sorted(set(signatures))
    readable: list[tuple[str, RecordFacts]] = []
    found: dict[str, Verdict] = {}
    for signature in ordered:
        try:
            readable.append(
                (
                    signature,
                    read_resources(_resources(signature), knowledge, today=_ORDER_DAY, origin="audit"),
                )
            )
        except PinchpointError as exc:
            found[signature] = Verdict(signature, "unreadable", False, str(exc))
    reviews = review_lumbar_orders([(facts, {}, frozenset()) for _, facts in readable], knowledge)
    for (signature, _), review in zip(readable, reviews, strict=True):
        decision = review.decision
        rules = [reason.rule for reason in decision.reasons] + list(decision.open_rules)
        if review.plan_offers_imaging:
            rules.append("plan-offers-lumbar-imaging")
        found[signature] = Verdict(signature, decision.verdict, review.warns, ";".join(rules))
    return [found[signature] for signature in ordered]


def verdict_of(signature: str, knowledge: Knowledge) -> Verdict:
    """Review one signature as the CDS order card would review an order with that record."""
    return verdicts_of([signature], knowledge)[0]


def _resources(signature: str) -> list[tuple[str, object]]:
    age, sex, conditions = signature.split("#", 2)
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "audit"}
    if age:
        patient["birthDate"] = _ORDER_DAY.replace(year=_ORDER_DAY.year - int(age)).isoformat()
    if sex:
        patient["gender"] = sex
    found: list[tuple[str, object]] = [("Patient", patient)]
    for index, element in enumerate(filter(None, conditions.split(";"))):
        system, code, clinical, verification, onset_days = element.split("|")
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "id": f"c{index}",
            "subject": {"reference": "Patient/audit"},
            "code": {"coding": [{"system": system, "code": code}]},
        }
        if clinical:
            condition["clinicalStatus"] = {"coding": [{"system": _CLINICAL, "code": clinical}]}
        if verification:
            condition["verificationStatus"] = {"coding": [{"system": _VERIFICATION, "code": verification}]}
        if onset_days:
            onset = _ORDER_DAY - dt.timedelta(days=int(onset_days))
            condition["onsetDateTime"] = onset.isoformat()
        found.append((f"Condition[{index}]", condition))
    return found
