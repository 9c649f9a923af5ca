"""What the result pages show, computed from an :class:`~pinchpoint.Assessment` for the templates.

The triage banner, the reasons in plain words, the likely site with its territory on the
body map, the causes as bars, the investigations, the staged plan and the safety net.
:func:`saved_assessment` reads a saved result (the contract JSON) back into an assessment, so
that a saved result page shows what was saved, not a new assessment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pinchpoint.core.assessment import Assessment, Evidence, Hypothesis, TriageReason
from pinchpoint.core.careplan import Plan, PlanItem, PlanStage, Verdict
from pinchpoint.core.case import FindingValue
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.triage import triage, unanswered_signs
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.knowledge import schema as s
from pinchpoint.web.bodymap import MapView, render_map, site_territory
from pinchpoint.web.content import Level, WebContent

__all__ = ["Ranked", "ResultView", "Unasked", "result_view", "saved_assessment", "site_name"]

_SHOWN = 5
_REASONS_SHOWN = 4
_PLAN_GROUPS = ("actions", "self_help", "safety_net", "prevention", "complications", "avoid", "unproven")


@dataclass(frozen=True, slots=True)
class Ranked:
    """One bar: an id, its plain name, its probability, and the reasons for it in plain words."""

    id: str
    name: str
    p: float
    reasons_for: tuple[str, ...] = ()
    reasons_against: tuple[str, ...] = ()

    @property
    def percent(self) -> str:
        """The probability as a rounded percentage, e.g. ``"81%"`` (``"<1%"`` when tiny)."""
        value = round(self.p * 100)
        return "<1%" if value == 0 and self.p > 0 else f"{value}%"

    @property
    def width(self) -> str:
        """The bar's width as an SVG percentage."""
        return f"{max(0.0, min(1.0, self.p)) * 100:.1f}%"


@dataclass(frozen=True, slots=True)
class Unasked:
    """A warning sign that the answers leave unknown and that could still make it an emergency.

    Attributes:
        finding: The finding's base id (``"saddle_numbness"``, or ``"foot_drop"`` for both
            sides of it), of a finding :func:`pinchpoint.core.triage.unanswered_signs` names.
        question: The vocabulary's description of it, to ask the person in words.
    """

    finding: str
    question: str


@dataclass(frozen=True, slots=True)
class ResultView:
    """Everything a result page or the live clinician panel draws."""

    assessment: Assessment
    level_id: str
    level: Level
    what_it_means: str
    reasons: tuple[tuple[str, str, str], ...]
    unasked: tuple[Unasked, ...]
    other_warnings: tuple[str, ...]
    site: Ranked | None
    sites: tuple[Ranked, ...]
    causes: tuple[Ranked, ...]
    territory_regions: tuple[str, ...]
    bodymap: tuple[MapView, ...]
    plan: Plan
    investigations: tuple[PlanItem, ...]
    clinician_due: Mapping[str, str] = field(default_factory=dict)
    """How soon each timing of advice.yaml is, in a clinician's words (``emergency`` -> "immediately ...")."""


def site_name(site_id: str, knowledge: Knowledge, content: WebContent) -> str:
    """Return the plain name of a site id, e.g. ``"the L5 nerve root in the lower back (left)"``."""
    base, _, side = site_id.rpartition(".")
    if base in knowledge.vocabulary.sites and side in content.ui.sides:
        return f"{content.ui.sites[base]} ({content.ui.sides[side]})"
    return content.ui.sites.get(site_id, site_id)


def result_view(
    assessment: Assessment,
    knowledge: Knowledge,
    content: WebContent,
    *,
    findings: Mapping[str, FindingValue],
) -> ResultView:
    """Build what the result page shows for ``assessment``.

    Args:
        assessment: The assessment to show.
        knowledge: The knowledge it was made with.
        content: The pages' data.
        findings: The known findings it was made from: the emergency warning signs they do
            not state are listed as questions not yet answered.
    """
    level_id = assessment.triage.id
    sites = tuple(_ranked(h, site_name(h.id, knowledge, content)) for h in assessment.sites[:_SHOWN])
    causes = tuple(
        _ranked(h, knowledge.vocabulary.causes.get(h.id, h.label)) for h in assessment.causes[:_SHOWN]
    )
    site = sites[0] if sites else None
    territory = site_territory(knowledge, site.id) if site else {}
    unasked = _unasked(assessment, findings, knowledge)
    other = _other_warnings(assessment, findings, knowledge)
    return ResultView(
        assessment=assessment,
        level_id=level_id,
        level=content.ui.levels[level_id],
        what_it_means=knowledge.vocabulary.triage[level_id],
        reasons=tuple(
            (reason.patient, reason.clinician, _source_title(reason.source, knowledge))
            for reason in assessment.triage_reasons
        ),
        unasked=unasked,
        other_warnings=other,
        site=site,
        sites=sites,
        causes=causes,
        territory_regions=_territory_words(territory, knowledge, content),
        bodymap=render_map(knowledge, content, territory=territory),
        plan=assessment.plan,
        investigations=assessment.investigations,
        clinician_due=_clinician_due(knowledge),
    )


def _clinician_due(knowledge: Knowledge) -> dict[str, str]:
    """Return each timing of advice.yaml in a clinician's words, for a clinician's record."""
    advice = cast(s.AdviceTable, knowledge.tables["advice"])
    return {timing_id: timing.clinician for timing_id, timing in advice.timings.items()}


def _territory_words(
    territory: dict[str, float], knowledge: Knowledge, content: WebContent
) -> tuple[str, ...]:
    """Name the highlighted regions once each, with their sides: "top of the foot (left and right)".

    The core of the territory comes first, then its edge.
    """
    sides: dict[tuple[bool, str], list[str]] = {}
    for region, degree in territory.items():
        base, _, side = region.partition(".")
        sides.setdefault((degree < 1.0, base), []).append(side)
    words = []
    for (edge, base), named in sorted(
        sides.items(), key=lambda item: (item[0][0], list(knowledge.vocabulary.regions).index(item[0][1]))
    ):
        description = knowledge.vocabulary.regions[base].description
        present = [content.ui.sides[side] for side in knowledge.vocabulary.sides if side in named]
        text = f"{description} ({' and '.join(present)})" if present else description
        words.append(f"{text}, at the edge" if edge else text)
    return tuple(words)


def _ranked(hypothesis: Hypothesis, name: str) -> Ranked:
    return Ranked(
        id=hypothesis.id,
        name=name,
        p=hypothesis.p,
        reasons_for=_plain(hypothesis.evidence_for),
        reasons_against=_plain(hypothesis.evidence_against),
    )


def _plain(evidence: tuple[Evidence, ...]) -> tuple[str, ...]:
    return tuple(item.patient for item in evidence[:_REASONS_SHOWN])


def _source_title(source: str, knowledge: Knowledge) -> str:
    entry = knowledge.sources.get(source)
    return getattr(entry, "title", source) if entry is not None else source


def _unasked(
    assessment: Assessment, findings: Mapping[str, FindingValue], knowledge: Knowledge
) -> tuple[Unasked, ...]:
    """The warning signs left unknown that could still make it an emergency, unless it is one already.

    Read from the triage rules themselves (:func:`pinchpoint.core.triage.unanswered_signs`: only
    signs a person can answer, and only where the known answers leave the emergency rule
    open), never from the wording of a warning. Missing information never lowers urgency:
    each one is asked about on the page.
    """
    if assessment.triage >= Urgency.EMERGENCY:
        return ()
    specs = knowledge.vocabulary.findings
    bases = dict.fromkeys(specs[finding].base for finding in unanswered_signs(findings, knowledge))
    words = {spec.base: spec.description for spec in specs.values()}
    return tuple(Unasked(base, words.get(base, base)) for base in bases)


def _other_warnings(
    assessment: Assessment, findings: Mapping[str, FindingValue], knowledge: Knowledge
) -> tuple[str, ...]:
    """The warnings that are not the triage's own about unasked signs (those are :func:`_unasked`).

    The triage's warnings for these findings are computed again and left out by equality;
    every other warning (an interview's "don't know" red flags, a saved one) is kept.
    """
    causes = {hypothesis.id: hypothesis.p for hypothesis in assessment.causes}
    own = frozenset(triage(findings, knowledge, causes).warnings)
    return tuple(dict.fromkeys(warning for warning in assessment.warnings if warning not in own))


def saved_assessment(result: Mapping[str, Any], knowledge: Knowledge) -> Assessment:
    """Read a saved result (the contract JSON of :meth:`Assessment.to_contract`) back into an assessment.

    Everything comes from what was saved: the triage, its reasons and sources, the sites and
    causes with their probabilities and reasons, the warnings, investigations and plan with
    their wording. The saved JSON keeps a reason's clinician wording only; the person's wording
    is taken from the knowledge when a rule of the same id still says the same to a clinician.

    Raises:
        KeyError, ValueError, TypeError: The result is not the contract JSON of an assessment.
    """
    rules = {rule.id: rule for rule in knowledge.triage.rules}
    reasons = []
    for rule, text in zip(result["triage_rules"], result["triage_reasons"], strict=True):
        known = rules.get(rule["rule"])
        patient = known.patient if known is not None and known.clinician == text else text
        reasons.append(
            TriageReason(rule["rule"], Urgency.from_id(rule["level"]), patient, text, rule["source"])
        )
    explained = result.get("explanations", {})
    plan = result["plan"]
    return Assessment(
        case_id=str(result["case"]),
        triage=Urgency.from_id(result["triage"]),
        triage_reasons=tuple(reasons),
        sites=_saved_ranked(result["sites"], explained.get("sites", [])),
        causes=_saved_ranked(result["causes"], explained.get("causes", [])),
        knowledge_version=str(result["knowledge_version"]),
        warnings=tuple(str(w) for w in result.get("warnings", [])),
        investigations=tuple(_saved_item(item) for item in result.get("investigations", [])),
        plan=Plan(
            stages=tuple(
                PlanStage(
                    stage["stage"],
                    stage.get("title", ""),
                    stage.get("clinician", ""),
                    tuple(_saved_item(i) for i in stage["items"]),
                )
                for stage in plan["stages"]
            ),
            **{group: tuple(_saved_item(i) for i in plan[group]) for group in _PLAN_GROUPS},
        ),
    )


def _saved_ranked(
    ranked: list[Mapping[str, Any]], explained: list[Mapping[str, Any]]
) -> tuple[Hypothesis, ...]:
    reasons = {entry["id"]: entry for entry in explained}

    def evidence(rows: list[Mapping[str, Any]]) -> tuple[Evidence, ...]:
        return tuple(Evidence(r["finding"], r["value"], float(r["weight"]), r["why"], r["why"]) for r in rows)

    return tuple(
        Hypothesis(
            h["id"],
            float(h["p"]),
            "",
            evidence(reasons.get(h["id"], {}).get("for", [])),
            evidence(reasons.get(h["id"], {}).get("against", [])),
        )
        for h in ranked
    )


def _saved_item(item: Mapping[str, Any]) -> PlanItem:
    return PlanItem(
        id=item["id"],
        kind=item["kind"],
        title=item.get("title", item["id"]),
        verdict=Verdict(item["verdict"]),
        source=item["source"],
        patient=item.get("patient", ""),
        clinician=item.get("clinician", ""),
        stage=item.get("stage"),
        due=item.get("due"),
        due_text=item.get("due_text", ""),
        modality=item.get("modality"),
    )
