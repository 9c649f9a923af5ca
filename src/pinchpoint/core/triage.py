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

The leading cause may also raise the triage, but never above ``cause_care.cap``; a likely
dangerous cause may raise it to the level its care needs (``cause_care.dangerous``). Both
only add a reason and never lower a level.

Self-care is a positive conclusion. While a warning sign that the person can answer is
unknown and could still make an emergency rule fire, the level is at least the floor of
``unanswered`` in triage.yaml, and the reason names those signs in the question bank's
words (:func:`unanswered_signs`). That floor only ever raises the level, so both safety
properties above still hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

from pinchpoint.core.assessment import TriageReason
from pinchpoint.core.normalform import Decider, Terms, conjoin, disjoin, literal
from pinchpoint.core.vocabulary import FindingSpec, Urgency, Vocabulary

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import QuestionBank, Wording
    from pinchpoint.knowledge import schema as s

__all__ = [
    "UNANSWERED_RULE",
    "Decision",
    "TriageRules",
    "UnansweredSigns",
    "compile_condition",
    "compile_rules",
    "leaf_test",
    "matching_findings",
    "matching_specs",
    "recorded_floors",
    "triage",
    "triage_many",
    "unanswered_signs",
]

UNANSWERED_RULE = "unanswered-warning-signs"
"""The rule id of the reason the ``unanswered`` floor gives (triage.yaml ``unanswered``)."""

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
    unanswered: tuple[str, ...] = ()
    """Unknown findings a person can answer that could still make an emergency rule fire."""


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
    terms: tuple[Terms, ...] = ()
    """Each rule's condition in disjunctive normal form (the rows of ``decider``), in rule order."""

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
        return self._cause_reason("cause-care", level, cause, p, self.care)

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
        return self._cause_reason("dangerous-cause", level, cause, p, dangerous)

    def _cause_reason(
        self, kind: str, level: Urgency, cause: str, p: float, wording: s.CauseCare | s.DangerousCauses
    ) -> TriageReason:
        """The reason a likely cause raises the triage, naming the cause in words."""
        return TriageReason(
            rule=f"{kind}:{cause}",
            level=level,
            patient=wording.patient,
            clinician=wording.clinician.format(cause=self.vocabulary.causes[cause], p=p),
            source=wording.source,
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

    def unasked_emergency_flags(
        self, findings: Findings, answerable: frozenset[str] | None = None
    ) -> tuple[str, ...]:
        """Return the bases of the unknown findings that could still make an emergency rule fire.

        Only the findings of :meth:`open_emergency_terms` count: a finding that an emergency
        rule tests but that the known answers already rule out of it (shooting pain when the
        pain is in one leg only) is not a warning sign. A finding's variants share its base
        (``exam.power`` for every muscle and side).

        Args:
            findings: The known findings.
            answerable: The findings that may still be answered (all when omitted).
        """
        base_of = self._base_of
        bases = {
            base_of[finding]
            for _, unmet in self.open_emergency_terms(findings, answerable)
            for leaf in unmet
            for finding in leaf
        }
        return tuple(sorted(bases))

    def open_emergency_terms(
        self, findings: Findings, answerable: frozenset[str] | None = None
    ) -> list[tuple[CompiledRule, tuple[frozenset[str], ...]]]:
        """Return the ways of meeting an emergency rule that only unknown findings now stand between.

        Each is a term of the rule's normal form whose every leaf either holds on the known
        findings or reads some unknown finding of ``answerable``; it comes with those unmet
        leaves, each as its unknown answerable findings (one of which would have to be present).

        Args:
            findings: The known findings.
            answerable: The findings that may still be answered (all when omitted).
        """
        truth = self.leaves.truth(findings)
        ids_of = self.leaf_ids
        satisfied = np.array(
            [
                holds
                or any(f not in findings and (answerable is None or f in answerable) for f in ids_of[leaf])
                for leaf, holds in enumerate(truth)
            ],
            dtype=bool,
        )
        rules, terms, needs, owner = self._emergency_terms
        # Only the terms whose every leaf holds or may still be answered are worth reading.
        candidates = np.flatnonzero(~needs[:, ~satisfied].any(axis=1)).tolist()
        ways: dict[int, set[tuple[frozenset[str], ...]]] = {}
        for i in candidates:
            unmet = _unmet(terms[i], truth, ids_of, findings, answerable)
            if unmet:
                ways.setdefault(owner[i], set()).add(unmet)
        found: list[tuple[CompiledRule, tuple[frozenset[str], ...]]] = []
        for index, rule in enumerate(rules):
            rule_ways = ways.get(index, set())
            # A way that needs more than another way of the same rule adds no warning sign: with
            # age 70 already fragile bone, osteoporosis is not what stands between it and the rule.
            minimal = _minimal(rule_ways)
            found += [(rule, way) for way in sorted(rule_ways, key=_order) if way in minimal]
        return found

    @cached_property
    def _emergency_terms(
        self,
    ) -> tuple[tuple[CompiledRule, ...], Terms, npt.NDArray[np.bool_], tuple[int, ...]]:
        """The emergency rules and all their terms, stacked for one reading per case.

        With the terms come a term-by-leaf matrix of the leaves each term needs and the index
        of the rule that owns each term.
        """
        rules: list[CompiledRule] = []
        terms: Terms = []
        owner: list[int] = []
        for rule, rule_terms in zip(self.rules, self.terms, strict=True):
            if rule.level < Urgency.EMERGENCY:
                continue
            owner += [len(rules)] * len(rule_terms)
            terms += list(rule_terms)
            rules.append(rule)
        needs = np.zeros((len(terms), self.leaves.count), dtype=bool)
        for row, term in enumerate(terms):
            for leaf, holds in term:
                needs[row, leaf] = holds
        return tuple(rules), terms, needs, tuple(owner)

    @cached_property
    def leaf_ids(self) -> tuple[frozenset[str], ...]:
        """The finding ids each leaf reads, by leaf index."""
        ids: list[set[str]] = [set() for _ in range(self.leaves.count)]
        for finding, leaves in self.leaves.by_finding.items():
            for leaf, _ in leaves:
                ids[leaf].add(finding)
        return tuple(frozenset(found) for found in ids)

    @cached_property
    def emergency_findings(self) -> frozenset[str]:
        """Every finding that some emergency rule tests with a plain leaf.

        A finding that it reads only ``unless_known_otherwise`` (its time course) is left out:
        unknown, it already counts at its most urgent.
        """
        return frozenset().union(*(r.flags for r in self.rules if r.level == Urgency.EMERGENCY))

    @cached_property
    def _base_of(self) -> dict[str, str]:
        return {finding: spec.base for finding, spec in self.vocabulary.findings.items()}


def _unmet(
    term: frozenset[tuple[int, bool]],
    truth: Sequence[bool],
    ids_of: Sequence[frozenset[str]],
    findings: Findings,
    answerable: frozenset[str] | None,
) -> tuple[frozenset[str], ...]:
    """The unknown answerable findings of each unmet leaf of ``term``; () if it holds or cannot."""
    unmet: list[frozenset[str]] = []
    for leaf, holds in term:
        if truth[leaf] == holds:
            continue
        if not holds:  # triage conditions have no negation; a failing leaf cannot be made to hold
            return ()
        unknown = frozenset(
            f for f in ids_of[leaf] if f not in findings and (answerable is None or f in answerable)
        )
        if not unknown:
            return ()
        unmet.append(unknown)
    return tuple(sorted(unmet, key=sorted))


def _minimal(ways: set[tuple[frozenset[str], ...]]) -> set[tuple[frozenset[str], ...]]:
    """Return the ways whose set of unmet leaves contains no other way's set as a proper part."""
    keys = {frozenset(way) for way in ways}
    return {
        way
        for way in ways
        if not any(
            frozenset(part) in keys
            for size in range(1, len(frozenset(way)))
            for part in itertools.combinations(frozenset(way), size)
        )
    }


def _order(way: tuple[frozenset[str], ...]) -> list[list[str]]:
    return [sorted(leaf) for leaf in way]


def _never(value: object) -> bool:
    return False


def triage(
    findings: Findings,
    knowledge: Knowledge,
    cause_probabilities: Mapping[str, float],
    recorded: frozenset[str] = frozenset(),
) -> Decision:
    """Decide the triage for a case.

    Args:
        findings: The case's known findings.
        knowledge: The knowledge base.
        cause_probabilities: The posterior over causes, which may raise the level up to
            the cap of ``cause_care`` in triage.yaml.
        recorded: Diagnoses in the person's record (site or cause ids), which may set a
            floor under the level (``recorded`` in triage.yaml).
    """
    return triage_many([findings], knowledge, [cause_probabilities], [recorded])[0]


def triage_many(
    cases: Sequence[Findings],
    knowledge: Knowledge,
    cause_probabilities: Sequence[Mapping[str, float]],
    recorded: Sequence[frozenset[str]] | None = None,
) -> list[Decision]:
    """Decide the triage for each case (its findings, its posterior over causes, its record) at once."""
    rules = knowledge.triage
    fired = rules.evaluate_many(cases)
    if recorded is not None:
        fired = recorded_floors(fired, recorded, knowledge)
    signs = knowledge.unanswered
    return [
        _decision(rules, findings, level, reasons, causes, signs=signs)
        for findings, (level, reasons), causes in zip(cases, fired, cause_probabilities, strict=True)
    ]


def _decision(
    rules: TriageRules,
    findings: Findings,
    level: Urgency,
    reasons: tuple[TriageReason, ...],
    cause_probabilities: Mapping[str, float],
    *,
    signs: UnansweredSigns,
) -> Decision:
    care = rules.care_reason(cause_probabilities)
    if care is not None and care.level > level:
        level, reasons = care.level, (*reasons, care)
    if level >= Urgency.EMERGENCY:
        return Decision(level, reasons, ())
    return signs.decide(findings, level, reasons)


def unanswered_signs(findings: Findings, knowledge: Knowledge) -> tuple[str, ...]:
    """Return the unknown findings a person can answer that could still make an emergency rule fire.

    These are the open warning signs the result names; those of ``unanswered.screen`` in
    triage.yaml also keep the triage from self-care. Examination findings are not among
    them (a person cannot answer them).
    """
    if knowledge.triage.evaluate(findings)[0] >= Urgency.EMERGENCY:
        return ()  # an emergency already: nothing more could make it one
    return knowledge.unanswered.unanswered(findings)


class UnansweredSigns:
    """The ``unanswered`` floor, and the warning signs it names in the question bank's words.

    Built once per knowledge base (:attr:`Knowledge.unanswered`), not per assessment.
    """

    def __init__(self, rules: TriageRules, bank: QuestionBank, policy: s.Unanswered) -> None:
        self.rules = rules
        self.bank = bank
        self.policy = policy
        self.floor = Urgency.from_id(policy.level)
        self.screen = frozenset(policy.screen)
        self.answerable = frozenset(
            finding for q in bank.questions.values() if not q.needs_examiner for finding in q.findings
        )

    def unanswered(self, findings: Findings) -> tuple[str, ...]:
        """Return the open warning signs: unknown findings a person can answer that could fire one."""
        return _signs_of(self.rules.open_emergency_terms(findings, self.answerable))

    def decide(self, findings: Findings, level: Urgency, reasons: tuple[TriageReason, ...]) -> Decision:
        """Apply the floor to a level below emergency; word the signs that hold it there."""
        terms = self.rules.open_emergency_terms(findings, self.answerable)
        if not terms:
            return Decision(level, reasons, ())
        unanswered = _signs_of(terms)
        alone = [unmet[0] for _, unmet in terms if len(unmet) == 1]
        combined = [leaf for _, unmet in terms if len(unmet) > 1 for leaf in unmet]
        policy = self.policy
        patient_alone = self._words(alone, "patient")
        patient_combined = [w for w in self._words(combined, "patient") if w not in patient_alone]
        warnings: list[str] = []
        if patient_alone:
            warnings.append(policy.emergency_if.patient.format(signs=_listed(patient_alone)))
        if patient_combined:
            warnings.append(policy.also_unanswered.patient.format(signs=_listed(patient_combined)))
        screened = [leaf for leaf in (*alone, *combined) if leaf & self.screen]
        if level < self.floor and screened:
            every = list(dict.fromkeys(screened))
            reason = TriageReason(
                rule=UNANSWERED_RULE,
                level=self.floor,
                patient=policy.reason.patient.format(signs=_listed(self._words(every, "patient"))),
                clinician=policy.reason.clinician.format(signs=_listed(self._words(every, "clinician"))),
                source=policy.source,
            )
            level, reasons = self.floor, (*reasons, reason)
        return Decision(level, reasons, tuple(warnings), unanswered)

    def _words(self, leaves: Sequence[frozenset[str]], audience: str) -> list[str]:
        """Each leaf in words: one of its findings would have to be present ("x or y")."""
        words: list[str] = []
        for leaf in leaves:
            text = " or ".join(dict.fromkeys(self._finding_words(f, leaf, audience) for f in sorted(leaf)))
            if text not in words:
                words.append(text)
        return words

    def _finding_words(self, finding: str, leaf: frozenset[str], audience: str) -> str:
        """Words for one finding: its form item, its choice, its question, or what it records.

        A yes/no question is its own wording; a number or a body map is named by what the
        vocabulary says it records, with the regions that would count.
        """
        question = self.bank[self.bank.by_finding[finding]]
        for cell in question.cells:
            if cell.finding == finding:
                return _unquoted(_pick(cell.wording, audience))
        test = self._test(finding, leaf)
        chosen = [_pick(option.wording, audience) for option in question.options if test(option.value)]
        if chosen:
            return _unquoted(" or ".join(chosen))
        if question.kind == "yes_no":
            return _unquoted(_pick(question.wording, audience))
        described = self.rules.vocabulary.findings[finding].description
        regions = self.rules.vocabulary.regions
        named = [region.description for name, region in regions.items() if test((name,))]
        if named and len(named) < len(regions):
            return f"{described} ({'; '.join(named)})"
        return described

    def _test(self, finding: str, leaf: frozenset[str]) -> Callable[[object], bool]:
        ids_of = self.rules.leaf_ids
        for index, test in self.rules.leaves.by_finding.get(finding, ()):
            if ids_of[index] == leaf or leaf <= ids_of[index]:
                return test
        return _never


def _signs_of(terms: Sequence[tuple[CompiledRule, tuple[frozenset[str], ...]]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for _, unmet in terms for leaf in unmet for f in sorted(leaf)))


def _pick(wording: Wording, audience: str) -> str:
    return wording.patient if audience == "patient" else wording.clinician


def _unquoted(text: str) -> str:
    return text.strip().rstrip(".")


def _listed(words: Sequence[str]) -> str:
    return "; ".join(f"\u201c{w}\u201d" for w in words)


# --- recorded diagnoses ----------------------------------------------------------------------------


def recorded_floors(
    fired: Sequence[tuple[Urgency, tuple[TriageReason, ...]]],
    recorded: Sequence[frozenset[str]],
    knowledge: Knowledge,
) -> list[tuple[Urgency, tuple[TriageReason, ...]]]:
    """Add the floors that recorded diagnoses set (``recorded`` in triage.yaml) to each case's rules.

    A floor fires like a finding rule: its reason joins the others and the level is the most
    urgent of all, so a floor can only raise the triage, and the plan (made from the level
    and the fired rules) follows it.

    Args:
        fired: Each case's level and fired rules, as :meth:`TriageRules.evaluate_many` returns them.
        recorded: Each case's recorded diagnoses (vocabulary site or cause ids).
        knowledge: The knowledge base whose triage table holds the floors.
    """
    floors = cast("s.TriageTable", knowledge.tables["triage"]).recorded
    raised = []
    for (level, reasons), diagnoses in zip(fired, recorded, strict=True):
        extra = tuple(
            TriageReason(f.id, Urgency.from_id(f.level), f.patient, f.clinician, f.source)
            for f in floors
            if f.diagnosis in diagnoses
        )
        if not extra:
            raised.append((level, reasons))
            continue
        every = tuple(sorted((*reasons, *extra), key=lambda reason: -reason.level))
        raised.append((max(level, *(reason.level for reason in extra)), every))
    return raised


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
        terms=tuple(terms),
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

    The interview's rule screen (:mod:`pinchpoint.core.selection`) applies the same tests, so a
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
