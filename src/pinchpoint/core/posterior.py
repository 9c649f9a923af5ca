"""The joint posterior over (cause, lesion site) given a case's findings.

Each known finding adds its precomputed log-likelihood vectors (see
:mod:`pinchpoint.core.likelihood`). Anatomical observations are grouped by modality: a lesion
either involves a modality (pain, numbness, examined sensory loss, power, reflexes,
sphincters) or not, and the two possibilities are mixed, so that five numb regions of one
dermatome count as one piece of evidence rather than five. Unknown findings are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from pinchpoint.core.likelihood import (
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

__all__ = ["Observation", "Posterior", "infer", "infer_many"]


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
        return {cause: float(p) for cause, p in zip(self.model.causes, self.cause_probability, strict=True)}

    def site_probabilities(self) -> dict[str, float]:
        """Return each concrete site id with its marginal probability."""
        return {site: float(p) for site, p in zip(self.model.site_ids, self.site_probability, strict=True)}


class _Picked:
    """The findings of one case that the model uses, and where their vectors sit."""

    def __init__(self, model: LikelihoodModel) -> None:
        self.model = model
        self.stacked = model.stacked
        self.observations: list[Observation] = []
        self.background: list[Rows] = []
        """Rows used without an observation to explain (the absent regions of a region list)."""

    def observe(self, finding: str, value: object, key: object = None) -> None:
        """Use a finding whose value (or, for a binned number, bin ``key``) the model weighs."""
        rows = self.stacked.rows.get((finding, value if key is None else key))
        if rows is not None:
            self.observations.append(Observation(finding, value, rows))

    def rows(self) -> tuple[list[int], list[int]]:
        """Return the rows used, of ``over_units`` and of ``over_pairs``."""
        used = [observation.rows for observation in self.observations] + self.background
        return [row for rows in used for row in rows.modality], [row for rows in used for row in rows.plain]


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
    picks = [_pick(findings, model) for findings in cases]
    probability = _probabilities(model, picks)
    stacked = model.stacked
    sites = probability @ stacked.site_of_pair
    causes = probability @ stacked.cause_of_pair
    return [
        Posterior(model, probability[n], sites[n], causes[n], tuple(picked.observations))
        for n, picked in enumerate(picks)
    ]


def _pick(findings: Mapping[str, FindingValue], model: LikelihoodModel) -> _Picked:
    binners, sided = model.binners, model.sided_cause_features
    picked = _Picked(model)
    sided_features: dict[str, bool | int] = {}
    for finding, value in findings.items():
        if isinstance(value, tuple):
            _observe_regions(picked, finding, value)
            continue
        if finding in sided and isinstance(value, bool | int):
            feature = sided[finding]
            sided_features[feature] = combine_sides(sided_features.get(feature), value)
        if finding in binners:
            picked.observe(finding, value, model.key_of(finding, value))
        else:
            picked.observe(finding, value)
    for feature, present in sided_features.items():
        picked.observe(feature, present, model.key_of(feature, present))
    undefined = picked.stacked.undefined
    picked.background.extend(undefined[cause] for cause in model.undefined_causes(findings))
    return picked


def _probabilities(model: LikelihoodModel, picks: list[_Picked]) -> npt.NDArray[np.float64]:
    """Return each case's posterior over the (cause, site unit) pairs, one row per case.

    Each modality mixes "the lesion involves it" with "it does not" per site unit (and per
    pair where a cause sets its own chance); a modality with no evidence mixes to log 1 = 0,
    so every modality is computed at once.
    """
    stacked = model.stacked
    cases, modalities = len(picks), len(stacked.modalities)
    (on_units, unit_rows), (on_pairs, pair_rows) = _counts(stacked, picks)
    inside = (on_units @ stacked.over_units[unit_rows]).reshape(cases, modalities, -1)
    outside = (on_units @ stacked.unit_scalar[unit_rows]).reshape(cases, modalities)
    mixture = np.logaddexp(stacked.involved + inside, stacked.not_involved + outside[:, :, None])
    plain, pattern = (on_pairs @ stacked.over_pairs[pair_rows]).reshape(cases, 2, -1).transpose(1, 0, 2)
    modality, unit = stacked.override_modality, stacked.override_unit
    exact = np.logaddexp(
        stacked.override_in + inside[:, modality, unit], stacked.override_out + outside[:, modality]
    )
    correction = (exact - mixture[:, modality, unit]) @ stacked.override_of_pair
    non_neural = pattern - outside[:, stacked.pain_modality, None]
    log_joint = (
        model.pair_log_prior
        + plain
        + mixture.sum(axis=1)[:, model.pair_unit]
        + correction
        + np.where(model.pair_non_neural, non_neural, 0.0)
    )
    probability: npt.NDArray[np.float64] = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
    probability /= probability.sum(axis=1, keepdims=True)
    return probability


Counts = tuple[npt.NDArray[np.float64], list[int]]
"""How often each case uses each row, per group ([case x group, row used]), and the rows used."""


def _counts(stacked: StackedModel, picks: list[_Picked]) -> tuple[Counts, Counts]:
    """Return the counts of the rows the cases use, of ``over_units`` and of ``over_pairs``."""
    unit_rows, pair_rows = zip(*(picked.rows() for picked in picks), strict=True)
    return (
        _count(unit_rows, stacked.unit_group, len(stacked.modalities)),
        _count(pair_rows, stacked.pair_group, 2),
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


def _observe_regions(picked: _Picked, finding: str, regions: tuple[str, ...]) -> None:
    model = picked.model
    listed = picked.stacked.region_lists.get(finding)
    if listed is not None:
        picked.background.append(listed.absent)
        for region in regions:
            rows = listed.present.get(region)
            if rows is not None:
                picked.observations.append(Observation(finding, region, rows))
    for name, sources in model.derived_from_lists.items():
        for list_name, wanted in sources:
            if list_name == finding:
                picked.observe(name, derived_present(wanted, regions))
