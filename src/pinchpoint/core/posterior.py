"""The joint posterior over (cause, lesion site) given a case's findings.

Each known finding adds its precomputed log-likelihood vectors (see
:mod:`pinchpoint.core.likelihood`). Anatomical observations are grouped by modality: a lesion
either involves a modality (pain, numbness, examined sensory loss, power, reflexes,
sphincters) or not, and the two possibilities are mixed, so that five numb regions of one
dermatome count as one piece of evidence rather than five. Unknown findings are skipped.

:func:`weigh` reads findings into :class:`~pinchpoint.core.likelihood.Evidence`, and the
model's one kernel (:meth:`~pinchpoint.core.likelihood.StackedModel.log_joint`) turns it into
the log joint; the interview's predictor reads the findings so far through :func:`weigh` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from pinchpoint.core.likelihood import (
    Evidence,
    LikelihoodModel,
    Rows,
    StackedModel,
    Vector,
    combine_sides,
    derived_present,
)

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge

__all__ = ["Observation", "Posterior", "Reading", "infer", "infer_many", "weigh"]


class Observation(NamedTuple):
    """One piece of evidence that was used, kept so that conclusions can be explained."""

    finding: str
    value: object
    rows: Rows
    """Where the observation's vectors sit in the model's stacked matrices."""


@dataclass(frozen=True)
class Posterior:
    """Posterior probabilities over hypotheses (cause, site unit) and their marginals."""

    model: LikelihoodModel
    pair_probability: Vector
    site_probability: Vector
    cause_probability: Vector
    observations: tuple[Observation, ...] = field(repr=False)

    def cause_probabilities(self) -> dict[str, float]:
        """Return each cause id with its marginal probability."""
        return dict(zip(self.model.causes, self.cause_probability.tolist(), strict=True))

    def site_probabilities(self) -> dict[str, float]:
        """Return each concrete site id with its marginal probability."""
        return dict(zip(self.model.site_ids, self.site_probability.tolist(), strict=True))


class Reading:
    """The findings of one case that the model uses, and where their vectors sit."""

    def __init__(self, model: LikelihoodModel) -> None:
        self.model = model
        self.stacked = model.stacked
        self.observations: list[Observation] = []
        self.background: list[Rows] = []
        """Rows used without an observation to explain (the absent regions of a region list)."""
        self.features: dict[str, bool | int] = {}
        """Each sided cause feature, combined over the legs (see :func:`combine_sides`)."""
        self.undefined: tuple[int, ...] = ()
        """The causes with defining findings none of which is present (causes.yaml ``defining``)."""

    def observe(self, finding: str, value: object, key: object = None) -> None:
        """Use a finding whose value (or, for a binned number, bin ``key``) the model weighs."""
        rows = self.stacked.rows.get((finding, value if key is None else key))
        if rows is not None:
            self.observations.append(Observation(finding, value, rows))

    def rows(self) -> tuple[list[int], list[int]]:
        """Return the rows used, of ``over_units`` and of ``over_plain``."""
        modality: list[int] = []
        plain: list[int] = []
        for rows in [observation.rows for observation in self.observations] + self.background:
            modality += rows.modality  # extending in place: a nested comprehension costs twice as much
            plain += rows.plain
        return modality, plain


def infer(findings: Mapping[str, FindingValue], knowledge: Knowledge) -> Posterior:
    """Return the posterior over causes and sites given the known findings."""
    return infer_many([findings], knowledge)[0]


def infer_many(cases: Sequence[Mapping[str, FindingValue]], knowledge: Knowledge) -> list[Posterior]:
    """Return the posterior of each case's findings, computed for all of them at once.

    The array work of a posterior costs about as much for a few hundred cases as for one,
    so a batch run passes its cases in chunks; :func:`infer` is a chunk of one.
    """
    if not cases:
        return []
    model = knowledge.model
    stacked = model.stacked
    evidence, readings = weigh(cases, model)
    log_joint = stacked.log_joint(evidence)
    probability: npt.NDArray[np.float64] = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
    probability /= probability.sum(axis=1, keepdims=True)
    sites = probability @ stacked.site_of_pair
    causes = probability @ stacked.cause_of_pair
    return [
        Posterior(model, probability[n], sites[n], causes[n], tuple(reading.observations))
        for n, reading in enumerate(readings)
    ]


def weigh(
    cases: Sequence[Mapping[str, FindingValue]], model: LikelihoodModel
) -> tuple[Evidence, list[Reading]]:
    """Return the evidence of each case's findings (one row per case), and what each case used.

    The rows a case uses are summed by counting them and multiplying the counts by the
    model's matrices, a few array calls for the whole batch.
    """
    readings = [_read(findings, model) for findings in cases]
    stacked = model.stacked
    count, modalities = len(readings), len(stacked.modalities)
    (on_units, unit_rows), (on_plain, plain_rows) = _counts(stacked, readings)
    inside = (on_units @ stacked.over_units[unit_rows]).reshape(count, modalities, -1)
    outside = (on_units @ stacked.unit_scalar[unit_rows]).reshape(count, modalities)
    plain, pattern = (on_plain @ stacked.over_plain[plain_rows]).reshape(count, 2, -1).transpose(1, 0, 2)
    units = stacked.units
    evidence = Evidence(plain[:, :units], plain[:, units:], pattern[:, units:], inside, outside)
    return evidence, readings


def _read(findings: Mapping[str, FindingValue], model: LikelihoodModel) -> Reading:
    binners, sided = model.binners, model.sided_cause_features
    reading = Reading(model)
    features = reading.features
    for finding, value in findings.items():
        if isinstance(value, tuple):
            _observe_regions(reading, finding, value)
            continue
        if finding in sided and isinstance(value, bool | int):
            feature = sided[finding]
            features[feature] = combine_sides(features.get(feature), value)
        if finding in binners:
            reading.observe(finding, value, model.key_of(finding, value))
        else:
            reading.observe(finding, value)
    for feature, present in features.items():
        reading.observe(feature, present, model.key_of(feature, present))
    reading.undefined = model.undefined_causes(findings)
    undefined = reading.stacked.undefined
    reading.background.extend(undefined[cause] for cause in reading.undefined)
    return reading


Counts = tuple[npt.NDArray[np.float64], list[int]]
"""How often each case uses each row, per group ([case x group, row used]), and the rows used."""


def _counts(stacked: StackedModel, readings: list[Reading]) -> tuple[Counts, Counts]:
    """Return the counts of the rows the cases use, of ``over_units`` and of ``over_plain``."""
    unit_rows, plain_rows = zip(*(reading.rows() for reading in readings), strict=True)
    return (
        _count(unit_rows, stacked.unit_group, len(stacked.modalities)),
        _count(plain_rows, stacked.plain_group, 2),
    )


def _count(rows_per_case: Sequence[list[int]], group_of: Sequence[int], groups: int) -> Counts:
    used = sorted({row for rows in rows_per_case for row in rows})
    column = {row: i for i, row in enumerate(used)}
    width, cases = len(used), len(rows_per_case)
    flat = [
        (case * groups + group_of[row]) * width + column[row]
        for case, rows in enumerate(rows_per_case)
        for row in rows
    ]
    counts = np.bincount(np.array(flat, dtype=np.intp), minlength=cases * groups * width)
    return counts.reshape(cases * groups, width).astype(np.float64), used


def _observe_regions(reading: Reading, finding: str, regions: tuple[str, ...]) -> None:
    model = reading.model
    listed = reading.stacked.region_lists.get(finding)
    if listed is not None:
        reading.background.append(listed.absent)
        for region in regions:
            rows = listed.present.get(region)
            if rows is not None:
                reading.observations.append(Observation(finding, region, rows))
    for name, sources in model.derived_from_lists.items():
        for list_name, wanted in sources:
            if list_name == finding:
                reading.observe(name, derived_present(wanted, regions))
