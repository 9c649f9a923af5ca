"""The self-check asks before it concludes: parity with everything the person could have said.

For each development case the person of the case is interviewed in self-check mode (answers
from the case, "don't know" where it is silent). Its triage is never below the triage of
the same case cut down to what a person can answer (no examination), and every warning sign
it reports as not answered was asked (and answered "don't know"), never left unasked.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from pinchpoint import assess
from pinchpoint.core.case import Case
from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.triage import unanswered_signs
from pinchpoint.evaluation.simulation import simulate, simulated_answer
from pinchpoint.io.casefile import read_case
from tests.corpus import shared_case_params

pytestmark = pytest.mark.core


@pytest.mark.parametrize("path", shared_case_params())
def test_the_self_check_concludes_no_lower_than_all_a_person_could_say(
    path: Path, knowledge: Knowledge
) -> None:
    """Self-check triage >= the triage of every answer the person could give; open signs were asked."""
    case = read_case(path, knowledge.vocabulary)
    bank = knowledge.questions
    person = {f for q in bank.questions.values() if not q.needs_examiner for f in q.findings}
    said = Case(
        id=case.id, findings=MappingProxyType({f: v for f, v in case.findings.items() if f in person})
    )
    everything = assess(said, knowledge, explain_findings=False)
    interview = Interview.start(
        knowledge,
        mode="self_check",
        intake={q: simulated_answer(bank[q], case.findings) for q in bank.intake},
    )
    while (question := interview.next_question()) is not None:
        interview.answer(question.id, simulated_answer(question, case.findings))
    level = interview.assessment(case.id).triage
    # The evaluation's simulated interview is this one.
    assert level == simulate(case, knowledge, mode="self_check").assessment.triage
    assert level >= everything.triage, (
        f"{case.id}: the self-check stopped at {level.id}, "
        f"below {everything.triage.id} from all the person could say"
    )
    open_signs = unanswered_signs(interview.findings, knowledge)
    never_asked = [sign for sign in open_signs if bank.by_finding[sign] not in interview.asked]
    assert never_asked == [], f"{case.id}: listed as not answered but never asked: {never_asked}"
