"""Tests of the FHIR adapter: the intake Questionnaire, the QuestionnaireResponse round trip, results.

Every produced resource is validated by the ``fhir.resources`` R4B models (by building it through
them and again from its JSON) and its codes are checked against the required value sets.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir.resources.R4B.servicerequest import ServiceRequest

from pinchpoint import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import FhirMappingError, InvalidCaseError
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import check_codes, to_json, validate_resource
from pinchpoint.io.fhir.questionnaire import (
    NONE_CODE,
    EnableWhen,
    Question,
    build_questionnaire,
    question_for,
    vocabulary_questions,
)
from pinchpoint.io.fhir.response import case_to_response, response_to_case
from pinchpoint.io.fhir.results import (
    KNOWLEDGE_VERSION_EXTENSION,
    CarePlanItem,
    care_plan,
    care_plan_bundle,
    risk_assessment,
    triage_plan_items,
)
from pinchpoint.io.fhir.terminology import pinchpoint_system
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.contract import to_contract
from tests.corpus import shared_case_params

pytestmark = pytest.mark.core

_ITEM_TYPE = {"bool": "boolean", "int": "integer", "number": "decimal", "enum": "choice", "regions": "choice"}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


@pytest.fixture(scope="module")
def questionnaire(knowledge: Knowledge) -> dict[str, Any]:
    """The generated intake Questionnaire as JSON."""
    return to_json(build_questionnaire(knowledge))


def _revalidate(resource: Any, model: type[Any]) -> dict[str, Any]:
    """Validate a produced resource again from its own JSON, with its codes, and return the JSON."""
    document = json.loads(json.dumps(to_json(resource)))
    validate_resource(document, model, "test")
    check_codes(document, "test")
    return document


def _items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = []
    for item in items:
        flat += _items(item["item"]) if item["type"] == "group" else [item]
    return flat


# --- Questionnaire ------------------------------------------------------------------------------


def test_questionnaire_validates_and_asks_every_finding_once(knowledge, questionnaire):
    """The intake has one answerable item per vocabulary finding, with the finding id as linkId."""
    _revalidate(build_questionnaire(knowledge), Questionnaire)
    link_ids = [item["linkId"] for item in _items(questionnaire["item"])]
    assert sorted(link_ids) == sorted(knowledge.vocabulary.findings)
    assert questionnaire["version"] == knowledge.version


@pytest.mark.parametrize("finding_type", sorted(_ITEM_TYPE))
def test_item_type_follows_the_finding_type(knowledge, questionnaire, finding_type):
    """Every item's FHIR type is the one its finding type maps to; regions repeat, others do not."""
    items = {item["linkId"]: item for item in _items(questionnaire["item"])}
    specs = [spec for spec in knowledge.vocabulary.findings.values() if spec.type == finding_type]
    assert specs
    for spec in specs:
        item = items[spec.id]
        assert item["type"] == _ITEM_TYPE[finding_type]
        assert item.get("repeats", False) is (finding_type == "regions")


def test_region_items_offer_every_sided_region_and_an_exclusive_none(knowledge, questionnaire):
    """A region question offers each region id with its side, and 'none' marked exclusive."""
    item = next(i for i in _items(questionnaire["item"]) if i["linkId"] == "pain_regions")
    codes = [option["valueCoding"]["code"] for option in item["answerOption"]]
    assert sorted(codes[:-1]) == sorted(knowledge.vocabulary.region_ids)
    assert codes[-1] == NONE_CODE
    assert item["answerOption"][-1]["extension"][0]["valueBoolean"] is True


def test_ranges_become_min_and_max_extensions(questionnaire):
    """An int finding with a range carries minValue and maxValue as integers."""
    item = next(i for i in _items(questionnaire["item"]) if i["linkId"] == "pain_severity")
    bounds = {ext["url"].rsplit("/", 1)[1]: ext["valueInteger"] for ext in item["extension"]}
    assert bounds == {"minValue": 0, "maxValue": 10}


def test_sided_findings_are_grouped_under_their_base_in_the_vocabulary_source(knowledge):
    """In the vocabulary source the straight leg raise is a group 'exam.slr' with one item per side."""
    document = to_json(build_questionnaire(knowledge, vocabulary_questions(knowledge)))
    group = next(i for i in document["item"] if i["linkId"] == "exam.slr")
    assert group["type"] == "group"
    assert [child["linkId"] for child in group["item"]] == ["exam.slr.left", "exam.slr.right"]


def _all_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = []
    for item in items:
        flat += [item, *_all_items(item.get("item", []))]
    return flat


def test_the_questionnaire_follows_the_question_bank(knowledge, questionnaire):
    """Each bank question is one item in bank order, with its patient wording.

    Forms and grids are groups of their findings, in the bank's order, each cell worded and sided.
    """
    bank = knowledge.questions
    assert len(questionnaire["item"]) == len(bank.questions)
    for question, item in zip(bank, questionnaire["item"], strict=True):
        assert item["text"] == question.wording.patient
        if question.single:
            assert item["linkId"] == question.finding
            continue
        assert (item["linkId"], item["type"]) == (question.id, "group")
        assert [child["linkId"] for child in item["item"]] == list(question.findings)
        for cell, child in zip(question.cells, item["item"], strict=True):
            side = f" ({bank.label(cell.side, 'self_check')})" if cell.side else ""
            assert child["text"] == cell.wording.patient + side
    link_ids = [item["linkId"] for item in _all_items(questionnaire["item"])]
    assert len(link_ids) == len(set(link_ids))


def test_choice_items_offer_the_bank_options_in_patient_words(knowledge, questionnaire):
    """A choice question's options are its values with the patient wording."""
    items = {item["linkId"]: item for item in questionnaire["item"]}
    choices = [q for q in knowledge.questions if q.kind == "choice"]
    assert choices
    for question in choices:
        offered = [
            (o["valueCoding"]["code"], o["valueCoding"]["display"])
            for o in items[question.finding]["answerOption"]
        ]
        assert offered == [(o.value, o.wording.patient) for o in question.options]


def test_dependent_questions_have_enable_when_on_an_earlier_item(knowledge, questionnaire):
    """A question asked only after another's answer has an enableWhen on that item.

    The condition is typed as the item's answers are, and that item comes earlier in the form.
    """
    order = [item["linkId"] for item in _all_items(questionnaire["item"])]
    items = {item["linkId"]: item for item in _all_items(questionnaire["item"])}
    dependent = [q for q in knowledge.questions if q.enable_when is not None]
    assert dependent
    for question in dependent:
        item = items[question.finding if question.single else question.id]
        condition = question.enable_when
        (when,) = item["enableWhen"]
        target = items[when["question"]]
        assert order.index(when["question"]) < order.index(item["linkId"])
        assert when["operator"] == "="
        if isinstance(condition.answer, bool):
            assert (target["type"], when["answerBoolean"]) == ("boolean", condition.answer)
        else:
            assert target["type"] == "choice"
            assert when["answerCoding"]["code"] == condition.answer
            assert when["answerCoding"]["system"] in {
                o["valueCoding"]["system"] for o in target["answerOption"]
            }


def test_a_question_source_with_dependencies_renders_enable_when(knowledge):
    """Questions from another source (a question bank) render their enableWhen and behaviour."""
    vocabulary = knowledge.vocabulary
    pregnant = question_for(vocabulary.findings["pregnant"], vocabulary)
    weeks = question_for(vocabulary.findings["pregnancy_weeks"], vocabulary)
    sex = question_for(vocabulary.findings["sex"], vocabulary)
    conditions = (
        EnableWhen("pregnant", "=", True),
        EnableWhen("sex", "=", "female", answer_system=pinchpoint_system("sex")),
    )
    bank = (
        sex,
        pregnant,
        Question(**{**_fields(weeks), "enable_when": conditions, "enable_behavior": "all"}),
    )
    document = _revalidate(build_questionnaire(knowledge, bank), Questionnaire)
    item = document["item"][2]
    assert item["enableWhen"] == [
        {"question": "pregnant", "operator": "=", "answerBoolean": True},
        {
            "question": "sex",
            "operator": "=",
            "answerCoding": {"system": pinchpoint_system("sex"), "code": "female"},
        },
    ]
    assert item["enableBehavior"] == "all"


def _fields(question: Question) -> dict[str, Any]:
    return {name: getattr(question, name) for name in Question.__slots__}


def test_vocabulary_questions_cover_every_finding(knowledge):
    """The default question source asks every finding exactly once."""
    asked = [child.finding for q in vocabulary_questions(knowledge) for child in (q.items or (q,))]
    assert sorted(asked) == sorted(knowledge.vocabulary.findings)


# --- QuestionnaireResponse <-> case --------------------------------------------------------------


@pytest.mark.parametrize("path", shared_case_params())
def test_round_trip_keeps_findings_and_assessment(knowledge, path: Path):
    """A case -> QuestionnaireResponse -> case round trip gives the same findings and the same assessment."""
    case = read_case(path, knowledge.vocabulary)
    document = _revalidate(case_to_response(case, knowledge), QuestionnaireResponse)
    again = response_to_case(document, knowledge)
    assert dict(again.findings) == dict(case.findings)
    assert {k: type(v) for k, v in again.findings.items()} == {k: type(v) for k, v in case.findings.items()}
    assert to_contract(assess(again, knowledge)) == to_contract(assess(case, knowledge))


def _response(*items: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "status": status, "item": list(items)}


def test_empty_region_answer_round_trips_as_none(knowledge):
    """'Asked, none' (an empty region list) is the exclusive 'none' answer and reads back empty."""
    answer = {"valueCoding": {"system": pinchpoint_system("region"), "code": NONE_CODE}}
    case = response_to_case(_response({"linkId": "numbness_regions", "answer": [answer]}), knowledge)
    assert case.findings == {"numbness_regions": ()}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            _response(
                {
                    "linkId": "exam.slr",
                    "item": [{"linkId": "exam.slr.leftt", "answer": [{"valueBoolean": True}]}],
                }
            ),
            "QuestionnaireResponse: $.item[0].item[0].linkId: item 'exam.slr.leftt' is not a question of the "
            "intake; expected a finding id of the vocabulary (or a group of them) as linkId; did you mean "
            "exam.slr.left, exam.plantar.left, exam.crossed_slr.left?",
            id="unknown-link-id",
        ),
        pytest.param(
            _response({"linkId": "age", "answer": [{"valueDecimal": 40.5}]}),
            "QuestionnaireResponse: $.item[0].answer: finding 'age' is answered with the wrong type; "
            "expected valueInteger (a whole number from 0 to 120) (got 'valueDecimal')",
            id="wrong-type",
        ),
        pytest.param(
            _response({"linkId": "age", "answer": [{"valueInteger": 40}]}, status="stopped"),
            "QuestionnaireResponse: $.status: the QuestionnaireResponse cannot be assessed in this status; "
            "expected completed, amended or in-progress (got 'stopped')",
            id="stopped",
        ),
        pytest.param(
            _response({"linkId": "age", "answer": [{"valueInteger": 40}]}, status="done"),
            "QuestionnaireResponse: $.status: a code is not in its FHIR value set; expected one of amended, "
            "completed, entered-in-error, in-progress, stopped (got 'done')",
            id="status-not-a-code",
        ),
        pytest.param(
            _response({"linkId": "bmi", "answer": [{"valueDecimal": "heavy"}]}),
            "QuestionnaireResponse: $.item[0].answer[0].valueDecimal: the FHIR resource is not valid (1 "
            "error(s)); "
            "first: Value error, Decimal value string does not match spec regex.; expected a valid FHIR R4 "
            "QuestionnaireResponse (got 'heavy')",
            id="pydantic-error-has-json-path",
        ),
        pytest.param(
            {"resourceType": "Patient"},
            "QuestionnaireResponse: $.resourceType: the FHIR resource is of the wrong type; expected "
            "QuestionnaireResponse (got 'Patient')",
            id="wrong-resource",
        ),
    ],
)
def test_bad_responses_are_refused_with_the_json_path(knowledge, document, message):
    """A malformed response is refused with a message naming the JSON path and what was expected."""
    with pytest.raises(FhirMappingError) as error:
        response_to_case(document, knowledge)
    assert str(error.value) == message


def test_out_of_range_answer_is_a_case_error(knowledge):
    """An answer outside the vocabulary's range is refused as a case would be."""
    with pytest.raises(InvalidCaseError) as error:
        response_to_case(_response({"linkId": "pain_severity", "answer": [{"valueInteger": 11}]}), knowledge)
    assert str(error.value) == (
        "QuestionnaireResponse: $.item[0].answer: finding 'pain_severity' has a value it cannot take; "
        "expected a whole number from 0 to 10 (got 11)"
    )


# --- RiskAssessment, CarePlan ---------------------------------------------------------------------


@pytest.mark.parametrize("path", shared_case_params())
def test_risk_assessment_validates_and_carries_the_assessment(knowledge, path: Path):
    """The RiskAssessment validates, holds the triage, every site and cause, and the knowledge version."""
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    document = _revalidate(
        risk_assessment(assessment, knowledge, basis=["QuestionnaireResponse/x"]), RiskAssessment
    )
    triage, *ranked = document["prediction"]
    assert triage["qualitativeRisk"]["coding"][0]["code"] == assessment.triage.id
    contract = to_contract(assessment)
    assert [p["outcome"]["coding"][0]["code"] for p in ranked] == [
        item["id"] for item in (*contract["sites"], *contract["causes"])
    ]
    assert document["extension"] == [{"url": KNOWLEDGE_VERSION_EXTENSION, "valueString": knowledge.version}]
    assert any(knowledge.version in note["text"] for note in document["note"])


def test_coded_outcomes_carry_standard_codes(knowledge):
    """A site or cause with codes in terminology.yaml is coded in SNOMED CT or ICD-10 as well."""
    case = read_case(Path(__file__).parents[1] / "examples" / "cauda-equina.yaml", knowledge.vocabulary)
    document = to_json(risk_assessment(assess(case, knowledge), knowledge))
    outcome = next(
        p["outcome"]
        for p in document["prediction"][1:]
        if p["outcome"]["coding"][0]["code"] == "cauda_equina"
    )
    assert {
        "system": "http://snomed.info/sct",
        "code": "192970008",
        "display": "Cauda equina syndrome",
    } in outcome["coding"]


@pytest.mark.parametrize("level", list(Urgency))
def test_triage_becomes_a_care_plan(knowledge, level):
    """Each triage level gives a valid CarePlan; levels above self-care propose a ServiceRequest."""
    case = read_case(Path(__file__).parents[1] / "examples" / "l5-foot-drop.yaml", knowledge.vocabulary)
    assessment = replace(assess(case, knowledge), triage=level)
    plan, requests = care_plan(
        triage_plan_items(assessment, knowledge), knowledge, subject={"reference": "Patient/1"}
    )
    _revalidate(plan, CarePlan)
    for request in requests:
        document = _revalidate(request, ServiceRequest)
        assert document["intent"] == "proposal"
    _revalidate(care_plan_bundle(plan, requests), Bundle)
    assert len(requests) == (0 if level is Urgency.SELF_CARE else 1)
    if level is Urgency.EMERGENCY:
        assert to_json(requests[0])["priority"] == "stat"


def test_plan_items_advised_against_are_do_not_perform(knowledge):
    """A generic plan item advised against becomes an activity with doNotPerform, not a request."""
    items = (
        CarePlanItem("mri", "MRI of the lumbar spine", "not_recommended", "nice-ng59"),
        CarePlanItem("physio", "Exercise programme", "consider", "nice-ng59"),
    )
    plan, requests = care_plan(items, knowledge)
    document = _revalidate(plan, CarePlan)
    assert document["activity"][0]["detail"]["doNotPerform"] is True
    assert [to_json(r)["code"]["text"] for r in requests] == ["Consider: Exercise programme"]
    assert "NICE NG59" in to_json(requests[0])["note"][0]["text"]
