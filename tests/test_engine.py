"""Tests of :func:`pinchpoint.assess`: the explanation switch changes nothing but the reasons."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint import assess, assess_many
from pinchpoint.core.case import Case
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.contract import to_contract
from tests.corpus import shared_case_params
from tests.strategies import cases


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


def test_assessing_cases_together_gives_each_its_own_assessment(knowledge: Knowledge) -> None:
    """A batch of every development case (and the batch reversed) equals assessing each alone.

    Array products over a batch may sum in another order than over one case, so the raw
    probabilities agree to the last bits, and the contract (which rounds them) exactly.
    """
    cases = [read_case(param.values[0], knowledge.vocabulary) for param in shared_case_params()]  # type: ignore[arg-type]
    alone = [assess(case, knowledge) for case in cases]
    for together in (assess_many(cases, knowledge), assess_many(cases[::-1], knowledge)[::-1]):
        assert [to_contract(a) for a in together] == [to_contract(a) for a in alone]
        for batched, single in zip(together, alone, strict=True):
            assert [h.p for h in batched.sites] == pytest.approx([h.p for h in single.sites], abs=1e-12)
            assert [h.p for h in batched.causes] == pytest.approx([h.p for h in single.causes], abs=1e-12)
    assert assess_many([], knowledge) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(cases(), min_size=2, max_size=6))
def test_generated_cases_assessed_together_equal_each_alone(batch: list[Case]) -> None:
    """Generated cases sharing a batch do not leak into each other's posterior, triage or plan."""
    knowledge = load_knowledge()
    together = [to_contract(a) for a in assess_many(batch, knowledge)]
    alone = [to_contract(assess(case, knowledge)) for case in batch]
    assert together == alone
