"""The answer pinchpoint gives for one case, as frozen value objects.

An :class:`Assessment` holds the triage with the rules that fired, the ranked lesion
sites and causes with their probabilities, and for each of the leading hypotheses the
findings that speak for and against it. Its JSON (the object of
``shared/contract/CASES.md``) is written by :func:`pinchpoint.service.contract.to_contract`,
the one definition of the wire contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from pinchpoint.core.careplan import Plan, PlanItem
from pinchpoint.core.vocabulary import Urgency

__all__ = ["Assessment", "Evidence", "Hypothesis", "TriageReason"]


class Evidence(NamedTuple):
    """One observed finding and how strongly it speaks for (weight > 0) or against a hypothesis.

    ``weight`` is the natural log of the likelihood ratio of the observation for the
    hypothesis against the alternatives, as weighted by the posterior.
    """

    finding: str
    value: object
    weight: float
    patient: str
    clinician: str


class Hypothesis(NamedTuple):
    """A ranked site or cause with its probability and its reasons.

    A named tuple rather than a frozen dataclass: an assessment ranks every site and
    cause, and a tuple is built in a third of the time.
    """

    id: str
    p: float
    label: str
    evidence_for: tuple[Evidence, ...] = ()
    evidence_against: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class TriageReason:
    """A triage rule that fired: the level it demands, why, and its source."""

    rule: str
    level: Urgency
    patient: str
    clinician: str
    source: str


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything pinchpoint concludes for one case.

    ``investigations`` (soonest first) and ``plan`` are the care that fits the triage, the
    leading sites and causes and the person (:mod:`pinchpoint.core.plan`); every item carries
    its evidence verdict and source id.
    """

    case_id: str
    triage: Urgency
    triage_reasons: tuple[TriageReason, ...]
    sites: tuple[Hypothesis, ...]
    causes: tuple[Hypothesis, ...]
    knowledge_version: str
    warnings: tuple[str, ...] = ()
    investigations: tuple[PlanItem, ...] = ()
    plan: Plan = field(default_factory=Plan)
