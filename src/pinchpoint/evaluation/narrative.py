"""Story first: the person tells the story, then the interview asks only what the story left open.

:func:`simulate_from_narrative` reads a case's ``narrative`` with :func:`pinchpoint.io.freetext.read_text`;
the simulated person confirms each proposal that is true of them (it agrees with the case's findings)
and drops the rest, as the self-check's confirmation page lets them. The interview starts from the
confirmed findings (:func:`pinchpoint.io.freetext.interview_from_story`) plus the intake answers the
plain simulation is given (age, sex, pain regions), and every question it still asks is answered from
the case, as in :func:`pinchpoint.evaluation.simulation.simulate`. :func:`compare_story_first` runs
both ways on every case with a narrative and an expected answer, so that the questions saved and the
triage safety can be compared on the same cases. Pure functions: no files, no printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pinchpoint.core.interview import Interview
from pinchpoint.evaluation.metrics import EvaluationReport, score
from pinchpoint.evaluation.simulation import SimulatedInterview, answer_to_the_end, simulate, simulated_answer
from pinchpoint.io.freetext import Mention, interview_from_story, read_text

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Assessment
    from pinchpoint.core.case import Case, FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Mode

__all__ = ["StoryFirstComparison", "compare_story_first", "confirmed_by", "simulate_from_narrative"]


def confirmed_by(mention: Mention, findings: Mapping[str, FindingValue]) -> bool:
    """Whether the person of ``findings`` would keep a proposal: it states what is true of them."""
    truth = findings.get(mention.finding)
    if isinstance(mention.value, tuple):
        return isinstance(truth, tuple) and set(mention.value) <= set(truth)
    return truth is not None and truth == mention.value


def simulate_from_narrative(
    case: Case, knowledge: Knowledge, *, mode: Mode = "self_check"
) -> SimulatedInterview:
    """Interview the person of ``case`` story first: only what the narrative did not settle is asked.

    Raises:
        InvalidTextError: The case has no narrative.
    """
    findings = case.findings  # the simulated person is handed the findings, never `expect`
    reading = read_text(case.narrative, knowledge)  # a narrative is the person's own words, in either mode
    kept = [index for index, mention in enumerate(reading.proposals) if confirmed_by(mention, findings)]
    story = interview_from_story(reading, knowledge, mode=mode, accepted=kept).to_dict()
    told = {answer["question"] for answer in story["answers"]}
    bank = knowledge.questions
    intake: list[dict[str, Any]] = []
    for question_id in bank.intake:
        value = simulated_answer(bank[question_id], findings)
        if question_id not in told and value is not None:
            intake.append({"question": question_id, "value": value, "phase": "intake"})
    interview = Interview.from_dict({**story, "answers": [*intake, *story["answers"]]}, knowledge)
    return answer_to_the_end(interview, case)


@dataclass(frozen=True, slots=True)
class StoryFirstComparison:
    """The same cases interviewed plainly and story first: scores and questions asked."""

    plain: EvaluationReport
    story_first: EvaluationReport
    plain_questions: tuple[int, ...]
    story_questions: tuple[int, ...]
    mode: str

    @property
    def questions_saved(self) -> float:
        """The share of questions the story saved over all cases (0.3 = 30% fewer)."""
        total = sum(self.plain_questions)
        return 1 - sum(self.story_questions) / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        """Both reports, the question counts and the share saved."""
        return {
            "mode": self.mode,
            "cases": len(self.plain_questions),
            "plain": {**self.plain.to_json(), "questions_total": sum(self.plain_questions)},
            "story_first": {**self.story_first.to_json(), "questions_total": sum(self.story_questions)},
            "questions_saved": round(self.questions_saved, 4),
        }


def compare_story_first(
    cases: Iterable[Case], knowledge: Knowledge, *, mode: Mode = "self_check"
) -> StoryFirstComparison:
    """Interview every case with a narrative and an expected answer both ways, and score both.

    Raises:
        InputError: No case has both a narrative and an expected answer.
    """
    plain: list[tuple[Case, Assessment]] = []
    story: list[tuple[Case, Assessment]] = []
    plain_counts: list[int] = []
    story_counts: list[int] = []
    for case in cases:
        if case.expect is None or not case.narrative.strip():
            continue
        before = simulate(case, knowledge, mode=mode)
        after = simulate_from_narrative(case, knowledge, mode=mode)
        plain.append((case, before.assessment))
        story.append((case, after.assessment))
        plain_counts.append(len(before.questions))
        story_counts.append(len(after.questions))
    return StoryFirstComparison(score(plain), score(story), tuple(plain_counts), tuple(story_counts), mode)
