"""A QuestionnaireResponse must respect the Questionnaire's enableWhen: a disabled item has no answer.

For every question of the bank with ``enable_when`` (rendered as the Questionnaire's enableWhen):
an answer to it while the question it depends on is answered otherwise is refused with an error
naming the item, what enables it and what arrived; with the enabling answer, or with the enabling
question left unanswered, it is read. The same holds for a response inside a record Bundle, and
a case that would need such a response is not written as one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import Question
from pinchpoint.core.vocabulary import FindingSpec
from pinchpoint.errors import FhirMappingError
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.questionnaire import bank_questions, build_questionnaire
from pinchpoint.io.fhir.record import read_bundle
from pinchpoint.io.fhir.response import case_to_response, response_to_case
from pinchpoint.io.knowledge.loader import load_knowledge

pytestmark = pytest.mark.core

_KNOWLEDGE = load_knowledge()
_DEPENDENT = [q for q in _KNOWLEDGE.questions if q.enable_when is not None]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return _KNOWLEDGE


def _a_value(spec: FindingSpec) -> FindingValue:
    """A valid value of a finding (the first allowed one)."""
    if spec.type == "bool":
        return True
    if spec.type == "enum":
        return spec.values[0]
    if spec.type == "regions":
        return ()
    return int(spec.minimum or 0)


def _other_value(spec: FindingSpec, value: FindingValue) -> FindingValue:
    """A valid value of a finding that is not ``value``."""
    if spec.type == "bool":
        return not value
    return next(v for v in spec.values if v != value)


def _response(knowledge: Knowledge, findings: dict[str, FindingValue]) -> dict[str, Any]:
    """The response a form that ignores enableWhen would send (written with the bank's questions)."""
    case = Case(id="ew", findings=findings)
    return to_json(case_to_response(case, knowledge, questions=bank_questions(knowledge)))


def _fhir(value: FindingValue) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def test_the_bank_has_dependent_questions_and_the_questionnaire_renders_them() -> None:
    """The test below is not vacuous: the bank has enable_when questions, shown as enableWhen."""
    assert _DEPENDENT
    document = to_json(build_questionnaire(_KNOWLEDGE))
    with_condition = [item["linkId"] for item in document["item"] if item.get("enableWhen")]
    assert with_condition == [q.finding for q in _DEPENDENT]


@pytest.mark.parametrize("question", _DEPENDENT, ids=lambda q: q.id)
def test_an_answer_to_a_disabled_item_is_refused_with_what_enables_it(
    knowledge: Knowledge, question: Question
) -> None:
    """Enabling question answered otherwise: an error naming the item, its enableWhen and the answer."""
    assert question.enable_when is not None
    specs = knowledge.vocabulary.findings
    enabling = knowledge.questions[question.enable_when.question].finding
    wanted = question.enable_when.answer
    other = _other_value(specs[enabling], wanted)
    answer = _a_value(specs[question.finding])
    document = _response(knowledge, {enabling: other, question.finding: answer})
    with pytest.raises(FhirMappingError) as caught:
        response_to_case(document, knowledge, origin="qr.json")
    error = caught.value
    assert error.problem == (
        f"item {question.finding!r} is answered, but its enableWhen disables it: it is asked only when"
        f" {enabling!r} is {_fhir(wanted)}"
    )
    assert error.location.startswith("qr.json: $.item[")
    assert error.expected == f"no answer to {question.finding!r} unless {enabling!r} = {_fhir(wanted)}"
    assert error.got == f"{enabling} = {_fhir(other)}"
    assert error.hint == f"remove the answer to {question.finding!r}, or correct the answer to {enabling!r}"
    # The path points at the disabled item itself.
    path = error.location.removeprefix("qr.json: ")
    node: Any = document
    for part in path.removeprefix("$.").split("."):
        name, _, index = part.partition("[")
        node = node[name][int(index[:-1])] if index else node[name]
    assert node["linkId"] == question.finding


@pytest.mark.parametrize("question", _DEPENDENT, ids=lambda q: q.id)
def test_an_answer_to_an_enabled_item_is_read(knowledge: Knowledge, question: Question) -> None:
    """With the enabling answer, or the enabling question unanswered, the answer is read as given."""
    assert question.enable_when is not None
    specs = knowledge.vocabulary.findings
    enabling = knowledge.questions[question.enable_when.question].finding
    answer = _a_value(specs[question.finding])
    chain = {}
    parent = knowledge.questions[question.enable_when.question].enable_when
    if parent is not None:  # the enabling question is itself enabled by another one
        chain[knowledge.questions[parent.question].finding] = parent.answer
    enabled = {**chain, enabling: question.enable_when.answer, question.finding: answer}
    assert response_to_case(_response(knowledge, enabled), knowledge).findings == enabled
    unanswered = {question.finding: answer}
    assert response_to_case(_response(knowledge, unanswered), knowledge).findings == unanswered


def test_a_response_in_a_record_bundle_is_checked_too(knowledge: Knowledge) -> None:
    """A man's intake response answering "pregnant" inside a Bundle: the same error, at its entry."""
    document = _response(knowledge, {"sex": "male", "pregnant": False})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": document}]}
    with pytest.raises(FhirMappingError) as caught:
        read_bundle(bundle, knowledge, today=dt.date(2025, 3, 1), origin="record.json")
    assert caught.value.location.startswith("record.json: $.entry[0].resource: $.item[")
    assert caught.value.got == "sex = male"


def test_a_case_that_needs_a_disabled_answer_is_not_written(knowledge: Knowledge) -> None:
    """case_to_response refuses to write what the Questionnaire would not accept."""
    with pytest.raises(FhirMappingError) as caught:
        case_to_response(Case(id="c", findings={"sex": "male", "pregnant": True}), knowledge)
    assert caught.value.location == "case c"
    assert caught.value.got == "sex = male"
