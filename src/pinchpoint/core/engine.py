"""The engine: one assessment from a case and the knowledge, through every reasoning step.

A case flows posterior -> triage -> explanation -> plan: the joint posterior over causes
and sites (:mod:`pinchpoint.core.posterior`), the triage rules with the leading cause's care
level (:mod:`pinchpoint.core.triage`), the reasons for each leading conclusion
(:mod:`pinchpoint.core.explain`), and the investigations and care plan that fit them
(:mod:`pinchpoint.core.plan`). A batch that reads only the plan's investigations takes
:func:`investigations_many`, which skips the explanation and the advice.
"""

from __future__ import annotations

from collections.abc import Sequence

from pinchpoint.core.assessment import Assessment
from pinchpoint.core.careplan import PlanItem
from pinchpoint.core.case import Case
from pinchpoint.core.explain import explain_many
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.plan import PlanContext
from pinchpoint.core.posterior import Posterior, infer_many
from pinchpoint.core.triage import Decision, triage_many

__all__ = ["assess", "assess_many", "investigations_many"]

_EXPLAINED = 3
"""How many leading sites and causes carry the findings for and against them."""


def assess(case: Case, knowledge: Knowledge, *, explain_findings: bool = True) -> Assessment:
    """Assess one case: triage, ranked sites and causes, and the reasons for each.

    Unknown findings are simply unused; they never lower the triage below what the
    known findings demand.

    Args:
        case: The case, as :func:`pinchpoint.core.case.parse_case` returns it.
        knowledge: The knowledge base.
        explain_findings: Weigh the findings for and against the three leading sites
            and causes. Batch runs that need only the triage and the ranking (the
            contract JSON, an evaluation) pass ``False``: it halves the time.

    Example:
        A 42-year-old with shooting pain to the top of the foot, weak big-toe and ankle
        dorsiflexion (2/5), weak inversion and hip abduction: triage ``urgent`` (acute
        severe foot drop), site ``root.L5`` on that side (inversion and hip abduction are
        L5 muscles outside the peroneal nerve), cause ``disc_herniation``.
    """
    return assess_many([case], knowledge, explain_findings=explain_findings)[0]


def assess_many(
    cases: Sequence[Case], knowledge: Knowledge, *, explain_findings: bool = True
) -> list[Assessment]:
    """Assess several cases at once, each exactly as :func:`assess` would.

    The array work of the posterior, the triage and the plan is done for all the cases
    together, which a batch run (``pinchpoint assess DIR``, an audit) does in chunks.
    """
    posteriors, decisions, contexts = _triaged(cases, knowledge)
    made = knowledge.plan.make_many(contexts)
    ranked = explain_many(posteriors, knowledge, leading=_EXPLAINED if explain_findings else 0)
    return [
        Assessment(
            case_id=case.id,
            triage=decision.level,
            triage_reasons=decision.reasons,
            sites=sites,
            causes=causes,
            knowledge_version=knowledge.version,
            warnings=(*decision.warnings, *case.notes),
            investigations=investigations,
            plan=plan,
        )
        for case, decision, (sites, causes), (investigations, plan) in zip(
            cases, decisions, ranked, made, strict=True
        )
    ]


def investigations_many(cases: Sequence[Case], knowledge: Knowledge) -> list[tuple[PlanItem, ...]]:
    """Return the investigations of each case's plan, exactly as :func:`assess_many` would.

    The posterior and the triage are decided as for an assessment, but no ranking is explained
    and no advice is chosen: a batch that reads only what the plan offers to investigate (the
    review of an imaging order) does none of that work.
    """
    _, _, contexts = _triaged(cases, knowledge)
    return knowledge.plan.investigations_many(contexts)


def _triaged(
    cases: Sequence[Case], knowledge: Knowledge
) -> tuple[list[Posterior], list[Decision], list[PlanContext]]:
    """Each case's posterior, its triage, and what the plan's conditions see of it."""
    findings = [case.findings for case in cases]
    posteriors = infer_many(findings, knowledge)
    decisions = triage_many(
        findings,
        knowledge,
        [posterior.cause_probabilities() for posterior in posteriors],
        [case.recorded for case in cases],
    )
    contexts = [
        PlanContext(
            level=decision.level,
            findings=case.findings,
            rules=frozenset(reason.rule for reason in decision.reasons),
            site_probability=posterior.site_probability,
            cause_probability=posterior.cause_probability,
        )
        for case, posterior, decision in zip(cases, posteriors, decisions, strict=True)
    ]
    return posteriors, decisions, contexts
