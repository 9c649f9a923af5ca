"""Tests of conditions in disjunctive normal form, and of the triage decided all at once with them.

The triage's batch decision (:meth:`TriageRules.evaluate`) must fire exactly the rules whose
own compiled condition (``rule.holds``, which the interview and the imaging checks use) holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from pinchpoint.core.case import Case
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.normalform import ALWAYS, MAX_TERMS, Decider, Terms, conjoin, disjoin, literal
from pinchpoint.errors import SchemaError
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.strategies import RedFlag, cases, development_cases, red_flags

A, B, C = literal(0), literal(1), literal(2)
NOT_A = literal(0, holds=False)

# Each table row: a condition built with the module's functions, and the same in Python.
_CONDITIONS = [
    pytest.param(conjoin([A, B], where="t"), lambda a, b, c: a and b, id="a-and-b"),
    pytest.param(disjoin([A, B]), lambda a, b, c: a or b, id="a-or-b"),
    pytest.param(
        conjoin([disjoin([A, B]), disjoin([C, NOT_A])], where="t"),
        lambda a, b, c: (a or b) and (c or not a),
        id="or-and-or-with-negation",
    ),
    pytest.param(conjoin([A, NOT_A], where="t"), lambda a, b, c: False, id="contradiction"),
    pytest.param(ALWAYS, lambda a, b, c: True, id="always"),
    pytest.param(disjoin([]), lambda a, b, c: False, id="never"),
]


@pytest.mark.parametrize(("terms", "expected"), _CONDITIONS)
def test_decider_agrees_with_the_condition_on_every_truth_assignment(
    terms: Terms, expected: Callable[[bool, bool, bool], bool]
) -> None:
    """Over all eight assignments of three leaves, the matrices decide as the condition reads."""
    decider = Decider.build([terms, A], leaves=3)
    for truth in itertools.product((False, True), repeat=3):
        decided = decider.decide(np.array(truth))
        assert decided.tolist() == [expected(*truth), truth[0]], truth


def test_a_condition_too_complex_to_expand_names_where_it_is() -> None:
    """A condition whose expansion exceeds the limit is refused with its location, not computed."""
    width = MAX_TERMS.bit_length()  # 2**width > MAX_TERMS terms
    pairs = [disjoin([literal(2 * i), literal(2 * i + 1)]) for i in range(width)]
    with pytest.raises(SchemaError) as refused:
        conjoin(pairs, where="advice.yaml: some-item")
    message = str(refused.value)
    assert "advice.yaml: some-item" in message
    assert f"at most {MAX_TERMS}" in message


def _fired_by_rules(knowledge: Knowledge, findings: MappingProxyType[str, object]) -> list[str]:
    return [rule.id for rule in knowledge.triage.rules if rule.holds(findings)]  # type: ignore[arg-type]


@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_triage_fires_what_each_rule_says_on_development_cases(case: Case, knowledge: Knowledge) -> None:
    """On every development case the batch decision fires exactly the rules that hold."""
    _, reasons = knowledge.triage.evaluate(case.findings)
    assert sorted(reason.rule for reason in reasons) == sorted(_fired_by_rules(knowledge, case.findings))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), flag=red_flags())
def test_triage_fires_what_each_rule_says_on_generated_cases(case: Case, flag: RedFlag) -> None:
    """On generated cases carrying a red flag, the batch decision fires exactly the rules that hold."""
    knowledge = load_knowledge()
    findings = MappingProxyType({**case.findings, **flag[1]})
    _, reasons = knowledge.triage.evaluate(findings)
    assert sorted(reason.rule for reason in reasons) == sorted(_fired_by_rules(knowledge, findings))
