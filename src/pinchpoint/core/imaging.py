"""Is imaging of the lumbar spine indicated? One decision, with its rules in ``imaging.yaml``.

Guidance agrees that imaging does not help non-specific low back pain or uncomplicated sciatica
in its first weeks, and that it is needed for red flags of serious pathology and for a severe or
progressive neurological deficit (NICE NG59 1.1.4-1.1.6; ACP 2011, Chou et al.). The CDS Hooks
order review asks this module before it suggests removing an imaging order, and the plan can ask
it before it proposes one.

The decision has three outcomes, and only one of them speaks against imaging:

* ``indicated``: a triage rule of a listed family fires (red flags of cauda equina, cord, cancer,
  infection, fracture), or a listed rule (severe or progressive deficit, persistent radicular
  pain), or the record holds a diagnosis of serious spinal pathology;
* ``not_indicated``: nothing of the above, no other triage rule fires except those that leave the
  presentation uncomplicated, no risk factor of a serious cause is known (``open_when``), and the
  presentation (non-specific low back pain, or sciatica within its time limit) is one where
  guidance advises against routine imaging;
* ``undetermined``: anything else, including a duration that is not known when the rule needs it.

Triage rules test only findings that are present, so adding a red flag can turn a decision into
``indicated`` or ``undetermined`` but never into ``not_indicated``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from pinchpoint.knowledge import schema as s

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Hypothesis
    from pinchpoint.core.careplan import PlanItem
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge

__all__ = [
    "ImagingDecision",
    "ImagingReason",
    "Verdict",
    "imaging_decision",
    "lumbar_imaging",
    "offered_imaging",
    "presentations_of",
]

Verdict = Literal["indicated", "not_indicated", "undetermined"]

_DURATION = "duration_days"
_PLAN_OFFERS = "plan:"
"""The prefix of an open rule that is an investigation the plan offers (``plan:mri-...``)."""


@dataclass(frozen=True, slots=True)
class ImagingReason:
    """Why the decision is what it is: the rule of imaging.yaml or triage.yaml, and its source."""

    rule: str
    clinician: str
    source: str


@dataclass(frozen=True, slots=True)
class ImagingDecision:
    """Whether lumbar imaging is indicated, with reasons.

    ``summary`` is the one-sentence statement of a ``not_indicated`` decision (at most 139
    characters, for a CDS Hooks card). ``open_rules`` lists what left the decision to the
    clinician: triage rules, the risk factors of ``open_when``, and ``plan:ID`` for lumbar
    imaging that the plan offers.
    """

    verdict: Verdict
    reasons: tuple[ImagingReason, ...]
    summary: str = ""
    open_rules: tuple[str, ...] = ()


def imaging_decision(
    findings: Mapping[str, FindingValue],
    knowledge: Knowledge,
    *,
    presentations: Iterable[str] = (),
    recorded_sites: Iterable[str] = (),
    recorded_causes: Iterable[str] = (),
    offered: Sequence[str] = (),
) -> ImagingDecision:
    """Decide whether imaging of the lumbar spine is indicated.

    The decision is never ``not_indicated`` while the plan for the same person offers lumbar
    imaging (``offered``, from :func:`offered_imaging`): guidance that would say so is left to
    the clinician (``undetermined``, with ``plan:ID`` among the open rules), so the order review
    and the plan cannot contradict each other by construction.

    Args:
        findings: The person's known findings (vocabulary ids).
        knowledge: The knowledge base (imaging.yaml and the compiled triage rules).
        presentations: The presenting problems, as presentation ids of imaging.yaml
            (``nonspecific_low_back_pain``, ``sciatica``): from record codes, or from an
            assessment with :func:`presentations_of`.
        recorded_sites: Vocabulary site ids (without side) of diagnoses in the record.
        recorded_causes: Vocabulary cause ids of diagnoses in the record.
        offered: The lumbar imaging investigations that the plan for the same findings and
            recorded diagnoses offers as something to do (:func:`offered_imaging`).

    Example:
        Sciatica for 10 days with numbness on the top of the foot and nothing else is
        ``not_indicated``; the same with new urinary retention is ``indicated``.
    """
    table = cast(s.ImagingTable, knowledge.tables["imaging"])
    fired = {rule.id: rule for rule in knowledge.triage.fired(findings)}
    reasons: list[ImagingReason] = []
    if fired:  # only a fired rule can indicate imaging (by its family or its id)
        families = cast(s.TriageTable, knowledge.tables["triage"]).families()
        reasons = [
            ImagingReason(rule_id, f"{indication.clinician} ({fired[rule_id].clinician})", indication.source)
            for indication in table.indicated
            for rule_id in _indicating(indication, families, fired)
        ]
    recorded = table.recorded
    diagnoses = sorted(
        {*(site for site in recorded_sites if site in recorded.sites)}
        | {*(cause for cause in recorded_causes if cause in recorded.causes)}
    )
    reasons += [
        ImagingReason(f"recorded:{name}", recorded.clinician.format(diagnosis=name), recorded.source)
        for name in diagnoses
    ]
    if reasons:
        return ImagingDecision("indicated", tuple(reasons))
    uncomplicated = {rule.id for rule in table.uncomplicated_rules}
    open_rules = tuple(sorted(rule_id for rule_id in fired if rule_id not in uncomplicated))
    risk = table.open_when
    if knowledge.triage.condition(risk.when).holds(findings):
        open_rules = (*open_rules, risk.id)
    open_rules = (*open_rules, *(f"{_PLAN_OFFERS}{test}" for test in offered))
    if open_rules:
        return ImagingDecision("undetermined", (), open_rules=open_rules)
    wanted = frozenset(presentations)
    duration = _number(findings.get(_DURATION))
    for row in table.not_indicated:
        if row.presentation not in wanted:
            continue
        if row.max_days is None or (duration is not None and duration <= row.max_days):
            return ImagingDecision(
                "not_indicated", (ImagingReason(row.id, row.clinician, row.source),), row.summary
            )
    return ImagingDecision("undetermined", ())


def lumbar_imaging(knowledge: Knowledge) -> frozenset[str]:
    """Return the plan's investigations that are lumbar imaging: the one definition of it.

    They are the investigations that a lumbar imaging order of terminology.yaml
    (``imaging_orders``, region ``lumbar``) carries out.
    """
    table = cast(s.TerminologyTable, knowledge.tables["terminology"])
    return frozenset(
        test for order in table.imaging_orders if order.region == "lumbar" for test in order.investigations
    )


def offered_imaging(investigations: Iterable[PlanItem], knowledge: Knowledge) -> tuple[str, ...]:
    """Return the ids of the lumbar imaging that a plan's investigations offer as something to do.

    Args:
        investigations: The investigations of an assessment (:attr:`Assessment.investigations`).
        knowledge: The knowledge base (terminology.yaml ``imaging_orders``).
    """
    lumbar = lumbar_imaging(knowledge)
    return tuple(test.id for test in investigations if test.verdict.to_do and test.id in lumbar)


def _indicating(
    indication: s.ImagingIndication, families: Mapping[str, frozenset[str]], fired: Mapping[str, object]
) -> list[str]:
    """The fired rules that an indication names: by family (``suspects``) or by id, in rule order."""
    named = {rule for family in indication.suspects for rule in families.get(family, ())}
    named |= set(indication.triage_rules)
    return [rule_id for rule_id in fired if rule_id in named]


def presentations_of(causes: Sequence[Hypothesis], knowledge: Knowledge) -> frozenset[str]:
    """Return the presentations that the leading cause of an assessment stands for.

    Args:
        causes: The ranked causes of an :class:`~pinchpoint.core.assessment.Assessment`.
        knowledge: The knowledge base (imaging.yaml ``presentations``).
    """
    if not causes:
        return frozenset()
    leading = causes[0].id
    table = cast(s.ImagingTable, knowledge.tables["imaging"])
    return frozenset(name for name, row in table.presentations.items() if leading in row.causes)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
