"""Cases as FHIR ``QuestionnaireResponse`` resources of the intake, and back.

:func:`case_to_response` writes every known finding of a case as an answered item whose
``linkId`` is the finding id (grouped as the Questionnaire groups them); :func:`response_to_case`
reads such a response back and checks every answer against the vocabulary exactly as a case file
is checked. An item without an answer is an unknown finding; an empty region list is the
exclusive ``none`` answer. The round trip case -> response -> case gives the same findings, and
therefore the same assessment.

The Questionnaire's ``enableWhen`` (the question bank's ``enable_when``: "pregnant" only for
``sex = female``) is enforced when the bank is given. FHIR defines an item with ``enableWhen`` as
enabled, that is allowed to capture answers, only while its condition holds, so an answer to an
item that the other answers disable is not a conformant response. It is refused with an error
that names the item, the answer that enables it and the answer that arrived, rather than
ignored: dropping an answer silently could drop a finding that matters for safety (pregnancy
rules out ionising imaging). An item whose enabling question is not answered at all is read: the
answer is consistent with every answer given, and the enabling finding stays unknown.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from pinchpoint.core.case import Case, FindingValue, check_value
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import QuestionBank
from pinchpoint.core.vocabulary import FindingSpec, Vocabulary
from pinchpoint.errors import FhirMappingError
from pinchpoint.io.fhir._boundary import validate_resource
from pinchpoint.io.fhir.questionnaire import INTAKE_URL, NONE_CODE, Question, bank_questions
from pinchpoint.io.fhir.terminology import pinchpoint_system

__all__ = ["case_to_response", "check_enabled", "findings_of_response", "response_to_case"]

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_CASE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_READABLE_STATUS = frozenset({"completed", "amended", "in-progress"})


def case_to_response(
    case: Case,
    knowledge: Knowledge,
    *,
    questions: Sequence[Question] | None = None,
    subject: Mapping[str, Any] | None = None,
) -> QuestionnaireResponse:
    """Write a case as a completed QuestionnaireResponse to the intake Questionnaire.

    Args:
        case: The case; its id becomes the resource id.
        knowledge: The knowledge base (vocabulary and version).
        questions: The questions of the Questionnaire answered; the question bank's if omitted.
        subject: A FHIR Reference to the patient, as JSON, if known.

    Raises:
        FhirMappingError: A finding is not asked by any question (a question source that does
            not cover the case), or the case answers a question that the Questionnaire's
            enableWhen disables given its other findings (``pregnant`` with ``sex: male``):
            such a response would not conform to the Questionnaire.
    """
    vocabulary = knowledge.vocabulary
    if questions is None:
        check_enabled(case.findings, knowledge.questions, origin=f"case {case.id}")
    source = questions if questions is not None else bank_questions(knowledge)
    items = [item for question in source if (item := _answered(question, case.findings, vocabulary))]
    asked = {q.finding for q in _flatten(source)}
    missing = sorted(set(case.findings) - asked)
    if missing:
        raise FhirMappingError(
            "the Questionnaire does not ask for some findings of the case",
            location=f"case {case.id}",
            expected="a question for every finding",
            got=missing,
        )
    document: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{INTAKE_URL}|{knowledge.version}",
        "status": "completed",
        "item": items,
    }
    if _FHIR_ID.match(case.id):
        document["id"] = case.id
    if subject is not None:
        document["subject"] = dict(subject)
    return validate_resource(document, QuestionnaireResponse, f"QuestionnaireResponse of case {case.id}")


def _flatten(questions: Sequence[Question]) -> list[Question]:
    flat: list[Question] = []
    for question in questions:
        flat.extend([question] if question.finding else _flatten(question.items))
    return flat


def _answered(
    question: Question, findings: Mapping[str, FindingValue], vocabulary: Vocabulary
) -> dict[str, Any]:
    if question.finding is None:
        children = [item for child in question.items if (item := _answered(child, findings, vocabulary))]
        return {"linkId": question.link_id, "item": children} if children else {}
    if question.finding not in findings:
        return {}
    spec = vocabulary.findings[question.finding]
    return {"linkId": question.link_id, "answer": _answers(spec, findings[question.finding])}


def _answers(spec: FindingSpec, value: FindingValue) -> list[dict[str, Any]]:
    if spec.type == "regions":
        regions = value if isinstance(value, tuple) else ()
        codes = list(regions) or [NONE_CODE]
        return [{"valueCoding": {"system": pinchpoint_system("region"), "code": code}} for code in codes]
    if spec.type == "enum":
        return [{"valueCoding": {"system": pinchpoint_system(spec.base), "code": str(value)}}]
    if spec.type == "bool":
        return [{"valueBoolean": value}]
    if spec.type == "int":
        return [{"valueInteger": value}]
    return [{"valueDecimal": value}]


def response_to_case(
    response: QuestionnaireResponse | Mapping[str, Any],
    knowledge: Knowledge,
    *,
    origin: str = "QuestionnaireResponse",
    default_id: str = "case",
) -> Case:
    """Read a QuestionnaireResponse of the intake as a checked case.

    Args:
        response: The resource, as a model or as parsed JSON.
        knowledge: The knowledge base whose vocabulary checks the answers.
        origin: Where the response came from, named in every error message.
        default_id: The case id when the resource has no usable id.

    Raises:
        FhirMappingError: The resource is invalid, not completed, names an item that is not a
            finding or group, answers with a type the finding does not take, or answers an item
            that its enableWhen disables given the other answers.
        InvalidCaseError: An answer is out of range or names a region that does not exist.
    """
    resource = validate_resource(response, QuestionnaireResponse, origin)
    if resource.status not in _READABLE_STATUS:
        raise FhirMappingError(
            "the QuestionnaireResponse cannot be assessed in this status",
            location=f"{origin}: $.status",
            expected="completed, amended or in-progress",
            got=resource.status,
        )
    findings = findings_of_response(
        resource,
        knowledge.vocabulary,
        origin=origin,
        groups=knowledge.questions.questions.keys(),
        bank=knowledge.questions,
    )
    case_id = resource.id if resource.id and _CASE_ID.match(resource.id) else default_id
    return Case(id=case_id, findings=findings)


def findings_of_response(
    resource: QuestionnaireResponse,
    vocabulary: Vocabulary,
    *,
    origin: str,
    groups: Collection[str] = (),
    bank: QuestionBank | None = None,
) -> Mapping[str, FindingValue]:
    """Return the checked findings answered in a validated QuestionnaireResponse.

    A group item's ``linkId`` is a base id of the vocabulary (``exam.slr``) or one of ``groups``
    (the question bank's ids, whose forms and grids are groups). With ``bank``, the enableWhen
    of its questions is enforced (see the module's notes).

    Raises:
        FhirMappingError: An item is neither a finding nor a group, an answer has the wrong type,
            or an item is answered that its enableWhen disables given the other answers.
        InvalidCaseError: An answer is out of range or names a region that does not exist.
    """
    findings: dict[str, FindingValue] = {}
    paths: dict[str, str] = {}
    group_ids = {spec.base for spec in vocabulary.findings.values()} | set(groups)
    stack: list[tuple[str, Any]] = [(f"$.item[{i}]", item) for i, item in enumerate(resource.item or [])]
    while stack:
        path, item = stack.pop(0)
        spec = vocabulary.findings.get(item.linkId)
        if spec is None and item.linkId not in group_ids:
            raise FhirMappingError(
                f"item {item.linkId!r} is not a question of the intake",
                location=f"{origin}: {path}.linkId",
                expected="a finding id of the vocabulary (or a group of them) as linkId",
                hint=vocabulary._finding_hint(item.linkId),
            )
        stack[0:0] = [(f"{path}.item[{i}]", child) for i, child in enumerate(item.item or [])]
        if spec is None or not item.answer:
            continue
        if spec.id in findings:
            raise FhirMappingError(
                f"finding {spec.id!r} is answered twice",
                location=f"{origin}: {path}",
                expected="each finding answered by one item",
            )
        value = _value(spec, item.answer, f"{origin}: {path}.answer")
        findings[spec.id] = check_value(spec, value, vocabulary, location=f"{origin}: {path}.answer")
        paths[spec.id] = path
    if bank is not None:
        check_enabled(findings, bank, origin=origin, paths=paths)
    return findings


def check_enabled(
    findings: Mapping[str, FindingValue],
    bank: QuestionBank,
    *,
    origin: str,
    paths: Mapping[str, str] | None = None,
) -> None:
    """Refuse an answer to a question whose enableWhen the other answers make false.

    Args:
        findings: The findings answered, by finding id (the items' linkIds).
        bank: The question bank whose ``enable_when`` the Questionnaire's enableWhen renders.
        origin: Where the answers came from, named in the error.
        paths: The JSON path of each finding's item, to point at it.

    Raises:
        FhirMappingError: A finding of a question is answered while the question it depends on
            is answered with another value than the one that enables it.
    """
    for question in bank:
        condition = question.enable_when
        if condition is None:
            continue
        answered = [finding for finding in question.findings if finding in findings]
        enabling = bank[condition.question].finding
        if not answered or enabling not in findings:
            continue
        value = findings[enabling]
        if value == condition.answer and type(value) is type(condition.answer):
            continue
        link_id = answered[0]
        path = (paths or {}).get(link_id)
        raise FhirMappingError(
            f"item {link_id!r} is answered, but its enableWhen disables it: it is asked only when"
            f" {enabling!r} is {_fhir_value(condition.answer)}",
            location=f"{origin}: {path}" if path else origin,
            expected=f"no answer to {link_id!r} unless {enabling!r} = {_fhir_value(condition.answer)}",
            got=f"{enabling} = {_fhir_value(value)}",
            hint=f"remove the answer to {link_id!r}, or correct the answer to {enabling!r}",
        )


def _fhir_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _value(spec: FindingSpec, answers: list[Any], location: str) -> object:
    if spec.type == "regions":
        codes = [_code(spec, answer, pinchpoint_system("region"), location) for answer in answers]
        if NONE_CODE in codes and len(codes) > 1:
            raise FhirMappingError(
                "'none' is answered together with regions",
                location=location,
                expected="either 'none' alone or a list of regions",
                got=codes,
            )
        return [] if codes == [NONE_CODE] else codes
    if len(answers) != 1:
        raise FhirMappingError(
            "a single-valued finding has several answers",
            location=location,
            expected="one answer",
            got=len(answers),
        )
    answer = answers[0]
    if spec.type == "enum":
        return _code(spec, answer, pinchpoint_system(spec.base), location)
    wanted = {"bool": ("valueBoolean",), "int": ("valueInteger",), "number": ("valueDecimal", "valueInteger")}
    for key in wanted[spec.type]:
        value = getattr(answer, key, None)
        if value is not None:
            return _plain_number(value)
    raise FhirMappingError(
        f"finding {spec.id!r} is answered with the wrong type",
        location=location,
        expected=" or ".join(wanted[spec.type]) + f" ({spec.describe_expected()})",
        got=_answer_keys(answer),
    )


def _code(spec: FindingSpec, answer: Any, system: str, location: str) -> str:
    value = answer.valueCoding
    if value is None or value.system != system or not value.code:
        raise FhirMappingError(
            f"finding {spec.id!r} is answered with the wrong type or code system",
            location=location,
            expected=f"valueCoding with system {system}",
            got=_answer_keys(answer) if value is None else value.system,
        )
    return str(value.code)


def _answer_keys(answer: Any) -> str:
    dumped = answer.model_dump(exclude_none=True)
    return ", ".join(key for key in dumped if key.startswith("value")) or "no value"


def _plain_number(value: object) -> object:
    # FHIR decimals keep their written precision: "27" reads back as the int 27 and "27.0" as the
    # float 27.0, so a case's numbers survive the round trip unchanged.
    if isinstance(value, Decimal):
        if not value.is_finite():
            return value
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    return value
