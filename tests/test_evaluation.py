"""Tests of :mod:`pinchpoint.evaluation.metrics` on fabricated cases and assessments."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from pinchpoint.core.assessment import Assessment, Hypothesis
from pinchpoint.core.case import Case, Expectation
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InputError
from pinchpoint.evaluation import Miss, score

_REPORT_KEYS = {
    "cases", "triage_exact", "under_triage", "over_triage", "emergency_sensitivity", "site_top1",
    "site_top3", "cause_top1", "cause_top3", "misses", "knowledge_version",
    "site_top1_mean_p", "site_brier", "site_ece", "site_reliability",
    "cause_top1_mean_p", "cause_brier", "cause_ece", "cause_reliability",
}  # fmt: skip


def _pair(
    case_id: str,
    *,
    expected: Urgency | None = Urgency.SOON,
    predicted: Urgency = Urgency.SOON,
    sites: tuple[str, ...] = ("root.L5.left",),
    ranked_sites: tuple[str, ...] = ("root.L5.left",),
    causes: tuple[str, ...] = ("disc_herniation",),
    ranked_causes: tuple[str, ...] = ("disc_herniation",),
    version: str = "1.0.0+test",
) -> tuple[Case, Assessment]:
    expect = None if expected is None else Expectation(expected, sites, causes)
    case = Case(id=case_id, findings=MappingProxyType({}), expect=expect)
    assessment = Assessment(
        case_id=case_id,
        triage=predicted,
        triage_reasons=(),
        sites=_ranked(ranked_sites),
        causes=_ranked(ranked_causes),
        knowledge_version=version,
    )
    return case, assessment


def _ranked(ids: tuple[str, ...]) -> tuple[Hypothesis, ...]:
    return tuple(Hypothesis(id=i, p=1.0 / (rank + 2), label=i) for rank, i in enumerate(ids))


def test_triage_exact_under_and_over() -> None:
    """Triage is scored exact, under (less urgent than expected) or over, by the urgency order."""
    report = score(
        [
            _pair("missed-emergency", expected=Urgency.EMERGENCY, predicted=Urgency.URGENT),
            _pair("cautious", expected=Urgency.SOON, predicted=Urgency.URGENT),
            _pair("right-self-care", expected=Urgency.SELF_CARE, predicted=Urgency.SELF_CARE),
            _pair("right-urgent", expected=Urgency.URGENT, predicted=Urgency.URGENT),
        ]
    )
    assert (report.cases, report.triage_exact, report.under_triage, report.over_triage) == (
        4,
        0.5,
        0.25,
        0.25,
    )
    assert report.emergency_sensitivity == 0.0


@pytest.mark.parametrize(
    ("predicted", "sensitivity"),
    [
        pytest.param((Urgency.EMERGENCY, Urgency.EMERGENCY), 1.0, id="both-caught"),
        pytest.param((Urgency.EMERGENCY, Urgency.URGENT), 0.5, id="one-missed"),
        pytest.param((Urgency.SOON, Urgency.SELF_CARE), 0.0, id="both-missed"),
    ],
)
def test_emergency_sensitivity(predicted: tuple[Urgency, Urgency], sensitivity: float) -> None:
    """Emergency sensitivity is the share of expected emergencies predicted as emergencies."""
    pairs = [
        _pair("a", expected=Urgency.EMERGENCY, predicted=predicted[0]),
        _pair("b", expected=Urgency.EMERGENCY, predicted=predicted[1]),
        # An over-triaged self-care case must not count: only expected emergencies do.
        _pair("c", expected=Urgency.SELF_CARE, predicted=Urgency.EMERGENCY),
    ]
    assert score(pairs).emergency_sensitivity == sensitivity


def test_emergency_sensitivity_is_none_without_expected_emergencies() -> None:
    """With no case expecting an emergency the sensitivity is null, not a made-up 100 %."""
    report = score([_pair("a", expected=Urgency.SOON, predicted=Urgency.EMERGENCY)])
    assert report.emergency_sensitivity is None
    assert report.to_json()["emergency_sensitivity"] is None


@pytest.mark.parametrize(
    ("acceptable", "ranked", "top1", "top3"),
    [
        pytest.param(("root.L5.left",), ("root.L5.left", "root.S1.left"), True, True, id="first"),
        # Any acceptable answer counts, not only the best one.
        pytest.param(
            ("root.L5.left", "nerve.common_peroneal.left"),
            ("nerve.common_peroneal.left", "root.L5.left"),
            True,
            True,
            id="second-acceptable-first",
        ),
        pytest.param(
            ("root.L5.left",), ("root.S1.left", "root.L4.left", "root.L5.left"), False, True, id="third"
        ),
        pytest.param(
            ("root.L5.left",),
            ("root.S1.left", "root.L4.left", "nerve.sciatic.left", "root.L5.left"),
            False,
            False,
            id="fourth",
        ),
        pytest.param(("root.L5.left",), (), False, False, id="nothing-ranked"),
        # The side is part of the site: the right root on the wrong side is wrong.
        pytest.param(("root.L5.left",), ("root.L5.right",), False, False, id="wrong-side"),
    ],
)
def test_site_and_cause_top_k(
    acceptable: tuple[str, ...], ranked: tuple[str, ...], top1: bool, top3: bool
) -> None:
    """A site or cause scores top-k when any acceptable answer is within the first k."""
    site = score([_pair("s", sites=acceptable, ranked_sites=ranked)])
    cause = score([_pair("c", causes=acceptable, ranked_causes=ranked)])
    expected = (float(top1), float(top3))
    assert (site.site_top1, site.site_top3) == expected
    assert (cause.cause_top1, cause.cause_top3) == expected


def test_one_miss_per_wrong_aspect() -> None:
    """Each wrong aspect of a case is one miss naming the aspect, the expectation and the answer."""
    report = score(
        [
            _pair("right", expected=Urgency.SOON),
            _pair(
                "all-wrong",
                expected=Urgency.EMERGENCY,
                predicted=Urgency.SOON,
                sites=("cauda_equina",),
                ranked_sites=("root.S1.left", "cauda_equina"),
                causes=("disc_herniation", "spinal_stenosis"),
                ranked_causes=(),
            ),
        ]
    )
    assert report.misses == (
        Miss("all-wrong", "triage", "emergency", "soon"),
        Miss("all-wrong", "site", ("cauda_equina",), "root.S1.left"),
        Miss("all-wrong", "cause", ("disc_herniation", "spinal_stenosis"), None),
    )
    assert report.to_json()["misses"][2] == {
        "case": "all-wrong",
        "aspect": "cause",
        "expected": ["disc_herniation", "spinal_stenosis"],
        "got": None,
    }


def test_report_object_has_the_contract_keys() -> None:
    """The report object has every key of CASES.md, fractions rounded, and the knowledge version."""
    report = score([_pair("a"), _pair("b"), _pair("c", predicted=Urgency.URGENT)]).to_json()
    assert set(report) == _REPORT_KEYS
    assert (report["triage_exact"], report["over_triage"], report["knowledge_version"]) == (
        0.6667,
        0.3333,
        "1.0.0+test",
    )


def test_cases_without_expectation_are_left_out() -> None:
    """A user's case without an expected answer is not scored."""
    report = score([_pair("scored"), _pair("users-own", expected=None, predicted=Urgency.EMERGENCY)])
    assert (report.cases, report.over_triage) == (1, 0.0)


def test_nothing_to_score_is_an_input_error() -> None:
    """Scoring no expectation at all is refused rather than divided by zero."""
    with pytest.raises(InputError) as caught:
        score([_pair("users-own", expected=None)])
    assert (
        str(caught.value) == "there is no case to score; expected at least one case with an 'expect' section"
    )


def test_mixed_knowledge_versions_cannot_be_pooled() -> None:
    """Assessments made with different knowledge cannot be scored together."""
    with pytest.raises(ValueError, match="different knowledge versions"):
        score([_pair("a", version="1"), _pair("b", version="2")])


def test_report_carries_top1_calibration() -> None:
    """The report gives the top-1 site and cause calibration of the scored cases."""
    # _ranked gives the first hypothesis p = 0.5; one site is right, one wrong.
    report = score([_pair("a"), _pair("b", ranked_sites=("root.S1.left",))])
    assert report.site_calibration is not None
    assert report.cause_calibration is not None
    assert (report.site_calibration.accuracy, report.site_calibration.mean_p) == (0.5, 0.5)
    assert report.site_calibration.ece == pytest.approx(0.0)
    assert report.cause_calibration.ece == pytest.approx(0.5)
    assert report.to_json()["site_brier"] == 0.25
