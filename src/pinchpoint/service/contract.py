"""The wire contract: the JSON object pinchpoint answers for one assessment, defined once.

The object is that of ``shared/contract/CASES.md`` (``case``, ``triage``, ``triage_reasons``,
``sites``, ``causes``, ``knowledge_version``) with the rules that fired, the warnings, the
investigations and the plan; with ``detail`` also the findings for and against the leading
sites and causes, and the wording of every plan item.

Its shape is written here once, as typed dictionaries (:class:`AssessmentContract` and the
parts it holds), whose ``Literal`` values come from the reasoning's own enumerations
(:class:`~pinchpoint.core.vocabulary.Urgency`, :class:`~pinchpoint.core.careplan.Verdict`,
the kinds of advice of the knowledge schema). Every front end uses this one definition:

* :func:`to_contract` builds it from an :class:`~pinchpoint.core.assessment.Assessment`
  (``pinchpoint assess --json``, the REST API, the web app's saved results and
  ``POST /api/assess``, the interview API). Its return type is the definition, so
  ``mypy --strict`` refuses a missing, misspelt or extra key;
* the REST API declares it as the response model, so the OpenAPI document and FastAPI's
  check of every response are derived from it (:func:`contract_adapter` gives the same check,
  a pydantic ``TypeAdapter``, to tests and other callers).

Plain dictionaries rather than model instances: a batch run writes thousands of these,
and building dictionaries costs a fraction of building and dumping models.
"""

# No ``from __future__ import annotations``: the typed dictionaries read NotRequired from real
# annotations when their class is made (their required and optional keys).
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, get_args

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from pinchpoint.core.assessment import Assessment, Evidence, Hypothesis
from pinchpoint.core.careplan import Plan, PlanItem, Verdict
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.knowledge.schema import AdviceKind

if TYPE_CHECKING:
    TriageLevel = str
    VerdictId = str
    ItemKind = str
else:  # the values of the reasoning's own enumerations, so that the schema follows them
    TriageLevel = Literal[tuple(level.id for level in Urgency)]
    VerdictId = Literal[tuple(verdict.value for verdict in Verdict)]
    ItemKind = Literal[(*get_args(AdviceKind), "investigation")]

__all__ = [
    "AssessmentContract",
    "Explained",
    "Explanations",
    "PlanContract",
    "PlanItemContract",
    "PlanStageContract",
    "RankedItem",
    "Reason",
    "RuleFired",
    "contract_adapter",
    "plan_item_json",
    "to_contract",
]

DIGITS = 4
"""Probabilities are rounded to this many decimals."""
MIN_P = 0.001
"""Sites and causes below this probability are left out, beyond the first :data:`MIN_ITEMS`."""
MIN_ITEMS = 3
"""How many sites and causes are always listed, and how many are explained with ``detail``."""
WEIGHT_DIGITS = 2


# --- the definition ------------------------------------------------------------------------------


class RankedItem(TypedDict):
    """A site or cause id with its probability (rounded to 4 decimals)."""

    id: str
    p: Annotated[float, Field(ge=0.0, le=1.0)]


class RuleFired(TypedDict):
    """A triage rule that fired: its id, the level it demands and its source id."""

    rule: str
    level: TriageLevel
    source: str


class Reason(TypedDict):
    """One finding that speaks for (weight > 0) or against a conclusion, with why in words."""

    finding: str
    value: Any
    weight: float
    why: str


Explained = TypedDict("Explained", {"id": str, "for": list[Reason], "against": list[Reason]})
Explained.__doc__ = "The findings for and against one leading site or cause."


class Explanations(TypedDict):
    """The reasons for the three leading sites and causes."""

    sites: list[Explained]
    causes: list[Explained]


class PlanItemContract(TypedDict):
    """One investigation or piece of advice, graded by the evidence, with its source id.

    ``title``, ``patient``, ``clinician`` and ``due_text`` (the words) come with ``detail``;
    ``stage``, ``due`` and ``modality`` when the item has them.
    """

    id: str
    kind: ItemKind
    verdict: VerdictId
    source: str
    title: NotRequired[str]
    patient: NotRequired[str]
    clinician: NotRequired[str]
    stage: NotRequired[int]
    due: NotRequired[str]
    due_text: NotRequired[str]
    modality: NotRequired[str]


class PlanStageContract(TypedDict):
    """One stage of the treatment (1 relieve, 2 restore, 3 treat the cause); its words with ``detail``."""

    stage: int
    items: list[PlanItemContract]
    title: NotRequired[str]
    clinician: NotRequired[str]


class PlanContract(TypedDict):
    """The plan: what to do first, by stage, at home, when to come back, and what to avoid."""

    actions: list[PlanItemContract]
    stages: list[PlanStageContract]
    self_help: list[PlanItemContract]
    safety_net: list[PlanItemContract]
    prevention: list[PlanItemContract]
    complications: list[PlanItemContract]
    avoid: list[PlanItemContract]
    unproven: list[PlanItemContract]


class AssessmentContract(TypedDict):
    """The contract JSON of shared/contract/CASES.md, with the rules, warnings, investigations and plan.

    ``explanations`` comes with ``detail``.
    """

    case: str
    triage: TriageLevel
    triage_reasons: list[str]
    sites: list[RankedItem]
    causes: list[RankedItem]
    knowledge_version: str
    triage_rules: list[RuleFired]
    explanations: NotRequired[Explanations]
    warnings: list[str]
    investigations: list[PlanItemContract]
    plan: PlanContract


class _Detail(TypedDict, total=False):
    explanations: Explanations


@cache
def contract_adapter() -> TypeAdapter[AssessmentContract]:
    """Return the definition as a pydantic check: ``.validate_python(obj)``, ``.json_schema()``.

    Built on first use, not at import: a batch run writes the contract and never needs the check.
    """
    return TypeAdapter(AssessmentContract)


# --- from an assessment --------------------------------------------------------------------------


def to_contract(assessment: Assessment, *, detail: bool = True) -> AssessmentContract:
    """Return the contract JSON object of ``assessment``.

    Args:
        assessment: The assessment to write.
        detail: Add the findings for and against the leading sites and causes and the
            wording of every plan item; a batch run leaves them out, since the ids resolve
            in the knowledge base.
    """
    explained: _Detail = {}
    if detail:
        explained["explanations"] = {
            "sites": [_explained(h) for h in assessment.sites[:MIN_ITEMS]],
            "causes": [_explained(h) for h in assessment.causes[:MIN_ITEMS]],
        }
    return {
        "case": assessment.case_id,
        "triage": assessment.triage.id,
        "triage_reasons": [reason.clinician for reason in assessment.triage_reasons],
        "sites": _ranked(assessment.sites),
        "causes": _ranked(assessment.causes),
        "knowledge_version": assessment.knowledge_version,
        "triage_rules": [
            {"rule": reason.rule, "level": reason.level.id, "source": reason.source}
            for reason in assessment.triage_reasons
        ],
        **explained,
        "warnings": list(assessment.warnings),
        "investigations": [plan_item_json(item, wording=detail) for item in assessment.investigations],
        "plan": _plan(assessment.plan, wording=detail),
    }


def plan_item_json(item: PlanItem, *, wording: bool = True) -> PlanItemContract:
    """Return one plan item or investigation as the contract writes it (absent values left out).

    Without ``wording`` the object keeps the ids, verdict, source, stage and timing and leaves
    out the sentences, which the knowledge base holds under the item's id.
    """
    data: PlanItemContract = {
        "id": item.id,
        "kind": item.kind,
        "verdict": item.verdict.value,
        "source": item.source,
    }
    if wording:
        data["title"] = item.title
        data["patient"] = item.patient
        data["clinician"] = item.clinician
    if item.stage is not None:
        data["stage"] = item.stage
    if item.due is not None:
        data["due"] = item.due
        if wording:
            data["due_text"] = item.due_text
    if item.modality is not None:
        data["modality"] = item.modality
    return data


def _plan(plan: Plan, *, wording: bool) -> PlanContract:
    def items(group: tuple[PlanItem, ...]) -> list[PlanItemContract]:
        return [plan_item_json(item, wording=wording) for item in group]

    stages: list[PlanStageContract] = []
    for stage in plan.stages:
        entry: PlanStageContract = {"stage": stage.number, "items": items(stage.items)}
        if wording:
            entry["title"] = stage.patient
            entry["clinician"] = stage.clinician
        stages.append(entry)
    return {
        "actions": items(plan.actions),
        "stages": stages,
        "self_help": items(plan.self_help),
        "safety_net": items(plan.safety_net),
        "prevention": items(plan.prevention),
        "complications": items(plan.complications),
        "avoid": items(plan.avoid),
        "unproven": items(plan.unproven),
    }


def _ranked(hypotheses: tuple[Hypothesis, ...]) -> list[RankedItem]:
    return [
        {"id": h.id, "p": round(h.p, DIGITS)}
        for rank, h in enumerate(hypotheses)
        if rank < MIN_ITEMS or h.p >= MIN_P
    ]


def _explained(hypothesis: Hypothesis) -> Explained:
    return {
        "id": hypothesis.id,
        "for": [_reason(e) for e in hypothesis.evidence_for],
        "against": [_reason(e) for e in hypothesis.evidence_against],
    }


def _reason(evidence: Evidence) -> Reason:
    return {
        "finding": evidence.finding,
        "value": evidence.value,
        "weight": round(evidence.weight, WEIGHT_DIGITS),
        "why": evidence.clinician,
    }
