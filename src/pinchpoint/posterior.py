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
from typing import TYPE_CHECKING

import numpy as np

from pinchpoint.evidence import Contribution, LikelihoodModel, Vector

if TYPE_CHECKING:
    from pinchpoint.case import FindingValue
    from pinchpoint.knowledge.model import Knowledge

__all__ = ["Observation", "Posterior", "infer"]


@dataclass(frozen=True)
class Observation:
    """One piece of evidence that was used, kept so that conclusions can be explained."""

    finding: str
    value: object
    contributions: tuple[Contribution, ...]
    pattern: Vector | None = None


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


class _Accumulator:
    def __init__(self, model: LikelihoodModel) -> None:
        self.model = model
        self.unit = np.zeros(len(model.units))
        self.cause = np.zeros(len(model.causes))
        self.pattern = np.zeros(len(model.causes))
        self.in_modality: dict[str, Vector] = {}
        self.out_modality: dict[str, float] = {}
        self.pain_background = 0.0
        self.observations: list[Observation] = []

    def add(self, contribution: Contribution) -> None:
        if contribution.target == "unit_modality":
            modality = contribution.modality
            current = self.in_modality.get(modality)
            self.in_modality[modality] = (
                contribution.vector if current is None else current + contribution.vector
            )
            self.out_modality[modality] = self.out_modality.get(modality, 0.0) + contribution.scalar
        elif contribution.target == "unit":
            self.unit = self.unit + contribution.vector
        else:
            self.cause = self.cause + contribution.vector

    def observe(self, finding: str, value: object, contributions: tuple[Contribution, ...]) -> None:
        for contribution in contributions:
            self.add(contribution)
        self.observations.append(Observation(finding, value, contributions))

    def pair_log_likelihood(self) -> Vector:
        model = self.model
        unit = self.unit.copy()
        correction = np.zeros(len(model.pair_unit))
        for modality, inside in self.in_modality.items():
            involved, not_involved = model.log_involved[modality]
            outside = self.out_modality[modality]
            mixture = np.logaddexp(involved + inside, not_involved + outside)
            unit += mixture
            override = model.involvement_overrides.get(modality)
            if override is not None:
                exact = np.logaddexp(override.log_in + inside[override.units], override.log_out + outside)
                correction[override.pairs] += exact - mixture[override.units]
            if modality == "pain":
                self.pain_background = outside
        return unit[model.pair_unit] + correction


def infer(findings: Mapping[str, FindingValue], knowledge: Knowledge) -> Posterior:
    """Return the posterior over causes and sites given the known findings."""
    model = knowledge.model
    acc = _Accumulator(model)
    sided_features: dict[str, bool] = {}
    for finding, value in findings.items():
        if isinstance(value, tuple):
            _observe_regions(acc, model, finding, value)
            continue
        feature = model.sided_cause_features.get(finding)
        if feature is not None and isinstance(value, bool):
            sided_features[feature] = sided_features.get(feature, False) or value
        contributions = model.contributions(finding, value)
        if contributions:
            acc.observe(finding, value, contributions)
    for feature, present in sided_features.items():
        acc.observe(feature, present, model.contributions(feature, present))
    log_joint = (
        model.pair_log_prior
        + acc.pair_log_likelihood()
        + acc.cause[model.pair_cause]
        + np.where(model.pair_non_neural, acc.pattern[model.pair_cause] - acc.pain_background, 0.0)
    )
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
        observations=tuple(acc.observations),
    )


def _observe_regions(
    acc: _Accumulator, model: LikelihoodModel, finding: str, regions: tuple[str, ...]
) -> None:
    listed = model.region_lists.get(finding)
    if listed is not None:
        inside = listed.absent_total.copy()
        outside = listed.absent_scalar
        for region in regions:
            delta = listed.delta.get(region)
            if delta is None:
                continue
            inside += delta.vector
            outside += delta.scalar
            pattern = listed.pattern_delta.get(region)
            acc.observations.append(Observation(finding, region, (delta,), pattern))
        acc.add(Contribution("unit_modality", inside, outside, listed.modality))
        if listed.pattern_absent_total is not None:
            acc.pattern = acc.pattern + listed.pattern_absent_total
            for region in regions:
                if region in listed.pattern_delta:
                    acc.pattern = acc.pattern + listed.pattern_delta[region]
    for name, sources in model.derived_from_lists.items():
        for list_name, wanted in sources:
            if list_name == finding:
                present = bool(wanted.intersection(regions))
                acc.observe(name, present, model.contributions(name, present))
