"""Choosing the next interview question: red flags first, then expected information gain.

:class:`Predictor` serves :mod:`pinchpoint.core.interview` (the red-flag screen, which reads
every triage rule in three-valued logic, is :mod:`pinchpoint.core.screen`):

* :class:`Predictor` scores a question by the expected fall in uncertainty (entropy, in
  nats) over the lesion site plus the cause. It keeps the evidence of the answers so far as
  the log-likelihood vectors of :mod:`pinchpoint.core.likelihood`, so the posterior after each
  possible answer is a vector sum and a normalisation, computed for every answer of every
  candidate question at once. Answers of one finding are enumerated; joint answers of a
  form, grid or body map are enumerated when there are few, else sampled from the
  posterior predictive (a hypothesis, whether its lesion involves each modality, then each
  finding), with a fixed seed so that the same state always gives the same choice.

Nothing here reads files or prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pinchpoint.core.likelihood import Contribution, Vector, combine_sides, derived_present

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Question

__all__ = ["Predictor", "State", "predictor_for"]

Matrix = npt.NDArray[np.float64]
Findings = Mapping[str, "FindingValue"]

_MODALITIES = ("pain", "numbness", "sensory_exam", "motor", "reflex", "sacral")
_PAIN = _MODALITIES.index("pain")
_SEED = 20240601


# --- information gain -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One observable of a question, with the log-likelihood of each of its outcomes."""

    modality: int  # index into _MODALITIES, or -1
    inside: Matrix  # [K, U] when the lesion involves the modality
    outside: Vector  # [K] when it does not
    unit: Matrix  # [K, U]
    cause: Matrix  # [K, C]
    feature: str = ""  # a sided cause feature: outcomes are the feature's value (either side)
    defines: Matrix | None = None  # [K, C]: 1 where an outcome is a defining finding of the cause

    @property
    def outcomes(self) -> int:
        return int(self.outside.shape[0])


@dataclass
class State:
    """The evidence of the known findings, as sums of log-likelihood vectors."""

    unit: Vector
    cause: Vector
    pattern: Vector
    inside: Matrix  # [M, U]
    outside: Vector  # [M]
    features: dict[str, bool | int] = field(default_factory=dict)
    undefined: Vector = field(default_factory=lambda: np.zeros(0))
    """Log weight of each cause none of whose defining findings is present (0 elsewhere)."""


@dataclass
class _Deltas:
    unit: Matrix
    cause: Matrix
    inside: Matrix  # [B, M, U]
    outside: Matrix  # [B, M]
    weights: Vector | None  # None: rows are samples of equal weight
    defined: Matrix | None = None  # [B, C]: 1 where the answer supplies a cause's defining finding


class Predictor:
    """The likelihood model arranged for scoring many possible answers at once."""

    def __init__(self, knowledge: Knowledge) -> None:
        model = knowledge.model
        self.knowledge = knowledge
        self.model = model
        self.units = len(model.units)
        self.causes = len(model.causes)
        pairs = len(model.pair_unit)
        self.site_matrix = np.zeros((pairs, len(model.site_ids)))
        self.site_matrix[np.arange(pairs), model.pair_site] = 1.0
        self.cause_matrix = np.zeros((pairs, self.causes))
        self.cause_matrix[np.arange(pairs), model.pair_cause] = 1.0
        self.by_site, self.site_starts = _runs(model.pair_site, len(model.site_ids))
        self.by_cause, self.cause_starts = _runs(model.pair_cause, self.causes)
        involved = [model.log_involved[m] for m in _MODALITIES]
        self.log_in = np.array([pair[0] for pair in involved])  # [M, U]
        self.log_out = np.array([pair[1] for pair in involved])
        # The few (cause, site unit) pairs whose cause sets its own chance of involvement.
        self.overrides = [
            (index, model.involvement_overrides[m])
            for index, m in enumerate(_MODALITIES)
            if m in model.involvement_overrides
        ]
        self.pair_log_in = self.log_in[:, model.pair_unit]  # [M, P]
        self.pair_log_out = self.log_out[:, model.pair_unit]
        for index, override in self.overrides:
            self.pair_log_in[index, override.pairs] = override.log_in
            self.pair_log_out[index, override.pairs] = override.log_out
        self.non_neural = model.pair_non_neural.astype(np.float64)
        self._items: dict[str, tuple[_Item, ...]] = {}
        self._feature_vectors: dict[tuple[str, bool], Vector] = {}
        for finding, feature in model.sided_cause_features.items():
            for value in (True, False):
                contributions = model.contributions(feature, value)
                self._feature_vectors[(feature, value)] = (
                    contributions[0].vector if contributions else np.zeros(self.causes)
                )
            del finding

    # --- state -------------------------------------------------------------------------------------

    def state(self, findings: Findings) -> State:
        """Return the evidence of ``findings``, read as :func:`pinchpoint.core.posterior.infer` reads it."""
        model = self.model
        state = State(
            unit=np.zeros(self.units),
            cause=np.zeros(self.causes),
            pattern=np.zeros(self.causes),
            inside=np.zeros((len(_MODALITIES), self.units)),
            outside=np.zeros(len(_MODALITIES)),
        )
        for finding, value in findings.items():
            if isinstance(value, tuple):
                self._add_regions(state, finding, value)
                continue
            feature = model.sided_cause_features.get(finding)
            if feature is not None and isinstance(value, bool | int):
                state.features[feature] = combine_sides(state.features.get(feature), value)
            for contribution in model.contributions(finding, value):
                self._add(state, contribution)
        for feature, present in state.features.items():
            for contribution in model.contributions(feature, present):
                self._add(state, contribution)
        state.undefined = model.undefined_vector(findings)
        state.cause = state.cause + state.undefined
        return state

    def _add(self, state: State, contribution: Contribution) -> None:
        if contribution.target == "unit_modality":
            m = _MODALITIES.index(contribution.modality)
            state.inside[m] += contribution.vector
            state.outside[m] += contribution.scalar
        elif contribution.target == "unit":
            state.unit = state.unit + contribution.vector
        else:
            state.cause = state.cause + contribution.vector

    def _add_regions(self, state: State, finding: str, regions: tuple[str, ...]) -> None:
        model = self.model
        listed = model.region_lists.get(finding)
        if listed is not None:
            m = _MODALITIES.index(listed.modality)
            state.inside[m] += listed.absent_total
            state.outside[m] += listed.absent_scalar
            for region in regions:
                delta = listed.delta.get(region)
                if delta is not None:
                    state.inside[m] += delta.vector
                    state.outside[m] += delta.scalar
            if listed.pattern_absent_total is not None:
                state.pattern = state.pattern + listed.pattern_absent_total
                for region in regions:
                    if region in listed.pattern_delta:
                        state.pattern = state.pattern + listed.pattern_delta[region]
        for name, sources in model.derived_from_lists.items():
            for list_name, wanted in sources:
                if list_name == finding:
                    for contribution in model.contributions(name, derived_present(wanted, regions)):
                        self._add(state, contribution)

    def log_joint(self, state: State) -> Vector:
        """Return the unnormalised log posterior over hypotheses (cause, site unit)."""
        rows = self._log_joint_rows(
            state,
            _Deltas(
                np.zeros((1, self.units)),
                np.zeros((1, self.causes)),
                np.zeros((1, len(_MODALITIES), self.units)),
                np.zeros((1, len(_MODALITIES))),
                None,
            ),
        )
        first: Vector = rows[0]
        return first

    def _log_joint_rows(self, state: State, deltas: _Deltas) -> Matrix:
        model = self.model
        # Most candidate answers touch one modality (a body map: numbness); the mixture of the
        # others is the same in every row, so it is computed once from the state.
        varied = np.flatnonzero(deltas.inside.any(axis=(0, 2)) | deltas.outside.any(axis=0))
        steady = np.logaddexp(self.log_in + state.inside, self.log_out + state.outside[:, None])  # [M, U]
        inside = state.inside[None, varied, :] + deltas.inside[:, varied, :]  # [B, V, U]
        outside = state.outside[None, :] + deltas.outside  # [B, M]
        varied_mixture = np.logaddexp(
            self.log_in[None, varied] + inside, self.log_out[None, varied] + outside[:, varied, None]
        )
        unit = (
            state.unit[None, :]
            + deltas.unit
            + (steady.sum(axis=0) - steady[varied].sum(axis=0))[None, :]
            + varied_mixture.sum(axis=1)
        )
        cause = state.cause[None, :] + deltas.cause
        if deltas.defined is not None and state.undefined.size:
            # An answer that supplies a defining finding lifts its cause's weight for being undefined.
            cause = cause - deltas.defined * state.undefined[None, :]
        background = outside[:, _PAIN][:, None]
        pattern = state.pattern[model.pair_cause][None, :] - background
        result: Matrix = (
            model.pair_log_prior[None, :]
            + unit[:, model.pair_unit]
            + cause[:, model.pair_cause]
            + self.non_neural[None, :] * pattern
        )
        varied_position = {int(m): position for position, m in enumerate(varied)}
        for m, override in self.overrides:
            position = varied_position.get(m)
            if position is None:
                inside_m = state.inside[None, m, override.units]
                mixture_m = steady[None, m, override.units]
            else:
                inside_m = inside[:, position, override.units]
                mixture_m = varied_mixture[:, position, override.units]
            exact = np.logaddexp(
                override.log_in[None] + inside_m, override.log_out[None] + outside[:, m, None]
            )
            result[:, override.pairs] += exact - mixture_m
        return result

    # --- entropy -------------------------------------------------------------------------------------

    def uncertainty(self, log_joint: Matrix) -> tuple[Vector, Vector]:
        """Return, per row of log posteriors, the entropy of site plus cause, and the log evidence."""
        top = log_joint.max(axis=1, keepdims=True)
        weights = np.exp(log_joint - top)
        total = weights.sum(axis=1, keepdims=True)
        posterior = weights / total
        # Marginals by summing runs of pairs that share a site (or a cause): far less work than
        # multiplying by the 0/1 membership matrices when a question has many sampled answers.
        sites = np.add.reduceat(posterior[:, self.by_site], self.site_starts, axis=1)
        causes = np.add.reduceat(posterior[:, self.by_cause], self.cause_starts, axis=1)
        entropy = _entropy(sites) + _entropy(causes)
        return entropy, (np.log(total) + top)[:, 0]

    def marginals(self, log_joint: Vector) -> tuple[Vector, Vector]:
        """Return the site and cause marginals of one log posterior."""
        posterior = np.exp(log_joint - log_joint.max())
        posterior /= posterior.sum()
        return posterior @ self.site_matrix, posterior @ self.cause_matrix

    # --- scoring ---------------------------------------------------------------------------------------

    def expected_gains(
        self,
        state: State,
        questions: Sequence[Question],
        *,
        max_enumerated: int,
        samples: int,
    ) -> Vector:
        """Return each question's expected fall in site-plus-cause entropy (nats) from its answer."""
        now = self.log_joint(state)
        entropy_now, log_evidence_now = self.uncertainty(now[None, :])
        gains = np.zeros(len(questions))
        blocks: list[_Deltas] = []
        owners: list[int] = []
        rng = np.random.default_rng(_SEED)
        posterior = np.exp(now - now.max())
        posterior /= posterior.sum()
        for index, question in enumerate(questions):
            items = self.items(question)
            if not items:
                continue
            count = math.prod(item.outcomes for item in items)
            if count <= max_enumerated:
                block = self._enumerate(state, items)
            else:
                block = self._sample(state, items, posterior, samples, rng)
            blocks.append(block)
            owners.append(index)
        if not blocks:
            return gains
        merged = _Deltas(
            np.concatenate([b.unit for b in blocks]),
            np.concatenate([b.cause for b in blocks]),
            np.concatenate([b.inside for b in blocks]),
            np.concatenate([b.outside for b in blocks]),
            None,
            np.concatenate([b.defined for b in blocks if b.defined is not None]),
        )
        entropy, log_evidence = self.uncertainty(self._log_joint_rows(state, merged))
        start = 0
        for block, index in zip(blocks, owners, strict=True):
            rows = block.unit.shape[0]
            part = entropy[start : start + rows]
            if block.weights is None:
                expected = float(part.mean())
            else:
                # P(answer) = evidence after / evidence now; renormalised over this question's answers.
                weight = block.weights * np.exp(log_evidence[start : start + rows] - log_evidence_now[0])
                expected = float((weight * part).sum() / weight.sum())
            gains[index] = float(entropy_now[0]) - expected
            start += rows
        return gains

    def items(self, question: Question) -> tuple[_Item, ...]:
        """Return the scored observables of a question (cached); an uninformative question has none."""
        cached = self._items.get(question.id)
        if cached is None:
            cached = tuple(self._build_items(question))
            self._items[question.id] = cached
        return cached

    def _build_items(self, question: Question) -> list[_Item]:
        model = self.model
        items: list[_Item] = []
        features: set[str] = set()
        for finding in question.findings:
            listed = model.region_lists.get(finding)
            if listed is not None:
                items.extend(self._region_items(listed.modality, listed.delta))
                continue
            feature = model.sided_cause_features.get(finding)
            if feature is not None:
                if feature not in features:
                    features.add(feature)
                    vectors = np.array([self._feature_vectors[(feature, v)] for v in (True, False)])
                    defines = np.array([self._defines(finding, [v]) for v in (True, False)])
                    items.append(self._item(-1, cause=vectors, feature=feature, defines=defines))
                continue
            item = self._finding_item(finding)
            if item is not None:
                items.append(item)
        return items

    def _finding_item(self, finding: str) -> _Item | None:
        groups: dict[int, Contribution] = {}
        keys: dict[int, list[object]] = {}
        for (name, key), contributions in self.model.lookup.items():
            if name == finding and contributions:
                groups.setdefault(id(contributions[0]), contributions[0])
                keys.setdefault(id(contributions[0]), []).append(key)
        if len(groups) < 2:
            return None
        outcomes = list(groups.values())
        target = outcomes[0].target
        if target == "cause":
            defines = np.array([self._defines(finding, keys[group]) for group in groups])
            return self._item(-1, cause=np.array([c.vector for c in outcomes]), defines=defines)
        if target == "unit_modality":
            m = _MODALITIES.index(outcomes[0].modality)
            return self._item(
                m,
                inside=np.array([c.vector for c in outcomes]),
                outside=np.array([c.scalar for c in outcomes]),
            )
        if target == "unit":
            return self._item(-1, unit=np.array([c.vector for c in outcomes]))
        return self._item(-1, cause=np.array([c.vector for c in outcomes]))

    def _defines(self, finding: str, keys: Sequence[object]) -> Vector:
        """Return 1 for each cause that one of these answers (lookup keys) of ``finding`` defines."""
        model = self.model
        binner = model.binners.get(finding)
        lows = dict(binner.ordered) if binner is not None else {}
        defines = np.zeros(self.causes)
        for one in model.defining:
            for key in keys:
                bin_range = lows.get(key) if isinstance(key, str) else None
                number = bin_range[0] if bin_range is not None else key
                if (finding, key) in one.positives or any(
                    finding == name and isinstance(number, int | float) and number >= at_least
                    for name, at_least in one.thresholds
                ):
                    defines[one.cause] = 1.0
        return defines

    def _region_items(self, modality: str, deltas: Mapping[str, Contribution]) -> list[_Item]:
        m = _MODALITIES.index(modality)
        items = []
        for delta in deltas.values():
            # delta = log p - log(1 - p) per unit, so log(1 - p) = -log(1 + e^delta).
            absent = -np.logaddexp(0.0, delta.vector)
            absent_out = -float(np.logaddexp(0.0, delta.scalar))
            items.append(
                self._item(
                    m,
                    inside=np.array([delta.vector + absent, absent]),
                    outside=np.array([delta.scalar + absent_out, absent_out]),
                )
            )
        return items

    def _item(
        self,
        modality: int,
        *,
        inside: Matrix | None = None,
        outside: Vector | None = None,
        unit: Matrix | None = None,
        cause: Matrix | None = None,
        feature: str = "",
        defines: Matrix | None = None,
    ) -> _Item:
        k = next(a.shape[0] for a in (inside, unit, cause) if a is not None)
        return _Item(
            modality=modality,
            inside=inside if inside is not None else np.zeros((k, self.units)),
            outside=outside if outside is not None else np.zeros(k),
            unit=unit if unit is not None else np.zeros((k, self.units)),
            cause=cause if cause is not None else np.zeros((k, self.causes)),
            feature=feature,
            defines=defines if defines is not None and defines.any() else None,
        )

    def _empty(self, rows: int) -> _Deltas:
        return _Deltas(
            np.zeros((rows, self.units)),
            np.zeros((rows, self.causes)),
            np.zeros((rows, len(_MODALITIES), self.units)),
            np.zeros((rows, len(_MODALITIES))),
            None,
            np.zeros((rows, self.causes)),
        )

    def _accumulate(self, deltas: _Deltas, item: _Item, chosen: npt.NDArray[np.intp], state: State) -> None:
        if item.defines is not None and deltas.defined is not None:
            deltas.defined = np.maximum(deltas.defined, item.defines[chosen])
        if item.feature:
            current = state.features.get(item.feature)
            if current is True:
                return
            base = self._feature_vectors[(item.feature, False)] if current is False else 0.0
            deltas.cause += item.cause[chosen] - base
            return
        deltas.unit += item.unit[chosen]
        deltas.cause += item.cause[chosen]
        if item.modality >= 0:
            deltas.inside[:, item.modality, :] += item.inside[chosen]
            deltas.outside[:, item.modality] += item.outside[chosen]

    def _enumerate(self, state: State, items: Sequence[_Item]) -> _Deltas:
        combos = np.array(list(product(*(range(item.outcomes) for item in items))), dtype=np.intp)
        deltas = self._empty(combos.shape[0])
        for column, item in enumerate(items):
            self._accumulate(deltas, item, combos[:, column], state)
        deltas.weights = np.ones(combos.shape[0])
        return deltas

    def _sample(
        self,
        state: State,
        items: Sequence[_Item],
        posterior: Vector,
        samples: int,
        rng: np.random.Generator,
    ) -> _Deltas:
        model = self.model
        pairs = rng.choice(posterior.shape[0], size=samples, p=posterior)
        units = model.pair_unit[pairs]
        causes = model.pair_cause[pairs]
        involved = {}
        for m in {item.modality for item in items if item.modality >= 0}:
            yes = self.pair_log_in[m, pairs] + state.inside[m, units]
            no = self.pair_log_out[m, pairs] + state.outside[m]
            involved[m] = rng.random(samples) < 1.0 / (1.0 + np.exp(np.clip(no - yes, -700.0, 700.0)))
        deltas = self._empty(samples)
        for item in items:
            logits = item.unit[:, units].T + item.cause[:, causes].T
            if item.modality >= 0:
                logits = logits + np.where(
                    involved[item.modality][:, None], item.inside[:, units].T, item.outside[None, :]
                )
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            cumulative = np.cumsum(weights, axis=1)
            draws = rng.random(samples)[:, None] * cumulative[:, -1:]
            chosen = np.minimum((cumulative < draws).sum(axis=1), item.outcomes - 1).astype(np.intp)
            self._accumulate(deltas, item, chosen, state)
        return deltas


def _runs(owner: npt.NDArray[np.intp], owners: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Return an order of the pairs grouping them by owner, and where each owner's run starts.

    The knowledge gives every site and every cause at least one pair, so no run is empty
    (an empty run would make ``reduceat`` repeat its neighbour's first value).
    """
    if (np.bincount(owner, minlength=owners) == 0).any():
        raise ValueError("every site and cause needs at least one (cause, site) pair in the model")
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(owners))
    return order.astype(np.intp), starts.astype(np.intp)


def _entropy(p: Matrix) -> Vector:
    safe = np.where(p > 0.0, p, 1.0)
    result: Vector = -(p * np.log(safe)).sum(axis=1)
    return result


_PREDICTORS: dict[int, tuple[Knowledge, Predictor]] = {}


def predictor_for(knowledge: Knowledge) -> Predictor:
    """Return the :class:`Predictor` of ``knowledge`` (built once per knowledge object)."""
    cached = _PREDICTORS.get(id(knowledge))
    if cached is None or cached[0] is not knowledge:
        cached = (knowledge, Predictor(knowledge))
        _PREDICTORS[id(knowledge)] = cached
    return cached[1]
