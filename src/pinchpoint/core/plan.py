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
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pinchpoint.core.careplan import Plan, PlanItem, PlanStage, Verdict
from pinchpoint.core.normalform import ALWAYS, Decider, Terms, conjoin, disjoin, literal
from pinchpoint.core.triage import compile_condition, matching_findings
from pinchpoint.core.vocabulary import Urgency, Vocabulary
from pinchpoint.knowledge import schema as s

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue

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

    ``site_probability`` follows the model's concrete site ids (with sides) and
    ``cause_probability`` its causes (see :attr:`PlanRules.site_ids` and
    :attr:`PlanRules.causes`); ``rules`` holds the triage rules that fired.
    """

    level: Urgency
    findings: Mapping[str, FindingValue]
    rules: frozenset[str]
    site_probability: npt.NDArray[np.float64]
    cause_probability: npt.NDArray[np.float64]


@dataclass(frozen=True)
class CompiledItem:
    """An advice or investigation row: its plan item and its safety flags."""

    item: PlanItem
    pregnancy: str
    imaging: bool = False
    ionising: bool = False
    gadolinium: bool = False


@dataclass(frozen=True)
class _ProbabilityLeaf:
    """The probability that the cause, site or kind of site is one of ``names`` reaches ``threshold``."""

    reads: str
    names: tuple[str, ...]
    threshold: float


@dataclass(frozen=True)
class _LevelLeaf:
    """The triage level is one of ``levels``."""

    levels: frozenset[Urgency]


_Leaf = _ProbabilityLeaf | _LevelLeaf | frozenset[str] | s.PlanCondition
"""A leaf: a probability, a triage level, triage rules that fired (a set), or a finding condition."""


@dataclass(frozen=True)
class _Atoms:
    """The leaves of every condition, grouped by what they read, each evaluated once per plan.

    Probability leaves are rows of ``weights`` over the causes then the concrete sites,
    compared with ``thresholds``; level leaves are looked up by triage level; rule leaves
    test the fired rules; finding leaves test the findings.
    """

    weights: npt.NDArray[np.float64]
    thresholds: npt.NDArray[np.float64]
    by_level: Mapping[Urgency, tuple[bool, ...]]
    rules: tuple[frozenset[str], ...]
    findings: tuple[Callable[[Mapping[str, FindingValue]], bool], ...]

    def truth(self, contexts: Sequence[PlanContext]) -> npt.NDArray[np.bool_]:
        """Return whether each leaf holds for each context: probability, level, rule, finding."""
        probabilities = np.array(
            [np.concatenate((context.cause_probability, context.site_probability)) for context in contexts]
        )
        return np.concatenate(
            (
                probabilities @ self.weights.T >= self.thresholds,
                np.array([self._rest(context) for context in contexts], dtype=bool).reshape(
                    len(contexts), -1
                ),
            ),
            axis=1,
        )

    def _rest(self, context: PlanContext) -> list[bool]:
        fired, findings = context.rules, context.findings
        return [
            *self.by_level[context.level],
            *(not wanted.isdisjoint(fired) for wanted in self.rules),
            *(holds(findings) for holds in self.findings),
        ]


@dataclass(frozen=True)
class PlanRules:
    """The compiled advice and investigation tables, ready to make plans.

    Every condition is compiled to disjunctive normal form over the leaves of
    :class:`_Atoms`: ``terms`` has one row per AND-term, counting the literals it needs
    (leaves that hold, then leaves that fail); ``members`` maps each row of
    ``investigations + advice`` and, last, the pregnancy condition to its terms. Deciding
    every condition of one assessment is then two matrix products.
    """

    advice: tuple[CompiledItem, ...]
    investigations: tuple[CompiledItem, ...]
    actions: Mapping[Urgency, PlanItem]
    stages: Mapping[int, s.StageText]
    timing_rank: Mapping[str, int]
    site_kinds: Mapping[str, str]
    site_ids: tuple[str, ...]
    causes: tuple[str, ...]
    atoms: _Atoms
    decider: Decider
    masks: Mapping[str, npt.NDArray[np.bool_]] = field(repr=False)
    """Per row of ``investigations + advice``, the flags the safety promises are enforced with."""

    def context(
        self,
        findings: Mapping[str, FindingValue],
        level: Urgency,
        rules: Iterable[str],
        sites: Iterable[tuple[str, float]],
        causes: Iterable[tuple[str, float]],
    ) -> PlanContext:
        """Build the context of one assessment from ranked ``(id, probability)`` pairs.

        Site ids may be concrete (``root.L5.left``) or side-less (``root.L5``: the
        probability is split evenly over its sides).
        """
        site_probability = np.zeros(len(self.site_ids))
        for site_id, p in sites:
            columns = [
                i for i, one in enumerate(self.site_ids) if one == site_id or self._base(one) == site_id
            ]
            site_probability[columns] += p / max(len(columns), 1)
        cause_index = {cause: i for i, cause in enumerate(self.causes)}
        cause_probability = np.zeros(len(self.causes))
        for cause, p in causes:
            cause_probability[cause_index[cause]] += p
        return PlanContext(level, findings, frozenset(rules), site_probability, cause_probability)

    def applies(self, context: PlanContext) -> frozenset[str]:
        """Return the ids of the advice and investigation rows whose condition holds."""
        (holds,) = self.decider.decide(self.atoms.truth([context]))
        rows = (*self.investigations, *self.advice)
        return frozenset(row.item.id for row, held in zip(rows, holds, strict=False) if held)

    def make(self, context: PlanContext) -> tuple[tuple[PlanItem, ...], Plan]:
        """Return the investigations (soonest first) and the plan for one assessment."""
        return self.make_many([context])[0]

    def make_many(self, contexts: Sequence[PlanContext]) -> list[tuple[tuple[PlanItem, ...], Plan]]:
        """Return :meth:`make` for each context, deciding every condition of all of them at once."""
        if not contexts:
            return []
        holds = self.decider.decide(self.atoms.truth(contexts))
        masks = self.masks
        rows, pregnant = holds[:, :-1], holds[:, -1:]
        self_care = np.array([[context.level == Urgency.SELF_CARE] for context in contexts])
        chosen = (
            rows
            & masks["to_do"]
            & ~(pregnant & masks["unsafe_in_pregnancy"])
            & ~(self_care & masks["imaging"])
        )
        return [
            self._made(context, *picked)
            for context, picked in zip(
                contexts,
                zip(
                    _indices(chosen),
                    _indices(rows & masks["to_avoid"]),
                    _indices(rows & masks["unproven"]),
                    strict=True,
                ),
                strict=True,
            )
        ]

    def _made(
        self, context: PlanContext, chosen: list[int], avoid: list[int], unproven: list[int]
    ) -> tuple[tuple[PlanItem, ...], Plan]:
        rows = self.rows
        picked = [rows[i].item for i in chosen]
        tests = [item for item in picked if item.kind == "investigation"]
        tests.sort(key=lambda item: self.timing_rank[item.due or ""])
        by_kind: dict[str, list[PlanItem]] = {}
        for item in picked:
            by_kind.setdefault(item.kind, []).append(item)
        treatments = by_kind.get("treatment", [])
        stages = (
            PlanStage(
                number=number,
                patient=text.patient,
                clinician=text.clinician,
                items=tuple(item for item in treatments if item.stage == number),
            )
            for number, text in self.ordered_stages
        )
        plan = Plan(
            actions=(self.actions[context.level],),
            stages=tuple(stage for stage in stages if stage.items),
            self_help=tuple(by_kind.get("self_help", ())),
            safety_net=tuple(by_kind.get("safety_net", ())),
            prevention=tuple(by_kind.get("prevention", ())),
            complications=tuple(by_kind.get("complication", ())),
            avoid=_unique(rows[i].item for i in avoid),
            unproven=_unique(rows[i].item for i in unproven),
        )
        return tuple(tests), plan

    @cached_property
    def rows(self) -> tuple[CompiledItem, ...]:
        """The rows the conditions are decided for: the investigations, then the advice."""
        return (*self.investigations, *self.advice)

    @cached_property
    def ordered_stages(self) -> tuple[tuple[int, s.StageText], ...]:
        """The stages of treatment in order."""
        return tuple(sorted(self.stages.items()))

    def _base(self, site_id: str) -> str:
        return _site_base(site_id, self.site_kinds)


def _site_base(site_id: str, site_kinds: Mapping[str, str]) -> str:
    """Return the site of sites.yaml a concrete site id belongs to (``root.L5.left`` -> ``root.L5``)."""
    if site_id in site_kinds:
        return site_id
    base, _, _side = site_id.rpartition(".")
    return base if base in site_kinds else site_id


def compile_plan(
    advice: s.AdviceTable,
    investigations: s.InvestigationsTable,
    vocabulary: Vocabulary,
    site_kinds: Mapping[str, str],
    *,
    site_ids: Sequence[str],
    causes: Sequence[str],
) -> PlanRules:
    """Compile advice.yaml and investigations.yaml into :class:`PlanRules`.

    Args:
        advice: The validated advice table.
        investigations: The validated investigations table.
        vocabulary: The vocabulary whose finding ids the conditions name.
        site_kinds: The kind of each site of sites.yaml (``root.L5`` -> ``root``).
        site_ids: The model's concrete site ids, in the order of its site probabilities.
        causes: The model's causes, in the order of its cause probabilities.

    Raises:
        SchemaError: A condition expands to too many AND-terms (see :mod:`pinchpoint.core.normalform`).
    """
    compiler = _PlanConditionCompiler(advice, vocabulary, site_kinds, site_ids, causes)
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

    advice_rows = [row for row in advice.items if row.when is not None]
    test_rules = tuple(
        CompiledItem(
            item(row, "investigation"),
            row.pregnancy,
            imaging=investigations.modalities[row.modality].imaging,
            ionising=investigations.modalities[row.modality].ionising,
            gadolinium=investigations.modalities[row.modality].gadolinium,
        )
        for row in investigations.items
    )
    advice_rules = tuple(CompiledItem(item(row, row.kind, row.stage), row.pregnancy) for row in advice_rows)
    conditions = [
        *((f"investigations.yaml: {row.id}", row.when) for row in investigations.items),
        *((f"advice.yaml: {row.id}", row.when) for row in advice_rows),
        ("advice.yaml: pregnant", advice.pregnant),
    ]
    terms_of_rows = [compiler.terms(condition, where) for where, condition in conditions]
    atoms, decider = compiler.matrices(terms_of_rows)
    rows = (*test_rules, *advice_rules)
    by_id = {row.id: row for row in advice.items}
    return PlanRules(
        advice=advice_rules,
        investigations=test_rules,
        actions={
            Urgency.from_id(level): item(by_id[item_id], "action")
            for level, item_id in advice.actions.items()
        },
        stages={int(number): text for number, text in advice.stages.items()},
        timing_rank={name: timing.rank for name, timing in timings.items()},
        site_kinds=dict(site_kinds),
        site_ids=tuple(site_ids),
        causes=tuple(causes),
        atoms=atoms,
        decider=decider,
        masks=_masks(rows),
    )


def _masks(rows: Sequence[CompiledItem]) -> dict[str, npt.NDArray[np.bool_]]:
    """Return the per-row flags the safety promises of this module are enforced with."""

    def mask(test: Callable[[CompiledItem], bool]) -> npt.NDArray[np.bool_]:
        return np.array([test(row) for row in rows], dtype=bool)

    return {
        "to_do": mask(lambda row: row.item.verdict.to_do),
        "to_avoid": mask(lambda row: row.item.verdict.to_avoid),
        "unproven": mask(lambda row: not row.item.verdict.to_do and not row.item.verdict.to_avoid),
        "unsafe_in_pregnancy": mask(lambda row: row.pregnancy == "avoid" or row.ionising or row.gadolinium),
        "imaging": mask(lambda row: row.imaging),
    }


class _PlanConditionCompiler:
    """Turns plan conditions into terms over shared leaves (each distinct leaf is evaluated once)."""

    def __init__(
        self,
        advice: s.AdviceTable,
        vocabulary: Vocabulary,
        site_kinds: Mapping[str, str],
        site_ids: Sequence[str],
        causes: Sequence[str],
    ) -> None:
        self.definitions = advice.definitions
        self.threshold = advice.threshold
        self.vocabulary = vocabulary
        self.site_kinds = site_kinds
        self.site_ids = tuple(site_ids)
        self.causes = tuple(causes)
        self._keys: dict[object, int] = {}
        self._leaves: list[_Leaf] = []

    def terms(self, condition: s.PlanCondition | None, where: str, *, negated: bool = False) -> Terms:
        """Return ``condition`` (or its negation) in disjunctive normal form; no condition always holds."""
        if condition is None:
            return [] if negated else ALWAYS
        if condition.ref is not None:
            return self.terms(self.definitions[condition.ref], where, negated=negated)
        if condition.not_ is not None:
            return self.terms(condition.not_, where, negated=not negated)
        if condition.all is not None or condition.any is not None:
            children = [
                self.terms(child, where, negated=negated) for child in condition.all or condition.any or []
            ]
            conjunction = (condition.all is not None) != negated
            return conjoin(children, where=where) if conjunction else disjoin(children)
        return literal(self._leaf(condition), holds=not negated)

    def _leaf(self, condition: s.PlanCondition) -> int:
        leaf = self._as_leaf(condition)
        key = condition.model_dump_json() if isinstance(leaf, s.PlanCondition) else leaf
        if key not in self._keys:
            self._keys[key] = len(self._leaves)
            self._leaves.append(leaf)
        return self._keys[key]

    def _as_leaf(self, condition: s.PlanCondition) -> _Leaf:
        threshold = self.threshold if condition.p_at_least is None else condition.p_at_least
        for reads, names in (
            ("cause", condition.cause),
            ("site", condition.site),
            ("site_kind", condition.site_kind),
        ):
            if names is not None:
                return _ProbabilityLeaf(reads, tuple(names), threshold)
        if condition.rule is not None:
            return frozenset(condition.rule)
        if condition.finding is not None:
            return condition
        return _LevelLeaf(frozenset(level for level in Urgency if _level_holds(condition, level)))

    def matrices(self, rows: list[Terms]) -> tuple[_Atoms, Decider]:
        """Return the leaves, tested in the order of :meth:`_Atoms.truth`, and the rows' decider."""
        order = sorted(range(len(self._leaves)), key=lambda i: _group(self._leaves[i]))
        column = {leaf: position for position, leaf in enumerate(order)}
        atoms = self._atoms([self._leaves[i] for i in order])
        return atoms, Decider.build(rows, len(order), column)

    def _atoms(self, leaves: list[_Leaf]) -> _Atoms:
        probability = [leaf for leaf in leaves if isinstance(leaf, _ProbabilityLeaf)]
        levels = [leaf for leaf in leaves if isinstance(leaf, _LevelLeaf)]
        return _Atoms(
            weights=np.array([self._weights(leaf) for leaf in probability]).reshape(
                len(probability), len(self.causes) + len(self.site_ids)
            ),
            thresholds=np.array([leaf.threshold for leaf in probability]),
            by_level={level: tuple(level in leaf.levels for leaf in levels) for level in Urgency},
            rules=tuple(leaf for leaf in leaves if isinstance(leaf, frozenset)),
            findings=tuple(self._finding(leaf) for leaf in leaves if isinstance(leaf, s.PlanCondition)),
        )

    def _weights(self, leaf: _ProbabilityLeaf) -> list[float]:
        """Return which causes and concrete sites a leaf sums (the hypotheses exclude each other)."""
        wanted = set(leaf.names)
        bases = [_site_base(site_id, self.site_kinds) for site_id in self.site_ids]
        if leaf.reads == "cause":
            return [float(cause in wanted) for cause in self.causes] + [0.0] * len(bases)
        if leaf.reads == "site_kind":
            return [0.0] * len(self.causes) + [float(self.site_kinds.get(base) in wanted) for base in bases]
        return [0.0] * len(self.causes) + [float(base in wanted) for base in bases]

    def _finding(self, condition: s.PlanCondition) -> Callable[[Mapping[str, FindingValue]], bool]:
        pattern = condition.finding or ""
        if condition.unknown:
            ids = matching_findings(pattern, self.vocabulary)
            return lambda findings: all(finding_id not in findings for finding_id in ids)
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
                    "unless_known_otherwise": condition.unless_known_otherwise,
                }.items()
                if value is not None
            }
        )
        return compile_condition(leaf, {}, self.vocabulary)


def _group(leaf: _Leaf) -> int:
    """The position of a leaf's group in :meth:`_Atoms.truth`: probability, level, rule, finding."""
    if isinstance(leaf, _ProbabilityLeaf):
        return 0
    if isinstance(leaf, _LevelLeaf):
        return 1
    return 2 if isinstance(leaf, frozenset) else 3


def _level_holds(condition: s.PlanCondition, level: Urgency) -> bool:
    """Whether a leaf on the triage level (``triage``, ``triage_at_least``, ...) holds at ``level``."""
    if condition.triage is not None:
        return level in {Urgency.from_id(one) for one in condition.triage}
    if condition.triage_at_least is not None:
        return level >= Urgency.from_id(condition.triage_at_least)
    if condition.triage_at_most is not None:
        return level <= Urgency.from_id(condition.triage_at_most)
    raise AssertionError(f"unreachable: the schema admits no other plan condition ({condition!r})")


def _indices(mask: npt.NDArray[np.bool_]) -> list[list[int]]:
    """Return, for each row of a boolean matrix, the columns that are set."""
    found: list[list[int]] = [[] for _ in range(len(mask))]
    rows, columns = np.nonzero(mask)
    for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
        found[row].append(column)
    return found


def _unique(items: Iterable[PlanItem]) -> tuple[PlanItem, ...]:
    seen: set[str] = set()
    unique: list[PlanItem] = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    return tuple(unique)
