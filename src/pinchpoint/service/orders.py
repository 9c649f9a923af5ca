"""Review a lumbar imaging order against the record and pinchpoint's own plan.

The CDS Hooks order-select and order-sign services and the population audit both decide
here, so a card and an audit verdict can never differ. The decision is the core's
(:func:`pinchpoint.core.imaging.imaging_decision`): it reads the plan's lumbar imaging for the
same findings and recorded diagnoses, so it is never ``not_indicated`` while the plan offers
lumbar imaging, and the card warns exactly when it is ``not_indicated``. The plan's investigations
(:func:`pinchpoint.core.engine.investigations_many`, the plan of a full assessment without the
explanations and advice that the review does not read) are worked out once per distinct question,
and only for questions that the guidance alone calls not indicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.engine import investigations_many
from pinchpoint.core.imaging import ImagingDecision, imaging_decision, offered_imaging
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.fhir.record import RecordFacts

__all__ = ["OrderReview", "review_lumbar_order", "review_lumbar_orders"]

_PLAN_CHUNK = 256


@dataclass(frozen=True, slots=True)
class OrderReview:
    """What the order review decides of one lumbar imaging order.

    ``warns`` is true exactly when the service returns its card: the decision is
    ``not_indicated``, which the core never decides while the plan offers lumbar imaging.
    """

    decision: ImagingDecision
    plan_offers_imaging: bool

    @property
    def warns(self) -> bool:
        """Whether the order card advises removing the order."""
        return self.decision.verdict == "not_indicated"


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
    reviewed once; the plans' investigations are worked out together, in chunks.
    """
    questions: dict[_Question, int] = {}
    asked: list[int] = []
    for facts, reasons, presentations in orders:
        question = _Question.of(facts, reasons, presentations)
        asked.append(questions.setdefault(question, len(questions)))
    reviews = _review(list(questions), knowledge)
    return [reviews[index] for index in asked]


class _Question(NamedTuple):
    """What the review reads of one order: all it decides from, and nothing else.

    A named tuple rather than a frozen dataclass: the audit makes one for every order it
    reviews, and a tuple is built and hashed in a fraction of the time.
    """

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
    decisions = [_decision(question, knowledge) for question in questions]
    # Only guidance that says "not indicated" can be changed by the plan, and the plan reads only
    # the findings and the recorded diagnoses (not the presentations): one plan each.
    plans = list(
        dict.fromkeys(
            (question.findings, question.recorded)
            for question, decision in zip(questions, decisions, strict=True)
            if decision.verdict == "not_indicated"
        )
    )
    offered: dict[tuple[tuple[tuple[str, FindingValue], ...], frozenset[str]], tuple[str, ...]] = {}
    for start in range(0, len(plans), _PLAN_CHUNK):
        chunk = plans[start : start + _PLAN_CHUNK]
        cases = [
            Case(id="order-review", findings=dict(findings), recorded=recorded)
            for findings, recorded in chunk
        ]
        offered |= {
            plan: offered_imaging(investigations, knowledge)
            for plan, investigations in zip(chunk, investigations_many(cases, knowledge), strict=True)
        }
    reviews = []
    for question, decision in zip(questions, decisions, strict=True):
        tests = offered.get((question.findings, question.recorded), ())
        reviews.append(OrderReview(_decision(question, knowledge, tests) if tests else decision, bool(tests)))
    return reviews


def _decision(question: _Question, knowledge: Knowledge, offered: Sequence[str] = ()) -> ImagingDecision:
    return imaging_decision(
        dict(question.findings),
        knowledge,
        presentations=question.presentations,
        recorded_sites=question.recorded_sites,
        recorded_causes=question.recorded_causes,
        offered=offered,
    )
