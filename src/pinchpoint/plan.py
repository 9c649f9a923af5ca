"""The plan: investigations and staged care that fit the assessment, graded by evidence.

Every piece of advice and every investigation is a row of ``advice.yaml`` or
``investigations.yaml`` with a condition (who it is for), an evidence verdict and a
source. :func:`make_plan` evaluates the conditions against one assessment (triage level,
triage rules that fired, site and cause probabilities, findings) and sorts what applies.

Some promises hold by construction here, whatever the data say, because they are about
safety rather than clinical content:

* the plan starts with the action of the triage level (``actions`` in advice.yaml): an
  emergency plan starts with going to hospital now, and since the triage never falls when
  a red flag is added, neither does this first item;
* an item whose verdict is ``not_recommended`` or ``unsafe`` is never something to do: it
  goes to :attr:`Plan.avoid`, with its reason; an item with ``no_evidence`` goes to
  :attr:`Plan.unproven`;
* a self-care plan holds no imaging;
* in pregnancy no investigation with ionising radiation or gadolinium, and no item marked
  ``pregnancy: avoid``, is something to do.

This is a core module: it reads no files and imports no adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pinchpoint.careplan import Plan, PlanItem, PlanStage, Verdict
from pinchpoint.knowledge import schema as s
from pinchpoint.triage import compile_condition, matching_findings
from pinchpoint.vocabulary import Urgency, Vocabulary

if TYPE_CHECKING:
    from pinchpoint.case import FindingValue

__all__ = [
    "CompiledItem",
    "Plan",
    "PlanContext",
    "PlanItem",
    "PlanRules",
    "PlanStage",
    "Verdict",
    "compile_plan",
]


@dataclass(frozen=True)
class PlanContext:
    """What the plan's conditions can see of one assessment.

    ``sites`` maps side-less site ids (``root.L5``) to probabilities summed over sides,
    ``site_kinds`` maps kinds of site (``root``) to probabilities, ``causes`` maps cause
    ids to probabilities, ``rules`` holds the triage rules that fired.
    """

    level: Urgency
    findings: Mapping[str, FindingValue]
    rules: frozenset[str] = frozenset()
    sites: Mapping[str, float] = field(default_factory=dict)
    site_kinds: Mapping[str, float] = field(default_factory=dict)
    causes: Mapping[str, float] = field(default_factory=dict)
    known: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    """Named definitions already decided for this assessment (many items share them)."""


Predicate = Callable[[PlanContext], bool]


@dataclass(frozen=True)
class CompiledItem:
    """An advice or investigation row: its plan item, its compiled condition and its safety flags."""

    item: PlanItem
    holds: Predicate
    pregnancy: str
    imaging: bool = False
    ionising: bool = False
    gadolinium: bool = False


@dataclass(frozen=True)
class PlanRules:
    """The compiled advice and investigation tables, ready to make plans."""

    advice: tuple[CompiledItem, ...]
    investigations: tuple[CompiledItem, ...]
    actions: Mapping[Urgency, PlanItem]
    stages: Mapping[int, s.StageText]
    timing_rank: Mapping[str, int]
    pregnant: Predicate
    site_kinds: Mapping[str, str]
    vocabulary: Vocabulary

    def context(
        self,
        findings: Mapping[str, FindingValue],
        level: Urgency,
        rules: Iterable[str],
        sites: Iterable[tuple[str, float]],
        causes: Iterable[tuple[str, float]],
    ) -> PlanContext:
        """Build the context of one assessment.

        Args:
            findings: The case's known findings.
            level: The triage level.
            rules: The ids of the triage rules that fired.
            sites: Ranked ``(site id, probability)`` pairs; sided ids are summed over sides.
            causes: Ranked ``(cause id, probability)`` pairs.
        """
        by_site: dict[str, float] = {}
        by_kind: dict[str, float] = {}
        for site_id, p in sites:
            base = self._site_base(site_id)
            by_site[base] = by_site.get(base, 0.0) + p
            kind = self.site_kinds.get(base)
            if kind is not None:
                by_kind[kind] = by_kind.get(kind, 0.0) + p
        return PlanContext(
            level=level,
            findings=findings,
            rules=frozenset(rules),
            sites=by_site,
            site_kinds=by_kind,
            causes=dict(causes),
        )

    def make(self, context: PlanContext) -> tuple[tuple[PlanItem, ...], Plan]:
        """Return the investigations (soonest first) and the plan for one assessment."""
        pregnant = self.pregnant(context)
        avoid: list[PlanItem] = []
        unproven: list[PlanItem] = []

        def keep(rule: CompiledItem, *, investigation: bool) -> bool:
            verdict = rule.item.verdict
            if verdict.to_avoid:
                avoid.append(rule.item)
                return False
            if not verdict.to_do:
                unproven.append(rule.item)
                return False
            if pregnant and (rule.pregnancy == "avoid" or rule.ionising or rule.gadolinium):
                return False
            return not (investigation and context.level == Urgency.SELF_CARE and rule.imaging)

        tests = [r.item for r in self.investigations if r.holds(context) and keep(r, investigation=True)]
        tests.sort(key=lambda item: self.timing_rank[item.due or ""])
        chosen = [r.item for r in self.advice if r.holds(context) and keep(r, investigation=False)]
        by_kind: dict[str, list[PlanItem]] = {}
        for item in chosen:
            by_kind.setdefault(item.kind, []).append(item)
        stages = tuple(
            PlanStage(
                number=number,
                patient=text.patient,
                clinician=text.clinician,
                items=tuple(item for item in by_kind.get("treatment", []) if item.stage == number),
            )
            for number, text in sorted(self.stages.items())
        )
        plan = Plan(
            actions=(self.actions[context.level],),
            stages=tuple(stage for stage in stages if stage.items),
            self_help=tuple(by_kind.get("self_help", [])),
            safety_net=tuple(by_kind.get("safety_net", [])),
            prevention=tuple(by_kind.get("prevention", [])),
            complications=tuple(by_kind.get("complication", [])),
            avoid=_unique(avoid),
            unproven=_unique(unproven),
        )
        return tuple(tests), plan

    def _site_base(self, site_id: str) -> str:
        if site_id in self.site_kinds:
            return site_id
        base, _, side = site_id.rpartition(".")
        return base if side in self.vocabulary.sides and base else site_id


def compile_plan(
    advice: s.AdviceTable,
    investigations: s.InvestigationsTable,
    vocabulary: Vocabulary,
    site_kinds: Mapping[str, str],
) -> PlanRules:
    """Compile advice.yaml and investigations.yaml into :class:`PlanRules`.

    Args:
        advice: The validated advice table.
        investigations: The validated investigations table.
        vocabulary: The vocabulary whose finding ids the conditions name.
        site_kinds: The kind of each site of sites.yaml (``root.L5`` -> ``root``).
    """
    compiler = _PlanConditionCompiler(advice.definitions, advice.threshold, vocabulary)
    timings = advice.timings

    def item(row: s.AdviceItem | s.InvestigationItem, kind: str, stage: int | None = None) -> PlanItem:
        due = row.due
        modality = row.modality if isinstance(row, s.InvestigationItem) else None
        return PlanItem(
            id=row.id,
            kind=kind,
            title=row.title,
            verdict=Verdict(row.verdict),
            source=row.source,
            patient=row.patient,
            clinician=row.clinician,
            stage=stage,
            due=due,
            due_text=timings[due].patient if due is not None else "",
            modality=modality,
        )

    rows = {row.id: row for row in advice.items}
    advice_rules = tuple(
        CompiledItem(item(row, row.kind, row.stage), compiler.compile(row.when), row.pregnancy)
        for row in advice.items
        if row.when is not None
    )
    test_rules = tuple(
        CompiledItem(
            item(row, "investigation"),
            compiler.compile(row.when),
            row.pregnancy,
            imaging=investigations.modalities[row.modality].imaging,
            ionising=investigations.modalities[row.modality].ionising,
            gadolinium=investigations.modalities[row.modality].gadolinium,
        )
        for row in investigations.items
    )
    return PlanRules(
        advice=advice_rules,
        investigations=test_rules,
        actions={
            Urgency.from_id(level): item(rows[item_id], "action") for level, item_id in advice.actions.items()
        },
        stages={int(number): text for number, text in advice.stages.items()},
        timing_rank={name: timing.rank for name, timing in timings.items()},
        pregnant=compiler.compile(advice.pregnant),
        site_kinds=dict(site_kinds),
        vocabulary=vocabulary,
    )


class _PlanConditionCompiler:
    def __init__(
        self, definitions: Mapping[str, s.PlanCondition], threshold: float, vocabulary: Vocabulary
    ) -> None:
        self.definitions = definitions
        self.threshold = threshold
        self.vocabulary = vocabulary
        self._named: dict[str, Predicate] = {}

    def compile(self, condition: s.PlanCondition) -> Predicate:
        if condition.ref is not None:
            return self._named_predicate(condition.ref)
        if condition.all is not None:
            parts = [self.compile(child) for child in condition.all]
            return lambda ctx: all(part(ctx) for part in parts)
        if condition.any is not None:
            parts = [self.compile(child) for child in condition.any]
            return lambda ctx: any(part(ctx) for part in parts)
        if condition.not_ is not None:
            inner = self.compile(condition.not_)
            return lambda ctx: not inner(ctx)
        if condition.finding is not None:
            return self._finding(condition)
        return self._assessment(condition)

    def _named_predicate(self, name: str) -> Predicate:
        """Compile a definition once; each assessment decides it at most once."""
        if name not in self._named:
            inner = self.compile(self.definitions[name])

            def decided(ctx: PlanContext) -> bool:
                value = ctx.known.get(name)
                if value is None:
                    value = ctx.known[name] = inner(ctx)
                return value

            self._named[name] = decided
        return self._named[name]

    def _assessment(self, condition: s.PlanCondition) -> Predicate:
        if condition.rule is not None:
            wanted = frozenset(condition.rule)
            return lambda ctx: not wanted.isdisjoint(ctx.rules)
        threshold = self.threshold if condition.p_at_least is None else condition.p_at_least
        if condition.cause is not None:
            return _probability_at_least(lambda ctx: ctx.causes, condition.cause, threshold)
        if condition.site is not None:
            return _probability_at_least(lambda ctx: ctx.sites, condition.site, threshold)
        if condition.site_kind is not None:
            return _probability_at_least(lambda ctx: ctx.site_kinds, condition.site_kind, threshold)
        return self._triage(condition)

    def _triage(self, condition: s.PlanCondition) -> Predicate:
        if condition.triage is not None:
            levels = frozenset(Urgency.from_id(level) for level in condition.triage)
            return lambda ctx: ctx.level in levels
        if condition.triage_at_least is not None:
            low = Urgency.from_id(condition.triage_at_least)
            return lambda ctx: ctx.level >= low
        if condition.triage_at_most is not None:
            high = Urgency.from_id(condition.triage_at_most)
            return lambda ctx: ctx.level <= high
        raise AssertionError(f"unreachable: the schema admits no other plan condition ({condition!r})")

    def _finding(self, condition: s.PlanCondition) -> Predicate:
        pattern = condition.finding or ""
        if condition.unknown:
            ids = matching_findings(pattern, self.vocabulary)
            return lambda ctx: all(finding_id not in ctx.findings for finding_id in ids)
        leaf = s.Condition.model_validate(
            {
                key: value
                for key, value in {
                    "finding": pattern,
                    "is": condition.is_,
                    "at_least": condition.at_least,
                    "at_most": condition.at_most,
                    "includes_any": condition.includes_any,
                    "not_empty": condition.not_empty,
                    "side": condition.side,
                }.items()
                if value is not None
            }
        )
        holds = compile_condition(leaf, {}, self.vocabulary)
        return lambda ctx: holds(ctx.findings)


def _probability_at_least(
    read: Callable[[PlanContext], Mapping[str, float]], names: Sequence[str], threshold: float
) -> Predicate:
    """Hold when the probability that the answer is one of ``names`` reaches ``threshold``.

    The hypotheses are mutually exclusive, so the probability of "one of these" is the sum.
    """
    wanted = tuple(names)

    def holds(ctx: PlanContext) -> bool:
        probabilities = read(ctx)
        total = 0.0
        for name in wanted:
            total += probabilities.get(name, 0.0)
        return total >= threshold

    return holds


def _unique(items: Iterable[PlanItem]) -> tuple[PlanItem, ...]:
    seen: set[str] = set()
    unique: list[PlanItem] = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    return tuple(unique)
