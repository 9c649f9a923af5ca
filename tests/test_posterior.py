"""Tests of the posterior's modality mixture: who is expected to show a deficit."""

from __future__ import annotations

import numpy as np
import pytest

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.posterior import infer


def _pair(knowledge: Knowledge, cause: str, site_id: str) -> int:
    model = knowledge.model
    cause_index = model.causes.index(cause)
    for pair, (unit, owner) in enumerate(zip(model.pair_unit, model.pair_cause, strict=True)):
        if owner == cause_index and model.units[unit].site_id == site_id:
            return pair
    raise AssertionError(f"no pair ({cause}, {site_id})")


def test_cause_involvement_overrides_the_kind_only_where_stated(knowledge: Knowledge) -> None:
    """A cause's own `involved` chances replace its neural sites' kind defaults, and only those."""
    causes = knowledge.tables["causes"].causes  # type: ignore[attr-defined]
    kinds = knowledge.tables["likelihoods"].kinds  # type: ignore[attr-defined]
    model = knowledge.model
    for modality, (log_in, log_out) in model.log_involved.items():
        chance = np.exp(log_in[model.pair_unit])
        assert np.exp(log_out[model.pair_unit]) == pytest.approx(1.0 - chance)
        override = model.involvement_overrides.get(modality)
        if override is not None:
            assert (model.pair_unit[override.pairs] == override.units).all()
            chance[override.pairs] = np.exp(override.log_in)
            assert np.exp(override.log_out) == pytest.approx(1.0 - np.exp(override.log_in))
        for pair, (unit_index, cause_index) in enumerate(zip(model.pair_unit, model.pair_cause, strict=True)):
            unit = model.units[unit_index]
            expected = kinds[unit.kind].involved.get(modality, 0.0)
            if unit.kind != "non_neural":
                expected = causes[model.causes[cause_index]].involved.get(modality, expected)
            assert chance[pair] == pytest.approx(expected), (
                modality,
                unit.site_id,
                model.causes[cause_index],
            )
    assert model.involvement_overrides, "some cause states its own involvement (piriformis)"


def test_normal_examination_weighs_less_against_an_irritative_cause(knowledge: Knowledge) -> None:
    """Normal power and reflexes in the sciatic territory count less against piriformis than injury."""
    normal_exam = {
        "exam.power.ankle_dorsiflexion.left": 5,
        "exam.power.ankle_plantarflexion.left": 5,
        "exam.reflex.achilles.left": "normal",
    }
    log_before = np.log(infer({}, knowledge).pair_probability)
    log_after = np.log(infer(normal_exam, knowledge).pair_probability)
    change = log_after - log_before
    irritative = change[_pair(knowledge, "piriformis", "nerve.sciatic.left")]
    destructive = change[_pair(knowledge, "iatrogenic", "nerve.sciatic.left")]
    assert irritative > destructive + 0.5
