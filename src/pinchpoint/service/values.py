"""One reader and writer of answer values, for every front end of the interview.

An answer reaches pinchpoint as form text (the web pages, the terminal) or as JSON (the REST
API). Both are read here into the values :meth:`pinchpoint.core.questions.Question.normalise`
takes, and written back the same way:

* **form text** (:func:`from_text`): ``yes`` / ``no`` for yes-no, ``dont_know`` or nothing
  for "don't know", numbers as typed (a decimal comma is read as a point; a whole number must
  be written whole), a choice's value as it is. Text that is not what the field takes is
  passed on unchanged, so that the core refuses it with its own message (what was expected,
  what arrived) instead of a second wording here;
* **JSON numbers** (:func:`whole_json_numbers`, :func:`json_answer`, :func:`json_intake`):
  JSON, and JSON Schema's ``integer``, do not tell ``3`` from ``3.0``; a case file does, and
  the core refuses a float where a whole number is expected, so a zero fraction is read as
  the whole number a finding takes;
* **back to form text** (:func:`to_text`), to show an answer again in its field;
* **back to JSON** (:func:`saved_value`), the value of an answer as a session saves it, which
  :meth:`~pinchpoint.core.interview.Interview.answer` takes again.

The one-page forms of :mod:`pinchpoint.web.forms` read whole findings with per-field messages
of their own; they are not interview answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pinchpoint.core.case import FindingValue
from pinchpoint.core.questions import Question, QuestionBank
from pinchpoint.core.vocabulary import Vocabulary

__all__ = [
    "DONT_KNOW",
    "NONE",
    "from_text",
    "json_answer",
    "json_intake",
    "number_from_text",
    "saved_value",
    "to_text",
    "whole_json_numbers",
]

DONT_KNOW = "dont_know"
"""The form value of "don't know"."""

NONE = "none"
"""The form value of "none of these places" on a body map (an empty list)."""

_YES_NO = {"yes": True, "no": False}


def number_from_text(text: str, *, whole: bool) -> int | float | str:
    """Read a typed number; text that is not one (or not a whole one) comes back as it is.

    A decimal comma is read as a point, except where a whole number is asked for.
    """
    cleaned = text.strip() if whole else text.strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if whole:
        return int(value) if value.is_integer() else text
    return value


def from_text(kind: str, text: str) -> object:
    """Read one field's form text as the value the core takes (``None``: don't know).

    Args:
        kind: The finding's type: ``bool``, ``int``, ``number``, or any other (text as it is).
        text: What the form sent (nothing, or ``dont_know``, is "don't know").
    """
    if text in ("", DONT_KNOW):
        return None
    if kind == "bool":
        return _YES_NO.get(text, text)
    if kind in {"int", "number"}:
        return number_from_text(text, whole=kind == "int")
    return text


def to_text(value: object) -> str | tuple[str, ...]:
    """Write an answer value as a form shows it again (the inverse of :func:`from_text`)."""
    if value is None:
        return DONT_KNOW
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value) or (NONE,)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def whole_json_numbers(findings: Mapping[str, Any], vocabulary: Vocabulary) -> dict[str, Any]:
    """Read a JSON number written with a zero fraction (``3.0``) as the whole number a finding takes."""
    converted = dict(findings)
    for key, value in findings.items():
        spec = vocabulary.findings.get(key)
        if spec is not None and spec.type == "int" and isinstance(value, float) and value.is_integer():
            converted[key] = int(value)
    return converted


def json_answer(question: Question, value: Any, vocabulary: Vocabulary) -> Any:
    """Read a JSON answer to ``question``: one value, or findings mapped to values (forms, grids)."""
    if isinstance(value, Mapping):
        return whole_json_numbers(value, vocabulary)
    return whole_json_numbers({question.finding: value}, vocabulary)[question.finding]


def json_intake(
    intake: Mapping[str, Any] | None, bank: QuestionBank, vocabulary: Vocabulary
) -> Mapping[str, Any] | None:
    """Read JSON intake answers (by question id); ids that are no question are left for the core to refuse."""
    if intake is None:
        return None
    return {
        question_id: json_answer(bank[question_id], value, vocabulary)
        if question_id in bank.questions
        else value
        for question_id, value in intake.items()
    }


def saved_value(question: Question, findings: Mapping[str, FindingValue | None]) -> object:
    """Return an answer's findings as the JSON value :meth:`Interview.answer` takes again."""
    if question.single:
        value = findings[question.finding]
        return list(value) if isinstance(value, tuple) else value
    return dict(findings)
