"""Say why: the ranked sites and causes with the findings for and against each.

For a hypothesis H (a site or a cause) the weight of an observation is the difference
between its average log-likelihood under H and under the alternatives, each averaged
with the posterior weights. Positive weights speak for H, negative against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pinchpoint.assessment import Evidence, Hypothesis

if TYPE_CHECKING:
    from pinchpoint.evidence import Vector
    from pinchpoint.knowledge.model import Knowledge
    from pinchpoint.posterior import Observation, Posterior
    from pinchpoint.vocabulary import Vocabulary

__all__ = ["explain"]

_MAX_REASONS = 5
_MIN_WEIGHT = 0.2
_TIE_DECIMALS = 9


def explain(
    posterior: Posterior, knowledge: Knowledge, *, leading: int = 3
) -> tuple[tuple[Hypothesis, ...], tuple[Hypothesis, ...]]:
    """Return the ranked sites and causes; the ``leading`` first of each carry their evidence.

    Weighing the evidence is most of the cost of an assessment, so a caller that needs
    only the ranking (a batch run printing the contract JSON) passes ``leading=0``.
    """
    model = posterior.model
    vocabulary = knowledge.vocabulary
    observations = posterior.observations
    matrix = _evidence_matrix(posterior) if leading else np.zeros((0, 0))
    explainer = _Explainer(posterior.pair_probability, matrix, observations, vocabulary, leading)
    sites = explainer.ranked(
        model.site_ids, posterior.site_probability, model.pair_site, knowledge.site_labels
    )
    causes = explainer.ranked(model.causes, posterior.cause_probability, model.pair_cause, vocabulary.causes)
    return sites, causes


class _Explainer:
    """Weighs every used observation for and against the leading hypotheses."""

    def __init__(
        self,
        pair_probability: Vector,
        matrix: npt.NDArray[np.float64],
        observations: tuple[Observation, ...],
        vocabulary: Vocabulary,
        leading: int,
    ) -> None:
        self.leading = leading
        self.pair_probability = pair_probability
        self.matrix = matrix
        self.observations = observations
        self.vocabulary = vocabulary
        self._descriptions: dict[int, tuple[str, str]] = {}
        by_name = sorted(
            range(len(observations)), key=lambda i: (observations[i].finding, str(observations[i].value))
        )
        self._tie_rank = np.empty(len(observations), dtype=np.intp)
        self._tie_rank[by_name] = np.arange(len(observations))

    def ranked(
        self,
        ids: tuple[str, ...],
        probability: Vector,
        pair_index: npt.NDArray[np.intp],
        labels: Mapping[str, str],
    ) -> tuple[Hypothesis, ...]:
        # Mirror-image hypotheses (left and right) tie; rounding the log keeps the last bits of
        # a sum from deciding their order (a tie goes to the first id) and keeps the order of
        # tiny probabilities.
        with np.errstate(divide="ignore"):
            log_p = np.round(np.log(probability), _TIE_DECIMALS)
        order = np.argsort(-log_p, kind="stable").tolist()
        values = probability.tolist()
        first = order[: self.leading]
        evidence = self._evidence(pair_index, first)
        leading = [
            Hypothesis(ids[i], values[i], labels[ids[i]], *reasons)
            for i, reasons in zip(first, evidence, strict=True)
        ]
        rest = [Hypothesis(ids[i], values[i], labels[ids[i]]) for i in order[self.leading :]]
        return (*leading, *rest)

    def _evidence(
        self, pair_index: npt.NDArray[np.intp], hypotheses: list[int]
    ) -> list[tuple[tuple[Evidence, ...], tuple[Evidence, ...]]]:
        """Return the findings for and against each hypothesis, weighed all at once."""
        if not hypotheses or not self.observations:
            return [((), ()) for _ in hypotheses]
        inside = pair_index[None, :] == np.array(hypotheses)[:, None]  # [H, P]
        p_in = self.pair_probability * inside
        p_out = self.pair_probability * ~inside
        total_in, total_out = p_in.sum(axis=1), p_out.sum(axis=1)
        usable = (total_in > 0.0) & (total_out > 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            contrast = p_in / total_in[:, None] - p_out / total_out[:, None]
        all_weights = self.matrix @ np.where(usable[:, None], contrast, 0.0).T  # [observations, H]
        # Ties (two sides, two regions of one territory) are broken by finding and value, not by
        # the order the findings were listed in, so that reordering a case changes nothing; weights
        # are compared to 9 decimals because summing in another order moves the last bits.
        tie_rank = np.broadcast_to(self._tie_rank[:, None], all_weights.shape)
        orders = np.lexsort((tie_rank, -np.round(all_weights, _TIE_DECIMALS)), axis=0)
        return [
            self._reasons(all_weights[:, column].tolist(), orders[:, column].tolist())
            if usable[column]
            else ((), ())
            for column in range(len(hypotheses))
        ]

    def _reasons(
        self, weights: list[float], order: list[int]
    ) -> tuple[tuple[Evidence, ...], tuple[Evidence, ...]]:
        supporting = [i for i in order[:_MAX_REASONS] if weights[i] >= _MIN_WEIGHT]
        opposing = [i for i in order[::-1][:_MAX_REASONS] if weights[i] <= -_MIN_WEIGHT]
        return self._described(supporting, weights), self._described(opposing, weights)

    def _described(self, indices: list[int], weights: list[float]) -> tuple[Evidence, ...]:
        evidence = []
        for i in indices:
            observation = self.observations[i]
            if i not in self._descriptions:
                self._descriptions[i] = _describe(observation, self.vocabulary)
            patient, clinician = self._descriptions[i]
            evidence.append(Evidence(observation.finding, observation.value, weights[i], patient, clinician))
        return tuple(evidence)


def _evidence_matrix(posterior: Posterior) -> npt.NDArray[np.float64]:
    """Return one row per used observation: its log-likelihood over every (cause, site) pair.

    An anatomical observation counts against its background (the modality's scalar), and
    for a non-neural site a pain region counts by the cause's pain pattern instead.
    """
    model = posterior.model
    stacked = model.stacked
    observations = posterior.observations
    on_units: list[tuple[int, int]] = []
    on_pairs: list[tuple[int, int]] = []
    patterned: list[tuple[int, int]] = []
    for number, observation in enumerate(observations):
        on_units += [(number, row) for row in observation.rows.modality]
        for row in observation.rows.plain:
            (patterned if stacked.pattern_row(row) else on_pairs).append((number, row))
    by_unit = np.zeros((len(observations), len(model.units)))
    for number, row in on_units:
        by_unit[number] += stacked.over_units[row] - stacked.unit_scalar[row]
    matrix = by_unit[:, model.pair_unit]
    for number, row in on_pairs:
        matrix[number] += stacked.over_pairs[row]
    for number, row in patterned:
        matrix[number] = np.where(model.pair_non_neural, stacked.over_pairs[row], matrix[number])
    return matrix


def _describe(observation: Observation, vocabulary: Vocabulary) -> tuple[str, str]:
    """Return the observation in plain words and in clinical shorthand."""
    finding, value = observation.finding, observation.value
    spec = vocabulary.findings.get(finding)
    if spec is not None and spec.type == "regions" and isinstance(value, str):
        region, _, side = value.partition(".")
        where = vocabulary.regions[region].description + (f" ({side})" if side else "")
        return f"{spec.description}: {where}", f"{finding}: {value}"
    if spec is None:
        return f"{finding.replace('_', ' ')}: {_yes_no(value)}", f"{finding} = {_yes_no(value)}"
    subject = spec.description
    if spec.item is not None:
        table = vocabulary.movements if spec.base == "exam.power" else vocabulary.reflexes
        subject = f"{table.get(spec.item, spec.item)} ({spec.side})"
    elif spec.side is not None:
        subject = f"{spec.description} ({spec.side})"
    return f"{subject}: {_yes_no(value)}", f"{finding} = {_yes_no(value)}"


def _yes_no(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)
