"""The intake as a FHIR R4 SDC ``Questionnaire``, generated from a list of questions.

Two steps, so that another source of questions can drive the same generator:

1. *Which questions exist*: :func:`bank_questions` (the default) takes them from the interview's
   question bank (``questions.yaml``): the patient wording as item text, a choice's options in
   their words, ``enableWhen`` where a question is asked only after another one's answer, and a
   ``group`` item per form or grid question with one item per finding (a sided finding says its
   side). :func:`vocabulary_questions` is the older source: one question per vocabulary finding,
   worded by the vocabulary's descriptions, grouped by base id.
2. :func:`build_questionnaire` renders any sequence of questions as a Questionnaire: answer types
   from the finding types (bool -> boolean, int -> integer, number -> decimal, enum -> choice,
   regions -> repeating choice of sided region codes with an exclusive "none"), ranges as the
   ``minValue``/``maxValue`` extensions, ``enableWhen`` where a question depends on another.

The ``linkId`` of every answerable item is the finding id, so a QuestionnaireResponse maps back to
a case without a look-up table (:mod:`pinchpoint.io.fhir.response`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from fhir.resources.R4B.questionnaire import Questionnaire

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import Mode
from pinchpoint.core.questions import Question as BankQuestion
from pinchpoint.core.vocabulary import FindingSpec, Vocabulary
from pinchpoint.io.fhir._boundary import validate_resource
from pinchpoint.io.fhir.terminology import CANONICAL_BASE, Terminology, coding, pinchpoint_system

__all__ = [
    "INTAKE_ID",
    "INTAKE_URL",
    "NONE_CODE",
    "AnswerOption",
    "EnableWhen",
    "Question",
    "bank_questions",
    "build_questionnaire",
    "question_for",
    "vocabulary_questions",
]

INTAKE_ID = "pinchpoint-intake"
INTAKE_URL = f"{CANONICAL_BASE}/Questionnaire/{INTAKE_ID}"
NONE_CODE = "none"
"""The answer code of a region question that means "asked, none" (an empty region list)."""

_MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
_MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
_OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
_SDC_PROFILE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
_ITEM_TYPES: dict[str, Literal["boolean", "integer", "decimal", "choice"]] = {
    "bool": "boolean",
    "int": "integer",
    "number": "decimal",
    "enum": "choice",
    "regions": "choice",
}

ItemType = Literal["group", "boolean", "integer", "decimal", "choice"]
Operator = Literal["exists", "=", "!=", ">", "<", ">=", "<="]


@dataclass(frozen=True, slots=True)
class AnswerOption:
    """One coded answer: a code of ``system`` and its display."""

    system: str
    code: str
    display: str
    exclusive: bool = False


@dataclass(frozen=True, slots=True)
class EnableWhen:
    """Show a question only when another question's answer meets a condition (SDC enableWhen)."""

    question: str
    operator: Operator
    answer: bool | int | float | str
    answer_system: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """One item of the intake: a question about one finding, or a group of questions.

    ``link_id`` is the finding id for a question and the base id for a group.
    """

    link_id: str
    text: str
    type: ItemType
    finding: str | None = None
    options: tuple[AnswerOption, ...] = ()
    repeats: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enable_when: tuple[EnableWhen, ...] = ()
    enable_behavior: Literal["all", "any"] = "any"
    codes: tuple[dict[str, Any], ...] = ()
    items: tuple[Question, ...] = ()


def vocabulary_questions(knowledge: Knowledge) -> tuple[Question, ...]:
    """Return the questions of the intake: one per vocabulary finding, grouped by base id.

    This is the single place that decides which questions exist; a question bank replaces it.
    """
    vocabulary = knowledge.vocabulary
    terminology = Terminology.of(knowledge)
    by_base: dict[str, list[FindingSpec]] = {}
    for spec in vocabulary.findings.values():
        by_base.setdefault(spec.base, []).append(spec)
    questions = []
    for base, specs in by_base.items():
        if len(specs) == 1 and specs[0].id == base:
            questions.append(question_for(specs[0], vocabulary, terminology))
            continue
        children = tuple(question_for(spec, vocabulary, terminology) for spec in specs)
        questions.append(Question(link_id=base, text=specs[0].description, type="group", items=children))
    return tuple(questions)


def bank_questions(knowledge: Knowledge, mode: Mode = "self_check") -> tuple[Question, ...]:
    """Return the questions of the intake from the question bank, in bank order, worded for ``mode``.

    Every finding of the vocabulary is set by exactly one question of the bank (a reference check),
    so the Questionnaire asks every finding once; an answerable item's ``linkId`` is its finding id,
    a form's or grid's group item has the question id.

    Args:
        knowledge: The knowledge base with its question bank.
        mode: ``"self_check"`` for the patient wording (the default), ``"clinician"`` for the
            clinician's.
    """
    vocabulary = knowledge.vocabulary
    terminology = Terminology.of(knowledge)
    bank = knowledge.questions
    questions = []
    for source in bank:
        text = source.wording.text(mode)
        enable_when = _bank_enable_when(source, knowledge)
        if source.single:
            base = question_for(vocabulary.findings[source.finding], vocabulary, terminology)
            questions.append(_from_bank(base, source, text, enable_when, mode=mode, knowledge=knowledge))
            continue
        children = tuple(
            _with_text(
                question_for(vocabulary.findings[cell.finding], vocabulary, terminology),
                _cell_text(cell.wording.text(mode), cell.side, mode, knowledge),
            )
            for cell in source.cells
        )
        questions.append(
            Question(link_id=source.id, text=text, type="group", items=children, enable_when=enable_when)
        )
    return tuple(questions)


def _from_bank(
    base: Question,
    source: BankQuestion,
    text: str,
    enable_when: tuple[EnableWhen, ...],
    *,
    mode: Mode,
    knowledge: Knowledge,
) -> Question:
    options = base.options
    if source.kind == "choice" and source.options:
        system = pinchpoint_system(knowledge.vocabulary.findings[source.finding].base)
        options = tuple(AnswerOption(system, o.value, o.wording.text(mode)) for o in source.options)
    if source.kind == "body_map":
        none = knowledge.questions.label("none_marked", mode)
        options = (*options[:-1], replace(options[-1], display=none))
    minimum = source.minimum if source.kind == "number" else base.minimum
    maximum = source.maximum if source.kind == "number" else base.maximum
    return replace(
        base, text=text, options=options, minimum=minimum, maximum=maximum, enable_when=enable_when
    )


def _with_text(question: Question, text: str) -> Question:
    return replace(question, text=text)


def _cell_text(text: str, side: str | None, mode: Mode, knowledge: Knowledge) -> str:
    if side is None:
        return text
    labels = knowledge.questions.labels
    label = labels[side].text(mode) if side in labels else side
    return f"{text} ({label})"


def _bank_enable_when(source: BankQuestion, knowledge: Knowledge) -> tuple[EnableWhen, ...]:
    """The bank's ``enable_when`` as an SDC enableWhen on the finding item of the question it names."""
    condition = source.enable_when
    if condition is None:
        return ()
    finding = knowledge.questions[condition.question].finding
    spec = knowledge.vocabulary.findings[finding]
    system = pinchpoint_system(spec.base) if isinstance(condition.answer, str) else None
    return (EnableWhen(finding, "=", condition.answer, answer_system=system),)


def question_for(
    spec: FindingSpec, vocabulary: Vocabulary, terminology: Terminology | None = None
) -> Question:
    """Return the question that asks for one finding, typed and constrained by its spec.

    Args:
        spec: The finding's vocabulary spec.
        vocabulary: The vocabulary (region and movement descriptions).
        terminology: Codes to attach to the item (``Questionnaire.item.code``), if any.
    """
    codes: tuple[dict[str, Any], ...] = ()
    if terminology is not None:
        codes = tuple(
            coding(system, row.code, row.display)
            for (system, _), row in terminology.conditions.items()
            if row.finding == spec.id and row.value is True
        )
    options: tuple[AnswerOption, ...] = ()
    if spec.type == "enum":
        system = pinchpoint_system(spec.base)
        options = tuple(AnswerOption(system, value, value.replace("_", " ")) for value in spec.values)
    elif spec.type == "regions":
        options = _region_options(vocabulary)
    return Question(
        link_id=spec.id,
        text=_text(spec, vocabulary),
        type=_ITEM_TYPES[spec.type],
        finding=spec.id,
        options=options,
        repeats=spec.type == "regions",
        minimum=spec.minimum,
        maximum=spec.maximum,
        codes=codes,
    )


def _text(spec: FindingSpec, vocabulary: Vocabulary) -> str:
    parts = [spec.description]
    if spec.item is not None:
        parts.append(vocabulary.movements.get(spec.item) or vocabulary.reflexes.get(spec.item) or spec.item)
    if spec.side is not None:
        parts.append(spec.side)
    return ", ".join(parts)


def _region_options(vocabulary: Vocabulary) -> tuple[AnswerOption, ...]:
    system = pinchpoint_system("region")
    options = [
        AnswerOption(system, region_id, _region_display(vocabulary.regions[name].description, side))
        for name in vocabulary.regions
        for region_id, side in _sided(name, vocabulary)
    ]
    return (*options, AnswerOption(system, NONE_CODE, NONE_CODE, exclusive=True))


def _region_display(description: str, side: str | None) -> str:
    return f"{description} ({side})" if side else description


def _sided(name: str, vocabulary: Vocabulary) -> list[tuple[str, str | None]]:
    if vocabulary.regions[name].midline:
        return [(name, None)]
    return [(f"{name}.{side}", side) for side in vocabulary.sides]


def build_questionnaire(knowledge: Knowledge, questions: Sequence[Question] | None = None) -> Questionnaire:
    """Render questions as a FHIR R4 SDC Questionnaire, validated, stamped with the knowledge version.

    Args:
        knowledge: The knowledge base (its version becomes ``Questionnaire.version``).
        questions: The questions; :func:`bank_questions` (patient wording) when omitted.

    Raises:
        FhirMappingError: A question renders to an invalid item (a bug in the question source).
    """
    items = questions if questions is not None else bank_questions(knowledge)
    document = {
        "resourceType": "Questionnaire",
        "id": INTAKE_ID,
        "meta": {"profile": [_SDC_PROFILE]},
        "url": INTAKE_URL,
        "version": knowledge.version,
        "name": "PinchpointIntake",
        "title": "pinchpoint intake",
        "status": "active",
        "subjectType": ["Patient"],
        "item": [_item(question) for question in items],
    }
    return validate_resource(document, Questionnaire, "generated Questionnaire")


def _item(question: Question) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": question.link_id, "text": question.text, "type": question.type}
    if question.codes:
        item["code"] = list(question.codes)
    if question.repeats:
        item["repeats"] = True
    if question.options:
        item["answerOption"] = [_option(option) for option in question.options]
    extensions = []
    value_key = "valueInteger" if question.type == "integer" else "valueDecimal"
    for url, bound in ((_MIN_VALUE, question.minimum), (_MAX_VALUE, question.maximum)):
        if bound is not None and question.type in ("integer", "decimal"):
            extensions.append({"url": url, value_key: int(bound) if question.type == "integer" else bound})
    if extensions:
        item["extension"] = extensions
    if question.enable_when:
        item["enableWhen"] = [_enable_when(condition) for condition in question.enable_when]
        if len(question.enable_when) > 1:
            item["enableBehavior"] = question.enable_behavior
    if question.items:
        item["item"] = [_item(child) for child in question.items]
    return item


def _option(option: AnswerOption) -> dict[str, Any]:
    value: dict[str, Any] = {"valueCoding": coding(option.system, option.code, option.display)}
    if option.exclusive:
        value["extension"] = [{"url": _OPTION_EXCLUSIVE, "valueBoolean": True}]
    return value


def _enable_when(condition: EnableWhen) -> dict[str, Any]:
    value: dict[str, Any] = {"question": condition.question, "operator": condition.operator}
    answer = condition.answer
    if condition.operator == "exists":
        value["answerBoolean"] = bool(answer)
    elif isinstance(answer, bool):
        value["answerBoolean"] = answer
    elif isinstance(answer, int):
        value["answerInteger"] = answer
    elif isinstance(answer, float):
        value["answerDecimal"] = answer
    elif condition.answer_system is not None:
        value["answerCoding"] = coding(condition.answer_system, answer)
    else:
        value["answerString"] = answer
    return value
