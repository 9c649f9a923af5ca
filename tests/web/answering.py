"""How a simulated person who knows a case's findings answers a web question: the button and the fields.

Shared by the web tests that walk the interview over HTTP (form posts) and in the browser (clicks).
"""

from __future__ import annotations

from typing import Any

from pinchpoint.core.questions import Question


def _text(value: object) -> list[str]:
    if value is None:
        return ["dont_know"]
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, tuple | list):
        return [str(item) for item in value] or ["none"]
    return [str(value)]


def answer_fields(question: Question, findings: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """The button and the fields a person who knows ``findings`` uses for ``question`` (else don't know)."""
    if question.single:
        if question.finding not in findings:
            return "dont_know", []
        return "answer", [(question.finding, text) for text in _text(findings[question.finding])]
    return "answer", [(cell.finding, _text(findings.get(cell.finding))[0]) for cell in question.cells]


def form_for(question: Question, findings: dict[str, Any]) -> list[tuple[str, str]]:
    """The form a person who knows ``findings`` sends for ``question``."""
    action, fields = answer_fields(question, findings)
    return [("question", question.id), ("action", action), *fields]
