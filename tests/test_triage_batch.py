"""Tests of the batch shortcuts of the triage, the plan and the engine: each answers what the long way does.

A batch of cases (an audit's order reviews, an evaluation) decides the ``unanswered`` floor once
per distinct reading of the open warning signs (:meth:`pinchpoint.core.triage.TriageRules.open_key`),
finds which rules fire from the leaves' masks (:meth:`~pinchpoint.core.triage.TriageRules.fired`),
and may ask for the plan's investigations alone (:func:`pinchpoint.core.engine.investigations_many`).
These tests hold each to the long way on the development cases and on generated cases, together
with variants of them that differ in one finding (dropped, flipped, or moved by one), so that many
cases of a batch read alike and share a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings

from pinchpoint.core import conditions as c
from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.engine import assess_many, investigations_many
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.posterior import infer_many
from pinchpoint.core.triage import triage, triage_many
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.strategies import cases, development_cases

pytestmark = pytest.mark.core

_KNOWLEDGE = load_knowledge()


def _variants(findings: Mapping[str, FindingValue]) -> list[dict[str, FindingValue]]:
    """The findings, and for each finding: without it, flipped, moved by one, or on the other side.

    The other side: ``foot_drop.right`` stated with the value of ``foot_drop.left``. Stating a
    sided finding on one side or the other often leaves every leaf where it stood, while which
    findings are still unknown, and so the warning signs, differ.
    """
    specs = _KNOWLEDGE.vocabulary.findings
    found = [dict(findings)]
    for finding, value in findings.items():
        rest = {other: v for other, v in findings.items() if other != finding}
        found.append(rest)
        if isinstance(value, bool):
            found.append({**findings, finding: not value})
        elif isinstance(value, int | float):
            found += [{**findings, finding: value + 1}, {**findings, finding: value - 1}]
        spec = specs[finding]
        found += [
            {**rest, other.id: value}
            for other in specs.values()
            if spec.side is not None
            and (other.base, other.item) == (spec.base, spec.item)
            and other.side not in (None, spec.side)
            and other.id not in findings
        ]
    return found


def _same_ways_for_same_key(knowledge: Knowledge, batch: list[dict[str, FindingValue]]) -> int:
    """Assert that findings with equal open keys have equal open ways; return how many keys were shared."""
    rules = knowledge.triage
    answerable = knowledge.unanswered.answerable
    seen: dict[object, object] = {}
    for findings in batch:
        frozen = MappingProxyType(findings)
        ways = rules.open_emergency_ways(frozen, answerable)
        assert seen.setdefault(rules.open_key(frozen, answerable), ways) == ways, sorted(findings)
    return len(batch) - len(seen)


def _together_equal_alone(knowledge: Knowledge, batch: list[dict[str, FindingValue]]) -> None:
    """Assert that deciding the triage of a batch at once equals deciding each case alone."""
    causes = [posterior.cause_probabilities() for posterior in infer_many(batch, knowledge)]
    recorded = [frozenset[str]() for _ in batch]
    together = triage_many(batch, knowledge, causes, recorded)
    assert together == [triage(f, knowledge, p) for f, p in zip(batch, causes, strict=True)]


def test_development_cases_alike_share_their_open_ways_and_decide_as_alone(knowledge: Knowledge) -> None:
    """Variants of every development case: equal keys give equal ways, and a batch decides as each alone.

    The variants share many keys (a dropped finding that no emergency rule reads changes none),
    so the shortcut is exercised, not only the long way.
    """
    shared = 0
    for case in development_cases():
        batch = _variants(case.findings)
        shared += _same_ways_for_same_key(knowledge, batch)
        _together_equal_alone(knowledge, batch)
    assert not development_cases() or shared > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(max_size=12))
def test_generated_cases_alike_share_their_open_ways_and_decide_as_alone(case: Case) -> None:
    """On generated cases with few findings (many signs open) and their variants, the same holds."""
    knowledge = load_knowledge()
    batch = _variants(case.findings)
    _same_ways_for_same_key(knowledge, batch)
    _together_equal_alone(knowledge, batch)


def test_the_open_key_tells_apart_which_of_a_leafs_findings_is_still_unknown() -> None:
    """A leaf of two findings, one stated and failing, stands open either way; its sign is the other.

    "Weak on either side, and y": stating the left side (not weak) or the right one leaves every
    leaf where it stood, yet the warning sign is the side still unknown, so the keys differ.
    """
    either = c.FindingLeaf("x", ("x.left", "x.right"), c.Is(True))
    finder = c.WayFinder([c.All((either, c.FindingLeaf("y", ("y",), c.Is(True))))])
    left: dict[str, FindingValue] = {"x.left": False}
    right: dict[str, FindingValue] = {"x.right": False}
    assert finder.stand(left, None)[1:] == finder.stand(right, None)[1:]
    assert finder.open_ways(left, None) == [[(frozenset({"x.right"}), frozenset({"y"}))]]
    assert finder.open_ways(right, None) == [[(frozenset({"x.left"}), frozenset({"y"}))]]
    assert finder.open_key(left, None) != finder.open_key(right, None)
    assert finder.open_key(left, None) == finder.open_key({"x.left": False, "z": True}, None)


def test_cases_alike_in_their_signs_but_not_in_the_screen_are_decided_apart(knowledge: Knowledge) -> None:
    """Pain at the outer hip alone is not the screen's presentation; leg pain worse than back pain is.

    The two read alike to every emergency rule (the same open key), and only the second is held
    at the ``unanswered`` floor: the batch keeps them apart, as each decided alone.
    """
    hip: dict[str, FindingValue] = {"pain_regions": ("hip_lateral.left",)}
    sciatic: dict[str, FindingValue] = {**hip, "leg_pain_worse_than_back": True}
    answerable = knowledge.unanswered.answerable
    assert knowledge.triage.open_key(hip, answerable) == knowledge.triage.open_key(sciatic, answerable)
    together = triage_many([hip, sciatic, hip], knowledge, [{}, {}, {}])
    assert together == [
        triage(hip, knowledge, {}),
        triage(sciatic, knowledge, {}),
        triage(hip, knowledge, {}),
    ]
    assert together[0].level < together[1].level


@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_the_rules_that_fire_are_those_whose_trees_hold(case: Case, knowledge: Knowledge) -> None:
    """:meth:`TriageRules.fired` lists, in table order, exactly the rules whose condition holds."""
    for findings in _variants(case.findings):
        rules = knowledge.triage
        assert rules.fired(findings) == [rule for rule in rules.rules if rule.holds(findings)]


def test_investigations_alone_are_those_of_the_assessment(knowledge: Knowledge) -> None:
    """The plan's investigations of a batch, worked out alone, equal those of each full assessment."""
    batch = [
        Case(id=case.id, findings=variant, recorded=case.recorded)
        for case in development_cases()
        for variant in _variants(case.findings)[:6]
    ]
    assessed = [assessment.investigations for assessment in assess_many(batch, knowledge)]
    assert investigations_many(batch, knowledge) == assessed
    assert investigations_many([], knowledge) == []
    assert not batch or any(assessed)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_generated_investigations_alone_are_those_of_the_assessment(case: Case) -> None:
    """On generated cases, the investigations alone equal the assessment's."""
    knowledge = load_knowledge()
    batch = [Case(id="generated", findings=variant) for variant in _variants(case.findings)[:5]]
    expected = [
        assessment.investigations for assessment in assess_many(batch, knowledge, explain_findings=False)
    ]
    assert investigations_many(batch, knowledge) == expected
