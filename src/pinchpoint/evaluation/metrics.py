"""The scores of ``shared/contract/CASES.md``: how pinchpoint's answers compare with a clinician's.

:func:`score` takes each case with its expected answer beside pinchpoint's assessment
and returns an :class:`EvaluationReport`: triage exact, under-triage (the unsafe error:
less urgent than expected), over-triage, emergency sensitivity, and whether an
acceptable lesion site and cause is ranked first or within the first three, and how well
the probability of the first-ranked site and cause matches how often it is right (Brier
score and expected calibration error). Every wrong
aspect of a case is listed as a :class:`Miss`, so a reviewer sees what went wrong, not
only how often.

Pure functions: no files, no printing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pinchpoint.core.assessment import Assessment, Hypothesis
from pinchpoint.core.case import Case, Expectation
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InputError
from pinchpoint.evaluation.calibration import Calibration, calibration

__all__ = ["Aspect", "Calibration", "EvaluationReport", "Miss", "calibration", "score"]

Aspect = Literal["triage", "site", "cause"]
"""Which part of an answer a miss concerns."""

_TOP = 3
_DIGITS = 4


@dataclass(frozen=True, slots=True)
class Miss:
    """One wrong aspect of one case: what a clinician expected and what pinchpoint ranked first.

    ``expected`` is the expected triage id, or every acceptable site or cause id, best
    first. ``got`` is the predicted triage id or top-ranked id (``None`` when nothing
    was ranked).
    """

    case: str
    aspect: Aspect
    expected: str | tuple[str, ...]
    got: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the ``{case, aspect, expected, got}`` object of the evaluation report."""
        expected = self.expected if isinstance(self.expected, str) else list(self.expected)
        return {"case": self.case, "aspect": self.aspect, "expected": expected, "got": self.got}


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """The metrics of ``shared/contract/CASES.md`` "Scoring" over a set of cases.

    Every fraction is between 0 and 1. ``emergency_sensitivity`` is ``None`` when no
    case expects an emergency, because a share of nothing is not 100 %.
    """

    cases: int
    triage_exact: float
    under_triage: float
    over_triage: float
    emergency_sensitivity: float | None
    site_top1: float
    site_top3: float
    cause_top1: float
    cause_top3: float
    misses: tuple[Miss, ...]
    knowledge_version: str
    site_calibration: Calibration | None = None
    cause_calibration: Calibration | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the evaluation report object of ``shared/contract/CASES.md``."""
        sensitivity = self.emergency_sensitivity
        return {
            "cases": self.cases,
            "triage_exact": _rounded(self.triage_exact),
            "under_triage": _rounded(self.under_triage),
            "over_triage": _rounded(self.over_triage),
            "emergency_sensitivity": None if sensitivity is None else _rounded(sensitivity),
            "site_top1": _rounded(self.site_top1),
            "site_top3": _rounded(self.site_top3),
            "cause_top1": _rounded(self.cause_top1),
            "cause_top3": _rounded(self.cause_top3),
            **_calibration_json("site", self.site_calibration),
            **_calibration_json("cause", self.cause_calibration),
            "misses": [miss.to_json() for miss in self.misses],
            "knowledge_version": self.knowledge_version,
        }


def _calibration_json(aspect: str, value: Calibration | None) -> dict[str, Any]:
    if value is None:
        return {}
    return {
        f"{aspect}_top1_mean_p": _rounded(value.mean_p),
        f"{aspect}_brier": _rounded(value.brier),
        f"{aspect}_ece": _rounded(value.ece),
        f"{aspect}_reliability": [
            {"bin": b.lower, "cases": b.count, "mean_p": _rounded(b.mean_p), "accuracy": _rounded(b.accuracy)}
            for b in value.bins
        ],
    }


@dataclass(frozen=True, slots=True)
class _Scored:
    """One case's outcome on every metric, before the outcomes are averaged."""

    expected: Urgency
    predicted: Urgency
    site_rank: int | None
    cause_rank: int | None
    misses: tuple[Miss, ...]
    site_p: float
    """The probability of the first-ranked site (0 when nothing was ranked), and of the cause."""
    cause_p: float


def score(pairs: Iterable[tuple[Case, Assessment]]) -> EvaluationReport:
    """Score assessments against the answers their cases expect.

    Cases without an ``expect`` section are left out: there is nothing to score them
    against.

    Args:
        pairs: Each case with pinchpoint's assessment of it, in the order to report misses.

    Raises:
        InputError: No case has an expected answer.
        ValueError: The assessments were made with different knowledge versions, so
            their scores cannot be pooled (a caller's bug).

    Example:
        A case expecting ``emergency`` that is triaged ``urgent`` counts once in
        ``under_triage``, lowers ``emergency_sensitivity``, and is listed as a triage
        miss ``{"expected": "emergency", "got": "urgent"}``.
    """
    scored: list[_Scored] = []
    versions: set[str] = set()
    for case, assessment in pairs:
        if case.expect is not None:
            scored.append(_score_one(case.id, case.expect, assessment))
            versions.add(assessment.knowledge_version)
    if not scored:
        raise InputError("there is no case to score", expected="at least one case with an 'expect' section")
    if len(versions) > 1:
        raise ValueError(
            f"assessments from different knowledge versions cannot be pooled: {sorted(versions)}"
        )
    return _report(scored, versions.pop())


def _score_one(case_id: str, expect: Expectation, assessment: Assessment) -> _Scored:
    site_rank = _rank(assessment.sites, expect.sites)
    cause_rank = _rank(assessment.causes, expect.causes)
    misses: list[Miss] = []
    if assessment.triage != expect.triage:
        misses.append(Miss(case_id, "triage", expect.triage.id, assessment.triage.id))
    if site_rank != 1:
        misses.append(Miss(case_id, "site", expect.sites, _top_id(assessment.sites)))
    if cause_rank != 1:
        misses.append(Miss(case_id, "cause", expect.causes, _top_id(assessment.causes)))
    return _Scored(
        expect.triage,
        assessment.triage,
        site_rank,
        cause_rank,
        tuple(misses),
        _top_p(assessment.sites),
        _top_p(assessment.causes),
    )


def _rank(ranked: Sequence[Hypothesis], acceptable: Sequence[str]) -> int | None:
    """Return the 1-based rank of the first acceptable hypothesis, or None if none is ranked."""
    wanted = set(acceptable)
    return next((rank for rank, h in enumerate(ranked, start=1) if h.id in wanted), None)


def _top_id(ranked: Sequence[Hypothesis]) -> str | None:
    return ranked[0].id if ranked else None


def _top_p(ranked: Sequence[Hypothesis]) -> float:
    return ranked[0].p if ranked else 0.0


def _report(scored: Sequence[_Scored], knowledge_version: str) -> EvaluationReport:
    emergencies = [s for s in scored if s.expected == Urgency.EMERGENCY]
    return EvaluationReport(
        cases=len(scored),
        triage_exact=_share(scored, lambda s: s.predicted == s.expected),
        under_triage=_share(scored, lambda s: s.predicted < s.expected),
        over_triage=_share(scored, lambda s: s.predicted > s.expected),
        emergency_sensitivity=(
            _share(emergencies, lambda s: s.predicted == Urgency.EMERGENCY) if emergencies else None
        ),
        site_top1=_share(scored, lambda s: _within(s.site_rank, 1)),
        site_top3=_share(scored, lambda s: _within(s.site_rank, _TOP)),
        cause_top1=_share(scored, lambda s: _within(s.cause_rank, 1)),
        cause_top3=_share(scored, lambda s: _within(s.cause_rank, _TOP)),
        misses=tuple(miss for s in scored for miss in s.misses),
        knowledge_version=knowledge_version,
        site_calibration=calibration([(s.site_p, s.site_rank == 1) for s in scored]),
        cause_calibration=calibration([(s.cause_p, s.cause_rank == 1) for s in scored]),
    )


def _within(rank: int | None, top: int) -> bool:
    return rank is not None and rank <= top


def _share(scored: Sequence[_Scored], hit: Callable[[_Scored], bool]) -> float:
    return sum(1 for s in scored if hit(s)) / len(scored)


def _rounded(fraction: float) -> float:
    return round(fraction, _DIGITS)
