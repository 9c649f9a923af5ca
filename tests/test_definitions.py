"""Shared clinical definitions are written once in the data, and load-time checks hold them together.

- Plan conditions name triage.yaml's definitions (one namespace): a plan definition that reuses a
  triage definition's name is refused, so ``motor_deficit`` exists once.
- Triage rules name the family they suspect (``suspects``); the plan (``suspected``) and
  imaging.yaml (``indicated``) read families, so a new rule of a family is covered by being in it,
  and every emergency rule's family is classified by imaging.yaml or the knowledge is refused.
- The imaging decision reads the plan's lumbar imaging, so it is never "not indicated" while the
  plan offers lumbar imaging (the agreement tests/test_imaging_plan.py checks end to end).

Broken knowledge is made by copying the packaged data folder and editing one place.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pinchpoint import assess
from pinchpoint.core.case import Case
from pinchpoint.core.imaging import imaging_decision, lumbar_imaging, offered_imaging
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import UnresolvedReferenceError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from tests.corpus import copy_knowledge_with
from tests.strategies import findings

pytestmark = pytest.mark.core

_SCIATICA = {"sciatica"}
# Early sciatica with nothing else: guidance says imaging is not indicated (imaging.yaml early-sciatica).
_EARLY_SCIATICA = {"duration_days": 10, "pain_below_knee": True}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


# --- one namespace of definitions ----------------------------------------------------------------


def test_the_plan_reads_the_triage_definitions(knowledge: Knowledge) -> None:
    """advice.yaml defines no name that triage.yaml defines, and its conditions use triage's."""
    advice = knowledge.tables["advice"]
    triage = knowledge.tables["triage"]
    assert isinstance(advice, s.AdviceTable)
    assert isinstance(triage, s.TriageTable)
    assert not set(advice.definitions) & set(triage.definitions)
    assert "motor_deficit" in triage.definitions


def test_a_plan_definition_may_not_redefine_a_triage_definition(tmp_path: Path) -> None:
    """A second ``motor_deficit`` in advice.yaml is refused, naming the file, the name and the fix."""
    anchor = "  not_yet_emergency: {triage_at_most: urgent}\n"
    again = anchor + "  motor_deficit:\n    any:\n      - {finding: foot_drop, is: true}\n"
    folder = copy_knowledge_with(tmp_path, "advice.yaml", anchor, again)
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    error = caught.value
    assert error.location == "advice.yaml: definitions.motor_deficit"
    assert "redefines the triage definition" in error.problem
    assert "{ref: motor_deficit}" in error.expected


def test_reported_leg_weakness_is_a_motor_deficit_for_the_plan(knowledge: Knowledge) -> None:
    """The plan's motor deficit is triage's, which counts reported leg weakness (advice's lacked it).

    A nerve lesion with only a reported weak leg now gets the recheck of strength until recovery.
    """
    case = Case(
        id="weak-leg",
        findings={"leg_weakness.left": True, "pain_below_knee": True, "pain_shooting": True},
    )
    items = {item.id for item in assess(case, knowledge).plan.items()}
    assert "follow-up-nerve-recovery" in items


# --- families of triage rules ----------------------------------------------------------------------


def test_every_emergency_rule_names_a_family(knowledge: Knowledge) -> None:
    """Each emergency rule and floor suspects at least one family."""
    triage = knowledge.tables["triage"]
    assert isinstance(triage, s.TriageTable)
    rows: list[s.Rule | s.RecordedFloor] = [*triage.rules, *triage.recorded]
    assert all(row.suspects for row in rows if row.level == "emergency")


def test_the_cauda_equina_family_holds_every_ces_rule(knowledge: Knowledge) -> None:
    """Every rule whose id says cauda equina, and the recorded floor, is in the family."""
    triage = knowledge.tables["triage"]
    assert isinstance(triage, s.TriageTable)
    family = triage.families()["cauda_equina"]
    assert {rule.id for rule in triage.rules if rule.id.startswith("ces-")} <= family
    assert "recorded-cauda-equina" in family


def test_an_emergency_rule_without_a_family_is_refused(tmp_path: Path) -> None:
    """Dropping ``suspects`` from a cauda equina rule is refused: it would lose the emergency MRI."""
    rule = "  - id: ces-bowel\n    level: emergency\n    suspects: [cauda_equina]\n"
    folder = copy_knowledge_with(tmp_path, "triage.yaml", rule, "  - id: ces-bowel\n    level: emergency\n")
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    assert caught.value.location == "triage.yaml: ces-bowel.suspects"
    assert "names no family" in caught.value.problem


def test_an_emergency_family_that_imaging_does_not_classify_is_refused(tmp_path: Path) -> None:
    """A new family on an emergency rule must be an imaging indication or listed as not spinal."""
    old = "  - id: ces-bowel\n    level: emergency\n    suspects: [cauda_equina]\n"
    new = "  - id: ces-bowel\n    level: emergency\n    suspects: [cauda_equina, conus_lesion]\n"
    folder = copy_knowledge_with(tmp_path, "triage.yaml", old, new)
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    error = caught.value
    assert error.location == "triage.yaml: ces-bowel.suspects"
    assert error.got == ["conus_lesion"]
    assert "not_spinal" in error.expected


def test_imaging_naming_a_family_no_rule_suspects_is_refused(tmp_path: Path) -> None:
    """A misspelt family in imaging.yaml is refused rather than indicating nothing."""
    old = "suspects: [cauda_equina, cord, cancer"
    folder = copy_knowledge_with(tmp_path, "imaging.yaml", old, "suspects: [cauda_equine, cord, cancer")
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    assert caught.value.location == "imaging.yaml: serious-pathology-or-severe-deficit.suspects"
    assert caught.value.got == "cauda_equine"


def test_a_plan_leaf_naming_an_unknown_family_is_refused(tmp_path: Path) -> None:
    """``suspected`` in a plan condition must name a family that some triage rule suspects."""
    folder = copy_knowledge_with(
        tmp_path, "advice.yaml", "{suspected: [cauda_equina]}", "{suspected: [cauda]}"
    )
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    assert caught.value.location == "advice.yaml: definitions.ces_suspected"
    assert caught.value.got == "cauda"


def test_a_new_rule_of_a_family_is_covered_by_being_in_it(tmp_path: Path) -> None:
    """A cauda equina rule added to triage.yaml alone gets the emergency MRI and the imaging indication.

    Neither advice.yaml nor imaging.yaml is edited: the rule is covered by its family.
    """
    anchor = "rules:\n"
    new_rule = (
        "rules:\n"
        "  - id: ces-test-only\n"
        "    level: emergency\n"
        "    suspects: [cauda_equina]\n"
        "    when: {finding: vascular_claudication, is: true}\n"
        '    patient: "Test rule."\n'
        '    clinician: "Test rule."\n'
        "    source: pinchpoint-design\n"
    )
    folder = copy_knowledge_with(tmp_path, "triage.yaml", anchor, new_rule)
    edited = load_knowledge(folder)
    packaged = load_knowledge()
    case = Case(id="claudication", findings={"vascular_claudication": True})
    tests = {test.id for test in assess(case, edited).investigations}
    assert "mri-emergency-cauda-equina" in tests
    assert "mri-emergency-cauda-equina" not in {test.id for test in assess(case, packaged).investigations}
    decision = imaging_decision(case.findings, edited, presentations=_SCIATICA)
    assert decision.verdict == "indicated"
    assert "ces-test-only" in [reason.rule for reason in decision.reasons]


# --- the imaging decision reads the plan -----------------------------------------------------------


def test_the_lumbar_imaging_is_defined_once(knowledge: Knowledge) -> None:
    """The plan's lumbar imaging is what a lumbar order of terminology.yaml carries out, all imaging."""
    table = knowledge.tables["investigations"]
    assert isinstance(table, s.InvestigationsTable)
    rows = {row.id: row for row in table.items}
    lumbar = lumbar_imaging(knowledge)
    assert "mri-emergency-cauda-equina" in lumbar
    assert all(table.modalities[rows[test].modality].imaging for test in lumbar)


def test_guidance_alone_says_not_indicated_for_early_sciatica(knowledge: Knowledge) -> None:
    """The witness below is not vacuous: without the plan, early sciatica is not indicated."""
    decision = imaging_decision(_EARLY_SCIATICA, knowledge, presentations=_SCIATICA)
    assert decision.verdict == "not_indicated"


def test_the_plan_offering_lumbar_imaging_leaves_the_decision_open(knowledge: Knowledge) -> None:
    """With a lumbar scan in the plan, the same findings are undetermined and name the plan's item."""
    decision = imaging_decision(
        _EARLY_SCIATICA, knowledge, presentations=_SCIATICA, offered=("mri-emergency-cauda-equina",)
    )
    assert decision.verdict == "undetermined"
    assert "plan:mri-emergency-cauda-equina" in decision.open_rules


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(findings=findings())
def test_the_decision_is_never_not_indicated_while_the_plan_offers_lumbar_imaging(findings):
    """For generated findings: the decision made with the plan's own offer is never not_indicated."""
    knowledge = load_knowledge()
    case = Case(id="generated", findings=dict(findings))
    offered = offered_imaging(assess(case, knowledge).investigations, knowledge)
    for presentations in ({"sciatica"}, {"nonspecific_low_back_pain"}, set()):
        decision = imaging_decision(case.findings, knowledge, presentations=presentations, offered=offered)
        assert not (offered and decision.verdict == "not_indicated")
