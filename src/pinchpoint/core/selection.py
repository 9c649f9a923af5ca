"""Choosing the next interview question: red flags first, then expected information gain.

:class:`Predictor` serves :mod:`pinchpoint.core.interview` (the red-flag screen, which reads
every triage rule in three-valued logic, is :mod:`pinchpoint.core.screen`):

* :class:`Predictor` scores a question by the expected fall in uncertainty (entropy, in
  nats) over the lesion site plus the cause. It reads the answers so far as an assessment
  does (:func:`pinchpoint.core.posterior.weigh`), and gives each possible answer's vectors to
  the same log-joint kernel (:meth:`pinchpoint.core.likelihood.StackedModel.log_joint`), for
  every answer of every candidate question at once. Answers of one finding are enumerated; joint answers of a
  form, grid or body map are enumerated when there are few, else sampled from the
  posterior predictive (a hypothesis, whether its lesion involves each modality, then each
  finding), with a fixed seed so that the same state always gives the same choice.

Nothing here reads files or prints.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pinchpoint.core.likelihood import MODALITIES, Evidence, StackedRegionList, Vector
from pinchpoint.core.posterior import weigh

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Question

__all__ = ["Predictor", "State"]

Matrix = npt.NDArray[np.float64]
Findings = Mapping[str, "FindingValue"]

_SEED = 20240601


# --- information gain -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One observable of a question, with the log-likelihood of each of its outcomes."""

    modality: int  # index into MODALITIES, or -1
    inside: Matrix  # [K, U] when the lesion involves the modality
    outside: Vector  # [K] when it does not
    unit: Matrix  # [K, U]
    cause: Matrix  # [K, C]
    feature: str = ""  # a sided cause feature: outcomes are the feature's value (either side)
    defines: Matrix | None = None  # [K, C]: 1 where an outcome is a defining finding of the cause

    @property
    def outcomes(self) -> int:
        return int(self.outside.shape[0])


@dataclass(frozen=True)
class State:
    """The evidence of the known findings, read as :func:`pinchpoint.core.posterior.infer` reads it."""

    evidence: Evidence
    """One row: the summed log-likelihood vectors of the known findings."""
    features: Mapping[str, bool | int]
    """Each sided cause feature known so far, combined over the legs."""
    undefined: Vector
    """Log weight of each cause none of whose defining findings is present (0 elsewhere)."""
    pending: frozenset[int] = frozenset()
    """The undefined causes a defining finding of which is still to be asked (kept at full weight)."""

    @property
    def inside(self) -> Matrix:
        """[M, U]: the anatomical evidence per modality when the lesion involves it."""
        inside: Matrix = self.evidence.inside[0]
        return inside

    @property
    def outside(self) -> Vector:
        """[M]: the same evidence's background when it does not."""
        outside: Vector = self.evidence.outside[0]
        return outside


@dataclass
class _Deltas:
    """What each predicted answer adds to the known evidence, one row per answer."""

    unit: Matrix
    cause: Matrix
    inside: Matrix  # [B, M, U]
    outside: Matrix  # [B, M]
    weights: Vector | None  # None: rows are samples of equal weight
    defined: Matrix | None = None  # [B, C]: 1 where the answer supplies a cause's defining finding


class Predictor:
    """The likelihood model arranged for scoring many possible answers at once.

    The log joint of every predicted answer comes from the model's one kernel,
    :meth:`~pinchpoint.core.likelihood.StackedModel.log_joint`, given the known evidence and
    what each answer adds; the known evidence is read by :func:`pinchpoint.core.posterior.weigh`,
    as an assessment reads it.
    """

    def __init__(self, knowledge: Knowledge) -> None:
        model = knowledge.model
        stacked = model.stacked
        self.knowledge = knowledge
        self.model = model
        self.stacked = stacked
        self.units = len(model.units)
        self.causes = len(model.causes)
        self.by_site, self.site_starts = _runs(model.pair_site, len(model.site_ids))
        self.by_cause, self.cause_starts = _runs(model.pair_cause, self.causes)
        # Per modality and pair, the log chance that the lesion involves the modality (or not).
        self.pair_log_in = stacked.involved[:, model.pair_unit]  # [M, P]
        self.pair_log_out = stacked.not_involved[:, model.pair_unit]
        for index, override in stacked.overrides:
            self.pair_log_in[index, override.pairs] = override.log_in
            self.pair_log_out[index, override.pairs] = override.log_out
        self._no_pattern = np.zeros((1, self.causes))
        self._defining: dict[int, frozenset[str]] = {}
        for one in model.defining:
            ids = {*(f for f, _ in one.positives), *(f for f, _ in one.thresholds)}
            self._defining[one.cause] = self._defining.get(one.cause, frozenset()) | ids
        self._items: dict[str, tuple[_Item, ...]] = {}
        self._feature_vectors: dict[tuple[str, bool], Vector] = {}
        for feature in model.sided_cause_features.values():
            for value in (True, False):
                rows = stacked.rows.get((feature, value))
                self._feature_vectors[(feature, value)] = (
                    stacked.over_plain[rows.plain[0], self.units :]
                    if rows and rows.plain
                    else np.zeros(self.causes)
                )

    # --- state -------------------------------------------------------------------------------------

    def state(self, findings: Findings, unasked: Collection[str] = ()) -> State:
        """Return the evidence of ``findings``, read as :func:`pinchpoint.core.posterior.infer` reads it.

        ``unasked`` names findings that a question may still ask. A cause is weighed down for
        being undefined because its defining finding is asked or reported whenever the cause
        is considered, so its silence speaks against the cause (causes.yaml ``undefined``).
        While the interview can still ask a defining finding there is no silence yet: such a
        cause keeps its full weight here, so the question that would define it is valued by
        what its answer could show, and the interview is not settled on a rival that leads
        only because that question was not asked. The assessment weighs every answer as before.
        """
        evidence, (reading,) = weigh([findings], self.model)
        undefined = np.zeros(self.causes)
        undefined[list(reading.undefined)] = self.model.undefined_log_weight
        pending = self._pending(reading.undefined, frozenset(unasked))
        if pending:
            cause = evidence.cause.copy()
            cause[0, pending] -= undefined[pending]
            evidence = evidence._replace(cause=cause)
            undefined[pending] = 0.0
        return State(evidence, dict(reading.features), undefined, frozenset(pending))

    def defining_findings(self, cause: int) -> frozenset[str]:
        """Return the findings that define ``cause`` (causes.yaml ``defining``; empty for most causes)."""
        return self._defining.get(cause, frozenset())

    def _pending(self, undefined: Collection[int], unasked: frozenset[str]) -> list[int]:
        """Return the undefined causes one of whose defining findings is still to be asked."""
        if not unasked:
            return []
        return [cause for cause in undefined if self.defining_findings(cause) & unasked]

    def log_joint(self, state: State) -> Vector:
        """Return the unnormalised log posterior over hypotheses (cause, site unit)."""
        first: Vector = self.stacked.log_joint(state.evidence)[0]
        return first

    def _log_joint_rows(self, state: State, deltas: _Deltas) -> Matrix:
        cause = deltas.cause
        if deltas.defined is not None:
            # An answer that supplies a defining finding lifts its cause's weight for being undefined.
            cause = cause - deltas.defined * state.undefined[None, :]
        added = Evidence(deltas.unit, cause, self._no_pattern, deltas.inside, deltas.outside)
        return self.stacked.log_joint(added, state.evidence)

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
        return posterior @ self.stacked.site_of_pair, posterior @ self.stacked.cause_of_pair

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
        items: list[_Item] = []
        features: set[str] = set()
        for finding in question.findings:
            listed = self.stacked.region_lists.get(finding)
            if listed is not None:
                items.extend(self._region_items(listed))
                continue
            feature = self.model.sided_cause_features.get(finding)
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
        """Return a finding's outcomes: one per distinct vector its values carry in the model.

        Values that share their (first) row, such as the numbers of one bin, are one outcome.
        """
        stacked = self.stacked
        outcomes: dict[tuple[bool, int], list[object]] = {}
        for (name, key), placed in stacked.rows.items():
            if name == finding and (placed.modality or placed.plain):
                first = (True, placed.modality[0]) if placed.modality else (False, placed.plain[0])
                outcomes.setdefault(first, []).append(key)
        if len(outcomes) < 2:
            return None
        anatomical = next(iter(outcomes))[0]
        rows = [row for _, row in outcomes]
        if anatomical:
            return self._item(
                stacked.unit_group[rows[0]],
                inside=stacked.over_units[rows],
                outside=stacked.unit_scalar[rows],
            )
        plain = stacked.over_plain[rows]
        defines = np.array([self._defines(finding, keys) for keys in outcomes.values()])
        return self._item(-1, unit=plain[:, : self.units], cause=plain[:, self.units :], defines=defines)

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

    def _region_items(self, listed: StackedRegionList) -> list[_Item]:
        """Return one yes/no outcome per region of an exhaustive region list."""
        stacked = self.stacked
        items = []
        for rows in listed.present.values():
            row = rows.modality[0]
            present, present_out = stacked.over_units[row], float(stacked.unit_scalar[row])
            # present = log p - log(1 - p) per unit, so log(1 - p) = -log(1 + e^present).
            absent = -np.logaddexp(0.0, present)
            absent_out = -float(np.logaddexp(0.0, present_out))
            items.append(
                self._item(
                    stacked.unit_group[row],
                    inside=np.array([present + absent, absent]),
                    outside=np.array([present_out + absent_out, absent_out]),
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
            np.zeros((rows, len(MODALITIES), self.units)),
            np.zeros((rows, len(MODALITIES))),
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
