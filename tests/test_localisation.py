"""Localisation and cause follow anatomy and defining findings (issue 16, classes 9 to 11).

Each row is a textbook pattern, written here from the anatomy and the cited studies, never
from a case file: a lower motor neuron sign is a nerve lesion; the standard discriminators
between a root, a plexus and a peripheral nerve; a bilateral peripheral pattern is one
hypothesis; a cause-defining finding leads, and a cause is not proposed without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinchpoint.core.case import FindingValue
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.posterior import Posterior, infer
from pinchpoint.knowledge import schema as s
from tests.strategies import findings as finding_mappings

Findings = Mapping[str, FindingValue]

_ADULT: Findings = {"age": 50, "sex": "male"}


def _ranked(probabilities: Mapping[str, float]) -> list[str]:
    return sorted(probabilities, key=lambda key: -probabilities[key])


def _posterior(knowledge: Knowledge, findings: Findings) -> Posterior:
    return infer({**_ADULT, **findings}, knowledge)


# --- class 9: a lower motor neuron sign is a nerve lesion ---------------------------------------

_NERVE_LESIONS: dict[str, Findings] = {
    "myotomal weakness with reflex loss": {
        "pain_regions": ("low_back",),
        "exam.power.ankle_plantarflexion.left": 4,
        "exam.reflex.achilles.left": "absent",
    },
    "foot drop with a numb foot": {
        "foot_drop.left": True,
        "numbness_regions": ("foot_dorsum.left",),
    },
    "neurogenic claudication with foot pulses present": {
        "age": 70,
        "pain_regions": ("low_back", "buttock.left", "buttock.right", "thigh_posterior.left"),
        "neurogenic_claudication": True,
        "exam.foot_pulses_absent.left": False,
        "exam.foot_pulses_absent.right": False,
    },
    "reported leg weakness with wasting": {
        "pain_regions": ("low_back",),
        "leg_weakness.left": True,
        "exam.wasting.left": True,
    },
    "a knee that gives way, nothing else known": {"knee_buckling.right": True},
    "cannot stand on tiptoe, with back and buttock pain": {
        "pain_regions": ("low_back", "buttock.left"),
        "cannot_tiptoe.left": True,
    },
}


@pytest.mark.parametrize("findings", _NERVE_LESIONS.values(), ids=_NERVE_LESIONS.keys())
def test_nerve_signs_do_not_leave_non_neural_first(knowledge: Knowledge, findings: Findings) -> None:
    """With a motor, reflex or dermatomal sign, "no nerve lesion" is not the leading site."""
    sites = _posterior(knowledge, findings).site_probabilities()
    assert _ranked(sites)[0] != "non_neural"


_DEFICITS: list[tuple[str, FindingValue]] = [
    ("exam.reflex.achilles.left", "absent"),
    ("exam.reflex.patellar.right", "reduced"),
    ("exam.power.ankle_dorsiflexion.left", 2),
    ("exam.power.knee_extension.right", 4),
    ("foot_drop.left", True),
    ("leg_weakness.right", True),
    ("exam.wasting.left", True),
    ("exam.plantar.left", "extensor"),
]


@settings(max_examples=40, deadline=None)
@given(base=finding_mappings(), deficit=st.sampled_from(_DEFICITS))
def test_a_deficit_never_makes_no_nerve_lesion_likelier(
    knowledge: Knowledge, base: dict[str, FindingValue], deficit: tuple[str, FindingValue]
) -> None:
    """Adding a motor, reflex or pyramidal sign never raises the probability of no nerve lesion.

    Such a sign is less likely without a nerve lesion than under any lesion (likelihoods.yaml,
    non_neural), whatever else is known.
    """
    finding, value = deficit
    base.pop(finding, None)
    before = infer(base, knowledge).site_probabilities()["non_neural"]
    after = infer({**base, finding: value}, knowledge).site_probabilities()["non_neural"]
    assert after <= before + 1e-9


# --- class 10: root, plexus or nerve --------------------------------------------------------------

_DISCRIMINATORS: dict[str, tuple[Findings, str]] = {
    "foot drop with weak inversion and back pain: L5 root": (
        {
            "pain_regions": ("low_back", "buttock.left", "leg_anterolateral.left"),
            "foot_drop.left": True,
            "exam.power.ankle_dorsiflexion.left": 2,
            "exam.power.ankle_inversion.left": 3,
        },
        "root.L5.left",
    ),
    "foot drop with inversion spared, leg crossing, Tinel at the fibular head: peroneal": (
        {
            "numbness_regions": ("foot_dorsum.left", "leg_anterolateral.left"),
            "foot_drop.left": True,
            "exam.power.ankle_dorsiflexion.left": 2,
            "exam.power.ankle_inversion.left": 5,
            "leg_crossing_or_squatting": True,
            "exam.tinel_fibular_head.left": True,
        },
        "nerve.common_peroneal.left",
    ),
    "foot drop with weak hamstrings and calf: sciatic nerve": (
        {
            "pain_regions": ("buttock.left", "thigh_posterior.left"),
            "foot_drop.left": True,
            "exam.power.ankle_dorsiflexion.left": 2,
            "exam.power.knee_flexion.left": 3,
            "exam.power.ankle_plantarflexion.left": 3,
        },
        "nerve.sciatic.left",
    ),
    "weak knee extension and adduction with back pain and femoral stretch: upper lumbar root": (
        {
            "pain_regions": ("low_back", "thigh_anterior.left"),
            "exam.power.knee_extension.left": 4,
            "exam.power.hip_adduction.left": 4,
            "exam.femoral_stretch.left": True,
        },
        "root.L3.left",
    ),
    "weak hip flexion and knee extension, adductors spared: femoral nerve": (
        {
            "pain_regions": ("groin.left", "thigh_anterior.left"),
            "exam.power.knee_extension.left": 3,
            "exam.power.hip_flexion.left": 3,
            "exam.power.hip_adduction.left": 5,
            "exam.reflex.patellar.left": "absent",
        },
        "nerve.femoral.left",
    ),
    "sciatica with retention and saddle numbness after lifting: cauda equina, not the conus": (
        {
            "onset_after_lifting": True,
            "pain_regions": ("low_back", "thigh_posterior.right", "calf_posterior.right"),
            "urinary_retention": True,
            "saddle_numbness": True,
            "exam.reflex.achilles.right": "absent",
        },
        "cauda_equina",
    ),
    "clonus and an extensor plantar on both sides: spinal cord": (
        {
            "exam.clonus.left": True,
            "exam.clonus.right": True,
            "exam.plantar.left": "extensor",
            "exam.plantar.right": "extensor",
        },
        "spinal_cord",
    ),
}


@pytest.mark.parametrize(("findings", "site"), _DISCRIMINATORS.values(), ids=_DISCRIMINATORS.keys())
def test_standard_discriminators_localise(knowledge: Knowledge, findings: Findings, site: str) -> None:
    """The standard bedside discriminators put the textbook site first."""
    assert _ranked(_posterior(knowledge, findings).site_probabilities())[0] == site


_BILATERAL: dict[str, tuple[Findings, str]] = {
    "both tarsal tunnels": (
        {
            "pain_regions": ("sole.left", "sole.right"),
            "numbness_regions": ("sole.left", "sole.right"),
            "exam.tinel_tarsal_tunnel.left": True,
            "exam.tinel_tarsal_tunnel.right": True,
        },
        "nerve.tibial",
    ),
    "both fibular heads": (
        {
            "numbness_regions": ("foot_dorsum.left", "foot_dorsum.right"),
            "exam.power.ankle_dorsiflexion.left": 2,
            "exam.power.ankle_dorsiflexion.right": 2,
            "exam.power.ankle_inversion.left": 5,
            "exam.power.ankle_inversion.right": 5,
            "leg_crossing_or_squatting": True,
        },
        "nerve.common_peroneal",
    ),
}


@pytest.mark.parametrize(("findings", "base"), _BILATERAL.values(), ids=_BILATERAL.keys())
def test_a_bilateral_peripheral_pattern_competes_whole(
    knowledge: Knowledge, findings: Findings, base: str
) -> None:
    """A pattern in both legs' territories of one nerve leads as that nerve, not split in two halves."""
    top = _ranked(_posterior(knowledge, findings).site_probabilities())[0]
    assert top.rsplit(".", 1)[0] == base


def test_a_bilateral_variant_is_one_unit_under_a_vocabulary_id(knowledge: Knowledge) -> None:
    """Each both-legs variant of a sided site is one unit, listed under a sided vocabulary id."""
    sites = cast(s.SitesTable, knowledge.tables["sites"]).sites
    model = knowledge.model
    for base, site in sites.items():
        for name, variant in site.variants.items():
            if variant.sides != "both" or not knowledge.vocabulary.sites[base].sided:
                continue
            units = [unit for unit in model.units if unit.base == base and unit.variant == name]
            assert len(units) == 1
            assert units[0].site_id in knowledge.vocabulary.site_ids


def _acute_flaccid_paraplegia() -> dict[str, FindingValue]:
    """A sudden, dense, areflexic weakness of both legs with retention: cord in shock or cauda equina."""
    findings: dict[str, FindingValue] = {
        "onset_sudden": True,
        "duration_days": 0,
        "urinary_retention": True,
        "exam.sensory_loss_regions": tuple(
            f"{region}.{side}"
            for region in ("thigh_anterior", "leg_anterolateral", "foot_dorsum", "sole")
            for side in ("left", "right")
        ),
    }
    for side in ("left", "right"):
        for movement in ("hip_flexion", "knee_extension", "ankle_dorsiflexion", "ankle_plantarflexion"):
            findings[f"exam.power.{movement}.{side}"] = 0
        for reflex in ("patellar", "achilles"):
            findings[f"exam.reflex.{reflex}.{side}"] = "absent"
        findings[f"exam.plantar.{side}"] = "flexor"
    return findings


def test_an_acute_areflexic_paraplegia_may_be_a_cord_lesion_in_spinal_shock(knowledge: Knowledge) -> None:
    """Jerks lost in both legs within a day of a sudden paraplegia do not rule out the cord.

    In the spinal shock of an acute cord lesion the jerks below it are lost (ditunno-2004), so
    the findings cannot tell the cord from the cauda equina: both stay leading, neither certain.
    """
    probabilities = _posterior(knowledge, _acute_flaccid_paraplegia()).site_probabilities()
    assert set(_ranked(probabilities)[:2]) == {"spinal_cord", "cauda_equina"}
    assert 0.1 < probabilities["spinal_cord"] < 0.95
    assert probabilities["cauda_equina"] > 0.05


def test_a_variant_reads_its_own_kind_of_lesion(knowledge: Knowledge) -> None:
    """A variant that names a kind (the cord in spinal shock) is compiled with that kind's likelihoods."""
    sites = cast(s.SitesTable, knowledge.tables["sites"]).sites
    named = [
        (base, name, variant.kind)
        for base, site in sites.items()
        for name, variant in site.variants.items()
        if variant.kind
    ]
    assert named
    for base, name, kind in named:
        units = [unit for unit in knowledge.model.units if unit.base == base and unit.variant == name]
        assert units
        assert all(unit.kind == kind for unit in units)
        others = [unit for unit in knowledge.model.units if unit.base == base and unit.variant != name]
        assert all(unit.kind == sites[base].kind for unit in others)


# --- class 11: defining findings ---------------------------------------------------------------

_DEFINED: dict[str, tuple[Findings, str]] = {
    "fever with spinal pain: infection": (
        {"pain_regions": ("low_back",), "fever": True},
        "infection",
    ),
    "a rash over the painful dermatome: zoster": (
        {"pain_regions": ("thigh_anterior.left", "knee_anterior.left"), "rash": True},
        "herpes_zoster",
    ),
    "calf claudication relieved by standing still, foot pulses absent: arterial": (
        {
            "age": 68,
            "pain_regions": ("calf_posterior.left",),
            "vascular_claudication": True,
            "exam.foot_pulses_absent.left": True,
        },
        "vascular",
    ),
    "one swollen calf: deep vein thrombosis": (
        {"pain_regions": ("calf_posterior.left",), "leg_swelling.left": True},
        "venous_thrombosis",
    ),
    # Iliac disease hurts in the back, buttock and thigh rather than the calf (mahe-2015-iliac).
    "buttock and thigh claudication with back pain, a foot pulse absent: arterial": (
        {
            "age": 62,
            "pain_regions": ("low_back", "buttock.left", "thigh_posterior.left"),
            "vascular_claudication": True,
            "exam.foot_pulses_absent.left": True,
        },
        "vascular",
    ),
    # Lumbosacral zoster hurts in the back and down the leg, which is why it is taken for a disc
    # (zoster-sciatica): the rash decides.
    "a blistering band with back and leg pain: zoster": (
        {
            "pain_regions": ("low_back", "buttock.left", "thigh_posterior.left", "calf_posterior.left"),
            "rash": True,
        },
        "herpes_zoster",
    ),
    # Vitamin B12 deficiency, as from nitrous oxide, damages the cord as well as the nerves (yu-2022-n2o).
    "a cord picture after a toxic exposure: toxic or metabolic": (
        {
            "age": 30,
            "toxin_exposure": True,
            "unsteady_gait": True,
            "numbness_regions": ("sole.left", "sole.right", "foot_dorsum.left", "foot_dorsum.right"),
            "exam.plantar.left": "extensor",
            "exam.plantar.right": "extensor",
        },
        "toxic_metabolic",
    ),
}


@pytest.mark.parametrize(("findings", "cause"), _DEFINED.values(), ids=_DEFINED.keys())
def test_a_defining_finding_leads(knowledge: Knowledge, findings: Findings, cause: str) -> None:
    """A cause-defining finding puts its cause first."""
    assert _ranked(_posterior(knowledge, findings).cause_probabilities())[0] == cause


def test_sacroiliac_provocation_follows_its_composite(knowledge: Knowledge) -> None:
    """Three or more of five positive raises sacroiliac pain (LR+ 4.3), fewer lowers it (laslett-2005)."""
    findings = {"pain_regions": ("low_back", "buttock.right")}
    sacroiliac = {
        count: _posterior(knowledge, {**findings, "exam.sij_provocation.right": count}).cause_probabilities()
        for count in (1, 4)
    }
    base = _posterior(knowledge, findings).cause_probabilities()["sacroiliac"]
    assert sacroiliac[1]["sacroiliac"] < base / 5 < base < sacroiliac[4]["sacroiliac"] / 3
    assert "sacroiliac" in _ranked(sacroiliac[4])[:2]


def test_past_cancer_with_radicular_pain_makes_tumour_a_leading_cause(knowledge: Knowledge) -> None:
    """Past cancer is the most informative malignancy flag (downie-2013: post-test 33%, 22-46%)."""
    findings = {
        "age": 65,
        "sex": "female",
        "pain_regions": ("low_back", "buttock.left", "thigh_posterior.left", "calf_posterior.left"),
        "pain_below_knee": True,
    }
    without = infer(findings, knowledge).cause_probabilities()["tumour"]
    causes = infer({**findings, "cancer_history": True}, knowledge).cause_probabilities()
    assert causes["tumour"] > 10 * without
    assert "tumour" in _ranked(causes)[:3]


def test_failed_treatment_weighs_for_tumour_as_its_study_found(knowledge: Knowledge) -> None:
    """Failure to improve with treatment: sensitivity 0.31, specificity 0.90 for cancer (deyo-diehl-1988).

    So it multiplies the odds of tumour against any other cause by 0.31 / 0.10 and leaves the
    odds between the other causes as they were.
    """
    findings = {"age": 60, "pain_regions": ("low_back", "buttock.left", "thigh_posterior.left")}
    before = _posterior(knowledge, findings).cause_probabilities()
    after = _posterior(knowledge, {**findings, "failed_treatment": True}).cause_probabilities()
    for other in ("disc_herniation", "degenerative", "nonspecific"):
        odds_ratio = (after["tumour"] / after[other]) / (before["tumour"] / before[other])
        assert odds_ratio == pytest.approx(0.31 / 0.10)
    assert after["degenerative"] / after["disc_herniation"] == pytest.approx(
        before["degenerative"] / before["disc_herniation"]
    )


def _defined_causes(knowledge: Knowledge) -> list[str]:
    table = cast(s.CausesTable, knowledge.tables["causes"])
    return [name for name, cause in table.causes.items() if cause.defining]


def test_causes_with_defining_findings_include_the_stated_ones(knowledge: Knowledge) -> None:
    """Fracture, diabetic, arterial, DVT and hip joint need their defining finding (issue 16)."""
    assert {"diabetic", "fracture", "hip_joint", "vascular", "venous_thrombosis"} <= set(
        _defined_causes(knowledge)
    )


_WITHOUT_DEFINITION: dict[str, Findings] = {
    "fracture": {"pain_regions": ("low_back",), "onset_sudden": True},
    "diabetic": {
        "age": 65,
        "pain_regions": ("sole.left", "sole.right", "foot_dorsum.left", "foot_dorsum.right"),
        "numbness_regions": ("sole.left", "sole.right", "foot_dorsum.left", "foot_dorsum.right"),
        "pain_burning": True,
    },
    "vascular": {
        "age": 70,
        "pain_regions": ("calf_posterior.left",),
        "exam.foot_pulses_absent.left": False,
    },
    "venous_thrombosis": {"pain_regions": ("calf_posterior.left",)},
    "hip_joint": {"age": 70, "pain_regions": ("groin.left", "thigh_anterior.left")},
    "infection": {"pain_regions": ("low_back",), "exam.spinal_tenderness": True, "worsening": True},
    "herpes_zoster": {"pain_regions": ("thigh_anterior.left", "knee_anterior.left"), "pain_burning": True},
}


@pytest.mark.parametrize(("cause", "findings"), _WITHOUT_DEFINITION.items(), ids=_WITHOUT_DEFINITION.keys())
def test_a_cause_is_not_proposed_without_its_defining_finding(
    knowledge: Knowledge, cause: str, findings: Findings
) -> None:
    """Without its defining finding a cause is not first; the finding itself raises it."""
    causes = _posterior(knowledge, findings).cause_probabilities()
    assert _ranked(causes)[0] != cause
    table = cast(s.CausesTable, knowledge.tables["causes"])
    defining = table.causes[cause].defining[0]
    spec = next(f for f in knowledge.vocabulary.findings.values() if f.base == defining.finding)
    value: FindingValue = defining.at_least if defining.at_least is not None else defining.values[0]  # type: ignore[assignment]
    if spec.type == "int" and isinstance(value, float):
        value = int(value)
    defined = _posterior(knowledge, {**findings, spec.id: value}).cause_probabilities()
    assert defined[cause] > causes[cause]


def test_a_past_spine_operation_reads_as_a_recurrence_not_an_injury(knowledge: Knowledge) -> None:
    """Past spine surgery with new sciatica: a recurrent disc (shepard-cho-2019), not an iatrogenic injury.

    An iatrogenic injury follows its procedure within days, so a recent procedure defines it
    and a past one does not (causes.yaml).
    """
    sciatica = {"pain_regions": ("low_back", "buttock.left", "thigh_posterior.left", "calf_posterior.left")}
    past = _posterior(knowledge, {**sciatica, "previous_spine_surgery": True}).cause_probabilities()
    assert _ranked(past)[0] == "disc_herniation"
    assert "iatrogenic" not in _ranked(past)[:3]
    recent = _posterior(knowledge, {**sciatica, "recent_spinal_procedure": True}).cause_probabilities()
    assert recent["iatrogenic"] > 5 * past["iatrogenic"]


# --- priors and backgrounds that hold the classes together ----------------------------------------

# The spinal causes of back-related leg pain (atlas-2015): radicular at a root, the canal or the cauda
# equina, or referred pain at no nerve.
_BACK_RELATED = (
    "disc_herniation",
    "degenerative",
    "spinal_stenosis",
    "spondylolisthesis",
    "nonspecific",
    "sacroiliac",
)


def test_referred_leg_pain_takes_the_share_the_atlas_cohort_found(knowledge: Knowledge) -> None:
    """Of back-related leg pain in primary care 25.8% is referred and 74.2% sciatica (atlas-2015, n = 609).

    The priors give referred pain (the non-neural share of the back-related causes) a share
    within that study's 95% interval, about 22% to 30%.
    """
    causes = cast(s.CausesTable, knowledge.tables["causes"]).causes
    referred = sum(causes[name].prior * causes[name].sites.get("non_neural", 0.0) for name in _BACK_RELATED)
    total = sum(causes[name].prior * sum(causes[name].sites.values()) for name in _BACK_RELATED)
    assert 0.22 <= referred / total <= 0.30


def test_stray_pain_has_one_background_for_every_hypothesis(knowledge: Knowledge) -> None:
    """A painful region a hypothesis does not explain is as likely with or without a nerve lesion.

    Otherwise every region left unmarked counts for one kind of hypothesis against the other,
    some fivefold over the regions of both legs.
    """
    causes = cast(s.CausesTable, knowledge.tables["causes"])
    likelihoods = cast(s.LikelihoodsTable, knowledge.tables["likelihoods"])
    assert causes.background.pain_region == likelihoods.background.region_present["pain"]
