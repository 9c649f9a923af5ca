"""Tests of where a lesion *is*: compression-site pain of nerve lesions and the one-leg canal variant.

Everything is derived from the tables: the compression site of a nerve lesion is the course of
the nerves its variant names (nerves.yaml, sites.yaml), weighed by ``lesion_site_pain`` of
likelihoods.yaml; the lumbar canal's one-leg variant (``sides: either``) compiles into one
unit per leg under the canal's own site id.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import cast

import pytest

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.likelihood import SiteUnit
from pinchpoint.errors import UnresolvedReferenceError
from pinchpoint.io.knowledge.loader import data_directory, load_knowledge
from pinchpoint.knowledge import schema as s

pytestmark = pytest.mark.core

_TOLERANCE = 1e-9


def _tables(knowledge: Knowledge) -> tuple[s.SitesTable, s.LikelihoodsTable]:
    return (
        cast(s.SitesTable, knowledge.tables["sites"]),
        cast(s.LikelihoodsTable, knowledge.tables["likelihoods"]),
    )


def _nerve_variants(knowledge: Knowledge) -> list[tuple[str, str]]:
    sites, _ = _tables(knowledge)
    return [
        (base, name)
        for base, site in sites.sites.items()
        for name, variant in site.variants.items()
        if variant.nerves
    ]


def _units(knowledge: Knowledge, base: str, variant: str) -> list[tuple[int, SiteUnit]]:
    return [
        (index, unit)
        for index, unit in enumerate(knowledge.model.units)
        if unit.base == base and unit.variant == variant
    ]


def _side(unit: SiteUnit) -> str:
    return unit.site_id.rsplit(".", 1)[-1]


def _pain_probability(knowledge: Knowledge, index: int, region: str) -> float:
    """P(region hurts | the unit's lesion involves pain), read back from the compiled pain list."""
    delta = knowledge.model.region_lists["pain_regions"].delta[region].vector[index]
    return 1.0 / (1.0 + math.exp(-delta))


def test_every_nerve_variant_is_tested(knowledge: Knowledge) -> None:
    """The tables hold nerve-lesion variants, so the parametrised checks below check something."""
    assert len(_nerve_variants(knowledge)) >= 10


def test_compression_site_is_the_course_of_the_named_nerves(knowledge: Knowledge) -> None:
    """A nerve variant's ``site:`` keys are exactly the course regions of the nerves it names, on its side.

    A variant in both legs (``sides: both``) has them on both sides.
    """
    sites, _ = _tables(knowledge)
    nerves = cast(s.NervesTable, knowledge.tables["nerves"]).nerves
    for base, name in _nerve_variants(knowledge):
        variant = sites.sites[base].variants[name]
        expected_regions = {region for nerve in variant.nerves for region in nerves[nerve].course}
        for _, unit in _units(knowledge, base, name):
            legs = knowledge.vocabulary.sides if variant.sides == "both" else (_side(unit),)
            site_keys = {key for key in unit.territory if key.startswith("site:")}
            assert site_keys == {f"site:{region}.{leg}" for region in expected_regions for leg in legs}, (
                base,
                name,
            )
            for region in expected_regions:
                for leg in legs:
                    assert unit.territory[f"pain:{region}.{leg}"] == 1.0, (base, name, region)


def test_branches_do_not_move_the_compression_site(knowledge: Knowledge) -> None:
    """A sciatic lesion lies in the buttock, not in the calf that only its tibial branch reaches."""
    for _, unit in _units(knowledge, "nerve.sciatic", "sciatic_notch"):
        side = _side(unit)
        assert f"site:buttock.{side}" in unit.territory
        assert f"pain:calf_posterior.{side}" in unit.territory
        assert f"site:calf_posterior.{side}" not in unit.territory


def test_root_and_canal_lesions_have_no_compression_site_region(knowledge: Knowledge) -> None:
    """Only variants that name nerves or ``pain_sites`` have ``site:`` keys; roots are placed by dermatomes.

    A variant's ``pain_sites`` (the buttocks and thighs of canal stenosis) are its only other ones.
    """
    sites, _ = _tables(knowledge)
    for unit in knowledge.model.units:
        variant = sites.sites[unit.base].variants[unit.variant]
        if not variant.nerves:
            site_regions = {
                key.removeprefix("site:").split(".")[0] for key in unit.territory if key.startswith("site:")
            }
            assert site_regions == set(variant.pain_sites), unit.site_id


def test_compression_site_pain_takes_its_own_parameter(knowledge: Knowledge) -> None:
    """Pain at the compression site has P = lesion_site_pain; other regions stay at most region_present."""
    sites, likelihoods = _tables(knowledge)
    table = likelihoods.lesion_site_pain
    assert table is not None
    checked = 0
    for base, name in _nerve_variants(knowledge):
        kind = sites.sites[base].kind
        if kind not in table.p:
            continue
        ceiling = likelihoods.kinds[kind].region_present["pain"]
        for index, unit in _units(knowledge, base, name):
            for key in unit.territory:
                if not key.startswith("pain:"):
                    continue
                region = key.removeprefix("pain:")
                p = _pain_probability(knowledge, index, region)
                if f"site:{region}" in unit.territory:
                    assert p >= table.p[kind] - _TOLERANCE, (unit.site_id, region)
                    checked += 1
                elif unit.territory[key] == 1.0:
                    assert p <= ceiling + _TOLERANCE, (unit.site_id, region)
    assert checked > 0


def test_pain_at_the_site_weighs_more_than_pain_where_branches_run(knowledge: Knowledge) -> None:
    """Where lesion_site_pain sets a chance, the compression site outweighs any other core pain region."""
    table = _tables(knowledge)[1].lesion_site_pain
    assert table is not None
    for base, name in _nerve_variants(knowledge):
        for index, unit in _units(knowledge, base, name):
            if unit.kind not in table.p:
                continue
            at_site = [key.removeprefix("site:") for key in unit.territory if key.startswith("site:")]
            elsewhere = [
                key.removeprefix("pain:")
                for key, degree in unit.territory.items()
                if key.startswith("pain:")
                and degree == 1.0
                and f"site:{key.removeprefix('pain:')}" not in unit.territory
            ]
            if not at_site or not elsewhere:
                continue
            weakest_site = min(_pain_probability(knowledge, index, region) for region in at_site)
            strongest_branch = max(_pain_probability(knowledge, index, region) for region in elsewhere)
            assert weakest_site > strongest_branch, (unit.site_id, name)


# --- the lumbar canal felt in one leg ------------------------------------------------------------------


def _either_variants(knowledge: Knowledge) -> list[tuple[str, str]]:
    sites, _ = _tables(knowledge)
    return [
        (base, name)
        for base, site in sites.sites.items()
        for name, variant in site.variants.items()
        if variant.sides == "either"
    ]


def test_the_canal_has_a_one_leg_variant(knowledge: Knowledge) -> None:
    """The lumbar canal has a variant felt in one leg beside its two-sided one."""
    sites, _ = _tables(knowledge)
    sides = {variant.sides for variant in sites.sites["lumbar_canal"].variants.values()}
    assert sides == {"both", "either"}
    assert ("lumbar_canal", "one_leg") in _either_variants(knowledge)


def test_one_leg_variants_have_one_sided_territories(knowledge: Knowledge) -> None:
    """An ``either`` variant gives one unit per leg, under the unsided site id, each on one side only."""
    legs = set(knowledge.vocabulary.sides)
    for base, name in _either_variants(knowledge):
        units = _units(knowledge, base, name)
        assert {unit.site_id for _, unit in units} == {base}
        seen = set()
        for _, unit in units:
            sided = {
                key.rsplit(":", 1)[-1]
                for key in unit.territory
                if key.split(":")[0] in {"movement", "reflex", "test"}
            }
            sided |= {
                key.rsplit(".", 1)[-1]
                for key in unit.territory
                if key.split(":")[0] in {"skin", "pain"} and "." in key
            }
            assert len(sided) == 1, (base, name, sided)
            assert sided <= legs, (base, name, sided)
            assert [key for key in unit.territory if key.startswith("function:")] == []
            seen |= sided
        assert seen == legs


def test_variant_weights_split_the_site_prior(knowledge: Knowledge) -> None:
    """Within each cause, a site's prior is split by variant weight, and a variant's share evenly by leg."""
    sites, _ = _tables(knowledge)
    model = knowledge.model
    causes = cast(s.CausesTable, knowledge.tables["causes"]).causes
    for cause_index, cause in enumerate(model.causes):
        p_canal = causes[cause].sites.get("lumbar_canal")
        if p_canal is None:
            continue
        variants = sites.sites["lumbar_canal"].variants
        total = sum(variant.weight for variant in variants.values())
        pairs = [
            pair
            for pair in range(len(model.pair_unit))
            if model.pair_cause[pair] == cause_index
            and model.units[model.pair_unit[pair]].base == "lumbar_canal"
        ]
        for name, variant in variants.items():
            mass = sum(
                math.exp(model.pair_log_prior[pair])
                for pair in pairs
                if model.units[model.pair_unit[pair]].variant == name
            )
            assert mass == pytest.approx(causes[cause].prior * p_canal * variant.weight / total)


def test_one_leg_symptoms_no_longer_rule_out_the_canal(knowledge: Knowledge) -> None:
    """Numbness in one leg only is likelier under the one-leg canal variant than under the two-sided one."""
    region = f"calf_posterior.{knowledge.vocabulary.sides[0]}"
    (both,) = [index for index, _ in _units(knowledge, "lumbar_canal", "central_stenosis")]
    (one_leg,) = [
        index
        for index, unit in _units(knowledge, "lumbar_canal", "one_leg")
        if f"skin:{region}" in unit.territory
    ]
    numbness = knowledge.model.region_lists["numbness_regions"]
    assert numbness.delta[region].vector[one_leg] > numbness.delta[region].vector[both]


def test_either_on_a_sided_site_is_refused(tmp_path: Path) -> None:
    """``sides: either`` is for unsided sites; on a sided one it is refused with a message that says so."""
    folder = tmp_path / "data"
    shutil.copytree(data_directory(), folder)
    path = folder / "sites.yaml"
    text = path.read_text(encoding="utf-8")
    old = "variants: {sciatic_notch: {nerves: [sciatic]}}"
    assert old in text
    path.write_text(
        text.replace(old, "variants: {sciatic_notch: {nerves: [sciatic], sides: either}}"), encoding="utf-8"
    )
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    assert str(caught.value) == (
        "sites.yaml: nerve.sciatic.variants.sciatic_notch.sides: 'either' is for a site the vocabulary "
        "does not side; expected one or both (the vocabulary sides this site) (got 'either')"
    )
