"""Safety properties of the triage and the posterior, over generated cases and every rule.

The triage is the most urgent level demanded by a rule that fires (plus the care of a likely
cause), levels combine with ``max``, and a leaf holds only on a known value that passes it,
or, marked ``unless_known_otherwise``, also while its finding is unknown. These tests check
what that design promises: a red flag (a value that explains nothing away) never lowers the
triage, a finding made unknown never silences a rule that does not test it and never lowers
the rules' level unless it was itself a red flag, the cardinal cauda equina flags are an
emergency whatever else the case says, the probabilities are a ranked distribution, no
development case is under-triaged, and every rule is sourced and can fire.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st

from pinchpoint import assess
from pinchpoint.core.assessment import Hypothesis
from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.triage import CompiledRule, unanswered_signs
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.casefile import read_case
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from tests.corpus import PACKAGED_VOCABULARY, shared_case_params
from tests.strategies import (
    RedFlag,
    cases,
    condition_findings,
    findings,
    red_flags,
    rule_seeds,
    rule_witnesses,
)

pytestmark = pytest.mark.core

_PROPERTY = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_FEWER = settings(_PROPERTY, max_examples=100)
"""For properties that restate a broader one for a case that matters most (time course, cardinal flags)."""
_SUM_TOLERANCE = 1e-9
_TIE_TOLERANCE = 1e-8
_TRIAGE_YAML = PACKAGED_VOCABULARY.parent / "triage.yaml"
# Rule ids are read from the YAML itself for the pytest ids, so that collecting does not load
# the knowledge base; test_rule_ids_are_those_compiled checks they are the compiled rules.
_RULE_IDS = [row["id"] for row in yaml.safe_load(_TRIAGE_YAML.read_text(encoding="utf-8"))["rules"]]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _knowledge() -> Knowledge:
    # Property tests cannot take function-scoped fixtures; load_knowledge is cached.
    return load_knowledge()


def _triage(case_findings: Mapping[str, FindingValue]) -> Urgency:
    case = Case(id="generated", findings=MappingProxyType(dict(case_findings)))
    return assess(case, _knowledge()).triage


def _fired(case_findings: Mapping[str, FindingValue]) -> list[CompiledRule]:
    frozen = MappingProxyType(dict(case_findings))
    return [rule for rule in _knowledge().triage.rules if rule.holds(frozen)]


# --- a red flag never lowers the triage ------------------------------------------------------------


@_PROPERTY
@given(case_findings=findings(), flag=red_flags())
def test_adding_a_red_flag_never_lowers_the_triage(
    case_findings: dict[str, FindingValue], flag: RedFlag
) -> None:
    """Adding red-flag findings to a case never lowers its triage, and meets every rule that fires.

    Where the case already states a flag's finding, or a qualifier of the flag's rule (its time
    course), that finding is first made unknown, so the flag is an addition. Overwriting a
    stated value is not one: replacing power 2/5 by 4/5, or a numbness list naming the perineum
    by one that does not, may rightly lower the triage (see
    test_overwriting_with_a_red_flag_keeps_every_rule_it_does_not_touch). Nor is a value that
    explains a qualifier away (a duration of a year is what makes a deficit "not new"): flags
    are drawn without one. The level of ``before`` compared is its rules' level: the care of a
    likely cause follows the posterior, which a new finding may rightly move.
    """
    rule, flag_findings = flag
    rules = _knowledge().triage
    assume(not rules.explanations_in(MappingProxyType(flag_findings)))
    before = {
        key: value
        for key, value in case_findings.items()
        if key not in flag_findings and key not in rule.qualifiers
    }
    after = {**before, **flag_findings}
    level = _triage(after)
    assert rules.evaluate(MappingProxyType(after))[0] >= rules.evaluate(MappingProxyType(before))[0]
    assert level >= rules.evaluate(MappingProxyType(before))[0]
    assert level >= rule.level
    assert all(level >= fired.level for fired in _fired(after))


@_PROPERTY
@given(case_findings=findings(), flag=red_flags())
def test_overwriting_with_a_red_flag_keeps_every_rule_it_does_not_touch(
    case_findings: dict[str, FindingValue], flag: RedFlag
) -> None:
    """With a flag's values written over the case's, every rule of the case not testing them still counts.

    The flag leaves its rule's qualifiers (its time course) unknown, which overwrites them too.
    """
    rule, flag_findings = flag
    written = flag_findings.keys() | rule.qualifiers
    after = {**{key: value for key, value in case_findings.items() if key not in written}, **flag_findings}
    untouched = [fired for fired in _fired(case_findings) if not fired.findings & written]
    level = _triage(after)
    assert level >= rule.level
    assert all(level >= fired.level for fired in untouched)
    assert all(level >= fired.level for fired in _fired(after))


# --- an unknown finding never lowers the triage below what the rest demands --------------------------


@_PROPERTY
@given(case_findings=findings(), flag=red_flags(), data=st.data())
def test_an_unknown_finding_never_lowers_the_triage_below_the_rules(
    case_findings: dict[str, FindingValue], flag: RedFlag, data: st.DataObject
) -> None:
    """Making one finding unknown keeps every rule that does not test it, and the triage meets the rest."""
    full = {**case_findings, **flag[1]}
    removed = data.draw(st.sampled_from(sorted(full)), label="removed")
    remaining = {key: value for key, value in full.items() if key != removed}
    level = _triage(remaining)
    assert level >= _knowledge().triage.evaluate(MappingProxyType(remaining))[0]
    still_fired = _fired(remaining)
    assert all(level >= rule.level for rule in still_fired)
    kept = [rule.id for rule in _fired(full) if removed not in rule.findings]
    assert [rule_id for rule_id in kept if rule_id not in {rule.id for rule in still_fired}] == []


# --- self-care is a positive conclusion ------------------------------------------------------------------


def _person_answers(knowledge: Knowledge) -> frozenset[str]:
    """The findings a question asks in self-check mode (the person can answer them)."""
    return frozenset(
        f for q in knowledge.questions.questions.values() if not q.needs_examiner for f in q.findings
    )


@_PROPERTY
@given(case_findings=findings(), flag=red_flags())
def test_a_case_that_the_persons_own_answers_could_make_an_emergency_is_never_self_care(
    case_findings: dict[str, FindingValue], flag: RedFlag
) -> None:
    """Unknown screened signs that would fire an emergency rule if present keep the triage at soon or above.

    The oracle is the rule itself: the flag's findings are made unknown, and the rule fires
    once they are added back. If a person could answer every one of them, the triage without
    them is not self-care, and they are among the unanswered warning signs it names.
    """
    knowledge = _knowledge()
    rule, flag_findings = flag
    assume(rule.level == Urgency.EMERGENCY)
    assume(flag_findings.keys() <= _person_answers(knowledge))
    assume(flag_findings.keys() & _screen(knowledge))
    before = {key: value for key, value in case_findings.items() if key not in flag_findings}
    assume(rule.holds(MappingProxyType({**before, **flag_findings})))
    assume(_screened_presentation(before))
    level = _triage(before)
    assert level >= Urgency.SOON
    if level < Urgency.EMERGENCY:
        assert set(unanswered_signs(MappingProxyType(before), knowledge)) & flag_findings.keys()


@_PROPERTY
@given(case_findings=findings())
def test_self_care_only_when_no_emergency_sign_a_person_can_answer_is_open(
    case_findings: dict[str, FindingValue],
) -> None:
    """A self-care triage names no unanswered sign; a named sign is unknown and answerable by the person."""
    knowledge = _knowledge()
    frozen = MappingProxyType(dict(case_findings))
    signs = unanswered_signs(frozen, knowledge)
    assert not set(signs) & frozen.keys()
    assert set(signs) <= _person_answers(knowledge)
    level = _triage(case_findings)
    screened = _screened_presentation(case_findings)
    if set(signs) & _screen(knowledge) and screened:
        assert level >= Urgency.SOON
    if level == Urgency.SELF_CARE and screened:
        assert not set(signs) & _screen(knowledge)


def _screened_presentation(case_findings: Mapping[str, FindingValue]) -> bool:
    """Whether the case is back pain or sciatica, or says too little to tell (triage.yaml screen_when)."""
    return _knowledge().unanswered.screen_applies.holds(MappingProxyType(dict(case_findings)))


@pytest.mark.parametrize(
    ("findings", "level"),
    [
        (
            {"pain_regions": ("calf_posterior.left", "calf_posterior.right"), "muscle_cramps": True},
            Urgency.SELF_CARE,
        ),
        ({"pain_regions": ("hip_lateral.right",), "exam.trochanter_tender.right": True}, Urgency.SELF_CARE),
        ({"muscle_cramps": True}, Urgency.SOON),
        ({"pain_regions": ("low_back",), "duration_days": 5}, Urgency.SOON),
        (
            {"pain_regions": ("calf_posterior.left",), "muscle_cramps": True, "pain_shooting": True},
            Urgency.SOON,
        ),
    ],
    ids=["calf-cramps", "outer-hip-trochanteric", "pain-location-unknown", "back-pain", "shooting-calf-pain"],
)
def test_the_cauda_equina_screen_holds_self_care_back_in_back_pain_and_sciatica(
    knowledge: Knowledge, findings: dict[str, FindingValue], level: Urgency
) -> None:
    """Unanswered cauda equina questions refuse self-care where the pathway asks them, and are still named.

    Calf cramps and outer hip pain over a tender trochanter are not that presentation; a pain of
    unknown place, back pain or a shooting pain are. Either way the open signs are among the warnings.
    """
    case = Case(id="screen", findings=MappingProxyType({"age": 40, "sex": "female", **findings}))
    assert assess(case, knowledge).triage == level
    assert {"urinary_retention", "saddle_numbness"} <= set(unanswered_signs(case.findings, knowledge))


def _screen(knowledge: Knowledge) -> frozenset[str]:
    """The warning signs that must be answered before self-care (triage.yaml unanswered.screen)."""
    table = knowledge.tables["triage"]
    assert isinstance(table, s.TriageTable)
    return frozenset(table.unanswered.screen)


def test_nothing_answered_is_not_self_care_and_says_what_was_not_answered(knowledge: Knowledge) -> None:
    """No findings at all: soon, with the unanswered signs in the question bank's words, never ids."""
    assessment = assess(Case(id="empty", findings=MappingProxyType({})), knowledge)
    assert assessment.triage == Urgency.SOON
    (reason,) = [r for r in assessment.triage_reasons if r.rule == "unanswered-warning-signs"]
    retention = knowledge.questions["bladder_bowel"].cells[0]
    assert retention.finding == "urinary_retention"
    assert retention.wording.patient in reason.patient
    assert retention.wording.clinician in reason.clinician
    assert any(
        retention.wording.patient in warning and "emergency" in warning for warning in assessment.warnings
    )
    for text in (reason.patient, reason.clinician, *assessment.warnings):
        assert "urinary_retention" not in text
        assert "exam." not in text
        assert "_" not in text


def test_examination_findings_never_hold_self_care_back(knowledge: Knowledge) -> None:
    """Every question a person can answer answered "no": self-care, although nothing was examined."""
    negative: dict[str, FindingValue] = {}
    for question in knowledge.questions.questions.values():
        if question.needs_examiner:
            continue
        for finding in question.findings:
            spec = knowledge.vocabulary.findings[finding]
            if spec.type == "bool":
                negative[finding] = False
            elif spec.type == "regions":
                negative[finding] = ("low_back",) if finding == "pain_regions" else ()
    negative.update({"age": 35, "sex": "female", "duration_days": 10, "trauma": "none"})
    assessment = assess(Case(id="all-no", findings=MappingProxyType(negative)), knowledge)
    assert unanswered_signs(MappingProxyType(negative), knowledge) == ()
    assert "unanswered-warning-signs" not in [r.rule for r in assessment.triage_reasons]
    assert assessment.triage == Urgency.SELF_CARE


@_PROPERTY
@given(case_findings=findings(), flag=red_flags(), data=st.data())
def test_missing_information_never_lowers_the_rules(
    case_findings: dict[str, FindingValue], flag: RedFlag, data: st.DataObject
) -> None:
    """Making a finding unknown never lowers the rules' level unless its value was a red flag itself.

    An unknown finding fails the plain leaves exactly as a reassuring value does, and holds the
    ``unless_known_otherwise`` leaves ("new", "not improving") that a reassuring value may fail.
    """
    rules = _knowledge().triage
    full = {**case_findings, **flag[1]}
    reassuring = sorted(set(full) - rules.red_flags_in(MappingProxyType(full)))
    assume(reassuring)
    removed = data.draw(st.sampled_from(reassuring), label="removed")
    remaining = {key: value for key, value in full.items() if key != removed}
    assert rules.evaluate(MappingProxyType(remaining))[0] >= rules.evaluate(MappingProxyType(full))[0]


@_FEWER
@given(
    case_findings=findings(),
    flag=red_flags(),
    duration=st.integers(min_value=0, max_value=13),
    improving=st.booleans(),
)
def test_an_unknown_time_course_counts_as_new_and_not_improving(
    case_findings: dict[str, FindingValue], flag: RedFlag, duration: int, improving: bool
) -> None:
    """With the time course unknown, the rules demand at least what a new course gives.

    A course under 2 weeks, improving or not, is the reassuring one: "new" and "not improving"
    hold until the case says otherwise.
    """
    rules = _knowledge().triage
    unknown_course = {
        key: value for key, value in {**case_findings, **flag[1]}.items() if key not in _TIME_COURSE
    }
    stated = {**unknown_course, "duration_days": duration, "improving": improving}
    assert rules.evaluate(MappingProxyType(unknown_course))[0] >= rules.evaluate(MappingProxyType(stated))[0]


_TIME_COURSE = frozenset({"duration_days", "improving"})
_CARDINAL_CES = ["urinary_retention", "saddle_numbness", "bowel_incontinence", "bladder_change"]


@_FEWER
@given(case_findings=findings(), cardinal=st.sampled_from(_CARDINAL_CES))
def test_a_cardinal_cauda_equina_flag_is_an_emergency_however_the_rest_reads(
    case_findings: dict[str, FindingValue], cardinal: str
) -> None:
    """Retention, saddle numbness or new incontinence is an emergency whatever else the case states."""
    assert _triage({**case_findings, cardinal: True}) == Urgency.EMERGENCY


# --- the posterior is a ranked distribution ----------------------------------------------------------


def _check_distribution(ranked: tuple[Hypothesis, ...], ids: set[str]) -> None:
    probabilities = [hypothesis.p for hypothesis in ranked]
    assert {hypothesis.id for hypothesis in ranked} == ids
    assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in probabilities)
    assert math.fsum(probabilities) == pytest.approx(1.0, abs=_SUM_TOLERANCE)
    # Mirror-image hypotheses tie; a tie within rounding noise may come in either order.
    assert all(
        later <= earlier * (1.0 + _TIE_TOLERANCE) for earlier, later in itertools.pairwise(probabilities)
    )


@_PROPERTY
@given(case=cases())
def test_probabilities_are_ranked_distributions(case: Case) -> None:
    """Site and cause probabilities are finite, in [0, 1], sum to 1 and come best first, with the version."""
    knowledge = _knowledge()
    assessment = assess(case, knowledge)
    _check_distribution(assessment.sites, set(knowledge.model.site_ids))
    _check_distribution(assessment.causes, set(knowledge.model.causes))
    assert assessment.knowledge_version == knowledge.version


# --- the development cases -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", shared_case_params())
def test_development_case_is_not_under_triaged(path: Path, knowledge: Knowledge) -> None:
    """No development case is triaged less urgently than the clinician's expected level."""
    case = read_case(path, knowledge.vocabulary)
    assert case.expect is not None, f"{path.name} states no expected answer"
    assessment = assess(case, knowledge)
    reasons = [reason.rule for reason in assessment.triage_reasons]
    assert assessment.triage >= case.expect.triage, (
        f"{case.id}: {assessment.triage.id} below expected {case.expect.triage.id}; rules fired: {reasons}"
    )


# --- every rule of triage.yaml ---------------------------------------------------------------------------


def _rule(knowledge: Knowledge, rule_id: str) -> CompiledRule:
    (rule,) = [rule for rule in knowledge.triage.rules if rule.id == rule_id]
    return rule


def test_rule_ids_are_those_compiled(knowledge: Knowledge) -> None:
    """The rules parametrised below are exactly the compiled rules, in order."""
    assert [rule.id for rule in knowledge.triage.rules] == _RULE_IDS


@pytest.mark.parametrize("rule_id", _RULE_IDS)
def test_rule_is_a_sourced_red_flag(rule_id: str, knowledge: Knowledge) -> None:
    """Every rule demands soon or more and cites a source of sources.yaml."""
    rule = _rule(knowledge, rule_id)
    assert rule.level >= Urgency.SOON
    assert rule.source in knowledge.sources


@pytest.mark.parametrize("rule_id", _RULE_IDS)
def test_strategy_reads_conditions_as_the_compiler_does(rule_id: str, knowledge: Knowledge) -> None:
    """The red-flag strategy derives witnesses over exactly the finding ids the compiled rule tests."""
    rule = _rule(knowledge, rule_id)
    assert condition_findings(rule) == rule.findings


@pytest.mark.parametrize("rule_id", _RULE_IDS)
def test_rule_can_fire(rule_id: str, knowledge: Knowledge) -> None:
    """Every rule fires on (part of) a development case or on a witness derived from its condition.

    The firing findings alone, as a case, are then triaged at the rule's level or above.
    """
    rule = _rule(knowledge, rule_id)
    seeds = rule_seeds(rule)
    witness = (
        seeds[0]
        if seeds
        else find(
            rule_witnesses(rule),
            lambda drawn: rule.holds(MappingProxyType(drawn)),
            settings=settings(max_examples=500, database=None, deadline=None),
        )
    )
    assert rule.holds(MappingProxyType(witness))
    assert _triage(witness) >= rule.level
