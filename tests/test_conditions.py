"""Tests of the one condition engine (:mod:`pinchpoint.core.conditions`) that every rule table uses.

A compiled condition answers three questions (holds, its four-valued reading for the
interview's screen, the ways it could still come to hold for the unanswered-sign floor);
on every development case and on generated cases carrying a red flag, the three agree on
whether each triage rule holds now.
"""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings

from pinchpoint.core import conditions as c
from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from tests.strategies import RedFlag, cases, development_cases, red_flags

pytestmark = pytest.mark.core


@pytest.mark.parametrize(
    ("test", "value", "passes", "printed", "words"),
    [
        (c.Is(True), True, True, "Is(True)", "is true"),
        (c.Is(True), "true", False, "Is(True)", "is true"),
        (c.Is("reduced"), "reduced", True, "Is('reduced')", "is reduced"),
        (c.AtLeast(38), 38.0, True, "AtLeast(38)", "at least 38"),
        (c.AtLeast(38), 37.9, False, "AtLeast(38)", "at least 38"),
        (c.AtLeast(1), True, False, "AtLeast(1)", "at least 1"),
        (c.AtMost(4), 4, True, "AtMost(4)", "at most 4"),
        (c.AtMost(4), 5, False, "AtMost(4)", "at most 4"),
        (
            c.IncludesAny(("perineum",)),
            ("perineum",),
            True,
            "IncludesAny(('perineum',))",
            "includes any of perineum",
        ),
        (
            c.IncludesAny(("calf_posterior",)),
            ("calf_posterior.left",),
            True,
            "IncludesAny(('calf_posterior',))",
            None,
        ),
        (c.IncludesAny(("perineum",)), ("low_back",), False, "IncludesAny(('perineum',))", None),
        (c.NotEmpty(), (), False, "NotEmpty()", "is not empty"),
        (c.NotEmpty(), ("low_back",), True, "NotEmpty()", "is not empty"),
        (
            c.BothSidesAny(("calf_posterior",)),
            ("calf_posterior.left", "calf_posterior.right"),
            True,
            None,
            None,
        ),
        (c.BothSidesAny(("calf_posterior",)), ("calf_posterior.left",), False, None, None),
    ],
)
def test_a_leaf_test_decides_one_value_and_prints_itself(
    test: c.Test, value: FindingValue, passes: bool, printed: str | None, words: str | None
) -> None:
    """Each frozen test passes the values its table meaning says, and prints as it is written."""
    assert test(value) is passes
    if printed is not None:
        assert repr(test) == printed
    if words is not None:
        assert test.describe() == words


def test_equal_tests_are_one_test() -> None:
    """Tests are values: equal bounds compare and hash equal, so a leaf is compiled once per meaning."""
    assert c.AtLeast(38) == c.AtLeast(38.0)
    assert len({c.Is(True), c.Is(True), c.Is("true")}) == 2


def test_a_rule_prints_with_the_names_of_its_definitions(knowledge: Knowledge) -> None:
    """A compiled rule reads back in words, naming the definitions the table gave it."""
    (rule,) = [rule for rule in knowledge.triage.rules if rule.id == "ces-saddle-sensory-loss"]
    assert "saddle_sensory_loss" in rule.when.describe()


def test_an_unless_leaf_counts_unknown_as_passing(knowledge: Knowledge) -> None:
    """``unless_known_otherwise`` holds while every finding is unknown and fails once one is known to fail."""
    compiler = c.Compiler(knowledge.vocabulary, {})
    leaf = compiler.compile(
        s.Condition.model_validate(
            {"finding": "duration_days", "at_most": 42, "unless_known_otherwise": True}
        )
    )
    assert leaf.holds(MappingProxyType({})) is True
    assert leaf.holds(MappingProxyType({"duration_days": 400})) is False
    assert leaf.value(MappingProxyType({}), frozenset({"duration_days"}), frozenset()) == c.ASK
    assert leaf.value(MappingProxyType({}), frozenset(), frozenset()) == c.TRUE
    assert "(or unknown)" in leaf.describe()


def test_side_both_needs_each_side(knowledge: Knowledge) -> None:
    """A sided leaf with ``side: both`` is a conjunction of one leaf per side."""
    compiler = c.Compiler(knowledge.vocabulary, {})
    node = compiler.compile(s.Condition.model_validate({"finding": "foot_drop", "is": True, "side": "both"}))
    assert isinstance(node, c.All)
    assert not node.holds(MappingProxyType({"foot_drop.left": True}))
    assert node.holds(MappingProxyType({"foot_drop.left": True, "foot_drop.right": True}))


def test_triage_conditions_have_no_negation(knowledge: Knowledge) -> None:
    """Only the plan tables may say ``not``: no triage rule compiles to a negation or an assessment leaf."""
    for rule in knowledge.triage.rules:
        stack: list[c.Node] = [rule.when]
        while stack:
            node = stack.pop()
            assert isinstance(node, c.All | c.Any | c.Ref | c.FindingLeaf), (rule.id, node)
            stack += node.children()


def _agree(knowledge: Knowledge, findings: MappingProxyType[str, FindingValue]) -> None:
    fired = {reason.rule for reason in knowledge.triage.evaluate(findings)[1]}
    finder = c.WayFinder([rule.when for rule in knowledge.triage.rules])
    reading = finder.read(findings, None)
    for position, rule in enumerate(knowledge.triage.rules):
        holds = rule.holds(findings)
        assert (rule.id in fired) is holds, rule.id
        assert (rule.when.value(findings, frozenset(), frozenset()) == c.TRUE) is holds, rule.id
        assert finder.holds(position, reading) is holds, rule.id
        assert (frozenset() in finder.ways(position, reading)) is holds, rule.id
        assert finder.holding(reading[0])[position] is holds, rule.id


@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_the_deciders_agree_on_development_cases(case: Case, knowledge: Knowledge) -> None:
    """On every development case, holds, the four-valued reading and the open ways agree on each rule."""
    _agree(knowledge, MappingProxyType(dict(case.findings)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), flag=red_flags())
def test_the_deciders_agree_on_generated_cases(case: Case, flag: RedFlag) -> None:
    """On generated cases carrying a red flag, the three deciders agree on each rule."""
    _agree(load_knowledge(), MappingProxyType({**case.findings, **flag[1]}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_an_open_way_is_only_unknown_findings(case: Case) -> None:
    """Every open way of an emergency rule reads only findings the case leaves unknown and may answer."""
    knowledge = load_knowledge()
    findings = MappingProxyType(dict(case.findings))
    answerable = knowledge.unanswered.answerable
    for rule, way in knowledge.triage.open_emergency_ways(findings, answerable):
        assert rule.level == Urgency.EMERGENCY
        assert not rule.holds(findings) or way
        for unknown in way:
            assert unknown, rule.id
            assert not unknown & findings.keys(), rule.id
            assert unknown <= answerable, rule.id


def _least_signs(
    knowledge: Knowledge, findings: MappingProxyType[str, FindingValue], answerable: frozenset[str]
) -> list[tuple[str, tuple[frozenset[str], ...]]]:
    """The open emergency ways worked out plainly from every whole term (the oracle of the fast reading).

    Each way's leaves become their unknown answerable findings (equal ones one sign); the ways
    that hold another are dropped, and the rest are sorted by their signs' sorted findings.
    """
    rules = [rule for rule in knowledge.triage.rules if rule.level >= Urgency.EMERGENCY]
    finder = c.WayFinder([rule.when for rule in rules])
    reading = finder.read(findings, answerable)
    found = []
    for position, rule in enumerate(rules):
        ways = {
            frozenset(leaf.unknown(findings, answerable) for leaf in way)
            for way in finder.ways(position, reading)
            if way
        }
        least = [way for way in ways if not any(other < way for other in ways)]
        ordered = sorted(sorted((tuple(sorted(sign)), sign) for sign in way) for way in least)
        found += [(rule.id, tuple(sign for _, sign in way)) for way in ordered]
    return found


def _same_open_ways(knowledge: Knowledge, findings: MappingProxyType[str, FindingValue]) -> None:
    answerable = knowledge.unanswered.answerable
    for some in (answerable, frozenset(sorted(answerable)[::2])):
        fast = [(rule.id, way) for rule, way in knowledge.triage.open_emergency_ways(findings, some)]
        assert fast == _least_signs(knowledge, findings, some)


@pytest.mark.parametrize("case", development_cases(), ids=lambda case: case.id)
def test_open_ways_from_parts_are_those_of_the_whole_terms(case: Case, knowledge: Knowledge) -> None:
    """Reading each rule's parts gives the least open ways, in order, that its whole terms give."""
    _same_open_ways(knowledge, MappingProxyType(dict(case.findings)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(max_size=12))
def test_open_ways_from_parts_agree_on_generated_cases(case: Case) -> None:
    """On generated cases with few findings (many ways open), the parts give the whole terms' ways."""
    _same_open_ways(load_knowledge(), MappingProxyType(dict(case.findings)))


def test_a_leaf_read_both_ways_sends_the_triage_back_to_the_trees(knowledge: Knowledge) -> None:
    """A finder of a plain leaf and its ``unless_known_otherwise`` twin is not exact.

    The terms hold the two as one literal, so the triage then walks the trees.
    """
    compiler = c.Compiler(knowledge.vocabulary, {})
    plain, unless = (
        compiler.compile(s.Condition.model_validate({"finding": "duration_days", "at_most": 42, **extra}))
        for extra in ({}, {"unless_known_otherwise": True})
    )
    assert c.WayFinder([plain]).exact
    assert not c.WayFinder([plain, unless]).exact
