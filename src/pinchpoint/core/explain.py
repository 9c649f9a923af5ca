"""Say why: the ranked sites and causes with the findings for and against each.

For a hypothesis H (a site or a cause) the weight of an observation is the difference
between its average log-likelihood under H and under the alternatives, each averaged
with the posterior weights. Positive weights speak for H, negative against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pinchpoint.core.assessment import Evidence, Hypothesis

if TYPE_CHECKING:
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.likelihood import Vector
    from pinchpoint.core.posterior import Observation, Posterior
    from pinchpoint.core.vocabulary import Vocabulary

__all__ = ["explain", "explain_many"]

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
    return explain_many([posterior], knowledge, leading=leading)[0]


def explain_many(
    posteriors: Sequence[Posterior], knowledge: Knowledge, *, leading: int = 3
) -> list[tuple[tuple[Hypothesis, ...], tuple[Hypothesis, ...]]]:
    """Return :func:`explain` for each posterior, ranking all of them at once."""
    if not posteriors:
        return []
    sites, causes = len(posteriors[0].site_probability), len(posteriors[0].cause_probability)
    # Sites and causes are ranked in one sort: each case's causes are a row padded with zeros,
    # which rank last and are then dropped.
    probability = np.zeros((2 * len(posteriors), max(sites, causes)))
    probability[0::2, :sites] = [posterior.site_probability for posterior in posteriors]
    probability[1::2, :causes] = [posterior.cause_probability for posterior in posteriors]
    orders = _ranking(probability)
    site_orders = _unpadded(orders[0::2], sites)
    cause_orders = _unpadded(orders[1::2], causes)
    site_names, cause_names = knowledge.part(_names)
    return [
        _explained(posterior, knowledge, (site_names, site_order), (cause_names, cause_order), leading)
        for posterior, site_order, cause_order in zip(posteriors, site_orders, cause_orders, strict=True)
    ]


def _unpadded(orders: list[list[int]], width: int) -> list[list[int]]:
    """The orders without the padding columns (the kind with more hypotheses has none to drop)."""
    if orders and len(orders[0]) == width:
        return orders
    return [[i for i in order if i < width] for order in orders]


def _names(knowledge: Knowledge) -> tuple[_Names, _Names]:
    """The sites and the causes of the model with their labels (a part of the knowledge, built once)."""
    model = knowledge.model
    return _Names(model.site_ids, knowledge.site_labels), _Names(model.causes, knowledge.cause_labels)


class _Names:
    """The ids of the sites (or causes) in the model's order, and their labels in the same order.

    Built once per knowledge, so that ranking a case reads each label by position.
    """

    def __init__(self, ids: tuple[str, ...], labels: Mapping[str, str]) -> None:
        self.ids = ids
        self.labels = [labels[one] for one in ids]


def _explained(
    posterior: Posterior,
    knowledge: Knowledge,
    site_ranking: tuple[_Names, list[int]],
    cause_ranking: tuple[_Names, list[int]],
    leading: int,
) -> tuple[tuple[Hypothesis, ...], tuple[Hypothesis, ...]]:
    (site_names, site_order), (cause_names, cause_order) = site_ranking, cause_ranking
    first_sites, first_causes = site_order[:leading], cause_order[:leading]
    reasons = _Explainer(posterior, knowledge).reasons(first_sites, first_causes) if leading else []
    sites = _hypotheses(site_names, posterior.site_probability, site_order, reasons[: len(first_sites)])
    causes = _hypotheses(cause_names, posterior.cause_probability, cause_order, reasons[len(first_sites) :])
    return sites, causes


Reasons = tuple[tuple[Evidence, ...], tuple[Evidence, ...]]
"""The findings for and the findings against one hypothesis, strongest first."""


def _ranking(probability: npt.NDArray[np.float64]) -> list[list[int]]:
    """Return, for each row of probabilities, the hypothesis indices, most probable first.

    Mirror-image hypotheses (left and right) tie; rounding the log keeps the last bits of a
    sum from deciding their order (a tie goes to the first id) and keeps the order of tiny
    probabilities.
    """
    log_p = np.round(
        np.log(probability, out=np.full(probability.shape, -np.inf), where=probability > 0.0), _TIE_DECIMALS
    )
    order: list[list[int]] = np.argsort(-log_p, axis=1, kind="stable").tolist()
    return order


def _hypotheses(
    names: _Names, probability: Vector, order: list[int], reasons: list[Reasons]
) -> tuple[Hypothesis, ...]:
    """Return the ranked hypotheses, the first ones with their reasons.

    The rest, every other site and cause of every case, are made with ``tuple.__new__``: the
    same named tuples, without the Python-level ``__new__`` of :class:`Hypothesis`, which
    costs twice as much.
    """
    ids, labels, values = names.ids, names.labels, probability.tolist()
    explained = [
        Hypothesis(ids[i], values[i], labels[i], *why) for i, why in zip(order, reasons, strict=False)
    ]
    new, none = tuple.__new__, ()
    rest = [new(Hypothesis, (ids[i], values[i], labels[i], none, none)) for i in order[len(reasons) :]]
    return (*explained, *rest)


class _Explainer:
    """Weighs every used observation for and against some hypotheses, all at once."""

    def __init__(self, posterior: Posterior, knowledge: Knowledge) -> None:
        self.posterior = posterior
        self.observations = posterior.observations
        self.vocabulary = knowledge.vocabulary
        self._wording = knowledge.wordings

    def reasons(self, sites: list[int], causes: list[int]) -> list[Reasons]:
        """Return the reasons for each of some sites, then for each of some causes (by index)."""
        stacked = self.posterior.model.stacked
        inside = np.concatenate((stacked.pairs_of_site[sites], stacked.pairs_of_cause[causes]))  # [H, P]
        if not len(inside) or not self.observations:
            return [((), ()) for _ in range(len(inside))]
        probability = self.posterior.pair_probability
        p_in = probability * inside
        p_out = probability - p_in
        total_in, total_out = p_in.sum(axis=1), p_out.sum(axis=1)
        usable = (total_in > 0.0) & (total_out > 0.0)
        # A hypothesis with no probability inside or outside it has nothing to weigh against.
        contrast = (
            p_in / np.where(usable, total_in, 1.0)[:, None]
            - p_out / np.where(usable, total_out, 1.0)[:, None]
        )
        serials = np.array([observation.rows.serial for observation in self.observations])
        weights = stacked.explained[serials] @ (contrast * usable[:, None]).T  # [O, H]
        # Ties (two sides, two regions of one territory) are broken by the observations' fixed
        # order in the model, not by the order the findings were listed in, so that reordering a
        # case changes nothing; weights are compared to 9 decimals because summing in another
        # order moves the last bits.
        tie_rank = np.broadcast_to(serials[:, None], weights.shape)
        orders = np.lexsort((tie_rank, -np.round(weights, _TIE_DECIMALS)), axis=0).T.tolist()
        columns = weights.T.tolist()
        return [self._reasons(columns[h], orders[h]) if usable[h] else ((), ()) for h in range(len(columns))]

    def _reasons(self, weights: list[float], order: list[int]) -> Reasons:
        supporting = [i for i in order[:_MAX_REASONS] if weights[i] >= _MIN_WEIGHT]
        opposing = [i for i in order[::-1][:_MAX_REASONS] if weights[i] <= -_MIN_WEIGHT]
        return self._described(supporting, weights), self._described(opposing, weights)

    def _described(self, indices: list[int], weights: list[float]) -> tuple[Evidence, ...]:
        evidence = []
        for i in indices:
            observation = self.observations[i]
            key = (observation.finding, observation.value)
            wording = self._wording.get(key)
            if wording is None:
                wording = self._wording[key] = _describe(observation, self.vocabulary)
            patient, clinician = wording
            evidence.append(Evidence(observation.finding, observation.value, weights[i], patient, clinician))
        return tuple(evidence)


def _describe(observation: Observation, vocabulary: Vocabulary) -> tuple[str, str]:
    """Return the observation in words, for a person and for a clinician; never as ids."""
    finding, value = observation.finding, observation.value
    spec = vocabulary.findings.get(finding)
    if spec is not None and spec.type == "regions" and isinstance(value, str):
        region, _, side = value.partition(".")
        where = vocabulary.regions[region].description + (f" ({side})" if side else "")
        words = f"{spec.description}: {where}"
        return words, words
    if spec is None:  # a sided finding observed on either side
        spec = vocabulary.findings.get(f"{finding}.left")
        subject = spec.description if spec is not None else finding.replace("_", " ")
        words = f"{subject}: {_yes_no(value)}"
        return words, words
    subject = spec.description
    clinical = subject
    if spec.item is not None:
        table = vocabulary.movements if spec.base == "exam.power" else vocabulary.reflexes
        subject = f"{table.get(spec.item, spec.item)} ({spec.side})"
        clinical = f"{_ITEM_KIND[spec.base]}, {subject}"
    elif spec.side is not None:
        subject = clinical = f"{spec.description} ({spec.side})"
    return f"{subject}: {_yes_no(value)}", f"{clinical}: {_yes_no(value)}"


_ITEM_KIND = {"exam.power": "MRC power", "exam.reflex": "tendon reflex"}
"""What a per-movement or per-reflex finding measures, named before the item for a clinician."""


def _yes_no(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)
