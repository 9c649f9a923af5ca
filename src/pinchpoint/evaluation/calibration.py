"""Reliability of the top-1 probabilities: how often an answer given with probability p is right.

An answer is calibrated when, among the cases whose top-ranked site (or cause) carries
probability about 0.8, about 80 % are right. :func:`calibration` takes one
``(p, correct)`` point per case and returns the reliability bins (equal width over
[0, 1]), the Brier score of the top-1 answer (mean of ``(p - correct)²``; 0 is perfect)
and the expected calibration error (the bins' gaps ``|accuracy - mean p|``, weighted by
the share of cases in each bin).

The contract's scorer (:mod:`pinchpoint.evaluation.metrics`, ``evaluate --json``), the
evaluation report and its reliability diagram all compute them here. Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pinchpoint.errors import InputError

__all__ = ["BINS", "Calibration", "ReliabilityBin", "calibration"]

BINS = 10
"""Equal-width bins over [0, 1]: the usual resolution of a reliability diagram."""


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """The cases whose top-1 probability fell in ``[lower, upper)`` (the last bin includes 1)."""

    lower: float
    upper: float
    count: int
    mean_p: float
    accuracy: float

    @property
    def gap(self) -> float:
        """How far the observed accuracy is from the stated probability (positive: overconfident)."""
        return self.mean_p - self.accuracy


@dataclass(frozen=True, slots=True)
class Calibration:
    """Brier score, expected calibration error and the non-empty reliability bins of one set of answers."""

    count: int
    mean_p: float
    accuracy: float
    brier: float
    ece: float
    bins: tuple[ReliabilityBin, ...]


def calibration(points: Sequence[tuple[float, bool]], *, bins: int = BINS) -> Calibration:
    """Return the reliability of top-1 answers, one ``(probability, was right)`` point per case.

    Raises:
        InputError: There is no point, or a probability lies outside [0, 1].

    Example:
        Two answers at p = 0.9, one right and one wrong, give one bin with mean p 0.9 and
        accuracy 0.5: an expected calibration error of 0.4 and a Brier score of
        (0.01 + 0.81) / 2 = 0.41.
    """
    if not points:
        raise InputError("there is no answer to calibrate", expected="at least one (p, correct) point")
    for p, _ in points:
        if not 0.0 <= p <= 1.0:
            raise InputError(f"probability {p} is outside [0, 1]", expected="a probability between 0 and 1")
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for point in points:
        grouped[min(int(point[0] * bins), bins - 1)].append(point)
    reliability = tuple(_bin(index, bins, members) for index, members in enumerate(grouped) if members)
    count = len(points)
    return Calibration(
        count=count,
        mean_p=sum(p for p, _ in points) / count,
        accuracy=sum(1 for _, right in points if right) / count,
        brier=sum((p - float(right)) ** 2 for p, right in points) / count,
        ece=sum(b.count * abs(b.gap) for b in reliability) / count,
        bins=reliability,
    )


def _bin(index: int, bins: int, members: Sequence[tuple[float, bool]]) -> ReliabilityBin:
    count = len(members)
    return ReliabilityBin(
        lower=index / bins,
        upper=(index + 1) / bins,
        count=count,
        mean_p=sum(p for p, _ in members) / count,
        accuracy=sum(1 for _, right in members if right) / count,
    )
