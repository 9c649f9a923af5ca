"""pinchpoint's own verdict on each lumbar imaging order: the CDS order card's review, once per signature.

The engines reduce every order to a *signature*: the patient's age and sex on the review date and
each Condition the FHIR reader knows that was recorded by then (system, code, clinical and
verification status, and for a presentation the days from its onset to the review date). Two
orders with the same signature are the same question to the card, so the review runs once per
distinct signature: the signature becomes the FHIR resources a CDS client would prefetch, the FHIR
reader reads them, and :func:`pinchpoint.service.orders.review_lumbar_orders` decides. A signature
the reader refuses (a sex that is not a FHIR gender, say) gets the verdict ``unreadable``, as the
card would answer that request with an error rather than a card. Nothing here restates a rule.

The signatures of a population share few elements (the patient's age and sex, each coded
Condition at its place in the record), so each element's resource is validated once per call
(:func:`pinchpoint.io.fhir.record.check_resource`, most of the cost of reading) and every
signature is read from its elements' checked resources (:func:`~pinchpoint.io.fhir.record.read_checked`).
A signature with an element that fails the check is read from its JSON by
:func:`~pinchpoint.io.fhir.record.read_resources`, so that its error is the reader's own.

Ages and days are numbers the knowledge only ever compares with thresholds (a rule's
``at_least``/``at_most``, an age or duration band of the model, a row's ``max_days``), so every
whole number between two neighbouring thresholds gets the same review. :func:`value_bands` reads
those thresholds from the knowledge and cuts each number's range into bands; the SQL writes the
lowest number of its band into the signature. The number of distinct signatures therefore depends
on the codes and the knowledge, not on the population's size (a test holds the review of every
band's numbers equal to its representative's).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import PinchpointError
from pinchpoint.io.fhir.record import (
    CheckedResource,
    RecordFacts,
    check_resource,
    read_checked,
    read_resources,
)
from pinchpoint.knowledge import schema as s
from pinchpoint.service.orders import review_lumbar_orders

__all__ = ["SIGNATURE_NUMBERS", "Band", "Verdict", "value_bands", "verdict_of", "verdicts_of"]

SIGNATURE_NUMBERS: Mapping[str, str] = {"age": "age", "days": "duration_days"}
"""The numbers of a signature and the finding the FHIR reader makes of each (the patient's age on the
review date is ``age``; the days from a presentation's onset to it, ``duration_days``)."""

_LOWEST = -(10**9)
_HIGHEST = 10**9

_ORDER_DAY = dt.date(2000, 7, 1)
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

_Element = tuple[str, str, str]
"""One element of a signature as a resource of its record: JSON path, resource id, element text."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The card's review of one signature: the imaging decision, whether the card warns, and why."""

    signature: str
    verdict: str
    card_warns: bool
    plan_offers: bool
    reasons: str


@dataclass(frozen=True, slots=True)
class Band:
    """Whole numbers ``low`` to ``high`` (inclusive) that the knowledge never tells apart for ``finding``.

    ``representative`` (the lowest of them, or the nearest outside the finding's range) stands
    for all of them in a signature.
    """

    finding: str
    low: int
    high: int
    representative: int


def value_bands(knowledge: Knowledge) -> list[Band]:
    """Cut the range of each signature number into bands that every rule and model treats alike.

    A band ends wherever any threshold of the knowledge could change an answer: each ``at_least``
    (from it on) and ``at_most`` (after it) of a condition leaf over the finding, in any table;
    every other number a leaf compares it with (on either side of that number); the model's age
    and duration bands and bins; the ``max_days`` of imaging.yaml's rows; and the finding's own
    range in the vocabulary (numbers outside it are refused by the reader, alike).
    """
    found: list[Band] = []
    for finding in sorted(set(SIGNATURE_NUMBERS.values())):
        spec = knowledge.vocabulary.findings[finding]
        starts = set(_starts(knowledge, finding))
        if spec.minimum is not None:
            starts.add(math.ceil(spec.minimum))
        if spec.maximum is not None:
            starts.add(math.floor(spec.maximum) + 1)
        edges = sorted(start for start in starts if _LOWEST < start <= _HIGHEST)
        lows = [_LOWEST, *edges]
        highs = [edge - 1 for edge in edges] + [_HIGHEST]
        for low, high in zip(lows, highs, strict=True):
            representative = low if low != _LOWEST else high
            found.append(Band(finding, low, high, representative))
    return found


def _starts(knowledge: Knowledge, finding: str) -> Iterator[int]:
    """The whole numbers where a new band of ``finding`` starts."""
    for table in knowledge.tables.values():
        yield from _leaf_starts(table.model_dump(), finding)
    causes = cast(s.CausesTable, knowledge.tables["causes"])
    bands = {"age": causes.age_bands, "duration_days": causes.duration_bands}.get(finding, {})
    ranges = [*bands.values(), *causes.bins.get(finding, {}).values()]
    for low, high in ranges:
        yield math.ceil(low)
        yield math.floor(high) + 1
    if finding == "duration_days":
        imaging = cast(s.ImagingTable, knowledge.tables["imaging"])
        yield from (row.max_days + 1 for row in imaging.not_indicated if row.max_days is not None)


def _leaf_starts(data: object, finding: str) -> Iterator[int]:
    if isinstance(data, Mapping):
        if data.get("finding") == finding:
            for key, value in data.items():
                for number in _numbers(value):
                    if key == "at_least":
                        yield math.ceil(number)
                    elif key == "at_most":
                        yield math.floor(number) + 1
                    else:  # compared in some other way: the number is a band of its own
                        yield math.floor(number)
                        yield math.floor(number) + 1
        for value in data.values():
            yield from _leaf_starts(value, finding)
    elif isinstance(data, list | tuple):
        for item in data:
            yield from _leaf_starts(item, finding)


def _numbers(value: object) -> list[float]:
    items = value if isinstance(value, list | tuple) else [value]
    return [float(x) for x in items if isinstance(x, int | float) and not isinstance(x, bool)]


def verdicts_of(signatures: Iterable[str], knowledge: Knowledge) -> list[Verdict]:
    """Review every distinct signature (the plans are assessed together, in chunks)."""
    ordered = sorted(set(signatures))
    readable: list[tuple[str, RecordFacts]] = []
    found: dict[str, Verdict] = {}
    checked: dict[_Element, CheckedResource | None] = {}
    for signature in ordered:
        try:
            readable.append((signature, _read(signature, knowledge, checked)))
        except PinchpointError as exc:
            found[signature] = Verdict(signature, "unreadable", False, False, str(exc))
    reviews = review_lumbar_orders([(facts, {}, frozenset()) for _, facts in readable], knowledge)
    for (signature, _), review in zip(readable, reviews, strict=True):
        decision = review.decision
        rules = [reason.rule for reason in decision.reasons] + list(decision.open_rules)
        if review.plan_offers_imaging:
            rules.append("plan-offers-lumbar-imaging")
        found[signature] = Verdict(
            signature, decision.verdict, review.warns, review.plan_offers_imaging, ";".join(rules)
        )
    return [found[signature] for signature in ordered]


def verdict_of(signature: str, knowledge: Knowledge) -> Verdict:
    """Review one signature as the CDS order card would review an order with that record."""
    return verdicts_of([signature], knowledge)[0]


def _read(
    signature: str, knowledge: Knowledge, checked: dict[_Element, CheckedResource | None]
) -> RecordFacts:
    """Read a signature's record from its elements' resources, each checked once per ``checked``.

    ``checked`` maps each element met so far to its checked resource, or to None when the check
    failed (then the signature is read from its JSON, which raises the reader's own error).
    """
    resources: list[CheckedResource] = []
    for element in _elements(signature):
        if element not in checked:
            path = element[0]
            try:
                checked[element] = check_resource(path, _resource(*element), origin="audit")
            except PinchpointError:
                checked[element] = None
        resource = checked[element]
        if resource is None:
            return read_resources(_resources(signature), knowledge, today=_ORDER_DAY, origin="audit")
        resources.append(resource)
    return read_checked(resources, knowledge, today=_ORDER_DAY, origin="audit")


def _elements(signature: str) -> list[_Element]:
    """The elements of a signature: the patient's age and sex, then each condition in order."""
    age, sex, conditions = signature.split("#", 2)
    found = [("Patient", "audit", f"{age}#{sex}")]
    for index, element in enumerate(filter(None, conditions.split(";"))):
        found.append((f"Condition[{index}]", f"c{index}", element))
    return found


def _resources(signature: str) -> list[tuple[str, object]]:
    """The FHIR resources of a signature, as a CDS client would prefetch them."""
    return [(element[0], _resource(*element)) for element in _elements(signature)]


def _resource(path: str, resource_id: str, element: str) -> dict[str, Any]:
    return _patient(resource_id, element) if path == "Patient" else _condition(resource_id, element)


def _patient(resource_id: str, element: str) -> dict[str, Any]:
    age, sex = element.split("#")
    patient: dict[str, Any] = {"resourceType": "Patient", "id": resource_id}
    if age:
        patient["birthDate"] = _ORDER_DAY.replace(year=_ORDER_DAY.year - int(age)).isoformat()
    if sex:
        patient["gender"] = sex
    return patient


def _condition(resource_id: str, element: str) -> dict[str, Any]:
    system, code, clinical, verification, onset_days = element.split("|")
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": resource_id,
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
    return condition
