"""The ``unless_known_otherwise`` leaf option, read alike by every decider of the condition engine.

A leaf so marked holds on a known value that passes its test, or while its one finding is
unknown. The rules' ``holds`` and the interview's three-valued screen must read it alike (the
deciders are compared on every case in ``test_conditions``); the screen may leave it open
only while its finding can still be asked.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint.core.case import FindingValue
from pinchpoint.core.conditions import Compiler
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.screen import screen_for
from pinchpoint.errors import KnowledgeError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from tests.corpus import copy_knowledge_with
from tests.strategies import findings

pytestmark = pytest.mark.core

_NOT_IMPROVING = s.Condition.model_validate(
    {"finding": "improving", "is": False, "unless_known_otherwise": True}
)


@pytest.mark.parametrize(
    ("known", "holds"),
    [({}, True), ({"improving": False}, True), ({"improving": True}, False), ({"worsening": True}, True)],
)
def test_an_unless_leaf_holds_until_its_finding_is_known_otherwise(
    known: dict[str, FindingValue], holds: bool, knowledge: Knowledge
) -> None:
    """The leaf "not improving" holds while improving is unknown or false, and fails once it is true."""
    leaf = Compiler(knowledge.vocabulary, {}).compile(_NOT_IMPROVING)
    assert leaf.holds(MappingProxyType(known)) is holds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(known=findings(), data=st.data())
def test_a_settled_screen_reads_every_rule_as_triage_does(
    known: dict[str, FindingValue], data: st.DataObject
) -> None:
    """Whatever may still be asked, a rule the screen calls fired or ruled out is one triage fires or not."""
    knowledge = load_knowledge()
    screen = screen_for(knowledge)
    unknown = sorted(set(knowledge.vocabulary.findings) - set(known))
    open_ids = frozenset(
        data.draw(st.lists(st.sampled_from(unknown), unique=True, max_size=60), label="open")
    )
    compiled = {rule.id: rule for rule in knowledge.triage.rules}
    for rule in screen.rules:
        truth = screen.truth(rule, known, open_ids)
        if truth is not None:
            assert truth is compiled[rule.id].holds(MappingProxyType(known)), rule.id


def test_an_open_qualifier_keeps_its_rule_open(knowledge: Knowledge) -> None:
    """A rule that fires while its duration is unknown stays open while the duration may be asked."""
    screen = screen_for(knowledge)
    (rule,) = [rule for rule in screen.rules if rule.id == "severe-motor-deficit"]
    known = MappingProxyType({"foot_drop.left": True})
    assert screen.truth(rule, known, frozenset()) is True
    assert screen.truth(rule, known, frozenset({"duration_days"})) is None
    assert screen.truth(rule, MappingProxyType({**known, "duration_days": 200}), frozenset()) is False


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  acute:\n    {finding: duration_days, at_most: 42, unless_known_otherwise: true}",
            "  acute:\n    {any: [{finding: duration_days, at_most: 42}], unless_known_otherwise: true}",
            "unless_known_otherwise qualifies a finding leaf",
        ),
        (
            "{finding: leg_swelling.right, is: false, unless_known_otherwise: true}",
            "{finding: leg_swelling, is: false, unless_known_otherwise: true}",
            "an unless_known_otherwise leaf reads one finding",
        ),
    ],
    ids=["on-a-combination", "on-a-sided-base"],
)
def test_misplaced_unless_leaves_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    """The option qualifies one concrete finding; anywhere else the knowledge base is refused."""
    folder = copy_knowledge_with(tmp_path, "triage.yaml", old, new)
    with pytest.raises(KnowledgeError) as refused:
        load_knowledge(folder)
    assert message in str(refused.value)
