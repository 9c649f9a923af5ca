"""Tests of the question bank (questions.yaml) and of the scoring behind question selection."""

from __future__ import annotations

import copy
from typing import cast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from pinchpoint.core.case import FindingValue
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.posterior import infer
from pinchpoint.core.screen import screen_for
from pinchpoint.core.selection import predictor_for
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


# --- scoring agrees with the reasoning core ----------------------------------------------------------


def _agrees(knowledge: Knowledge, known: dict[str, FindingValue]) -> None:
    predictor = predictor_for(knowledge)
    log_joint = predictor.log_joint(predictor.state(known))
    posterior = np.exp(log_joint - log_joint.max())
    posterior /= posterior.sum()
    assert np.abs(posterior - infer(known, knowledge).pair_probability).max() < _TOLERANCE


@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_incremental_posterior_equals_infer_on_cases(knowledge: Knowledge, case) -> None:
    """The selection's evidence sums give exactly the posterior of pinchpoint.core.posterior.infer."""
    _agrees(knowledge, dict(case.findings))


@given(known=findings())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_incremental_posterior_equals_infer(known: dict[str, FindingValue]) -> None:
    """On generated findings too, the selection and the core read the evidence alike."""
    _agrees(load_knowledge(), known)


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
    predictor = predictor_for(knowledge)
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
    predictor = predictor_for(knowledge)
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
