"""Review a lumbar imaging order against the record and pinchpoint's own plan.

The CDS Hooks order-select and order-sign services and the population audit both decide
here, so a card and an audit verdict can never differ: imaging is questioned only when the
guidance in imaging.yaml says it is not indicated *and* the core's plan for the same
findings and recorded diagnoses does not offer lumbar imaging.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.engine import assess_many
from pinchpoint.core.imaging import ImagingDecision, imaging_decision
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.fhir.record import RecordFacts
from pinchpoint.knowledge import schema as s

__all__ = ["OrderReview", "review_lumbar_order", "review_lumbar_orders"]

_PLAN_CHUNK = 256


@dataclass(frozen=True, slots=True)
class OrderReview:
    """What the order review decides of one lumbar imaging order.

    ``warns`` is true exactly when the service returns its card: guidance says imaging is not
    indicated and pinchpoint's own plan for the same findings does not offer lumbar imaging.
    """

    decision: ImagingDecision
    plan_offers_imaging: bool

    @property
    def warns(self) -> bool:
        """Whether the order card advises removing the order."""
        return self.decision.verdict == "not_indicated" and not self.plan_offers_imaging


def review_lumbar_order(
    facts: RecordFacts,
    knowledge: Knowledge,
    *,
    reason_findings: Mapping[str, FindingValue] | None = None,
    reason_presentations: Iterable[str] = (),
) -> OrderReview:
    """Review one lumbar imaging order against the record, as the order-select and order-sign hooks do.

    Args:
        facts: What the patient's record says (:func:`pinchpoint.io.fhir.record.read_resources`).
        knowledge: The knowledge base.
        reason_findings: Findings stated by the order's reason codes.
        reason_presentations: Presentations named by the order's reason codes.
    """
    order = (facts, reason_findings or {}, frozenset(reason_presentations))
    return review_lumbar_orders([order], knowledge)[0]


def review_lumbar_orders(
    orders: Sequence[tuple[RecordFacts, Mapping[str, FindingValue], frozenset[str]]], knowledge: Knowledge
) -> list[OrderReview]:
    """Review many lumbar imaging orders, each exactly as :func:`review_lumbar_order` would.

    Each order is its record's facts, the findings of its reason codes and the presentations
    they name. The population audit reviews every distinct order of an export here, so its
    verdict and the card's can never differ. Orders that state the same question (the same
    findings, presentations and recorded diagnoses, however the record coded them) are
    reviewed once; the plans are assessed together in chunks.
    """
    questions: dict[_Question, int] = {}
    asked: list[int] = []
    for facts, reasons, presentations in orders:
        question = _Question.of(facts, reasons, presentations)
        asked.append(questions.setdefault(question, len(questions)))
    reviews = _review(list(questions), knowledge)
    return [reviews[index] for index in asked]


@dataclass(frozen=True, slots=True)
class _Question:
    """What the review reads of one order: all it decides from, and nothing else."""

    findings: tuple[tuple[str, FindingValue], ...]
    presentations: frozenset[str]
    recorded_sites: frozenset[str]
    recorded_causes: frozenset[str]
    recorded: frozenset[str]

    @classmethod
    def of(
        cls, facts: RecordFacts, reasons: Mapping[str, FindingValue], presentations: frozenset[str]
    ) -> _Question:
        found = {**reasons, **facts.findings}
        return cls(
            tuple(sorted(found.items(), key=lambda item: item[0])),
            frozenset(facts.presentations) | presentations,
            facts.recorded_sites,
            facts.recorded_causes,
            facts.recorded,
        )


def _review(questions: Sequence[_Question], knowledge: Knowledge) -> list[OrderReview]:
    decisions = [
        imaging_decision(
            dict(question.findings),
            knowledge,
            presentations=question.presentations,
            recorded_sites=question.recorded_sites,
            recorded_causes=question.recorded_causes,
        )
        for question in questions
    ]
    # The plan reads only the findings and the recorded diagnoses (not the presentations): one plan each.
    plans = list(
        dict.fromkeys(
            (question.findings, question.recorded)
            for question, decision in zip(questions, decisions, strict=True)
            if decision.verdict == "not_indicated"
        )
    )
    offered: set[tuple[tuple[tuple[str, FindingValue], ...], frozenset[str]]] = set()
    for start in range(0, len(plans), _PLAN_CHUNK):
        chunk = plans[start : start + _PLAN_CHUNK]
        cases = [
            Case(id="order-review", findings=dict(findings), recorded=recorded)
            for findings, recorded in chunk
        ]
        offers = _plan_offers_lumbar_imaging(cases, knowledge)
        offered |= {plan for plan, offer in zip(chunk, offers, strict=True) if offer}
    return [
        OrderReview(decision, decision.verdict == "not_indicated" and (q.findings, q.recorded) in offered)
        for q, decision in zip(questions, decisions, strict=True)
    ]


def _plan_offers_lumbar_imaging(cases: Sequence[Case], knowledge: Knowledge) -> list[bool]:
    """For each case: whether its plan offers, as something to do, an investigation of lumbar imaging.

    The plan is the core's, made from the same findings and recorded diagnoses as the card's
    imaging decision; nothing here changes an assessment.
    """
    table = cast(s.TerminologyTable, knowledge.tables["terminology"])
    lumbar = {
        test for order in table.imaging_orders if order.region == "lumbar" for test in order.investigations
    }
    assessments = assess_many(cases, knowledge, explain_findings=False)
    return [
        any(test.verdict.to_do and test.id in lumbar for test in assessment.investigations)
        for assessment in assessments
    ]
