"""Tests of the question bank (questions.yaml) and of the scoring behind question selection."""

from __future__ import annotations

import copy
import math
from typing import cast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from pinchpoint.core.case import FindingValue
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.posterior import infer
from pinchpoint.core.questions import Question
from pinchpoint.core.screen import screen_for
from pinchpoint.errors import UnresolvedReferenceError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.io.knowledge.references import check_questions
from pinchpoint.knowledge import schema as s
from tests.corpus import PACKAGED_VOCABULARY, load_vocabulary
from tests.strategies import development_cases, findings

pytestmark = pytest.mark.core

_VOCABULARY = load_vocabulary(PACKAGED_VOCABULARY)
_TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _table(knowledge: Knowledge) -> s.QuestionsTable:
    return cast(s.QuestionsTable, knowledge.tables["questions"])


@pytest.mark.parametrize("finding", sorted(_VOCABULARY.findings))
def test_every_finding_is_asked_by_exactly_one_question(knowledge: Knowledge, finding: str) -> None:
    """Every vocabulary finding can be reached by one question, and by one only."""
    owners = [q.id for q in knowledge.questions.questions.values() if finding in q.findings]
    assert len(owners) == 1, owners


def test_every_question_has_wording_for_both_audiences(knowledge: Knowledge) -> None:
    """Each question, option and cell has patient and clinician wording, and a resolvable source."""
    for question in knowledge.questions.questions.values():
        assert question.wording.patient.strip(), question.id
        assert question.wording.clinician.strip(), question.id
        for part in (*question.options, *question.cells):
            assert part.wording.patient.strip(), question.id
            assert part.wording.clinician.strip(), question.id
        assert question.source in knowledge.sources, question.id


def test_examination_findings_need_an_examiner(knowledge: Knowledge) -> None:
    """Findings the vocabulary marks as examination (exam.*) are asked only in clinician mode."""
    for question in knowledge.questions.questions.values():
        examined = {f.startswith("exam.") for f in question.findings}
        assert examined == {question.needs_examiner}, question.id


def _broken(knowledge: Knowledge, change) -> s.QuestionsTable:
    data = copy.deepcopy(_table(knowledge).model_dump(by_alias=True))
    change(data)
    return s.QuestionsTable.model_validate(data)


def _question(data, question_id: str):
    return next(q for q in data["questions"] if q["id"] == question_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: _question(d, "smoker").update(sets=["smoking"]),
         "questions.yaml: smoker.sets: 'smoking' does not exist; expected a finding id or base id (got "
         "'smoking')"),
        (lambda d: d["questions"].remove(_question(d, "smoker")),
         "questions.yaml: questions: the table is incomplete; expected an entry for every vocabulary "
         "finding (got ['smoker'])"),
        (lambda d: _question(d, "attacks").update(sets=["smoker"]),
         "questions.yaml: smoker.sets: finding 'smoker' is set by two questions; expected each finding set "
         "by "
         "one question only (got 'attacks')"),
        (lambda d: _question(d, "smoker").update(kind="number"),
         "questions.yaml: smoker.sets: a number question sets one unsided finding of type int or number "
         "(got ['smoker'])"),
        (lambda d: _question(d, "trauma")["options"].pop("major"),
         "questions.yaml: trauma.options: the table is incomplete; expected an entry for every value of "
         "trauma (got ['major'])"),
        (lambda d: _question(d, "pregnant").update(enable_when={"question": "sex", "answer": "other"}),
         "questions.yaml: pregnant.enable_when.answer: enable_when names an answer the question cannot get; "
         "expected one of female, male (got 'other')"),
        (lambda d: _question(d, "smoker").update(group="lifestyle"),
         "questions.yaml: smoker.group: 'lifestyle' does not exist; expected a group of questions.yaml (got "
         "'lifestyle')"),
        (lambda d: d["labels"].pop("disclaimer"),
         "questions.yaml: labels: 'disclaimer' does not exist; expected every label the interfaces show "
         "(got 'disclaimer')"),
    ],
)  # fmt: skip
def test_broken_question_banks_are_refused(knowledge: Knowledge, change, message: str) -> None:
    """A question bank that names, misses or misuses a finding is refused with an exact message."""
    with pytest.raises(UnresolvedReferenceError) as raised:
        check_questions(_broken(knowledge, change), knowledge.vocabulary)
    assert str(raised.value) == message


# --- scoring: predicted answers and expected gains ---------------------------------------------------


def _bool_questions(knowledge: Knowledge) -> list[Question]:
    """The scored questions whose findings are all yes/no, so that every answer is enumerated."""
    findings = knowledge.vocabulary.findings
    return [
        question
        for question in knowledge.questions.questions.values()
        if knowledge.predictor.items(question) and all(findings[f].type == "bool" for f in question.findings)
    ]


@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_each_predicted_answer_gives_the_posterior_after_that_answer(knowledge: Knowledge, case) -> None:
    """The predictor's rows for a yes/no question are the posteriors of assessing with each answer.

    The predictor adds each answer's vectors to the evidence so far; an assessment reads the
    answer among the findings. Both must give one posterior per answer, the same ones. The
    predictor weighs an answer by its first vector only, so a finding the model weighs by two
    (neurogenic claudication: over the sites and over the causes) is predicted approximately
    and left out here.
    """
    predictor = knowledge.predictor
    lookup = knowledge.model.lookup
    for question in _bool_questions(knowledge):
        if len(question.findings) != 1:
            continue
        (finding,) = question.findings
        if any(len(lookup.get((finding, value), ())) > 1 for value in (True, False)):
            continue
        known = {f: v for f, v in case.findings.items() if f != finding}
        state = predictor.state(known)
        rows = predictor._log_joint_rows(state, predictor._enumerate(state, predictor.items(question)))
        predicted = np.exp(rows - rows.max(axis=1, keepdims=True))
        predicted /= predicted.sum(axis=1, keepdims=True)
        expected = [infer({**known, finding: value}, knowledge).pair_probability for value in (True, False)]
        assert predicted.shape[0] == 2, question.id
        for row in predicted:
            assert min(np.abs(row - one).max() for one in expected) < _TOLERANCE, question.id
        for one in expected:
            assert min(np.abs(row - one).max() for row in predicted) < _TOLERANCE, question.id


def test_a_cause_still_to_be_defined_keeps_its_full_weight(knowledge: Knowledge) -> None:
    """While a defining finding can still be asked, its cause is not weighed down for being undefined.

    With nothing known every cause of causes.yaml ``defining`` is undefined. Naming one cause's
    defining findings as still to ask lifts the undefined weight from exactly the causes those
    findings define (a finding may define several), by exactly that weight, and nothing else.
    """
    predictor = knowledge.predictor
    model = knowledge.model
    known: dict[str, FindingValue] = {}
    before = predictor.log_joint(predictor.state(known))
    undefined = set(model.undefined_causes(known))
    assert undefined == {one.cause for one in model.defining}
    for one in model.defining:
        unasked = predictor.defining_findings(one.cause)
        assert unasked, model.causes[one.cause]
        lifted = predictor.state(known, unasked)
        expected = {cause for cause in undefined if predictor.defining_findings(cause) & unasked}
        assert lifted.pending == expected, model.causes[one.cause]
        assert not lifted.undefined[sorted(expected)].any()
        shift = np.where(np.isin(model.pair_cause, sorted(expected)), -model.undefined_log_weight, 0.0)
        np.testing.assert_allclose(predictor.log_joint(lifted) - before, shift, atol=_TOLERANCE)


def test_a_cause_already_defined_is_never_pending(knowledge: Knowledge) -> None:
    """A cause whose defining finding is known present is weighed as before, whatever is still to ask."""
    predictor = knowledge.predictor
    for one in knowledge.model.defining:
        finding, value = sorted(one.positives, key=repr)[0]
        known = cast(dict[str, FindingValue], {finding: value})
        state = predictor.state(known, predictor.defining_findings(one.cause))
        assert one.cause not in state.pending, knowledge.model.causes[one.cause]


@given(known=findings())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_expected_gain_is_at_least_zero_and_at_most_the_uncertainty(
    known: dict[str, FindingValue],
) -> None:
    """An answer weighed by its chance cannot add uncertainty on average, nor remove more than there is.

    For yes/no questions none of whose findings is known yet, every answer is enumerated and
    weighed by its predicted chance, so the expected gain is the information the answer
    carries about the site and the cause: at least 0 and at most the entropy now. (A question
    already answered in part is not asked again.) A question that can supply a cause's defining
    finding is left out: its answer also lifts the weight the cause has for being undefined
    (causes.yaml ``undefined``), which is not a likelihood, so its gain may be below 0.
    """
    knowledge = load_knowledge()
    predictor = knowledge.predictor
    state = predictor.state(known)
    (entropy_now,), _ = predictor.uncertainty(predictor.log_joint(state)[None, :])
    settings_ = knowledge.questions.settings
    questions = [
        question
        for question in _bool_questions(knowledge)
        if all(item.defines is None for item in predictor.items(question))
        and not known.keys() & set(question.findings)
        # a grid with more joint answers than this is sampled, and a sample's mean may stray below 0
        and math.prod(item.outcomes for item in predictor.items(question)) <= settings_.max_enumerated_answers
    ]
    gains = predictor.expected_gains(
        state, questions, max_enumerated=settings_.max_enumerated_answers, samples=settings_.samples
    )
    assert gains.min(initial=0.0) >= -_TOLERANCE
    assert gains.max(initial=0.0) <= entropy_now + _TOLERANCE


@given(known=findings())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_screen_reads_rules_as_triage_does(known: dict[str, FindingValue]) -> None:
    """With nothing left to ask, a rule is true in the screen exactly when triage fires it."""
    knowledge = load_knowledge()
    screen = screen_for(knowledge)
    compiled = {rule.id: rule for rule in knowledge.triage.rules}
    for rule in screen.rules:
        assert screen.truth(rule, known, frozenset()) is compiled[rule.id].holds(known), rule.id


def test_gain_is_zero_for_a_question_the_model_cannot_use(knowledge: Knowledge) -> None:
    """A question whose findings carry no likelihoods (pain severity) is expected to teach nothing."""
    predictor = knowledge.predictor
    state = predictor.state({"age": 40, "sex": "male"})
    bank = knowledge.questions
    gains = predictor.expected_gains(
        state, [bank["pain_severity"], bank["numbness_regions"]], max_enumerated=256, samples=96
    )
    assert gains[0] == 0.0
    assert gains[1] > 0.0


@pytest.mark.parametrize(
    ("known", "question"),
    [
        ({"age": 34, "sex": "female", "pain_regions": ("low_back", "buttock.left")}, "pregnant"),
        ({"age": 60, "sex": "female", "pain_regions": ("low_back",), "onset_sudden": True}, "trauma"),
    ],
)
def test_predicted_answers_lift_an_undefined_cause_as_infer_does(
    knowledge: Knowledge, known: dict[str, FindingValue], question: str
) -> None:
    """Each predicted answer of a question that supplies a defining finding gives infer's posterior."""
    predictor = knowledge.predictor
    state = predictor.state(known)
    items = predictor.items(knowledge.questions[question])
    assert any(item.defines is not None for item in items)
    rows = predictor._log_joint_rows(state, predictor._enumerate(state, items))
    predicted = np.exp(rows - rows.max(axis=1, keepdims=True))
    predicted /= predicted.sum(axis=1, keepdims=True)
    finding = knowledge.questions[question].findings[0]
    values = knowledge.vocabulary.findings[finding].values or (True, False)
    expected = [infer({**known, finding: value}, knowledge).pair_probability for value in values]
    for row in predicted:
        assert min(np.abs(row - one).max() for one in expected) < _TOLERANCE
