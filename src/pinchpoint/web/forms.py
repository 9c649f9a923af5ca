"""The web forms: what each page asks, built from the vocabulary, and its answers turned into a case.

A page (``self_check`` or ``clinician``) is laid out by ``data/forms.yaml``: sections of
vocabulary findings. Each finding becomes a field by its type: yes / no / don't know for
a true-or-false finding (one per side where it is sided), a number box, a choice, a grid
of selects for the power of each movement and the reflexes, or the body map for a list of
regions. The question is the finding's own description in the vocabulary.

:func:`parse_form` converts the submitted text to typed values (a number box holding
``abc`` is a form error) and leaves every check of ids, ranges and regions to the core,
:func:`pinchpoint.core.case.parse_case`, so the web accepts exactly what a case file may say.
Every field's problem is reported at once, keyed by field, with a message a person can
act on. "Don't know" and an empty box leave a finding unknown, which never lowers the
triage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pinchpoint.core.case import Case, FindingValue, parse_case
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import FindingSpec
from pinchpoint.errors import InputError
from pinchpoint.service.values import NONE, from_text, to_text
from pinchpoint.web.content import WebContent

__all__ = [
    "FORM_LEVEL",
    "NO_REGION",
    "Field",
    "FormResult",
    "GridRow",
    "Page",
    "SectionView",
    "build_page",
    "finding_labels",
    "findings_to_form",
    "parse_form",
]

Page = Literal["self_check", "clinician"]
FieldKind = Literal["yesno", "yesno_sided", "number", "choice", "choice_sided", "grid", "map"]

FORM_LEVEL = "_form"
"""The error key of a problem with the form as a whole rather than one field."""

NO_REGION = NONE
"""The body map's answer "nowhere": an empty region list, which means asked and none."""


@dataclass(frozen=True, slots=True)
class GridRow:
    """One row of a grid: a movement or reflex, its plain name, and its finding id per side."""

    item: str
    label: str
    ids: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Field:
    """One question of a form.

    Attributes:
        kind: How it is drawn (see the module docstring).
        base: The vocabulary finding id without side or movement.
        label: The question, from the vocabulary description.
        ids: The concrete finding ids it sets, with the side word of each ("" unsided).
        spec: The vocabulary spec (type, range, values) of the first id.
        rows: For a grid, its rows.
    """

    kind: FieldKind
    base: str
    label: str
    ids: tuple[tuple[str, str], ...]
    spec: FindingSpec
    rows: tuple[GridRow, ...] = ()

    @property
    def dom_id(self) -> str:
        """An HTML id for the field (dots are awkward in CSS selectors)."""
        return "f-" + self.base.replace(".", "-")


@dataclass(frozen=True, slots=True)
class SectionView:
    """One section of a page, ready to draw."""

    id: str
    title: str
    collapsed: bool
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class FormResult:
    """The outcome of reading a submitted form.

    Attributes:
        values: What was submitted, by finding id, as text (to fill the form again).
        errors: A message per finding id (or :data:`FORM_LEVEL`); empty when the form is valid.
        case: The checked case when there are no errors.
    """

    values: Mapping[str, str | tuple[str, ...]]
    errors: Mapping[str, str]
    case: Case | None = None
    findings: Mapping[str, FindingValue] = field(default_factory=dict)


def build_page(page: Page, knowledge: Knowledge, content: WebContent) -> tuple[SectionView, ...]:
    """Return the sections and fields of a page, from forms.yaml and the vocabulary."""
    return tuple(
        SectionView(
            id=section.id,
            title=section.title,
            collapsed=section.collapsed,
            fields=tuple(
                _field(base, knowledge, content, section.labels.get(base)) for base in section.findings
            ),
        )
        for section in content.forms.pages[page]
    )


def page_ids(page: Page, knowledge: Knowledge, content: WebContent) -> dict[str, FindingSpec]:
    """Return every concrete finding id a page may submit, with its spec."""
    bases = {finding for section in content.forms.pages[page] for finding in section.findings}
    return {fid: spec for fid, spec in knowledge.vocabulary.findings.items() if spec.base in bases}


def parse_form(
    items: Iterable[tuple[str, str]], page: Page, knowledge: Knowledge, content: WebContent
) -> FormResult:
    """Turn submitted form fields into a checked case, or a message for every field that is wrong.

    Args:
        items: The submitted (name, value) pairs, in order; a region list repeats its name.
        page: Which page was submitted; only its findings are accepted.
        knowledge: The knowledge whose vocabulary checks the case.
        content: The page layout.

    Returns:
        A :class:`FormResult` with the case, or with errors (and no case).
    """
    allowed = page_ids(page, knowledge, content)
    raw, errors = _collect(items, allowed)
    values: dict[str, str | tuple[str, ...]] = {}
    findings: dict[str, object] = {}
    for name, texts in raw.items():
        spec = allowed[name]
        values[name] = tuple(texts) if spec.type == "regions" else texts[-1]
        if spec.type != "regions" and len(texts) > 1:
            errors[name] = f"{_label(spec)}: this question was answered twice; give one answer."
            continue
        converted = _convert(spec, texts)
        if isinstance(converted, _Problem):
            errors[name] = f"{_label(spec)}: {converted.message}"
        elif converted is not None:
            findings[name] = converted
    errors.update(_core_errors(findings, errors, allowed, knowledge))
    if errors:
        return FormResult(values=values, errors=errors)
    try:
        case = parse_case({"findings": findings}, knowledge.vocabulary, origin="form")
    except InputError as exc:
        return FormResult(values=values, errors={FORM_LEVEL: str(exc)})
    return FormResult(values=values, errors={}, case=case, findings=case.findings)


def _collect(
    items: Iterable[tuple[str, str]], allowed: Mapping[str, FindingSpec]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Group the submitted values by field, and note any field the page does not have."""
    raw: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for name, value in items:
        if name in allowed:
            raw.setdefault(name, []).append(value)
        else:
            errors[FORM_LEVEL] = (
                f"The form sent a field this page does not have ({_clip(name)!r}). "
                "Reload the page and fill it in again."
            )
    return raw, errors


def _core_errors(
    findings: Mapping[str, object],
    errors: Mapping[str, str],
    allowed: Mapping[str, FindingSpec],
    knowledge: Knowledge,
) -> dict[str, str]:
    """Check each converted finding on its own with the core's parse_case, so every problem is reported."""
    problems: dict[str, str] = {}
    for name, value in findings.items():
        if name in errors:
            continue
        try:
            parse_case({"findings": {name: value}}, knowledge.vocabulary, origin="form")
        except InputError as exc:
            problems[name] = _message(allowed[name], exc)
    return problems


def finding_labels(knowledge: Knowledge, content: WebContent) -> dict[str, str]:
    """Each concrete finding id of the forms with the words its field shows (a grid's: row, side).

    The self-check's words first, then the clinician page's for what only it asks; a sided
    finding is also named without its side (``exam.slr``), as text read before the side is
    known names it. Text read into a form (a pasted note, a description) names each finding
    as the form does, never by id.
    """
    labels: dict[str, str] = {}
    for page in ("self_check", "clinician"):
        for section in build_page(page, knowledge, content):
            for shown in section.fields:
                rows = [(row.label, row.ids) for row in shown.rows] or [(shown.label, shown.ids)]
                for label, ids in rows:
                    for finding, side in ids:
                        labels.setdefault(finding, f"{label}, {side}" if side else label)
                        if side:  # a side not yet known: the finding named without it
                            labels.setdefault(finding.rpartition(".")[0], label)
    return labels


def findings_to_form(findings: Mapping[str, Any]) -> dict[str, str | tuple[str, ...]]:
    """Return the form values that show ``findings`` again (to reopen a saved case)."""
    return {name: to_text(value) for name, value in findings.items()}


_KINDS: dict[tuple[str, bool], FieldKind] = {
    ("bool", False): "yesno",
    ("bool", True): "yesno_sided",
    ("enum", False): "choice",
    ("enum", True): "choice_sided",
    ("number", False): "number",
    ("number", True): "number",
}


@dataclass(frozen=True, slots=True)
class _Problem:
    message: str


def _convert(spec: FindingSpec, texts: list[str]) -> object:
    """Read submitted text as the service reads every front end's answers; None means unknown.

    Text that is not of the finding's type comes back as it is, and the core's check of the
    case says what was expected.
    """
    if spec.type == "regions":
        if NO_REGION in texts:
            return () if set(texts) == {NO_REGION} else _Problem('mark the places, or "nowhere", not both.')
        return tuple(texts)
    return from_text(spec.type, texts[-1].strip())


def _message(spec: FindingSpec, exc: InputError) -> str:
    """The core's refusal of one answer, worded for the field a person filled in."""
    got = "" if exc.got is None else f" You entered {_clip(str(exc.got))}."
    if spec.type == "bool":
        return f"{_label(spec)}: choose yes, no or don't know."
    if spec.type in ("int", "number") and spec.item is None:  # a box to type in (a grid has selects)
        return f"{_label(spec)}: enter {spec.describe_expected()}, or leave it empty.{got}"
    expected = exc.expected or "a valid answer"
    return f"{_label(spec)}: this answer cannot be used; expected {expected}.{got}"


def _label(spec: FindingSpec) -> str:
    text = spec.description[:1].upper() + spec.description[1:]
    if spec.item:
        text = f"{_pretty(spec.item)} ({spec.description})" if spec.type != "int" else _pretty(spec.item)
    if spec.side:
        text += f", {spec.side}"
    return text


def _pretty(item: str) -> str:
    text = item.replace("_", " ")
    return text[:1].upper() + text[1:]


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(base: str, knowledge: Knowledge, content: WebContent, label: str | None) -> Field:
    vocabulary = knowledge.vocabulary
    specs = [spec for spec in vocabulary.findings.values() if spec.base == base]
    first = specs[0]
    sides = content.ui.sides
    label = label or first.description[:1].upper() + first.description[1:]
    ids = tuple((spec.id, sides.get(spec.side or "", "")) for spec in specs if spec.item is None)
    if first.type == "regions":
        return Field("map", base, label, ids, first)
    if first.item is not None:
        table = vocabulary.movements if base == "exam.power" else vocabulary.reflexes
        rows = tuple(
            GridRow(
                item=item,
                label=f"{_pretty(item)}: {description}",
                ids=tuple(
                    (spec.id, sides[spec.side or ""]) for spec in specs if spec.item == item and spec.side
                ),
            )
            for item, description in table.items()
        )
        return Field("grid", base, label, (), first, rows)
    kind = _KINDS[(first.type if first.type in ("bool", "enum") else "number", first.side is not None)]
    return Field(kind, base, label, ids, first)
