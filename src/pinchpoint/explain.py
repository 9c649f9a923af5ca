"""Say why: the ranked sites and causes with the findings for and against each.

For a hypothesis H (a site or a cause) the weight of an observation is the difference
between its average log-likelihood under H and under the alternatives, each averaged
with the posterior weights. Positive weights speak for H, negative against it.
"""

from __future__ import annotations

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

_EXPLAINED = 3
_MAX_REASONS = 5
_MIN_WEIGHT = 0.2


def explain(posterior: Posterior, knowledge: Knowledge) -> tuple[tuple[Hypothesis, ...], tuple[Hypothesis, ...]]:
    """Return the ranked sites and causes; the leading ones carry their evidence."""
    model = posterior.model
    vectors = [(_pair_vector(observation, posterior), observation) for observation in posterior.observations]
    vocabulary = knowledge.vocabulary
    sites = _ranked(
        model.site_ids,
        posterior.site_probability,
        model.pair_site,
        posterior,
        vectors,
        lambda site: vocabulary.sites[site.rsplit(".", 1)[0] if site not in vocabulary.sites else site].description
        or site,
        vocabulary,
    )
    causes = _ranked(
        model.causes,
        posterior.cause_probability,
        model.pair_cause,
        posterior,
        vectors,
        lambda cause: vocabulary.causes[cause],
        vocabulary,
    )
    return sites, causes


def _ranked(
    ids: tuple[str, ...],
    probability: Vector,
    pair_index: npt.NDArray[np.intp],
    posterior: Posterior,
    vectors: list[tuple[Vector, Observation]],
    label: object,
    vocabulary: Vocabulary,
) -> tuple[Hypothesis, ...]:
    order = np.argsort(-probability, kind="stable")
    ranked = []
    for rank, index in enumerate(order):
        hypothesis_id = ids[index]
        text = label(hypothesis_id) if callable(label) else hypothesis_id
        if rank < _EXPLAINED:
            inside = pair_index == index
            evidence = _weights(inside, posterior.pair_probability, vectors, vocabulary)
            ranked.append(
                Hypothesis(
                    id=hypothesis_id,
                    p=float(probability[index]),
                    label=text,
                    evidence_for=tuple(e for e in evidence if e.weight >= _MIN_WEIGHT)[:_MAX_REASONS],
                    evidence_against=tuple(e for e in reversed(evidence) if e.weight <= -_MIN_WEIGHT)[:_MAX_REASONS],
                )
            )
        else:
            ranked.append(Hypothesis(id=hypothesis_id, p=float(probability[index]), label=text))
    return tuple(ranked)


def _weights(
    inside: npt.NDArray[np.bool_],
    pair_probability: Vector,
    vectors: list[tuple[Vector, Observation]],
    vocabulary: Vocabulary,
) -> list[Evidence]:
    p_in = pair_probability * inside
    p_out = pair_probability * ~inside
    total_in, total_out = p_in.sum(), p_out.sum()
    if total_in <= 0.0 or total_out <= 0.0:
        return []
    evidence = []
    for vector, observation in vectors:
        weight = float(vector @ p_in / total_in - vector @ p_out / total_out)
        patient, clinician = _describe(observation, vocabulary)
        evidence.append(Evidence(observation.finding, observation.value, weight, patient, clinician))
    evidence.sort(key=lambda e: -e.weight)
    return evidence


def _pair_vector(observation: Observation, posterior: Posterior) -> Vector:
    model = posterior.model
    total = np.zeros(len(model.pair_unit))
    for contribution in observation.contributions:
        if contribution.target == "cause":
            total += contribution.vector[model.pair_cause]
        else:
            total += contribution.vector[model.pair_unit] - contribution.scalar
    if observation.pattern is not None:
        total = np.where(model.pair_non_neural, observation.pattern[model.pair_cause], total)
    return total


def _describe(observation: Observation, vocabulary: Vocabulary) -> tuple[str, str]:
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
