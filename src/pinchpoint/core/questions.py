"""The question bank: what the interview can ask, how each question is answered, and its wording.

``questions.yaml`` lists the questions; this module compiles them against the vocabulary into
frozen :class:`Question` objects and checks answers. A question sets one or more findings:

* ``yes_no``, ``choice``, ``number`` and ``body_map`` questions set one finding, and their
  answer is one value (``None`` for "don't know");
* ``form`` questions set several findings without a side, and ``grid`` questions set sided
  findings (one cell per item and side); their answer maps finding ids to values, and a
  finding left out or mapped to ``None`` is "don't know".

:meth:`Question.normalise` turns an answer into finding values, or raises
:class:`~pinchpoint.errors.InvalidAnswerError` saying what the question expects. Nothing
here reads files; the wording is data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

from pinchpoint.core.case import FindingValue, check_value
from pinchpoint.core.vocabulary import FindingSpec, FindingType, Vocabulary
from pinchpoint.errors import InvalidAnswerError, InvalidCaseError
from pinchpoint.knowledge import schema as s

__all__ = [
    "MODES",
    "REQUIRED_LABELS",
    "AnswerKind",
    "Cell",
    "EnableWhen",
    "Mode",
    "Option",
    "Question",
    "QuestionBank",
    "Settings",
    "Wording",
    "compile_questions",
    "expand_sets",
]

Mode = Literal["self_check", "clinician"]
"""Who answers: the person themself (no examination findings) or a clinician who examines."""

MODES: tuple[Mode, ...] = ("self_check", "clinician")

AnswerKind = Literal["yes_no", "choice", "number", "body_map", "form", "grid"]

SINGLE_KINDS: frozenset[str] = frozenset({"yes_no", "choice", "number", "body_map"})

REQUIRED_LABELS: tuple[str, ...] = (
    "yes",
    "no",
    "dont_know",
    "none_marked",
    "left",
    "right",
    "progress",
    "screening",
    "narrowing",
    "unknown_red_flag",
    "not_examined",
    "summary",
    "triage_heading",
    "sites_heading",
    "causes_heading",
    "warnings_heading",
    "saved",
    "disclaimer",
    "emergency_advice",
)
"""Label ids the interfaces need from ``questions.yaml`` (their wording is data)."""

FindingValues = Mapping[str, FindingValue | None]
"""Finding ids mapped to values; ``None`` is "don't know"."""


@dataclass(frozen=True, slots=True)
class Wording:
    """The words shown to a person (``patient``) and to a clinician."""

    patient: str
    clinician: str

    def text(self, mode: Mode) -> str:
        """Return the wording for ``mode``: patient wording in self-check, clinician wording otherwise."""
        return self.patient if mode == "self_check" else self.clinician


@dataclass(frozen=True, slots=True)
class Option:
    """One answer of a ``choice`` question: the finding value it sets and its wording."""

    value: str
    wording: Wording


@dataclass(frozen=True, slots=True)
class Cell:
    """One finding of a form or grid: its row (item), side, type and allowed values."""

    finding: str
    row: str
    side: str | None
    type: FindingType
    wording: Wording
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EnableWhen:
    """The question is asked only once ``question`` was answered with ``answer``."""

    question: str
    answer: bool | str


@dataclass(frozen=True, slots=True)
class Question:
    """One question of the bank.

    ``findings`` are the concrete finding ids it sets, in order; ``cells`` describe them
    for forms and grids (one cell per finding); ``options`` the answers of a choice;
    ``minimum`` and ``maximum`` the range of a number.
    """

    id: str
    kind: AnswerKind
    group: str
    wording: Wording
    findings: tuple[str, ...]
    needs_examiner: bool = False
    cells: tuple[Cell, ...] = ()
    options: tuple[Option, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    number_type: FindingType | None = None
    enable_when: EnableWhen | None = None
    source: str = ""

    @property
    def finding(self) -> str:
        """The one finding of a single-finding question (the first one of a form or grid)."""
        return self.findings[0]

    @property
    def single(self) -> bool:
        """Whether the answer is one value (yes/no, choice, number, body map) rather than a mapping."""
        return self.kind in SINGLE_KINDS

    def asked_in(self, mode: Mode) -> bool:
        """Whether the question is asked in ``mode`` (examination questions need a clinician)."""
        return mode == "clinician" or not self.needs_examiner

    def normalise(self, value: object, vocabulary: Vocabulary) -> FindingValues:
        """Check an answer and return the finding values it sets (``None``: don't know).

        A single-finding question takes one value, or ``None`` for "don't know". A form or
        grid takes a mapping of its finding ids to values (a finding left out, or mapped
        to ``None``, is not known), or ``None`` for "don't know" to all of it.

        Raises:
            InvalidAnswerError: The value has the wrong type or range, names a finding the
                question does not set, or is not one of a choice's options.
        """
        if value is None:
            return MappingProxyType(dict.fromkeys(self.findings))
        if self.single:
            return MappingProxyType({self.finding: self._single(value, vocabulary)})
        if not isinstance(value, Mapping):
            raise InvalidAnswerError(
                "the answer is not a mapping of findings to values",
                location=f"answer to question {self.id!r}",
                expected="finding ids of this question mapped to values or null, e.g. "
                + _example(self.cells[0]),
                got=value,
            )
        cells = {cell.finding: cell for cell in self.cells}
        checked: dict[str, FindingValue | None] = dict.fromkeys(self.findings)
        for key, item in value.items():
            cell = cells.get(key) if isinstance(key, str) else None
            if cell is None:
                raise InvalidAnswerError(
                    "the answer names a finding this question does not ask about",
                    location=f"answer to question {self.id!r}",
                    expected="one of " + ", ".join(self.findings),
                    got=key,
                )
            if item is not None:
                checked[key] = self._check(vocabulary.findings[key], item, f"{self.id}.{key}", vocabulary)
        return MappingProxyType(checked)

    def _single(self, value: object, vocabulary: Vocabulary) -> FindingValue:
        spec = vocabulary.findings[self.finding]
        if self.kind == "number":
            spec = replace(spec, minimum=self.minimum, maximum=self.maximum)
        return self._check(spec, value, self.id, vocabulary)

    def _check(self, spec: FindingSpec, value: object, where: str, vocabulary: Vocabulary) -> FindingValue:
        try:
            return check_value(spec, value, vocabulary, location=where)
        except InvalidCaseError as exc:
            raise InvalidAnswerError(
                "the answer does not fit the question",
                location=f"answer to question {where!r}",
                expected=exc.expected + " (or null for don't know)",
                got=value,
            ) from None


def _example(cell: Cell) -> str:
    sample: object = {"bool": True, "enum": cell.values[0] if cell.values else "", "int": 5}.get(
        cell.type, 1.0
    )
    return "{" + repr(cell.finding) + ": " + repr(sample) + "}"


@dataclass(frozen=True, slots=True)
class Settings:
    """When the interview may stop and how it scores answers (``selection`` in questions.yaml)."""

    min_gain: float
    settled_probability: float
    max_diagnostic_questions: int
    max_enumerated_answers: int
    samples: int


@dataclass(frozen=True)
class QuestionBank:
    """Every question by id, in bank order, with the interview's settings and interface wording."""

    questions: Mapping[str, Question]
    by_finding: Mapping[str, str]
    intake: tuple[str, ...]
    settings: Settings
    labels: Mapping[str, Wording]
    groups: Mapping[str, Wording]
    modes: Mapping[str, Wording]

    def __getitem__(self, question_id: str) -> Question:
        return self.questions[question_id]

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions.values())

    def label(self, label_id: str, mode: Mode) -> str:
        """Return the wording of an interface label for ``mode``."""
        return self.labels[label_id].text(mode)


def expand_sets(names: Iterable[str], vocabulary: Vocabulary) -> tuple[str, ...]:
    """Return the concrete finding ids that a question's ``sets`` names, in vocabulary order.

    A name is a concrete id (``worsening``) or a base id (``exam.power``, ``foot_drop``)
    standing for every item and side of it. Unknown names expand to nothing (the
    reference checks report them).
    """
    found: list[str] = []
    for name in names:
        if name in vocabulary.findings and vocabulary.findings[name].base == name:
            found.extend(spec.id for spec in vocabulary.findings.values() if spec.base == name)
        elif name in vocabulary.findings:
            found.append(name)
        else:
            found.extend(spec.id for spec in vocabulary.findings.values() if spec.base == name)
    return tuple(dict.fromkeys(found))


def compile_questions(table: s.QuestionsTable, vocabulary: Vocabulary) -> QuestionBank:
    """Compile the validated, cross-checked question table into a :class:`QuestionBank`."""
    questions: dict[str, Question] = {}
    by_finding: dict[str, str] = {}
    for row in table.questions:
        question = _compile(row, vocabulary)
        questions[question.id] = question
        for finding in question.findings:
            by_finding.setdefault(finding, question.id)
    selection = table.selection
    return QuestionBank(
        questions=MappingProxyType(questions),
        by_finding=MappingProxyType(by_finding),
        intake=tuple(q.id for q in questions.values() if q.group == "intake"),
        settings=Settings(
            min_gain=selection.min_gain,
            settled_probability=selection.settled_probability,
            max_diagnostic_questions=selection.max_diagnostic_questions,
            max_enumerated_answers=selection.max_enumerated_answers,
            samples=selection.samples,
        ),
        labels=MappingProxyType({k: Wording(v.patient, v.clinician) for k, v in table.labels.items()}),
        groups=MappingProxyType({k: Wording(v.patient, v.clinician) for k, v in table.groups.items()}),
        modes=MappingProxyType({k: Wording(v.patient, v.clinician) for k, v in table.modes.items()}),
    )


def _compile(row: s.QuestionRow, vocabulary: Vocabulary) -> Question:
    findings = expand_sets(row.sets, vocabulary)
    kind: AnswerKind = row.kind
    cells: tuple[Cell, ...] = ()
    if kind in {"form", "grid"}:
        cells = tuple(_cell(vocabulary.findings[f], row, vocabulary) for f in findings)
    spec = vocabulary.findings[findings[0]]
    minimum = row.min if row.min is not None else spec.minimum
    maximum = row.max if row.max is not None else spec.maximum
    return Question(
        id=row.id,
        kind=kind,
        group=row.group,
        wording=Wording(row.patient, row.clinician),
        findings=findings,
        needs_examiner=row.needs_examiner,
        cells=cells,
        options=tuple(Option(value, Wording(w.patient, w.clinician)) for value, w in row.options.items()),
        minimum=minimum if kind == "number" else None,
        maximum=maximum if kind == "number" else None,
        number_type=spec.type if kind == "number" else None,
        enable_when=(
            EnableWhen(row.enable_when.question, row.enable_when.answer) if row.enable_when else None
        ),
        source=row.source,
    )


def _cell(spec: FindingSpec, row: s.QuestionRow, vocabulary: Vocabulary) -> Cell:
    item_key = f"{spec.base}.{spec.item}" if spec.item else spec.base
    wording = row.items.get(item_key) or row.items.get(spec.base) or row.items.get(spec.id)
    if wording is None:
        described = _described(spec, vocabulary)
        words = Wording(described, described)
    else:
        words = Wording(wording.patient, wording.clinician)
    return Cell(
        finding=spec.id,
        row=item_key,
        side=spec.side,
        type=spec.type,
        wording=words,
        minimum=spec.minimum,
        maximum=spec.maximum,
        values=spec.values,
    )


def _described(spec: FindingSpec, vocabulary: Vocabulary) -> str:
    """The vocabulary's own description of a grid row: the movement or reflex, else the finding."""
    if spec.item is not None:
        return vocabulary.movements.get(spec.item) or vocabulary.reflexes.get(spec.item) or spec.item
    return spec.description
