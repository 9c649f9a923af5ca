"""Tests of the plan: rules over every development case, safety properties, and the advice tables.

The plan's promises are checked as rules over all development cases (never one case at a
time) and over generated cases: the first item is the action of the triage level, a
self-care plan holds no imaging, pregnancy excludes ionising radiation, gadolinium and
drugs marked unsafe in pregnancy, nothing advised against is offered, every item is
sourced, and the cause-specific branches appear where their cause leads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import cast

import pytest
from hypothesis import HealthCheck, assume, given, settings

from pinchpoint import Assessment, assess
from pinchpoint.core.careplan import Plan, PlanItem, Verdict
from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.conditions import matching_findings
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.plan import PlanContext
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import SchemaError, UnresolvedReferenceError
from pinchpoint.io.casefile import read_case
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from pinchpoint.service.contract import plan_item_json, to_contract
from tests.corpus import SHARED_CASES, copy_knowledge_with, shared_case_params
from tests.strategies import RedFlag, findings, red_flags

pytestmark = pytest.mark.core

_PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _knowledge() -> Knowledge:
    return load_knowledge()


def _advice() -> s.AdviceTable:
    return cast(s.AdviceTable, _knowledge().tables["advice"])


def _tests() -> s.InvestigationsTable:
    return cast(s.InvestigationsTable, _knowledge().tables["investigations"])


def _assess(case_findings: dict[str, FindingValue]) -> Assessment:
    return assess(Case(id="generated", findings=MappingProxyType(dict(case_findings))), _knowledge())


def _pregnancy_use() -> dict[str, str]:
    return {row.id: row.pregnancy for row in [*_advice().items, *_tests().items]}


def _check_plan_invariants(assessment: Assessment, case_findings: dict[str, FindingValue]) -> None:
    """Assert every promise the plan makes by construction, for one assessment."""
    plan, tests = assessment.plan, assessment.investigations
    advice, modalities = _advice(), _tests().modalities
    first = plan.to_do()[0]
    assert first.kind == "action"
    assert first.id == advice.actions[assessment.triage.id]
    assert all(item.verdict.to_do for item in (*plan.to_do(), *tests)), "only recommended or option to do"
    assert all(item.verdict.to_avoid for item in plan.avoid)
    assert all(item.verdict == Verdict.NO_EVIDENCE for item in plan.unproven)
    assert all(item.source in _knowledge().sources for item in (*plan.items(), *tests))
    ranks = [advice.timings[item.due or ""].rank for item in tests]
    assert ranks == sorted(ranks), "investigations come soonest first"
    if assessment.triage == Urgency.SELF_CARE:
        assert [item.id for item in tests if modalities[item.modality or ""].imaging] == []
    weeks = case_findings.get("pregnancy_weeks")
    if case_findings.get("pregnant") is True or (isinstance(weeks, int) and weeks >= 1):
        use = _pregnancy_use()
        assert [item.id for item in (*plan.to_do(), *tests) if use[item.id] == "avoid"] == []
        assert [
            item.id
            for item in tests
            if modalities[item.modality or ""].ionising or modalities[item.modality or ""].gadolinium
        ] == []


# --- rules over every development case ------------------------------------------------------------


@pytest.mark.parametrize("path", shared_case_params())
def test_development_case_plan_keeps_every_promise(path: Path, knowledge: Knowledge) -> None:
    """Each development case's plan starts with its triage action and obeys the safety rules."""
    case = read_case(path, knowledge.vocabulary)
    _check_plan_invariants(assess(case, knowledge), dict(case.findings))


@pytest.mark.parametrize("path", shared_case_params())
def test_development_case_made_pregnant_keeps_the_pregnancy_rules(path: Path, knowledge: Knowledge) -> None:
    """Saying the person is pregnant removes ionising imaging, gadolinium and unsafe drugs from any plan."""
    case = read_case(path, knowledge.vocabulary)
    pregnant = {**case.findings, "pregnant": True, "sex": "female"}
    assessment = assess(case.with_findings(pregnant), knowledge)
    _check_plan_invariants(assessment, pregnant)
    assert "warning-pregnancy" in {item.id for item in assessment.plan.safety_net}


_Branch = tuple[str, Callable[[Assessment], bool], str, tuple[str, ...]]


def _leading_cause(*causes: str) -> Callable[[Assessment], bool]:
    return lambda assessment: assessment.causes[0].id in causes


def _leading_site(*sites: str) -> Callable[[Assessment], bool]:
    return lambda assessment: assessment.sites[0].id in sites


_PERONEAL = frozenset({"nerve.common_peroneal", "nerve.deep_peroneal", "nerve.superficial_peroneal"})


def _site_nerve(assessment: Assessment) -> str:
    """The leading site without its side (``nerve.tibial.left`` -> ``nerve.tibial``)."""
    return assessment.sites[0].id.removesuffix(".left").removesuffix(".right")


_BRANCHES: list[_Branch] = [
    # (what, when it applies, the stage-3 item, investigations of which at least one must be there)
    (
        "cauda equina: emergency surgery",
        _leading_site("cauda_equina", "conus"),
        "cauda-equina-surgery",
        ("mri-emergency-cauda-equina",),
    ),
    (
        "spinal infection: antibiotics and surgery",
        _leading_cause("infection"),
        "spinal-infection-treatment",
        ("infection-bloods",),
    ),
    (
        "cancer: oncology and MSCC pathway",
        _leading_cause("tumour"),
        "oncology-mscc-pathway",
        ("mri-spine-metastasis", "mri-whole-spine-mscc"),
    ),
    (
        "fracture: fracture and bone care",
        _leading_cause("fracture"),
        "fracture-care",
        ("ct-spine-major-trauma", "xray-fragility-fracture", "mri-spine-fracture-neurology"),
    ),
    ("diabetes: glucose control", _leading_cause("diabetic"), "diabetes-control", ("polyneuropathy-bloods",)),
    (
        "alcohol or toxins: stop and replace vitamins",
        _leading_cause("toxic_metabolic"),
        "alcohol-and-vitamins",
        ("polyneuropathy-bloods",),
    ),
    (
        "peroneal compression: take the pressure off at the knee",
        lambda a: a.causes[0].id == "external_compression" and _site_nerve(a) in _PERONEAL,
        "relieve-pressure-fibular-head",
        ("nerve-conduction-emg",),
    ),
    (
        "tarsal tunnel compression: footwear",
        lambda a: a.causes[0].id == "external_compression" and _site_nerve(a) == "nerve.tibial",
        "relieve-pressure-tarsal-tunnel",
        ("nerve-conduction-emg",),
    ),
    (
        "meralgia: belts, waistbands and weight",
        lambda a: _site_nerve(a) == "nerve.lateral_femoral_cutaneous",
        "relieve-pressure-inguinal-ligament",
        (),
    ),
    (
        "disc sciatica at a root: decompression if it persists",
        lambda a: a.causes[0].id == "disc_herniation" and a.sites[0].id.startswith("root."),
        "decompression-for-persistent-sciatica",
        (),
    ),
    ("shingles: antiviral", _leading_cause("herpes_zoster"), "shingles-antiviral", ()),
    (
        "haematoma: hospital care",
        _leading_cause("haematoma"),
        "haematoma-hospital-care",
        ("ct-pelvis-haematoma",),
    ),
    (
        "deep vein thrombosis: scan and anticoagulation",
        _leading_cause("venous_thrombosis"),
        "dvt-treatment",
        ("leg-vein-ultrasound",),
    ),
    (
        "arterial disease: exercise and ABPI",
        _leading_cause("vascular"),
        "peripheral-arterial-disease-care",
        ("ankle-brachial-index",),
    ),
    (
        "hip osteoarthritis: exercise, no X-ray to diagnose",
        _leading_cause("hip_joint"),
        "hip-osteoarthritis-care",
        (),
    ),
]


def _emergency_rule(assessment: Assessment) -> list[str]:
    """An emergency goes to hospital first, has something to do within hours, and no self-help."""
    if assessment.triage != Urgency.EMERGENCY:
        return []
    plan, faults = assessment.plan, []
    first = plan.to_do()[0]
    if first.id != "act-emergency-department" or "emergency department" not in first.patient:
        faults.append("an emergency plan must start with going to the emergency department")
    if not [item for item in assessment.investigations if item.due == "emergency"]:
        faults.append("an emergency plan needs an investigation within hours")
    if plan.self_help:
        faults.append("an emergency plan holds no self-help")
    if "do-not-wait" not in {item.id for item in plan.avoid}:
        faults.append("an emergency plan warns against waiting at home")
    return faults


def _bed_rest_rule(assessment: Assessment) -> list[str]:
    """A home-care back or sciatica plan shows bed rest among the things to avoid, never to do."""
    plan = assessment.plan
    if "stay-active" not in {item.id for item in plan.self_help}:
        return []
    faults = []
    if "bed-rest" not in {item.id for item in plan.avoid}:
        faults.append("bed rest must be shown as advised against")
    if "bed-rest" in {item.id for item in plan.to_do()}:
        faults.append("bed rest must never be something to do")
    return faults


def _branch_rule(assessment: Assessment) -> list[str]:
    """Whenever a branch's cause or site leads, its stage-3 item and one of its investigations are there."""
    treatments = {item.id for stage in assessment.plan.stages if stage.number == 3 for item in stage.items}
    tests = {item.id for item in assessment.investigations}
    faults = []
    for what, applies, treatment, investigations in _BRANCHES:
        if not applies(assessment):
            continue
        if treatment not in treatments:
            faults.append(f"{what}: {treatment} missing from stage 3 {sorted(treatments)}")
        if investigations and not tests & set(investigations):
            faults.append(f"{what}: none of {investigations} among {sorted(tests)}")
    return faults


_CASE_RULES = (_emergency_rule, _bed_rest_rule, _branch_rule)


@pytest.mark.parametrize("path", shared_case_params())
def test_development_case_plan_fits_its_triage_and_cause(path: Path, knowledge: Knowledge) -> None:
    """Each development case's plan obeys every triage and cause rule that applies to it."""
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    faults = [fault for rule in _CASE_RULES for fault in rule(assessment)]
    assert faults == [], f"{case.id}: {faults}"


def test_every_rule_and_branch_is_exercised_by_a_development_case(knowledge: Knowledge) -> None:
    """Each triage and cause rule above applies to at least one development case, so it is really tested."""
    paths = [param.values[0] for param in shared_case_params()]  # type: ignore[attr-defined]
    if any(path is None for path in paths):
        pytest.skip("the development cases are absent")
    assessments = [assess(read_case(cast(Path, path), knowledge.vocabulary), knowledge) for path in paths]
    assert [what for what, applies, _, _ in _BRANCHES if not any(applies(a) for a in assessments)] == []
    assert any(a.triage == Urgency.EMERGENCY for a in assessments)
    assert any("stay-active" in {item.id for item in a.plan.self_help} for a in assessments)


@pytest.mark.parametrize("path", shared_case_params())
def test_assessment_json_carries_the_plan(path: Path, knowledge: Knowledge) -> None:
    """--json gains investigations and plan, each item with its verdict and source; contract keys stay."""
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    data = to_contract(assessment)
    assert {"case", "triage", "triage_reasons", "sites", "causes", "knowledge_version"} <= data.keys()
    assert [item["id"] for item in data["investigations"]] == [item.id for item in assessment.investigations]
    plan = data["plan"]
    assert plan["actions"][0]["id"] == assessment.plan.actions[0].id
    items = [*data["investigations"], *plan["actions"], *plan["avoid"], *plan["unproven"]]
    items += [item for stage in plan["stages"] for item in stage["items"]]
    assert all(item["verdict"] in {v.value for v in Verdict} and item["source"] for item in items)


# --- safety properties over generated cases ---------------------------------------------------------


@_PROPERTY
@given(case_findings=findings())
def test_generated_plans_keep_every_promise(case_findings: dict[str, FindingValue]) -> None:
    """Any valid case gets a plan that starts with its triage action and obeys the safety rules."""
    _check_plan_invariants(_assess(case_findings), case_findings)


@_PROPERTY
@given(case_findings=findings())
def test_generated_pregnant_plans_keep_the_pregnancy_rules(case_findings: dict[str, FindingValue]) -> None:
    """Any case said to be pregnant gets no ionising imaging, gadolinium or drug to avoid in pregnancy."""
    pregnant = {**case_findings, "pregnant": True, "sex": "female"}
    _check_plan_invariants(_assess(pregnant), pregnant)


@_PROPERTY
@given(case_findings=findings(), flag=red_flags())
def test_adding_a_red_flag_never_removes_the_hospital_item(
    case_findings: dict[str, FindingValue], flag: RedFlag
) -> None:
    """Once a plan starts with going to hospital, adding red-flag findings keeps it there.

    The first item after the flag is never for a lower level than the rules demanded before it
    (the care of a likely dangerous cause follows the posterior, which a new finding may move:
    it raises a level, never lowers one below the rules; see test_reconciliation.py). A value
    that explains a qualifier away (a long duration) is no red flag.
    """
    rule, flag_findings = flag
    rules = load_knowledge().triage
    assume(not rules.explanations_in(MappingProxyType(flag_findings)))
    before = {
        key: value
        for key, value in case_findings.items()
        if key not in flag_findings and key not in rule.qualifiers
    }
    after = {**before, **flag_findings}
    levels = {Urgency.from_id(level): item for level, item in _advice().actions.items()}
    first_before = _assess(before).plan.to_do()[0]
    first_after = _assess(after).plan.to_do()[0]
    rank = {item: level for level, item in levels.items()}
    assert rank[first_after.id] >= rules.evaluate(MappingProxyType(before))[0]
    if first_before.id == levels[Urgency.EMERGENCY]:
        assert first_after.id == levels[Urgency.EMERGENCY]


# --- the advice and investigation tables -------------------------------------------------------------


def _witness(condition: s.PlanCondition | s.Condition, knowledge: Knowledge, ctx: dict[str, object]) -> None:
    """Set, in a context under construction, what makes ``condition`` hold (best effort, no negation).

    A ``ref`` names a plan definition or a triage one (one namespace); a triage definition has
    only finding leaves, so it is witnessed as a plan condition made of those leaves.
    """
    advice = cast(s.AdviceTable, knowledge.tables["advice"])
    triage = cast(s.TriageTable, knowledge.tables["triage"])
    if isinstance(condition, s.Condition):
        condition = s.PlanCondition.model_validate(condition.model_dump(by_alias=True, exclude_none=True))
    if condition.ref is not None:
        _witness({**triage.definitions, **advice.definitions}[condition.ref], knowledge, ctx)
    for child in condition.all or []:
        _witness(child, knowledge, ctx)
    if condition.any:
        _witness(condition.any[0], knowledge, ctx)
    level = condition.triage[0] if condition.triage else condition.triage_at_least or condition.triage_at_most
    if level is not None:
        ctx["level"] = Urgency.from_id(level)
    if condition.rule:
        cast(set[str], ctx["rules"]).add(condition.rule[0])
    if condition.suspected:
        cast(set[str], ctx["rules"]).add(min(triage.families()[condition.suspected[0]]))
    if condition.cause:
        ctx["causes"] = {condition.cause[0]: 1.0}
    if condition.site or condition.site_kind:
        kinds = knowledge.plan.site_kinds
        site = (
            condition.site[0]
            if condition.site
            else min(s for s, k in kinds.items() if k == condition.site_kind[0])
        )
        ctx["sites"] = {site: 1.0}
    if condition.finding is not None:
        finding_id = matching_findings(condition.finding, knowledge.vocabulary)[0]
        value = condition.is_ if condition.is_ is not None else condition.at_least or condition.at_most
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value is not None and not condition.unknown:
            cast(dict[str, object], ctx["findings"])[finding_id] = value


def _witness_context(condition: s.PlanCondition, knowledge: Knowledge) -> PlanContext:
    ctx: dict[str, object] = {
        "level": Urgency.SOON,
        "rules": set(),
        "causes": {},
        "sites": {},
        "findings": {},
    }
    _witness(condition, knowledge, ctx)
    sites = cast(dict[str, float], ctx["sites"])
    return knowledge.plan.context(
        findings=MappingProxyType(cast(dict[str, FindingValue], ctx["findings"])),
        level=cast(Urgency, ctx["level"]),
        rules=cast(set[str], ctx["rules"]),
        sites=sites.items(),
        causes=cast(dict[str, float], ctx["causes"]).items(),
    )


def _rows() -> list[s.AdviceItem | s.InvestigationItem]:
    return [*_advice().items, *_tests().items]


@pytest.mark.parametrize("row_id", [row.id for row in _rows() if row.when is not None])
def test_every_item_can_apply(row_id: str, knowledge: Knowledge) -> None:
    """Every advice and investigation row holds in a context built from its own condition."""
    (row,) = [r for r in _rows() if r.id == row_id]
    assert row.when is not None
    assert row_id in knowledge.plan.applies(_witness_context(row.when, knowledge)), (
        f"{row_id} cannot be made to hold"
    )


@pytest.mark.parametrize("row_id", [row.id for row in _rows()])
def test_every_item_is_sourced_and_worded(row_id: str, knowledge: Knowledge) -> None:
    """Every row cites a source of sources.yaml and speaks to both the person and the clinician."""
    (row,) = [r for r in _rows() if r.id == row_id]
    assert row.source in knowledge.sources
    assert row.patient.strip()
    assert row.clinician.strip()
    assert row.title.strip()
    assert row.patient != row.clinician


def test_every_triage_level_has_a_recommended_action(knowledge: Knowledge) -> None:
    """Each triage level maps to a recommended action, so every plan has a first item."""
    actions = knowledge.plan.actions
    assert set(actions) == set(Urgency)
    assert all(item.kind == "action" and item.verdict == Verdict.RECOMMENDED for item in actions.values())


def test_empty_plan_is_the_default(knowledge: Knowledge) -> None:
    """An assessment made without a plan (older callers) carries an empty plan, not None."""
    assessment = Assessment("x", Urgency.SOON, (), (), (), knowledge.version)
    assert assessment.plan == Plan()
    assert assessment.investigations == ()
    assert to_contract(assessment)["plan"]["actions"] == []


def test_plan_item_json_leaves_out_what_it_lacks() -> None:
    """A plan item's JSON names stage, due and modality only when it has them."""
    item = PlanItem("a", "self_help", "A", Verdict.OPTION, "src", "p", "c")
    assert plan_item_json(item) == {
        "id": "a",
        "kind": "self_help",
        "title": "A",
        "verdict": "option",
        "source": "src",
        "patient": "p",
        "clinician": "c",
    }


@pytest.mark.parametrize(
    ("file_name", "old", "new", "error", "message"),
    [
        pytest.param(
            "advice.yaml",
            "  - id: bed-rest\n    kind: self_help\n",
            "  - id: bed-rest\n    kind: self_help\n    stage: 1\n",
            SchemaError,
            "advice.yaml: items.48: 1 schema error(s); first; expected Value error, a treatment has a stage "
            "(1, 2 or 3) and nothing else has one (got {'id': 'bed-rest', 'kind': 'self_help', 'stage': 1, "
            "'title': 'Bed rest and cu...)",
            id="stage-on-self-help",
        ),
        pytest.param(
            "advice.yaml",
            "    when: {cause: [piriformis]}\n",
            "    when: {cause: [piriformis], colour: red}\n",
            SchemaError,
            "advice.yaml: items.40.when.colour: 1 schema error(s); first; expected only the keys all, any, "
            "at_least, at_most, cause, finding, includes_any, is, not, not_empty, p_at_least, ref, rule, "
            "side, "
            "site, site_kind, suspected, triage, triage_at_least, triage_at_most, unknown, "
            "unless_known_otherwise "
            "(got 'red')",
            id="unknown-condition-key",
        ),
        pytest.param(
            "advice.yaml",
            "    when: {cause: [piriformis]}\n",
            "    when: {cause: [piriform]}\n",
            UnresolvedReferenceError,
            "advice.yaml: items.piriformis-stretching.when: 'piriform' does not exist; expected a vocabulary "
            "cause (got 'piriform')",
            id="unknown-cause",
        ),
        pytest.param(
            "investigations.yaml",
            "    modality: ct\n    due: urgent\n",
            "    modality: ct\n    due: tomorrow\n",
            UnresolvedReferenceError,
            "investigations.yaml: items.ct-pelvis-haematoma.due: 'tomorrow' does not exist; expected a "
            "timing "
            "of advice.yaml (got 'tomorrow')",
            id="unknown-timing",
        ),
        pytest.param(
            "investigations.yaml",
            "    modality: ct\n    due: urgent\n    when: {cause: [haematoma], p_at_least: 0.1}\n"
            "    verdict: "
            "recommended\n    pregnancy: avoid\n",
            "    modality: ct\n    due: urgent\n    when: {cause: [haematoma], p_at_least: 0.1}\n"
            "    verdict: "
            "recommended\n    pregnancy: safe\n",
            UnresolvedReferenceError,
            "investigations.yaml: items.ct-pelvis-haematoma.pregnancy: a test with ionising radiation or "
            "gadolinium must be marked for avoidance in pregnancy; expected avoid (got 'safe')",
            id="ionising-test-allowed-in-pregnancy",
        ),
        pytest.param(
            "advice.yaml",
            "  emergency: act-emergency-department\n",
            "  emergency: stay-active\n",
            UnresolvedReferenceError,
            "advice.yaml: actions.emergency: a triage level's action must be a recommended item of kind "
            "action; "
            "expected kind: action, verdict: recommended (got 'kind: self_help, verdict: recommended')",
            id="emergency-action-not-an-action",
        ),
    ],
)
def test_broken_plan_tables_are_refused(
    tmp_path: Path, *, file_name: str, old: str, new: str, error: type[Exception], message: str
) -> None:
    """A broken advice or investigations table fails the load with a message naming the row."""
    folder = copy_knowledge_with(tmp_path, file_name, old, new)
    with pytest.raises(error) as raised:
        load_knowledge(folder)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("findings", "scan"),
    [
        (
            {"hand_symptoms": True, "unsteady_gait": True, "duration_days": 200, "worsening": False},
            "mri-spine-cord",
        ),
        ({"exam.plantar.left": "extensor", "duration_days": 5}, "mri-spine-cord-emergency"),
    ],
    ids=["myelopathy-symptoms-same-day", "extensor-plantar-emergency"],
)
def test_a_suspected_cord_compression_is_scanned_at_the_triage_level(
    findings: dict[str, FindingValue], scan: str, knowledge: Knowledge
) -> None:
    """Cord signs bring an MRI of the spine due at the triage's own level; a cauda equina case does not."""
    assessment = assess(
        Case(id="cord", findings=MappingProxyType({"age": 64, "sex": "male", **findings})), knowledge
    )
    due = {item.id: item.due for item in assessment.investigations}
    assert scan in due
    assert due[scan] == assessment.triage.id


def test_a_cauda_equina_retention_needs_no_cord_scan(knowledge: Knowledge) -> None:
    """Retention with bilateral sciatica is answered by the lumbar MRI, not a scan of the cord."""
    case = read_case(next(SHARED_CASES.glob("dev-07-*.yaml")), knowledge.vocabulary)
    ids = {item.id for item in assess(case, knowledge).investigations}
    assert "mri-emergency-cauda-equina" in ids
    assert not ids & {"mri-spine-cord", "mri-spine-cord-emergency"}
