"""Simulated patients: run the adaptive interview on case files and score the outcome.

Each case is interviewed as if the person were answering: the interview starts from the
case's age, sex and pain regions only, and every question it asks is answered from the
case's findings, "don't know" where the case is silent. The simulated patient sees only
the findings, never the case's ``expect``, and volunteers nothing that was not asked.

:func:`evaluate_interviews` scores the resulting assessments with the metrics of
``shared/contract/CASES.md`` and adds the number of questions asked (median, 90th
percentile, maximum). Pure functions: no files, no printing.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pinchpoint.core.interview import Interview
from pinchpoint.evaluation.metrics import EvaluationReport, score

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Assessment
    from pinchpoint.core.case import Case, FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Mode, Question

__all__ = [
    "InterviewEvaluation",
    "SimulatedInterview",
    "answer_to_the_end",
    "evaluate_interviews",
    "simulate",
    "simulated_answer",
]

_P90 = 90
_DIGITS = 4


@dataclass(frozen=True, slots=True)
class SimulatedInterview:
    """One simulated interview: the questions asked after intake, in order, and the assessment."""

    case_id: str
    questions: tuple[str, ...]
    assessment: Assessment


@dataclass(frozen=True, slots=True)
class InterviewEvaluation:
    """The evaluation report of simulated interviews, with the number of questions each needed."""

    report: EvaluationReport
    questions: tuple[int, ...]
    mode: str

    @property
    def questions_median(self) -> float:
        """The median number of questions asked after intake."""
        return float(statistics.median(self.questions))

    @property
    def questions_p90(self) -> float:
        """The 90th percentile of questions asked (linear interpolation between ranks)."""
        return float(np.percentile(np.array(self.questions, dtype=np.float64), _P90))

    @property
    def questions_max(self) -> int:
        """The largest number of questions asked."""
        return max(self.questions)

    def to_json(self) -> dict[str, Any]:
        """Return the report object of ``shared/contract/CASES.md`` with the question counts added."""
        return {
            **self.report.to_json(),
            "questions_median": round(self.questions_median, _DIGITS),
            "questions_p90": round(self.questions_p90, _DIGITS),
            "questions_max": self.questions_max,
            "interview_mode": self.mode,
        }


def simulated_answer(question: Question, findings: Mapping[str, FindingValue]) -> object:
    """Answer ``question`` as the person of a case would: from ``findings``, ``None`` where silent."""
    if question.single:
        value = findings.get(question.finding)
        return list(value) if isinstance(value, tuple) else value
    known = {finding: findings[finding] for finding in question.findings if finding in findings}
    return known or None


def simulate(case: Case, knowledge: Knowledge, *, mode: Mode = "clinician") -> SimulatedInterview:
    """Interview the person of ``case``, answering from its findings only.

    Raises:
        InvalidAnswerError: A case value does not fit its question (a bug in the bank).
    """
    findings = case.findings  # the simulated patient is handed the findings, never `expect`
    bank = knowledge.questions
    interview = Interview.start(
        knowledge,
        mode=mode,
        intake={question_id: simulated_answer(bank[question_id], findings) for question_id in bank.intake},
    )
    return answer_to_the_end(interview, case)


def answer_to_the_end(interview: Interview, case: Case) -> SimulatedInterview:
    """Answer every question ``interview`` asks from ``case``'s findings, then assess.

    The simulated patient is handed the findings, never ``expect``; a finding it does not
    have is "don't know".
    """
    asked: list[str] = []
    question = interview.next_question()
    while question is not None:
        interview.answer(question.id, simulated_answer(question, case.findings))
        asked.append(question.id)
        question = interview.next_question()
    return SimulatedInterview(case.id, tuple(asked), interview.assessment(case.id))


def evaluate_interviews(
    cases: Iterable[Case], knowledge: Knowledge, *, mode: Mode = "clinician"
) -> InterviewEvaluation:
    """Interview every case with an expected answer and score the assessments.

    Raises:
        InputError: No case has an expected answer.
    """
    pairs: list[tuple[Case, Assessment]] = []
    counts: list[int] = []
    for case in cases:
        if case.expect is None:
            continue
        simulated = simulate(case, knowledge, mode=mode)
        pairs.append((case, simulated.assessment))
        counts.append(len(simulated.questions))
    report = score(pairs)
    return InterviewEvaluation(report, tuple(counts), mode)
