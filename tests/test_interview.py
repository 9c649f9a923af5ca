"""Tests of the interview session: answering, taking back, saving, and its safety invariants."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.engine import assess
from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import Mode
from pinchpoint.core.screen import screen_for
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InvalidAnswerError, InvalidSessionError
from pinchpoint.evaluation.simulation import simulated_answer
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.strategies import development_cases, findings

pytestmark = pytest.mark.core

_PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_INTAKE = {"age": 44, "sex": "male", "pain_regions": ["low_back", "buttock.left", "calf_posterior.left"]}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _run(knowledge: Knowledge, patient: Mapping[str, FindingValue], mode: Mode) -> Interview:
    """Interview a simulated patient with ``patient``'s findings to the end."""
    interview = Interview.start(knowledge, mode=mode)
    question = interview.next_question()
    while question is not None:
        interview.answer(question.id, simulated_answer(question, patient))
        question = interview.next_question()
    return interview


def _askable(knowledge: Knowledge, mode: Mode) -> frozenset[str]:
    bank = knowledge.questions
    return frozenset(f for q in bank.questions.values() if q.asked_in(mode) for f in q.findings)


# --- answering -----------------------------------------------------------------------------------------


def test_intake_comes_first_in_bank_order(knowledge: Knowledge) -> None:
    """Without an intake, the interview asks age, then sex, then where it hurts."""
    interview = Interview.start(knowledge)
    asked = []
    for value in (50, "female", []):
        question = interview.next_question()
        assert question is not None
        asked.append(question.id)
        interview.answer(question.id, value)
    assert asked == list(knowledge.questions.intake)
    assert interview.phase == "screening"


def test_red_flag_answer_raises_the_triage(knowledge: Knowledge) -> None:
    """Reporting urinary retention in the cauda equina screen makes the assessment an emergency."""
    interview = Interview.start(knowledge, intake=_INTAKE)
    while (question := interview.next_question()) is not None and question.id != "bladder_bowel":
        interview.dont_know(question.id)
    assert question is not None
    interview.answer("bladder_bowel", {"urinary_retention": True})
    assessment = interview.assessment()
    assert assessment.triage == Urgency.EMERGENCY
    assert "ces-urinary-retention" in {reason.rule for reason in assessment.triage_reasons}


@pytest.mark.parametrize(
    ("question", "value", "message"),
    [
        (
            "no_such_question",
            True,
            "interview answer: there is no question 'no_such_question'; expected the id of the question "
            "asked now ('{current}')",
        ),
        (
            "smoker",
            True,
            "interview answer: question 'smoker' was not asked; expected an answer to the question asked "
            "now, '{current}'",
        ),
        (
            "{current}",
            "yes",
            "answer to question '{current}': the answer is not a mapping of findings to values; expected "
            "finding ids of this question mapped to values or null, e.g. {{'leg_weakness.left': True}} "
            "(got 'yes')",
        ),
    ],
)
def test_refused_answers_leave_the_session_unchanged(
    knowledge: Knowledge, question: str, value: object, message: str
) -> None:
    """An answer for another question, or of the wrong shape, is refused with a message; nothing changes."""
    interview = Interview.start(knowledge, intake=_INTAKE)
    current = interview.next_question()
    assert current is not None
    before = interview.to_dict()
    with pytest.raises(InvalidAnswerError) as raised:
        interview.answer(question.format(current=current.id), value)
    assert str(raised.value) == message.format(current=current.id)
    assert interview.to_dict() == before
    assert interview.next_question() == current


@pytest.mark.parametrize(
    ("question", "value", "message"),
    [
        ("age", "forty", "answer to question 'age': the answer does not fit the question; expected a whole "
         "number from 0 to 120 (or null for don't know) (got 'forty')"),
        ("age", 130, "answer to question 'age': the answer does not fit the question; expected a whole "
         "number from 0 to 120 (or null for don't know) (got 130)"),
        ("sex", "other", "answer to question 'sex': the answer does not fit the question; expected one of "
         "female, male (or null for don't know) (got 'other')"),
        ("pain_regions", ["calf_posterior"], "answer to question 'pain_regions': the answer does not fit "
         "the question; expected a side on this region: calf_posterior.left or calf_posterior.right (or "
         "null for don't "
         "know) (got ['calf_posterior'])"),
        ("pain_regions", "low_back", "answer to question 'pain_regions': the answer does not fit the "
         "question; expected a list of region ids such as [buttock.left, calf_posterior.left] (empty: "
         "asked, none) (or "
         "null for don't know) (got 'low_back')"),
    ],
)  # fmt: skip
def test_wrong_types_are_refused_with_exact_messages(
    knowledge: Knowledge, question: str, value: object, message: str
) -> None:
    """Each intake question refuses a value of the wrong type or range, saying what it expects."""
    with pytest.raises(InvalidAnswerError) as raised:
        Interview.start(knowledge, intake={question: value})
    assert str(raised.value) == message


def test_form_answers_refuse_foreign_findings_and_bad_values(knowledge: Knowledge) -> None:
    """A form answer naming a finding outside the form, or a bad cell value, is refused exactly."""
    question = knowledge.questions["bladder_bowel"]
    with pytest.raises(InvalidAnswerError) as raised:
        question.normalise({"smoker": True}, knowledge.vocabulary)
    assert str(raised.value) == (
        "answer to question 'bladder_bowel': the answer names a finding this question does not ask about; "
        "expected one of urinary_retention, bladder_change, bowel_incontinence, saddle_numbness, "
        "sexual_dysfunction (got 'smoker')"
    )
    with pytest.raises(InvalidAnswerError) as raised:
        question.normalise({"urinary_retention": "yes"}, knowledge.vocabulary)
    assert str(raised.value) == (
        "answer to question 'bladder_bowel.urinary_retention': the answer does not fit the question; "
        "expected true or false (or null for don't know) (got 'yes')"
    )
    with pytest.raises(InvalidAnswerError) as raised:
        question.normalise(True, knowledge.vocabulary)
    assert str(raised.value).startswith(
        "answer to question 'bladder_bowel': the answer is not a mapping of findings to values"
    )


def test_finished_interview_refuses_answers(knowledge: Knowledge) -> None:
    """Once the interview has stopped, any further answer is refused and back() reopens it."""
    interview = _run(knowledge, {"age": 30, "sex": "female", "pain_regions": ("low_back",)}, "self_check")
    assert interview.finished
    with pytest.raises(InvalidAnswerError) as raised:
        interview.answer("age", 31)
    assert str(raised.value) == (
        "interview answer: question 'age' was not asked: the interview has finished; "
        "take an answer back with back() to change it"
    )
    last = interview.back()
    assert interview.next_question() == knowledge.questions[last.question]


def test_back_on_an_empty_session_is_refused(knowledge: Knowledge) -> None:
    """There is nothing to take back before the first answer."""
    with pytest.raises(InvalidAnswerError) as raised:
        Interview.start(knowledge).back()
    assert str(raised.value) == (
        "interview back: there is no answer to take back; expected at least one answer"
    )


# --- invariants --------------------------------------------------------------------------------------


@given(
    patient=findings(),
    steps=st.integers(min_value=0, max_value=12),
    mode=st.sampled_from(["self_check", "clinician"]),
)
@_PROPERTY
def test_answer_then_back_restores_the_state(
    patient: dict[str, FindingValue], steps: int, mode: Mode
) -> None:
    """Answering the next question and taking it back leaves the session and next question as before."""
    knowledge = load_knowledge()
    interview = Interview.start(knowledge, mode=mode)
    for _ in range(steps):
        question = interview.next_question()
        if question is None:
            break
        interview.answer(question.id, simulated_answer(question, patient))
    question = interview.next_question()
    if question is None:
        return
    before = (interview.to_dict(), dict(interview.findings), question)
    interview.answer(question.id, simulated_answer(question, patient))
    interview.back()
    assert (interview.to_dict(), dict(interview.findings), interview.next_question()) == before


@given(
    patient=findings(),
    steps=st.integers(min_value=0, max_value=20),
    mode=st.sampled_from(["self_check", "clinician"]),
)
@_PROPERTY
def test_session_round_trips_through_json(patient: dict[str, FindingValue], steps: int, mode: Mode) -> None:
    """to_dict -> JSON -> from_dict gives a session with the same answers, findings and next question."""
    knowledge = load_knowledge()
    interview = Interview.start(knowledge, mode=mode)
    for _ in range(steps):
        question = interview.next_question()
        if question is None:
            break
        interview.answer(question.id, simulated_answer(question, patient))
    loaded = Interview.from_dict(json.loads(json.dumps(interview.to_dict())), knowledge)
    assert loaded.to_dict() == interview.to_dict()
    assert loaded.findings == interview.findings
    assert loaded.next_question() == interview.next_question()


@given(patient=findings(), mode=st.sampled_from(["self_check", "clinician"]))
@_PROPERTY
def test_no_askable_red_flag_is_missed(patient: dict[str, FindingValue], mode: Mode) -> None:
    """Every urgent or emergency rule that the patient's askable findings fire also fires in the interview.

    The interview never stops while such a rule could still fire, and what it asks is answered
    truthfully, so stopping early can never hide an askable red flag. The one early stop is an
    emergency in a self-check, which already has the most urgent level.
    """
    knowledge = load_knowledge()
    askable = _askable(knowledge, mode)
    visible = {f: v for f, v in patient.items() if f in askable}
    interview = _run(knowledge, visible, mode)
    known = interview.findings
    if mode == "self_check" and interview.emergency:
        # An emergency ends a self-check at once; its level already meets every rule's.
        assert interview.next_question() is None
        assert interview.assessment().triage == Urgency.EMERGENCY
        return
    for rule in knowledge.triage.rules:
        if rule.level >= Urgency.URGENT and rule.holds(visible):
            assert rule.holds(known), rule.id


@given(patient=findings(), mode=st.sampled_from(["self_check", "clinician"]))
@_PROPERTY
def test_interview_never_stops_while_an_emergency_rule_is_open(
    patient: dict[str, FindingValue], mode: Mode
) -> None:
    """At the end no emergency or urgent rule could still fire on a question that is left.

    The one early stop is an emergency in a self-check: it is the most urgent level already.
    """
    knowledge = load_knowledge()
    interview = _run(knowledge, patient, mode)
    if mode == "self_check" and interview.emergency:
        assert interview.assessment().triage == Urgency.EMERGENCY
        return
    left = frozenset(
        f
        for q in knowledge.questions.questions.values()
        if q.id not in interview.asked and q.asked_in(mode)
        for f in q.findings
    )
    screen = screen_for(knowledge)
    for rule in screen.rules:
        if rule.level >= Urgency.URGENT:
            assert screen.truth(rule, interview.findings, left) is not None, rule.id


@pytest.mark.parametrize("mode", ["self_check", "clinician"])
def test_the_interview_asks_what_would_raise_the_triage_through_a_cause(
    knowledge: Knowledge, mode: Mode
) -> None:
    """Sciatica in a pregnant woman: the interview asks about pregnancy, whose care lifts self-care to soon.

    No rule names pregnancy; the level comes from the cause's care (causes.yaml), so the
    interview must not stop while the answer that defines the cause is unasked.
    """
    patient: dict[str, FindingValue] = {
        "age": 31,
        "sex": "female",
        "pregnant": True,
        "duration_days": 14,
        "pain_regions": ("buttock.right", "thigh_posterior.right", "calf_posterior.right"),
        "pain_shooting": True,
        "urinary_retention": False,
        "bladder_change": False,
        "bowel_incontinence": False,
        "saddle_numbness": False,
    }
    interview = _run(knowledge, patient, mode)
    assert "pregnant" in interview.asked
    assessment = interview.assessment()
    assert assessment.triage >= Urgency.SOON
    assert "cause-care:pregnancy" in {reason.rule for reason in assessment.triage_reasons}


@given(patient=findings(), steps=st.integers(min_value=0, max_value=15))
@_PROPERTY
def test_dont_know_never_lowers_the_triage(patient: dict[str, FindingValue], steps: int) -> None:
    """Answering "don't know" never lowers the triage."""
    knowledge = load_knowledge()
    interview = Interview.start(knowledge, mode="clinician")
    for _ in range(steps):
        question = interview.next_question()
        if question is None:
            break
        interview.answer(question.id, simulated_answer(question, patient))
    question = interview.next_question()
    if question is None:
        return
    before = interview.assessment().triage
    interview.dont_know(question.id)
    assert interview.assessment().triage >= before


def test_dont_know_on_a_red_flag_is_reported(knowledge: Knowledge) -> None:
    """Not knowing about the bladder leaves the emergency rules open and says so in the assessment."""
    interview = Interview.start(knowledge, intake=_INTAKE)
    while (question := interview.next_question()) is not None:
        if question.id == "bladder_bowel":
            interview.dont_know(question.id)
        else:
            interview.answer(question.id, simulated_answer(question, {}))
    flags = {flag.rule for flag in interview.unknown_red_flags()}
    assert {"ces-urinary-retention", "ces-bladder-change", "ces-bowel"} <= flags
    warnings = interview.assessment().warnings
    wording = knowledge.questions.label("unknown_red_flag", "self_check").split("{question}")[0]
    assert any(w.startswith(wording) and "urine" in w for w in warnings)


# --- saved sessions ------------------------------------------------------------------------------------


_PREGNANCY_WEEKS = {"question": "pregnancy_weeks", "value": 2, "phase": "x"}


def _saved(knowledge: Knowledge) -> dict[str, object]:
    interview = Interview.start(knowledge, intake=_INTAKE)
    question = interview.next_question()
    assert question is not None
    interview.answer(question.id, None)
    return interview.to_dict()


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: [], "session: the session is not a mapping; expected an object with the keys format, "
         "version, mode, knowledge_version, answers (got 'list')"),
        (lambda d: {**d, "extra": 1}, "session: unknown key 'extra'; expected only the keys format, version, "
         "mode, knowledge_version, answers"),
        (lambda d: {k: v for k, v in d.items() if k != "answers"}, "session: the key 'answers' is missing; "
         "expected the keys format, version, mode, knowledge_version, answers"),
        (lambda d: {**d, "format": "x"}, "session.format: this is not a pinchpoint interview session; "
         "expected 'pinchpoint-interview' (got 'x')"),
        (lambda d: {**d, "version": 2}, "session.version: the session format version is not supported; "
         "expected 1 (got 2)"),
        (lambda d: {**d, "mode": "robot"}, "session.mode: unknown interview mode; expected self_check or "
         "clinician (got 'robot')"),
        (lambda d: {**d, "answers": {}},
         "session.answers: the answers are not a list; expected a list (got {})"),
        (lambda d: {**d, "answers": [*d["answers"], {"question": "nope", "value": 1, "phase": "x"}]},
         "session.answers[4].question: the answer names no question of the bank; expected a question id of "
         "questions.yaml (got 'nope')"),
        (lambda d: {**d, "answers": [*d["answers"], d["answers"][0]]},
         "session.answers[4]: question 'age' is answered twice; expected one answer per question"),
        (lambda d: {**d, "answers": [*d["answers"], {"question": "exam_power", "value": 1, "phase": "x"}]},
         "session.answers[4]: question 'exam_power' needs an examiner; expected clinician mode"),
        (lambda d: {**d, "answers": [*d["answers"], _PREGNANCY_WEEKS]},
         "session.answers[4]: question 'pregnancy_weeks' is answered before the answer that enables it; "
         "expected an earlier answer to 'pregnant'"),
        (lambda d: {**d, "answers": [{**d["answers"][0], "value": -3}, *d["answers"][1:]]},
         "session.answers[0].value: the answer does not fit its question; expected a whole number from 0 to "
         "120 (or null for don't know) (got -3)"),
        (lambda d: {**d, "answers": [{**d["answers"][0], "phase": "later"}, *d["answers"][1:]]},
         "session.answers[0].phase: unknown phase; expected intake or screening or diagnostic (got 'later')"),
    ],
)  # fmt: skip
def test_corrupt_sessions_are_refused_whole(knowledge: Knowledge, corrupt, message: str) -> None:
    """A corrupt session is reported with where and what, and nothing is loaded."""
    with pytest.raises(InvalidSessionError) as raised:
        Interview.from_dict(corrupt(_saved(knowledge)), knowledge)
    assert str(raised.value) == message


# --- defining questions -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_a_clinician_interview_does_not_end_on_a_cause_it_has_not_asked_to_define(
    knowledge: Knowledge, case
) -> None:
    """When the interview ends below its question limit, the leading cause is not one it could still define.

    A cause whose defining finding was never asked is weighed down by the assessment for the
    silence (causes.yaml ``undefined``); the interview asks that finding before it stops, so the
    leading cause, read with every finding still to ask at full weight, is defined, answered, or
    has no question left that could define it.
    """
    interview = _run(knowledge, case.findings, "clinician")
    settings_ = knowledge.questions.settings
    if sum(1 for a in interview.answers if a.phase == "diagnostic") >= settings_.max_diagnostic_questions:
        return
    candidates, open_ids = interview._candidates(interview.asked)
    predictor = knowledge.predictor
    state = predictor.state(interview.findings, open_ids)
    _, causes = predictor.marginals(predictor.log_joint(state))
    leader = int(np.argmax(causes))
    defining = predictor.defining_findings(leader)
    assert leader not in state.pending or not any(defining & set(q.findings) for q in candidates), (
        knowledge.model.causes[leader]
    )


@pytest.mark.parametrize("mode", ["self_check", "clinician"])
@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_the_interview_ends_at_least_as_urgent_as_everything_it_could_ask(
    knowledge: Knowledge, case, mode: Mode
) -> None:
    """Stopping early never leaves the triage below what every answer the person could give would demand.

    The case's findings that some question of this mode asks are assessed whole (rules, the
    causes' care and the unanswered floor); the interview, which asks only some of them,
    ends at that level or above (above where a "don't know" keeps a warning sign open).
    """
    askable = _askable(knowledge, mode)
    visible = {f: v for f, v in case.findings.items() if f in askable}
    everything = assess(Case(id=case.id, findings=visible), knowledge).triage
    assert _run(knowledge, visible, mode).assessment(case.id).triage >= everything
