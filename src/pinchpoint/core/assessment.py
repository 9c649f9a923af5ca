"""The answer pinchpoint gives for one case, as frozen value objects.

An :class:`Assessment` holds the triage with the rules that fired, the ranked lesion
sites and causes with their probabilities, and for each of the leading hypotheses the
findings that speak for and against it. :meth:`Assessment.to_contract` gives the JSON
object of ``shared/contract/CASES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pinchpoint.core.careplan import Plan, PlanItem
from pinchpoint.core.vocabulary import Urgency

__all__ = ["Assessment", "Evidence", "Hypothesis", "TriageReason"]

_CONTRACT_DIGITS = 4
_CONTRACT_MIN_P = 0.001
_CONTRACT_MIN_ITEMS = 3


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

    def to_contract(self, *, detail: bool = True) -> dict[str, Any]:
        """Return the JSON object of ``shared/contract/CASES.md``.

        Beyond the contract's keys it carries ``triage_rules`` (rule ids, levels and
        sources), ``warnings``, ``investigations`` and ``plan`` (each item with its id,
        verdict and source id). With ``detail`` it also carries the findings for and
        against the leading sites and causes, and the wording of every plan item; a
        batch run leaves them out, since the ids resolve in the knowledge base.
        """
        contract: dict[str, Any] = {
            "case": self.case_id,
            "triage": self.triage.id,
            "triage_reasons": [reason.clinician for reason in self.triage_reasons],
            "sites": _ranked(self.sites),
            "causes": _ranked(self.causes),
            "knowledge_version": self.knowledge_version,
            "triage_rules": [
                {"rule": r.rule, "level": r.level.id, "source": r.source} for r in self.triage_reasons
            ],
        }
        if detail:
            contract["explanations"] = {
                "sites": [_explained(h) for h in self.sites[:_CONTRACT_MIN_ITEMS]],
                "causes": [_explained(h) for h in self.causes[:_CONTRACT_MIN_ITEMS]],
            }
        contract["warnings"] = list(self.warnings)
        contract["investigations"] = [item.to_json(wording=detail) for item in self.investigations]
        contract["plan"] = self.plan.to_json(wording=detail)
        return contract


def _ranked(hypotheses: tuple[Hypothesis, ...]) -> list[dict[str, Any]]:
    return [
        {"id": h.id, "p": round(h.p, _CONTRACT_DIGITS)}
        for rank, h in enumerate(hypotheses)
        if rank < _CONTRACT_MIN_ITEMS or h.p >= _CONTRACT_MIN_P
    ]


def _explained(hypothesis: Hypothesis) -> dict[str, Any]:
    return {
        "id": hypothesis.id,
        "for": [_evidence(e) for e in hypothesis.evidence_for],
        "against": [_evidence(e) for e in hypothesis.evidence_against],
    }


def _evidence(evidence: Evidence) -> dict[str, Any]:
    return {
        "finding": evidence.finding,
        "value": evidence.value,
        "weight": round(evidence.weight, 2),
        "why": evidence.clinician,
    }
