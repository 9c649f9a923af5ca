"""The answer pinchpoint gives for one case, and the function that produces it.

An :class:`Assessment` holds the triage with the rules that fired, the ranked lesion
sites and causes with their probabilities, and for each of the leading hypotheses the
findings that speak for and against it. :meth:`Assessment.to_contract` gives the JSON
object of ``shared/contract/CASES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pinchpoint.vocabulary import Urgency

if TYPE_CHECKING:
    from pinchpoint.case import Case
    from pinchpoint.knowledge.model import Knowledge

__all__ = ["Assessment", "Evidence", "Hypothesis", "TriageReason", "assess"]

_CONTRACT_DIGITS = 4
_CONTRACT_MIN_P = 0.001
_CONTRACT_MIN_ITEMS = 3


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observed finding and how strongly it speaks for (weight > 0) or against a hypothesis.

    ``weight`` is the natural log of the likelihood ratio of the observation for the
    hypothesis against the alternatives, as weighted by the posterior.
    """

    finding: str
    value: object
    weight: float
    patient: str
    clinician: str


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """A ranked site or cause with its probability and its reasons."""

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
    """Everything pinchpoint concludes for one case."""

    case_id: str
    triage: Urgency
    triage_reasons: tuple[TriageReason, ...]
    sites: tuple[Hypothesis, ...]
    causes: tuple[Hypothesis, ...]
    knowledge_version: str
    warnings: tuple[str, ...] = ()

    def to_contract(self) -> dict[str, Any]:
        """Return the JSON object of ``shared/contract/CASES.md`` (plus explanations)."""
        return {
            "case": self.case_id,
            "triage": self.triage.id,
            "triage_reasons": [reason.clinician for reason in self.triage_reasons],
            "sites": _ranked(self.sites),
            "causes": _ranked(self.causes),
            "knowledge_version": self.knowledge_version,
            "triage_rules": [
                {"rule": r.rule, "level": r.level.id, "source": r.source} for r in self.triage_reasons
            ],
            "explanations": {
                "sites": [_explained(h) for h in self.sites[:_CONTRACT_MIN_ITEMS]],
                "causes": [_explained(h) for h in self.causes[:_CONTRACT_MIN_ITEMS]],
            },
            "warnings": list(self.warnings),
        }


def _ranked(hypotheses: tuple[Hypothesis, ...]) -> list[dict[str, Any]]:
    shown = [
        {"id": h.id, "p": round(h.p, _CONTRACT_DIGITS)}
        for rank, h in enumerate(hypotheses)
        if rank < _CONTRACT_MIN_ITEMS or h.p >= _CONTRACT_MIN_P
    ]
    return shown


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


def assess(case: Case, knowledge: Knowledge) -> Assessment:
    """Assess one case: triage, ranked sites and causes, and the reasons for each.

    Unknown findings are simply unused; they never lower the triage below what the
    known findings demand.

    Example:
        A 42-year-old with shooting pain to the top of the foot, weak big-toe and ankle
        dorsiflexion (2/5), weak inversion and hip abduction: triage ``urgent`` (acute
        severe foot drop), site ``root.L5`` on that side (inversion and hip abduction are
        L5 muscles outside the peroneal nerve), cause ``disc_herniation``.
    """
    from pinchpoint.explain import explain
    from pinchpoint.posterior import infer
    from pinchpoint.triage import triage

    posterior = infer(case.findings, knowledge)
    decision = triage(case.findings, knowledge, posterior.cause_probabilities())
    sites, causes = explain(posterior, knowledge)
    return Assessment(
        case_id=case.id,
        triage=decision.level,
        triage_reasons=decision.reasons,
        sites=sites,
        causes=causes,
        knowledge_version=knowledge.version,
        warnings=decision.warnings,
    )
