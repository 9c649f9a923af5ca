"""Tests of the imaging-appropriateness decision (:mod:`pinchpoint.core.imaging`, rules in imaging.yaml).

Rules that make imaging indicated are exercised through witnesses derived from the triage
conditions themselves (``tests.strategies``), so every listed rule is shown to fire and to win
over any presentation; the safety property is that adding a red flag never turns a decision
into ``not_indicated``.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import cast

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pinchpoint import assess
from pinchpoint.core.assessment import Hypothesis
from pinchpoint.core.imaging import imaging_decision, presentations_of
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.casefile import read_case
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from tests.corpus import PACKAGED_VOCABULARY, shared_case_params
from tests.strategies import findings, red_flags, rule_witnesses

pytestmark = pytest.mark.core

_IMAGING = yaml.safe_load((PACKAGED_VOCABULARY.parent / "imaging.yaml").read_text(encoding="utf-8"))
_TRIAGE = yaml.safe_load((PACKAGED_VOCABULARY.parent / "triage.yaml").read_text(encoding="utf-8"))
_INDICATING_FAMILIES = {family for row in _IMAGING["indicated"] for family in row.get("suspects", [])}
# The rules imaging.yaml names one by one, and every rule of a family it names (triage.yaml suspects).
_INDICATING_RULES = sorted(
    {rule for row in _IMAGING["indicated"] for rule in row.get("triage_rules", [])}
    | {rule["id"] for rule in _TRIAGE["rules"] if _INDICATING_FAMILIES & set(rule.get("suspects", []))}
)
_PRESENTATIONS = sorted(_IMAGING["presentations"])
_UNCOMPLICATED = frozenset(row["id"] for row in _IMAGING["uncomplicated_rules"])
_PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_WITNESSES = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


@pytest.mark.parametrize("rule_id", _INDICATING_RULES)
def test_each_indicating_rule_makes_imaging_indicated(knowledge, rule_id):
    """When a listed triage rule fires, imaging is indicated whatever the presentation."""
    rule = next(r for r in knowledge.triage.rules if r.id == rule_id)

    @_WITNESSES
    @given(rule_witnesses(rule))
    def check(witness):
        decision = imaging_decision(witness, knowledge, presentations=_PRESENTATIONS)
        assert decision.verdict == "indicated"
        assert rule_id in [reason.rule for reason in decision.reasons]

    check()


@pytest.mark.parametrize(
    ("findings_", "presentations", "verdict", "rule"),
    [
        pytest.param(
            {"duration_days": 10},
            {"sciatica"}, "not_indicated", "early-sciatica", id="early-sciatica"),
        pytest.param({"duration_days": 60}, {"sciatica"}, "undetermined", None, id="sciatica-beyond-6-weeks"),
        pytest.param({}, {"sciatica"}, "undetermined", None, id="sciatica-duration-unknown"),
        pytest.param({}, {"nonspecific_low_back_pain"}, "not_indicated", "nonspecific-low-back-pain",
                     id="nonspecific-any-duration"),
        pytest.param({"duration_days": 10}, set(), "undetermined", None, id="no-presentation"),
        # numbness alone leaves sciatica uncomplicated (an allowed rule fires)
        pytest.param({"duration_days": 10, "numbness_regions": ("foot_dorsum.left",)}, {"sciatica"},
                     "not_indicated", "early-sciatica", id="numbness-is-uncomplicated"),
        # unexplained weight loss is not an indication by itself, but it leaves the decision open
        pytest.param({"duration_days": 10, "weight_loss": True}, {"sciatica"}, "undetermined", None,
                     id="weight-loss-leaves-it-open"),
        pytest.param({"duration_days": 10, "urinary_retention": True}, {"sciatica"}, "indicated",
                     "ces-urinary-retention", id="retention"),
    ],
)  # fmt: skip
def test_decisions(knowledge, findings_, presentations, verdict, rule):
    """The decision table of imaging.yaml, case by case."""
    decision = imaging_decision(findings_, knowledge, presentations=presentations)
    assert decision.verdict == verdict
    if rule is not None:
        assert decision.reasons[0].rule == rule
    if verdict == "not_indicated":
        assert 0 < len(decision.summary) < 140


def test_weight_loss_names_the_open_rule(knowledge):
    """An undetermined decision names the triage rule that left it to the clinician."""
    decision = imaging_decision({"weight_loss": True}, knowledge, presentations={"sciatica"})
    assert decision.open_rules == ("weight-loss", "serious-cause-risk-factors")


@pytest.mark.parametrize(
    "risk",
    [{"cancer_history": True}, {"long_term_steroids": True}, {"trauma": "minor"}, {"iv_drug_use": True}],
    ids=["cancer", "steroids", "minor-trauma", "iv-drugs"],
)
def test_risk_factors_of_a_serious_cause_leave_it_open(knowledge, risk):
    """A recorded risk factor of cancer, infection or fracture never gives 'not_indicated'."""
    decision = imaging_decision(
        {"duration_days": 5, **risk}, knowledge, presentations={"nonspecific_low_back_pain"}
    )
    assert decision.verdict != "not_indicated"
    assert "serious-cause-risk-factors" in decision.open_rules or decision.verdict == "indicated"


@pytest.mark.parametrize(
    ("sites", "causes"), [(["cauda_equina"], []), ([], ["tumour"]), ([], ["infection"]), ([], ["fracture"])]
)
def test_recorded_serious_diagnosis_makes_imaging_indicated(knowledge, sites, causes):
    """A recorded cauda equina syndrome, tumour, infection or fracture makes imaging indicated."""
    decision = imaging_decision(
        {"duration_days": 3},
        knowledge,
        presentations={"sciatica"},
        recorded_sites=sites,
        recorded_causes=causes,
    )
    assert decision.verdict == "indicated"


@_PROPERTY
@given(
    base=findings(max_size=12),
    flag=red_flags().filter(lambda flag: flag[0].id not in _UNCOMPLICATED),
    presentation=st.sets(st.sampled_from(_PRESENTATIONS)),
)
def test_a_red_flag_never_makes_imaging_not_indicated(base, flag, presentation):
    """A red flag (soon or above, other than the uncomplicated rules) never gives 'not_indicated'."""
    knowledge = load_knowledge()
    rule, flag_findings = flag
    case_findings = {**base, **flag_findings}
    # The drawn base may undo the flag (a duration past 6 weeks where the rule needs an acute onset).
    assume(rule.holds(MappingProxyType(case_findings)))
    decision = imaging_decision(case_findings, knowledge, presentations=presentation)
    assert decision.verdict != "not_indicated"


@pytest.mark.parametrize("path", shared_case_params())
def test_emergency_cases_are_indicated(knowledge, path: Path):
    """Every development case triaged emergency has imaging indicated (all emergency rules are spinal)."""
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    decision = imaging_decision(
        case.findings, knowledge, presentations=presentations_of(assessment.causes, knowledge)
    )
    if assessment.triage is Urgency.EMERGENCY:
        assert decision.verdict == "indicated"
    if decision.verdict == "not_indicated":
        assert assessment.triage <= Urgency.SOON


def test_presentations_follow_the_leading_cause(knowledge):
    """The leading cause names the presentation, as imaging.yaml maps them."""
    table = cast(s.ImagingTable, knowledge.tables["imaging"])
    for name, presentation in table.presentations.items():
        for cause in presentation.causes:
            assert name in presentations_of((Hypothesis(cause, 0.9, cause),), knowledge)
    assert presentations_of((), knowledge) == frozenset()
