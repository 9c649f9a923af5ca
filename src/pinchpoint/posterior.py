"""The joint posterior over (cause, lesion site) given a case's findings.

Each known finding adds its precomputed log-likelihood vectors (see
:mod:`pinchpoint.evidence`). Anatomical observations are grouped by modality: a lesion
either involves a modality (pain, numbness, examined sensory loss, power, reflexes,
sphincters) or not, and the two possibilities are mixed, so that five numb regions of one
dermatome count as one piece of evidence rather than five. Unknown findings are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pinchpoint.evidence import LikelihoodModel, Rows, Vector

if TYPE_CHECKING:
    from pinchpoint.case import FindingValue
    from pinchpoint.knowledge.model import Knowledge

__all__ = ["Observation", "Posterior", "infer"]


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
    """The findings a case's model uses, with where their vectors sit, and what they add up to."""

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

    def log_joint(self) -> Vector:
        """Return the log joint probability of every (cause, site) pair and the findings.

        Each modality mixes "the lesion involves it" with "it does not" per site unit (and
        per pair where a cause sets its own chance); a modality with no evidence mixes to
        log 1 = 0, so every modality is computed at once.
        """
        model, stacked = self.model, self.stacked
        used = [observation.rows for observation in self.observations] + self.background
        on_units = [row for rows in used for row in rows.modality]
        on_pairs = [row for rows in used for row in rows.plain]
        groups = stacked.unit_groups[:, on_units]
        inside = groups @ stacked.over_units[on_units]
        outside = groups @ stacked.unit_scalar[on_units]
        mixture = np.logaddexp(stacked.involved + inside, stacked.not_involved + outside[:, None])
        plain, pattern = stacked.pair_groups[:, on_pairs] @ stacked.over_pairs[on_pairs]
        modality, unit = stacked.override_modality, stacked.override_unit
        exact = np.logaddexp(
            stacked.override_in + inside[modality, unit], stacked.override_out + outside[modality]
        )
        correction = np.bincount(
            stacked.override_pair, weights=exact - mixture[modality, unit], minlength=len(model.pair_unit)
        )
        log_joint: Vector = (
            model.pair_log_prior
            + plain
            + mixture.sum(axis=0)[model.pair_unit]
            + correction
            + np.where(model.pair_non_neural, pattern - outside[stacked.pain_modality], 0.0)
        )
        return log_joint


def infer(findings: Mapping[str, FindingValue], knowledge: Knowledge) -> Posterior:
    """Return the posterior over causes and sites given the known findings."""
    model = knowledge.model
    binners, sided = model.binners, model.sided_cause_features
    picked = _Picked(model)
    sided_features: dict[str, bool] = {}
    for finding, value in findings.items():
        if isinstance(value, tuple):
            _observe_regions(picked, finding, value)
            continue
        if finding in sided and isinstance(value, bool):
            feature = sided[finding]
            sided_features[feature] = sided_features.get(feature, False) or value
        if finding in binners:
            picked.observe(finding, value, model.key_of(finding, value))
        else:
            picked.observe(finding, value)
    for feature, present in sided_features.items():
        picked.observe(feature, present)
    log_joint = picked.log_joint()
    probability = np.exp(log_joint - log_joint.max())
    probability /= probability.sum()
    return Posterior(
        model=model,
        pair_probability=probability,
        site_probability=np.bincount(
            model.pair_site, weights=probability, minlength=len(model.site_ids)
        ).astype(np.float64),
        cause_probability=np.bincount(
            model.pair_cause, weights=probability, minlength=len(model.causes)
        ).astype(np.float64),
        observations=tuple(picked.observations),
    )


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
                picked.observe(name, bool(wanted.intersection(regions)))
