"""Tests of :func:`pinchpoint.assess`: the explanation switch changes nothing but the reasons."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pinchpoint import assess
from pinchpoint.casefile import read_case
from pinchpoint.knowledge.model import Knowledge
from tests.corpus import shared_case_params


@pytest.mark.parametrize("path", shared_case_params())
def test_unexplained_assessment_equals_explained_without_reasons(path: Path, knowledge: Knowledge) -> None:
    """Skipping the explanation keeps triage, ranking and probabilities, and carries no reasons."""
    case = read_case(path, knowledge.vocabulary)
    explained = assess(case, knowledge)
    bare = assess(case, knowledge, explain_findings=False)
    without_reasons = replace(
        explained,
        sites=tuple(h._replace(evidence_for=(), evidence_against=()) for h in explained.sites),
        causes=tuple(h._replace(evidence_for=(), evidence_against=()) for h in explained.causes),
    )
    assert bare == without_reasons
    leading = (*explained.sites[:3], *explained.causes[:3])
    assert any(h.evidence_for or h.evidence_against for h in leading)
