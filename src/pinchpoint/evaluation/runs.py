"""One evaluation run: a named set of cases, assessed in one way, scored, with each case's outcome kept.

A set is assessed three ways (:data:`RUN_MODES`): with every finding of the case file
(``full``), and through the simulated interview in its two modes (``clinician``, who can
report examination findings, and ``self_check``, the person alone). :func:`run_set`
returns the contract's scores (:func:`~pinchpoint.evaluation.metrics.score`) together
with what the evaluation report and the regression record need beyond them: each case's
triage, its top-1 site and cause with their probabilities and whether they were right,
and the number of questions each interview asked. Pure functions: no files, no printing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pinchpoint.core.engine import assess_many
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.evaluation.calibration import Calibration, calibration
from pinchpoint.evaluation.metrics import EvaluationReport, score
from pinchpoint.evaluation.simulation import simulate

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Assessment, Hypothesis
    from pinchpoint.core.case import Case, Expectation
    from pinchpoint.core.knowledge import Knowledge

__all__ = ["RUN_MODES", "CaseOutcome", "RunMode", "SetRun", "run_set"]

RunMode = Literal["full", "clinician", "self_check"]
RUN_MODES: tuple[RunMode, ...] = ("full", "clinician", "self_check")
"""Full information first, then the clinician's and the person's own interview."""


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """What one case expected and got: triage, and the top-1 site and cause with their probability."""

    case_id: str
    expected: Urgency
    predicted: Urgency
    site_p: float
    site_right: bool
    cause_p: float
    cause_right: bool

    @property
    def under_triaged(self) -> bool:
        """Sent to a lower level than the case needs: the unsafe error."""
        return self.predicted < self.expected

    @property
    def emergency_recognised(self) -> bool:
        """An emergency case triaged as an emergency."""
        return self.expected == Urgency.EMERGENCY and self.predicted == Urgency.EMERGENCY


@dataclass(frozen=True, slots=True)
class SetRun:
    """The scores and per-case outcomes of one set of cases in one mode.

    ``questions`` holds the number of questions each interview asked after intake
    (empty for ``full``, which asks none).
    """

    name: str
    mode: RunMode
    report: EvaluationReport
    outcomes: tuple[CaseOutcome, ...]
    questions: tuple[int, ...]

    @property
    def site_calibration(self) -> Calibration:
        """Reliability of the top-1 site probability."""
        return calibration([(o.site_p, o.site_right) for o in self.outcomes])

    @property
    def cause_calibration(self) -> Calibration:
        """Reliability of the top-1 cause probability."""
        return calibration([(o.cause_p, o.cause_right) for o in self.outcomes])


def run_set(name: str, cases: Sequence[Case], knowledge: Knowledge, mode: RunMode) -> SetRun:
    """Assess every case of ``cases`` that states an expected answer, in ``mode``, and score it.

    Raises:
        InputError: No case states an expected answer.
    """
    scored = [case for case in cases if case.expect is not None]
    questions: tuple[int, ...] = ()
    if mode == "full":
        assessments = assess_many(scored, knowledge, explain_findings=False)
    else:
        interviews = [simulate(case, knowledge, mode=mode) for case in scored]
        assessments = [interview.assessment for interview in interviews]
        questions = tuple(len(interview.questions) for interview in interviews)
    pairs = list(zip(scored, assessments, strict=True))
    outcomes = tuple(
        _outcome(case.id, expect, assessment)
        for case, assessment in pairs
        if (expect := case.expect) is not None
    )
    return SetRun(name, mode, score(pairs), outcomes, questions)


def _outcome(case_id: str, expect: Expectation, assessment: Assessment) -> CaseOutcome:
    site_p, site_right = _top(assessment.sites, expect.sites)
    cause_p, cause_right = _top(assessment.causes, expect.causes)
    return CaseOutcome(case_id, expect.triage, assessment.triage, site_p, site_right, cause_p, cause_right)


def _top(ranked: Sequence[Hypothesis], acceptable: Sequence[str]) -> tuple[float, bool]:
    """Return the top-1 probability and whether the top-1 id is acceptable (0, False when none is ranked)."""
    if not ranked:
        return 0.0, False
    return min(max(ranked[0].p, 0.0), 1.0), ranked[0].id in acceptable
