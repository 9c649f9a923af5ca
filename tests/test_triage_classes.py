"""The triage classes of issue 16, each on small cases built from the class's own words.

Each row states findings, the level the rules must give (``TriageRules.evaluate``, the
rules alone), and rules that must or must not fire. They pin clinical.md section 2.7 as
triage.yaml implements it: an infective feature with a risk and any new neurological
symptom is an emergency, a risk factor alone is not even urgent, new bilateral weakness is
urgent at least, a stable deficit of months is not an acute foot drop, and so on.
"""

from __future__ import annotations

import pytest

from pinchpoint import assess
from pinchpoint.core.case import FindingValue, parse_case
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.knowledge.loader import load_knowledge

pytestmark = pytest.mark.core

_BACK_AND_LEG = ("low_back", "buttock.right", "thigh_posterior.right", "calf_posterior.right")

Row = tuple[str, dict[str, FindingValue], Urgency, tuple[str, ...], tuple[str, ...]]
_ROWS: list[Row] = [
    # (1) infective feature + risk + any new neurological symptom, reported or examined
    (
        "fever-iv-drug-use-reported-numbness",
        {
            "fever": True,
            "iv_drug_use": True,
            "pain_regions": ("low_back",),
            "numbness_regions": ("sole.left",),
        },
        Urgency.EMERGENCY,
        ("infection-with-neurology",),
        (),
    ),
    (
        "malaise-immunosuppressed-leg-weakness",
        {"malaise": True, "immunosuppressed": True, "leg_weakness.right": True},
        Urgency.EMERGENCY,
        ("infection-with-neurology",),
        (),
    ),
    # (7) a risk factor alone (a spinal injection weeks ago) with a deficit: no abscess suspected
    (
        "spinal-injection-weeks-ago-with-deficit-no-infective-feature",
        {
            "recent_spinal_procedure": True,
            "fever": False,
            "malaise": False,
            "trauma": "none",
            "duration_days": 60,
            "pain_regions": _BACK_AND_LEG,
            "exam.reflex.achilles.right": "reduced",
        },
        Urgency.SOON,
        ("infection-risk-with-back-pain",),
        ("infection-with-neurology", "suspected-spinal-infection"),
    ),
    (
        "spinal-tenderness-after-a-fall-is-no-infective-feature",
        {
            "immunosuppressed": True,
            "exam.spinal_tenderness": True,
            "trauma": "minor",
            "pain_regions": ("low_back",),
        },
        Urgency.SOON,
        (),
        ("suspected-spinal-infection",),
    ),
    # (2) anticoagulated bleed with a nerve deficit
    (
        "anticoagulated-groin-pain-numb-thigh",
        {
            "anticoagulants": True,
            "pain_regions": ("groin.left",),
            "numbness_regions": ("thigh_anterior.left",),
        },
        Urgency.EMERGENCY,
        ("anticoagulated-bleed-with-nerve-deficit",),
        (),
    ),
    # (3) any new bilateral leg weakness, even mild, reported or examined
    (
        "mild-new-bilateral-weakness-reported",
        {"duration_days": 5, "leg_weakness.left": True, "leg_weakness.right": True},
        Urgency.URGENT,
        ("new-bilateral-leg-weakness",),
        (),
    ),
    (
        "mild-bilateral-weakness-duration-unknown",
        {"exam.power.ankle_dorsiflexion.left": 4, "exam.power.ankle_dorsiflexion.right": 4},
        Urgency.URGENT,
        ("new-bilateral-leg-weakness",),
        (),
    ),
    (
        "sudden-bilateral-weakness-with-back-pain",
        {
            "duration_days": 0,
            "onset_sudden": True,
            "pain_regions": ("low_back",),
            "leg_weakness.left": True,
            "leg_weakness.right": True,
        },
        Urgency.EMERGENCY,
        ("ces-sudden-bilateral-weakness",),
        (),
    ),
    # (8) not on a slow, symmetric, distal polyneuropathy with normal sphincters
    (
        "slow-symmetric-distal-polyneuropathy",
        {
            "duration_days": 900,
            "worsening": False,
            "numbness_regions": ("sole.left", "sole.right", "foot_dorsum.left", "foot_dorsum.right"),
            "exam.power.great_toe_extension.left": 4,
            "exam.power.great_toe_extension.right": 4,
            "urinary_retention": False,
            "bladder_change": False,
        },
        Urgency.SOON,
        (),
        ("ces-bilateral-progressive-weakness", "new-bilateral-leg-weakness", "ces-bilateral-severe-weakness"),
    ),
    # (8) DVT is one-sided (Wells), not mild bilateral ankle swelling of months
    (
        "bilateral-ankle-swelling-of-months",
        {"duration_days": 200, "leg_swelling.left": True, "leg_swelling.right": True},
        Urgency.SELF_CARE,
        (),
        ("suspected-dvt",),
    ),
    (
        "one-sided-calf-swelling",
        {"duration_days": 200, "leg_swelling.left": True},
        Urgency.URGENT,
        ("suspected-dvt",),
        (),
    ),
    # (4) months of pain: worsening, bilateral, or 50 and over and not improving
    (
        "months-of-pain-worsening",
        {"duration_days": 365, "worsening": True, "pain_regions": ("low_back",)},
        Urgency.SOON,
        ("chronic-pain-worsening",),
        (),
    ),
    (
        "months-of-bilateral-sciatica",
        {
            "duration_days": 365,
            "pain_shooting": True,
            "pain_regions": ("calf_posterior.left", "calf_posterior.right"),
        },
        Urgency.SOON,
        ("bilateral-sciatica",),
        ("ces-bilateral-sciatica",),
    ),
    (
        "over-fifty-months-improving-unknown",
        {"age": 62, "duration_days": 120, "pain_regions": ("low_back",)},
        Urgency.SOON,
        ("older-with-persistent-back-pain",),
        (),
    ),
    (
        "leg-pain-beyond-six-weeks-improving",
        {"age": 30, "duration_days": 60, "improving": True, "pain_regions": ("thigh_posterior.left",)},
        Urgency.SELF_CARE,
        (),
        ("leg-pain-beyond-six-weeks-not-improving",),
    ),
    # (5) neuraxial block; shingles in the immunocompromised
    (
        "weak-leg-after-epidural",
        {"recent_neuraxial_block": True, "leg_weakness.left": True},
        Urgency.EMERGENCY,
        ("motor-deficit-after-neuraxial-block",),
        (),
    ),
    (
        "radicular-pain-after-epidural-without-weakness",
        {"recent_neuraxial_block": True, "pain_shooting": True, "duration_days": 3},
        Urgency.URGENT,
        ("neuraxial-block-sensory-symptoms",),
        (),
    ),
    (
        "shingles-with-weakness-on-chemotherapy",
        {"rash": True, "immunosuppressed": True, "leg_weakness.right": True},
        Urgency.EMERGENCY,
        ("shingles-motor-immunocompromised",),
        (),
    ),
    # (6) a stable deficit of months is not an acute foot drop; a new one is
    (
        "stable-foot-drop-of-months",
        {
            "duration_days": 300,
            "worsening": False,
            "foot_drop.left": True,
            "exam.power.ankle_dorsiflexion.left": 2,
        },
        Urgency.SOON,
        ("neurological-deficit",),
        ("severe-motor-deficit",),
    ),
    (
        "foot-drop-duration-unknown",
        {"foot_drop.left": True},
        Urgency.URGENT,
        ("severe-motor-deficit",),
        (),
    ),
    (
        "reported-foot-drop-examined-at-four",
        {"duration_days": 10, "foot_drop.left": True, "exam.power.ankle_dorsiflexion.left": 4},
        Urgency.SOON,
        ("neurological-deficit",),
        ("severe-motor-deficit",),
    ),
    # (1) fever with spinal pain and a new neurological symptom, no risk factor reported
    (
        "fever-back-pain-numb-leg-no-risk-reported",
        {"fever": True, "pain_regions": ("low_back",), "numbness_regions": ("thigh_anterior.left",)},
        Urgency.EMERGENCY,
        ("infection-with-neurology",),
        (),
    ),
    (
        "fever-numb-leg-without-spinal-pain",
        {"fever": True, "pain_regions": ("calf_posterior.left",), "numbness_regions": ("sole.left",)},
        Urgency.URGENT,
        ("suspected-spinal-infection",),
        ("infection-with-neurology",),
    ),
    # (3) a foot drop on both sides is major weakness of dorsiflexion in both legs (CKS, GIRFT)
    (
        "new-foot-drop-on-both-sides",
        {"duration_days": 5, "foot_drop.left": True, "foot_drop.right": True},
        Urgency.EMERGENCY,
        ("ces-bilateral-severe-weakness",),
        (),
    ),
    (
        "foot-drop-on-both-sides-examined-at-four",
        {
            "duration_days": 5,
            "foot_drop.left": True,
            "foot_drop.right": True,
            "exam.power.ankle_dorsiflexion.left": 4,
            "exam.power.ankle_dorsiflexion.right": 2,
        },
        Urgency.URGENT,
        ("new-bilateral-leg-weakness",),
        ("ces-bilateral-severe-weakness",),
    ),
    (
        "foot-drop-on-both-sides-for-years",
        {"duration_days": 2000, "worsening": False, "foot_drop.left": True, "foot_drop.right": True},
        Urgency.SOON,
        ("neurological-deficit",),
        ("ces-bilateral-severe-weakness", "new-bilateral-leg-weakness"),
    ),
    # a new weakness after an operation or a procedure near the nerves: perioperative nerve injury
    (
        "knee-gives-way-the-day-after-pelvic-surgery",
        {"duration_days": 1, "recent_hip_pelvic_surgery": True, "knee_buckling.right": True},
        Urgency.URGENT,
        ("new-motor-deficit-after-procedure",),
        (),
    ),
    (
        "weak-leg-after-a-buttock-injection-duration-unknown",
        {"buttock_injection": True, "exam.power.ankle_dorsiflexion.left": 4},
        Urgency.URGENT,
        ("new-motor-deficit-after-procedure",),
        (),
    ),
    # a painful leg is a symptom of DVT (NG158): one calf, no other explanation known;
    # not cramps, not sciatica
    (
        "new-pain-in-one-calf",
        {"duration_days": 3, "pain_regions": ("calf_posterior.right",)},
        Urgency.URGENT,
        ("unexplained-calf-pain",),
        ("suspected-dvt",),
    ),
    (
        "cramp-in-one-calf",
        {"duration_days": 3, "pain_regions": ("calf_posterior.right",), "muscle_cramps": True},
        Urgency.SELF_CARE,
        (),
        ("unexplained-calf-pain",),
    ),
    (
        "calf-pain-as-part-of-sciatica",
        {
            "duration_days": 3,
            "pain_regions": ("buttock.right", "thigh_posterior.right", "calf_posterior.right"),
        },
        Urgency.SELF_CARE,
        (),
        ("unexplained-calf-pain",),
    ),
    (
        "pain-in-both-calves",
        {"duration_days": 3, "pain_regions": ("calf_posterior.right", "calf_posterior.left")},
        Urgency.SELF_CARE,
        (),
        ("unexplained-calf-pain",),
    ),
    # sensory symptoms alone are part of uncomplicated sciatica or a benign sensory neuropathy (NG59):
    # no rule of their own; a new numbness is not a motor deficit
    (
        "numb-thigh-after-pelvic-surgery-without-weakness",
        {"duration_days": 2, "recent_hip_pelvic_surgery": True, "numbness_regions": ("thigh_lateral.left",)},
        Urgency.SELF_CARE,
        (),
        ("new-motor-deficit-after-procedure",),
    ),
    (
        "weakness-of-months-after-surgery-not-worsening",
        {
            "duration_days": 70,
            "worsening": False,
            "recent_hip_pelvic_surgery": True,
            "exam.power.knee_extension.left": 4,
        },
        Urgency.SOON,
        ("neurological-deficit",),
        ("new-motor-deficit-after-procedure",),
    ),
    # a new gait disturbance is suspected cord neurology: same day, emergency with leg signs (clinical.md 1)
    (
        "new-unsteady-gait-leg-signs-unknown",
        {"age": 66, "duration_days": 30, "unsteady_gait": True, "hand_symptoms": False},
        Urgency.URGENT,
        ("new-gait-disturbance",),
        ("cord-gait-disturbance", "possible-cord-symptoms"),
    ),
    (
        "new-unsteady-gait-with-numb-feet",
        {"duration_days": 30, "unsteady_gait": True, "numbness_regions": ("sole.left", "sole.right")},
        Urgency.EMERGENCY,
        ("cord-gait-disturbance", "new-gait-disturbance"),
        (),
    ),
    (
        "slow-sensory-ataxia-of-a-polyneuropathy",
        {"duration_days": 730, "worsening": True, "unsteady_gait": True, "hand_symptoms": False},
        Urgency.SOON,
        ("chronic-pain-worsening",),
        ("new-gait-disturbance", "cord-gait-disturbance"),
    ),
    # cardinal flags stay emergency however the rest reads
    (
        "retention-in-a-chronic-improving-case",
        {"duration_days": 900, "improving": True, "urinary_retention": True},
        Urgency.EMERGENCY,
        ("ces-urinary-retention",),
        (),
    ),
]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


@pytest.mark.parametrize(
    ("name", "findings", "level", "fires", "silent"), _ROWS, ids=[row[0] for row in _ROWS]
)
def test_triage_class(
    knowledge: Knowledge,
    *,
    name: str,
    findings: dict[str, FindingValue],
    level: Urgency,
    fires: tuple[str, ...],
    silent: tuple[str, ...],
) -> None:
    """The rules give the class's level, with the rules it names firing and the ones it excludes silent."""
    case = parse_case({"id": name, "findings": findings}, knowledge.vocabulary)
    assert set(case.findings) == set(findings)
    got, reasons = knowledge.triage.evaluate(case.findings)
    fired = {reason.rule for reason in reasons}
    assert (got, sorted(set(fires) - fired), sorted(set(silent) & fired)) == (level, [], []), name


# A painful calf with a Wells risk (active cancer, major surgery within 12 weeks) and no nerve
# picture: deep vein thrombosis leads the causes, and its care lifts the triage to same day
# (nice-ng158); a radicular picture with the same risk does not propose it first.
_CALF = {"pain_regions": ("calf_posterior.left",), "duration_days": 3, "age": 60}


@pytest.mark.parametrize("risk", ["cancer_history", "recent_hip_pelvic_surgery"])
def test_a_painful_calf_with_a_wells_risk_is_a_suspected_dvt(knowledge: Knowledge, risk: str) -> None:
    """The not-a-nerve vessel alternative leads and is seen the same day."""
    case = parse_case({"id": "painful-calf", "findings": {**_CALF, risk: True}}, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    assert assessment.causes[0].id == "venous_thrombosis"
    assert assessment.triage >= Urgency.URGENT


def test_a_radicular_calf_pain_with_cancer_is_not_read_as_a_dvt(knowledge: Knowledge) -> None:
    """Shooting pain from the back to the calf is a nerve picture, whatever the clot risk."""
    findings = {
        **_CALF,
        "cancer_history": True,
        "pain_regions": ("low_back", "buttock.left", "thigh_posterior.left", "calf_posterior.left"),
        "pain_shooting": True,
    }
    case = parse_case({"id": "radicular", "findings": findings}, knowledge.vocabulary)
    assert assess(case, knowledge).causes[0].id != "venous_thrombosis"
