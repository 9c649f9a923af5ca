"""Triage: how soon the person must be seen, and which rules say so.

The triage is the most urgent level demanded by any rule of ``triage.yaml`` that fires.
The condition language has no negation, and levels combine with ``max``. A leaf holds when
a finding it reads is known and passes its test; a leaf marked ``unless_known_otherwise``
also holds while every finding it reads is unknown ("not improving" holds until the person
says they are improving, "new" holds until a duration says otherwise). So:

* an unknown finding fails a plain leaf exactly as a reassuring answer does, and holds an
  ``unless_known_otherwise`` leaf where a reassuring answer would fail it: the triage with a
  finding unknown is at least the triage with any answer to it that is no red flag itself;
* adding a red flag (a value that passes some leaf and fails no ``unless_known_otherwise``
  leaf) can only add rules that fire, never lower the triage.

A likely dangerous cause may also raise the triage to the level its care needs
(``cause_care`` in triage.yaml): it adds a reason and never lowers a level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pinchpoint.assessment import TriageReason
from pinchpoint.normalform import Decider, Terms, conjoin, disjoin, literal
from pinchpoint.vocabulary import FindingSpec, Urgency, Vocabulary

if TYPE_CHECKING:
    from pinchpoint.case import FindingValue
    from pinchpoint.knowledge import schema as s
    from pinchpoint.knowledge.model import Knowledge

__all__ = [
    "Decision",
    "TriageRules",
    "compile_condition",
    "compile_rules",
    "leaf_test",
    "matching_findings",
    "matching_specs",
    "triage",
    "triage_many",
]

Findings = Mapping[str, "FindingValue"]
Predicate = Callable[[Findings], bool]


@dataclass(frozen=True)
class CompiledRule:
    """A triage rule with its condition compiled to a predicate over findings."""

    id: str
    level: Urgency
    holds: Predicate
    findings: frozenset[str]
    qualifiers: frozenset[str]
    """The findings the rule reads through ``unless_known_otherwise`` leaves."""
    flags: frozenset[str]
    """The findings the rule reads through plain leaves (a value passing one is a red flag)."""
    causes: tuple[str, ...]
    """The causes the rule suspects (triage.yaml ``causes``), which the posterior should rank high."""
    patient: str
    clinician: str
    source: str


@dataclass(frozen=True)
class Decision:
    """The triage level, the rules that fired, and warnings about unasked red flags."""

    level: Urgency
    reasons: tuple[TriageReason, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class TriageRules:
    """The compiled triage rules and the cause-care policy."""

    rules: tuple[CompiledRule, ...]
    care: s.CauseCare
    cause_care: Mapping[str, Urgency]
    vocabulary: Vocabulary
    leaves: _Leaves
    """Every distinct leaf of the rules' conditions, found from the findings that it reads."""
    decider: Decider
    """The rules' conditions in disjunctive normal form over ``leaves``."""

    def evaluate(self, findings: Findings) -> tuple[Urgency, tuple[TriageReason, ...]]:
        """Return the most urgent level any rule demands, with the rules that fired.

        The same decision as every rule's ``holds``, made for all rules at once: only the
        leaves that read a known finding are tested, and an unknown finding never makes a
        leaf hold.
        """
        return self.evaluate_many([findings])[0]

    def evaluate_many(self, cases: Sequence[Findings]) -> list[tuple[Urgency, tuple[TriageReason, ...]]]:
        """Return :meth:`evaluate` for each case, deciding all of them in one matrix product."""
        if not cases:
            return []
        fires = self.decider.decide(np.array([self.leaves.truth(findings) for findings in cases], dtype=bool))
        return [self._fired(row) for row in fires]

    def _fired(self, fires: npt.NDArray[np.bool_]) -> tuple[Urgency, tuple[TriageReason, ...]]:
        fired = [self.rules[i] for i in np.flatnonzero(fires).tolist()]
        fired.sort(key=lambda rule: -rule.level)
        level = max((rule.level for rule in fired), default=Urgency.SELF_CARE)
        return level, tuple(TriageReason(r.id, r.level, r.patient, r.clinician, r.source) for r in fired)

    def care_reason(self, cause_probabilities: Mapping[str, float]) -> TriageReason | None:
        """Return the reason the likely causes raise the triage most, if any.

        A cause at ``care.threshold`` or more raises it to its level of care, capped at
        ``care.cap``; a dangerous cause (``care.dangerous``) at its own threshold or more
        raises it to its full level of care, uncapped. Either only adds a reason, so it never
        lowers the level the rules set.
        """
        capped = self._capped_reason(cause_probabilities)
        dangerous = self._dangerous_reason(cause_probabilities)
        if dangerous is not None and (capped is None or dangerous.level > capped.level):
            return dangerous
        return capped

    def _capped_reason(self, cause_probabilities: Mapping[str, float]) -> TriageReason | None:
        cap = Urgency.from_id(self.care.cap)
        best: tuple[Urgency, str, float] | None = None
        for cause, p in cause_probabilities.items():
            if p < self.care.threshold:
                continue
            level = min(self.cause_care[cause], cap)
            if level > Urgency.SELF_CARE and (best is None or level > best[0]):
                best = (level, cause, p)
        if best is None:
            return None
        level, cause, p = best
        return TriageReason(
            rule=f"cause-care:{cause}",
            level=level,
            patient=self.care.patient,
            clinician=self.care.clinician.format(cause=cause, p=p),
            source=self.care.source,
        )

    def _dangerous_reason(self, cause_probabilities: Mapping[str, float]) -> TriageReason | None:
        dangerous = self.care.dangerous
        if dangerous is None:
            return None
        best: tuple[Urgency, float, str] | None = None
        for cause in dangerous.causes:
            p = cause_probabilities.get(cause, 0.0)
            if p >= dangerous.threshold and (best is None or (self.cause_care[cause], p) > best[:2]):
                best = (self.cause_care[cause], p, cause)
        if best is None:
            return None
        level, p, cause = best
        return TriageReason(
            rule=f"dangerous-cause:{cause}",
            level=level,
            patient=dangerous.patient,
            clinician=dangerous.clinician.format(cause=cause, p=p),
            source=dangerous.source,
        )

    def red_flags_in(self, findings: Findings) -> frozenset[str]:
        """Return the findings whose value passes a leaf that some rule needs (a red flag).

        Making any other finding unknown never lowers what the rules demand: it fails no
        plain leaf that its value passed, and holds every ``unless_known_otherwise`` leaf.
        """
        return self.leaves.findings_passing(findings, self.leaves.plain, passing=True)

    def explanations_in(self, findings: Findings) -> frozenset[str]:
        """Return the findings whose value fails an ``unless_known_otherwise`` leaf (an explanation).

        Adding findings none of which is an explanation never lowers what the rules demand.
        """
        return self.leaves.findings_passing(findings, self.leaves.unless, passing=False)

    def unasked_emergency_flags(self, findings: Findings) -> tuple[str, ...]:
        """Return the findings tested by emergency rules of which the case states no variant.

        A finding's variants share its base (``exam.power`` for every muscle and side).
        """
        base_of = self._base_of
        known = {base_of.get(finding) for finding in findings}
        return tuple(sorted(self._emergency_bases - known))

    @cached_property
    def emergency_findings(self) -> frozenset[str]:
        """Every finding that some emergency rule tests with a plain leaf.

        A finding that it reads only ``unless_known_otherwise`` (its time course) is left out:
        unknown, it already counts at its most urgent.
        """
        return frozenset().union(*(r.flags for r in self.rules if r.level == Urgency.EMERGENCY))

    @cached_property
    def _emergency_bases(self) -> frozenset[str]:
        return frozenset(self._base_of[finding] for finding in self.emergency_findings)

    @cached_property
    def _base_of(self) -> dict[str, str]:
        return {finding: spec.base for finding, spec in self.vocabulary.findings.items()}


def triage(findings: Findings, knowledge: Knowledge, cause_probabilities: Mapping[str, float]) -> Decision:
    """Decide the triage for a case.

    Args:
        findings: The case's known findings.
        knowledge: The knowledge base.
        cause_probabilities: The posterior over causes, which may raise the level up to
            the cap of ``cause_care`` in triage.yaml.
    """
    return triage_many([findings], knowledge, [cause_probabilities])[0]


def triage_many(
    cases: Sequence[Findings], knowledge: Knowledge, cause_probabilities: Sequence[Mapping[str, float]]
) -> list[Decision]:
    """Decide the triage for each case (its findings, its posterior over causes) at once."""
    rules = knowledge.triage
    return [
        _decision(rules, findings, level, reasons, causes)
        for findings, (level, reasons), causes in zip(
            cases, rules.evaluate_many(cases), cause_probabilities, strict=True
        )
    ]


def _decision(
    rules: TriageRules,
    findings: Findings,
    level: Urgency,
    reasons: tuple[TriageReason, ...],
    cause_probabilities: Mapping[str, float],
) -> Decision:
    care = rules.care_reason(cause_probabilities)
    if care is not None and care.level > level:
        level, reasons = care.level, (*reasons, care)
    warnings: tuple[str, ...] = ()
    if level < Urgency.EMERGENCY:
        unasked = rules.unasked_emergency_flags(findings)
        if unasked:
            warnings = ("emergency warning signs not yet asked about: " + ", ".join(unasked),)
    return Decision(level, reasons, warnings)


def compile_rules(
    table: s.TriageTable, vocabulary: Vocabulary, cause_care: Mapping[str, Urgency]
) -> TriageRules:
    """Compile the rules of triage.yaml into predicates over findings.

    Args:
        table: The validated triage table.
        vocabulary: The vocabulary whose finding ids the conditions name.
        cause_care: The level of care each cause needs once suspected (causes.yaml).
    """
    compiler = _ConditionCompiler(table.definitions, vocabulary)
    leaves = _LeafIndex(vocabulary)
    terms = [
        leaves.terms(compiler.resolved(rule.when), where=f"triage.yaml: {rule.id}") for rule in table.rules
    ]
    rules = tuple(
        CompiledRule(
            id=rule.id,
            level=Urgency.from_id(rule.level),
            holds=compiler.compile(rule.when),
            findings=compiler.findings_of(rule.when),
            qualifiers=compiler.findings_of(rule.when, unless=True),
            flags=compiler.findings_of(rule.when, unless=False),
            causes=tuple(rule.causes),
            patient=rule.patient,
            clinician=rule.clinician,
            source=rule.source,
        )
        for rule in table.rules
    )
    return TriageRules(
        rules,
        table.cause_care,
        cause_care,
        vocabulary,
        leaves=leaves.freeze(),
        decider=Decider.build(terms, leaves.count),
    )


class _ConditionCompiler:
    def __init__(self, definitions: Mapping[str, s.Condition], vocabulary: Vocabulary) -> None:
        self.definitions = definitions
        self.vocabulary = vocabulary

    def compile(self, condition: s.Condition) -> Predicate:
        if condition.ref is not None:
            return self.compile(self.definitions[condition.ref])
        if condition.all is not None:
            return _all_of([self.compile(child) for child in condition.all])
        if condition.any is not None:
            return _any_of([self.compile(child) for child in condition.any])
        return self._leaf(condition)

    def resolved(self, condition: s.Condition) -> s.Condition:
        """Return ``condition`` with every ``ref`` replaced by its definition."""
        if condition.ref is not None:
            return self.resolved(self.definitions[condition.ref])
        if condition.all is not None:
            return condition.model_copy(update={"all": [self.resolved(child) for child in condition.all]})
        if condition.any is not None:
            return condition.model_copy(update={"any": [self.resolved(child) for child in condition.any]})
        return condition

    def findings_of(self, condition: s.Condition, *, unless: bool | None = None) -> frozenset[str]:
        """Return the findings the condition reads.

        With ``unless``, only those read by leaves that are (True) or are not (False)
        ``unless_known_otherwise``.
        """
        if condition.ref is not None:
            return self.findings_of(self.definitions[condition.ref], unless=unless)
        children = [*(condition.all or []), *(condition.any or [])]
        if children:
            return frozenset().union(*(self.findings_of(child, unless=unless) for child in children))
        if unless is not None and unless != (condition.unless_known_otherwise is not None):
            return frozenset()
        return frozenset(spec.id for spec in self._specs(condition.finding or ""))

    def _specs(self, pattern: str) -> list[FindingSpec]:
        exact = self.vocabulary.findings.get(pattern)
        if exact is not None:
            return [exact]
        base, _, rest = pattern.partition(".*")
        return [
            spec
            for spec in self.vocabulary.findings.values()
            if (spec.base == pattern)
            or (rest == "" and pattern.endswith(".*") and spec.base == base)
            or (spec.item is not None and f"{spec.base}.{spec.item}" == pattern)
        ]

    def _leaf(self, condition: s.Condition) -> Predicate:
        specs = self._specs(condition.finding or "")
        test = leaf_test(condition)
        unknown_holds = condition.unless_known_otherwise is not None
        if condition.side == "both":
            by_side = [
                _any_known(frozenset(spec.id for spec in specs if spec.side == side), test, unknown_holds)
                for side in self.vocabulary.sides
            ]
            return _all_of(by_side)
        return _any_known(frozenset(spec.id for spec in specs), test, unknown_holds)


# The loops below stand where all() and any() of a generator would read better: they run for
# every rule a caller tests, and a generator costs more than the test it drives.


@dataclass(frozen=True)
class _Leaves:
    """The leaves of the triage rules, indexed by the findings they read."""

    count: int
    by_finding: Mapping[str, tuple[tuple[int, Callable[[object], bool]], ...]]
    plain: frozenset[int] = frozenset()
    """Leaves that some rule needs to pass (a value passing one is a red flag)."""
    unless: frozenset[int] = frozenset()
    """Leaves that some rule reads ``unless_known_otherwise`` (a value failing one is an explanation)."""

    def findings_passing(
        self, findings: Findings, leaves: frozenset[int], *, passing: bool
    ) -> frozenset[str]:
        """Return the findings whose value passes (or, with ``passing=False``, fails) one of ``leaves``."""
        return frozenset(
            finding
            for finding, value in findings.items()
            if any(
                leaf in leaves and test(value) == passing for leaf, test in self.by_finding.get(finding, ())
            )
        )

    def truth(self, findings: Findings) -> list[bool]:
        """Return whether each leaf holds: some finding it reads is known and passes its test."""
        truth = [False] * self.count
        by_finding = self.by_finding
        for finding, value in findings.items():
            for leaf, test in by_finding.get(finding, ()):
                if not truth[leaf] and test(value):
                    truth[leaf] = True
        return truth


class _LeafIndex:
    """Gives each distinct leaf of the rules an index while their conditions are put in normal form."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._index: dict[tuple[frozenset[str], str], int] = {}
        self._by_finding: dict[str, list[tuple[int, Callable[[object], bool]]]] = {}
        self._plain: set[int] = set()
        self._unless: set[int] = set()

    @property
    def count(self) -> int:
        return len(self._index)

    def terms(self, condition: s.Condition, *, where: str) -> Terms:
        """Return a condition (without ``ref``) in disjunctive normal form over the leaves."""
        if condition.all is not None:
            return conjoin((self.terms(child, where=where) for child in condition.all), where=where)
        if condition.any is not None:
            return disjoin(self.terms(child, where=where) for child in condition.any)
        specs = matching_specs(condition.finding or "", self.vocabulary)
        if condition.side == "both":
            sided = [
                frozenset(spec.id for spec in specs if spec.side == side) for side in self.vocabulary.sides
            ]
            return conjoin((self._leaf(ids, condition) for ids in sided), where=where)
        return self._leaf(frozenset(spec.id for spec in specs), condition)

    def _leaf(self, ids: frozenset[str], condition: s.Condition) -> Terms:
        passes = self._indexed(ids, condition.model_dump_json(exclude=_NOT_THE_TEST), leaf_test(condition))
        if condition.unless_known_otherwise is None:
            self._plain.add(passes)
            return literal(passes)
        self._unless.add(passes)
        # "Passes, or nothing it reads is known": the second literal is a leaf that holds when
        # any finding of ``ids`` is known, needed to fail.
        known = self._indexed(ids, "known", _known)
        return disjoin([literal(passes), literal(known, holds=False)])

    def _indexed(self, ids: frozenset[str], test_key: str, test: Callable[[object], bool]) -> int:
        key = (ids, test_key)
        if key not in self._index:
            leaf = self._index[key] = len(self._index)
            for finding in ids:
                self._by_finding.setdefault(finding, []).append((leaf, test))
        return self._index[key]

    def freeze(self) -> _Leaves:
        return _Leaves(
            self.count,
            {finding: tuple(leaves) for finding, leaves in self._by_finding.items()},
            plain=frozenset(self._plain),
            unless=frozenset(self._unless),
        )


_NOT_THE_TEST = {"finding", "side", "unless_known_otherwise"}
"""Fields of a leaf that do not change the test it applies to one value."""


def _known(value: object) -> bool:
    """The test of a leaf that holds when the finding is known at all."""
    return value is not None


def _all_of(parts: list[Predicate]) -> Predicate:
    def holds(findings: Findings) -> bool:
        for part in parts:  # noqa: SIM110 (hot path, see above)
            if not part(findings):
                return False
        return True

    return holds


def _any_of(parts: list[Predicate]) -> Predicate:
    def holds(findings: Findings) -> bool:
        for part in parts:  # noqa: SIM110 (hot path, see above)
            if part(findings):
                return True
        return False

    return holds


def _any_known(ids: frozenset[str], test: Callable[[object], bool], unknown_holds: bool = False) -> Predicate:
    """Return a predicate: some finding of ``ids`` is known and passes ``test``.

    With ``unknown_holds`` it also holds when no finding of ``ids`` is known
    (``unless_known_otherwise``).
    """
    if len(ids) == 1:
        (only,) = ids

        def one_holds(findings: Findings) -> bool:
            value = findings.get(only)
            return unknown_holds if value is None else test(value)

        return one_holds

    # A pattern such as exam.power.* names dozens of ids; a case states a few findings,
    # so intersecting with the case's keys visits only those.
    def some_holds(findings: Findings) -> bool:
        known = ids.intersection(findings)
        if not known:
            return unknown_holds
        return any(test(findings[finding_id]) for finding_id in known)

    return some_holds


def leaf_test(condition: s.Condition) -> Callable[[object], bool]:
    """Return the test a leaf condition applies to one known value (``is``, ``at_least``, ...).

    The interview's rule screen (:mod:`pinchpoint.selection`) applies the same tests, so a
    leaf means the same there as here.
    """
    if condition.is_ is not None:
        expected = condition.is_
        return lambda value: value == expected and type(value) is type(expected)
    if condition.at_least is not None:
        low = condition.at_least
        return lambda value: _is_number(value) and value >= low  # type: ignore[operator]
    if condition.at_most is not None:
        high = condition.at_most
        return lambda value: _is_number(value) and value <= high  # type: ignore[operator]
    if condition.includes_any is not None:
        wanted = frozenset(condition.includes_any)
        return lambda value: isinstance(value, tuple) and any(_region_base(r) in wanted for r in value)
    if condition.not_empty is not None:
        return lambda value: isinstance(value, tuple) and len(value) > 0
    wanted_both = frozenset(condition.both_sides_any or ())
    return lambda value: isinstance(value, tuple) and _on_both_sides(value, wanted_both)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _region_base(region: str) -> str:
    return region.split(".", maxsplit=1)[0]


def _on_both_sides(regions: tuple[str, ...], wanted: frozenset[str]) -> bool:
    sides = {r.split(".")[1] for r in regions if "." in r and _region_base(r) in wanted}
    return len(sides) >= 2


def matching_findings(pattern: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    """Return the concrete finding ids a condition's ``finding`` pattern names (both sides, ``*``)."""
    return tuple(spec.id for spec in matching_specs(pattern, vocabulary))


def matching_specs(pattern: str, vocabulary: Vocabulary) -> list[FindingSpec]:
    """Return the findings a condition's ``finding`` pattern names (both sides, ``*``)."""
    return _ConditionCompiler({}, vocabulary)._specs(pattern)


def compile_condition(
    condition: s.Condition, definitions: Mapping[str, s.Condition], vocabulary: Vocabulary
) -> Predicate:
    """Compile one condition of the triage language into a predicate over findings.

    Other rule tables (imaging.yaml, the finding leaves of advice.yaml) state their conditions
    in the same language, so that a finding named there means exactly what it means in
    triage.yaml and shares its safety property: an unknown finding never makes one hold.

    Args:
        condition: The condition.
        definitions: Named conditions that ``ref`` may point to (triage.yaml ``definitions``).
        vocabulary: The vocabulary whose finding ids the condition names.
    """
    return _ConditionCompiler(definitions, vocabulary).compile(condition)
