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
from pinchpoint.core.conditions import Compiler, Node
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

    @cached_property
    def probabilities(self) -> list[float]:
        """The cause probabilities, then the site probabilities (where probability leaves read)."""
        return [*self.cause_probability.tolist(), *self.site_probability.tolist()]

    @cached_property
    def memo(self) -> dict[str, bool]:
        """Whether each definition of the plan tables holds for this assessment (a cache)."""
        return {}


@dataclass(frozen=True)
class CompiledItem:
    """An advice or investigation row: its plan item and its safety flags."""

    item: PlanItem
    pregnancy: str
    imaging: bool = False
    ionising: bool = False
    gadolinium: bool = False


@dataclass(frozen=True)
class PlanRules:
    """The compiled advice and investigation tables, ready to make plans.

    Every condition is compiled once to a tree of :mod:`pinchpoint.core.conditions`:
    ``conditions`` holds one per row of ``investigations + advice`` and, last, the
    pregnancy condition. A definition that many rows name is decided once per assessment.
    """

    advice: tuple[CompiledItem, ...]
    investigations: tuple[CompiledItem, ...]
    actions: Mapping[Urgency, PlanItem]
    stages: Mapping[int, s.StageText]
    timing_rank: Mapping[str, int]
    site_kinds: Mapping[str, str]
    site_ids: tuple[str, ...]
    causes: tuple[str, ...]
    conditions: tuple[Node, ...]
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
        findings = context.findings
        return frozenset(
            row.item.id
            for row, when in zip(self.rows, self.conditions, strict=False)
            if when.holds(findings, context)
        )

    def make(self, context: PlanContext) -> tuple[tuple[PlanItem, ...], Plan]:
        """Return the investigations (soonest first) and the plan for one assessment."""
        return self.make_many([context])[0]

    def make_many(self, contexts: Sequence[PlanContext]) -> list[tuple[tuple[PlanItem, ...], Plan]]:
        """Return :meth:`make` for each context, deciding every condition of all of them at once."""
        if not contexts:
            return []
        masks = self.masks
        rows, chosen = _decided(contexts, self.conditions, masks)
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

    def investigations_many(self, contexts: Sequence[PlanContext]) -> list[tuple[PlanItem, ...]]:
        """Return the investigations of :meth:`make_many` alone for each context.

        Only the investigations' conditions (and pregnancy) are decided: a batch that reads
        nothing of the plan but its investigations (the order review) skips the advice.
        """
        if not contexts:
            return []
        count = len(self.investigations)
        conditions = (*self.conditions[:count], self.conditions[-1])
        _, chosen = _decided(contexts, conditions, {name: mask[:count] for name, mask in self.masks.items()})
        rows = self.investigations
        return [self._tests(rows[i].item for i in picked) for picked in _indices(chosen)]

    def _tests(self, items: Iterable[PlanItem]) -> tuple[PlanItem, ...]:
        """The investigations among plan items to do, soonest first."""
        tests = [item for item in items if item.kind == "investigation"]
        tests.sort(key=lambda item: self.timing_rank[item.due or ""])
        return tuple(tests)

    def _made(
        self, context: PlanContext, chosen: list[int], avoid: list[int], unproven: list[int]
    ) -> tuple[tuple[PlanItem, ...], Plan]:
        rows = self.rows
        picked = [rows[i].item for i in chosen]
        tests = self._tests(picked)
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
        return tests, plan

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
    triage: s.TriageTable,
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
        triage: The validated triage table: its definitions, which plan conditions name like their
            own (one namespace, references.py refuses a plan definition that reuses a name), and
            its families of rules (``suspects``), which ``suspected`` leaves read.
        vocabulary: The vocabulary whose finding ids the conditions name.
        site_kinds: The kind of each site of sites.yaml (``root.L5`` -> ``root``).
        site_ids: The model's concrete site ids, in the order of its site probabilities.
        causes: The model's causes, in the order of its cause probabilities.

    """
    # One namespace: references.py refuses a plan definition that reuses a triage definition's name.
    definitions: dict[str, s.Condition | s.PlanCondition] = {**triage.definitions, **advice.definitions}
    compiler = Compiler(
        vocabulary,
        definitions,
        threshold=advice.threshold,
        columns=_Columns(site_kinds, tuple(site_ids), tuple(causes)),
        families=triage.families(),
    )
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
        *(row.when for row in investigations.items),
        *(row.when for row in advice_rows),
        advice.pregnant,
    ]
    compiled = tuple(compiler.compile(condition) for condition in conditions if condition is not None)
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
        conditions=compiled,
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


@dataclass(frozen=True)
class _Columns:
    """Where a probability leaf reads: its causes, or its concrete sites, among the causes then the sites."""

    site_kinds: Mapping[str, str]
    site_ids: tuple[str, ...]
    causes: tuple[str, ...]

    def __call__(self, reads: str, names: Sequence[str]) -> tuple[int, ...]:
        wanted = set(names)
        if reads == "cause":
            return tuple(i for i, cause in enumerate(self.causes) if cause in wanted)
        offset = len(self.causes)
        bases = [_site_base(site_id, self.site_kinds) for site_id in self.site_ids]
        if reads == "site_kind":
            return tuple(offset + i for i, base in enumerate(bases) if self.site_kinds.get(base) in wanted)
        return tuple(offset + i for i, base in enumerate(bases) if base in wanted)


def _decided(
    contexts: Sequence[PlanContext], conditions: Sequence[Node], masks: Mapping[str, npt.NDArray[np.bool_]]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Decide rows' conditions for each context: the rows that apply, and those to do.

    ``conditions`` are the rows' conditions and, last, the pregnancy condition; ``masks`` the
    rows' flags (:func:`_masks`). A row is to do when it applies, its verdict says so, it is
    not unsafe in a pregnancy, and it is no imaging in a self-care plan.
    """
    holds = np.array(
        [[when.holds(context.findings, context) for when in conditions] for context in contexts],
        dtype=bool,
    )
    rows, pregnant = holds[:, :-1], holds[:, -1:]
    self_care = np.array([[context.level == Urgency.SELF_CARE] for context in contexts])
    chosen = (
        rows & masks["to_do"] & ~(pregnant & masks["unsafe_in_pregnancy"]) & ~(self_care & masks["imaging"])
    )
    return rows, chosen


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
