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

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, cast

from pinchpoint.core.assessment import TriageReason
from pinchpoint.core.conditions import Compiler, FindingLeaf, Node, Standing, WayFinder
from pinchpoint.core.vocabulary import Urgency, Vocabulary

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import QuestionBank, Wording
    from pinchpoint.knowledge import schema as s

__all__ = [
    "UNANSWERED_RULE",
    "CompiledRule",
    "Decision",
    "TriageRules",
    "UnansweredSigns",
    "compile_rules",
    "recorded_floors",
    "triage",
    "triage_many",
    "unanswered_signs",
]

UNANSWERED_RULE = "unanswered-warning-signs"
"""The rule id of the reason the ``unanswered`` floor gives (triage.yaml ``unanswered``)."""

Findings = Mapping[str, "FindingValue"]
OpenWay = tuple["CompiledRule", tuple[frozenset[str], ...]]
"""An emergency rule, and the unknown findings of each leaf still unmet in one way of meeting it."""


@dataclass(frozen=True)
class CompiledRule:
    """A triage rule with its condition compiled (:mod:`pinchpoint.core.conditions`)."""

    id: str
    level: Urgency
    when: Node
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

    def holds(self, findings: Findings) -> bool:
        """Whether the rule fires on the known findings."""
        return self.when.holds(findings)

    @cached_property
    def reason(self) -> TriageReason:
        """The reason the rule gives when it fires."""
        return TriageReason(self.id, self.level, self.patient, self.clinician, self.source)


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
    literals: tuple[FindingLeaf, ...] = ()
    """Every distinct finding leaf of the rules (findings and test), in the order the rules name them."""
    plain: frozenset[FindingLeaf] = frozenset()
    """Leaves that some rule needs to pass (a value passing one is a red flag)."""
    unless: frozenset[FindingLeaf] = frozenset()
    """Leaves that some rule reads ``unless_known_otherwise`` (a value failing one is an explanation)."""
    compiler: Compiler | None = field(default=None, repr=False, compare=False)
    """The compiler of the rules, for other conditions in their language (imaging.yaml ``open_when``)."""

    def condition(self, condition: s.Condition) -> Node:
        """Return a condition of the triage language (and its definitions), compiled once."""
        if self.compiler is None:
            raise ValueError("these triage rules were built without their compiler")
        return self.compiler.compiled(condition)

    def evaluate(
        self, findings: Findings, standing: Standing | None = None
    ) -> tuple[Urgency, tuple[TriageReason, ...]]:
        """Return the most urgent level any rule demands, with the rules that fired (most urgent first).

        Every leaf of the rules is tested once (:meth:`standing`), and each rule is decided on
        those results as its parts' masks (:meth:`pinchpoint.core.conditions.WayFinder.holding`),
        which is what walking its tree would answer; where a leaf is read both plainly and
        ``unless_known_otherwise`` the trees are walked instead.

        Args:
            findings: The known findings.
            standing: The case's :meth:`standing`, when already read.
        """
        fired = self.fired(findings, standing)
        fired.sort(key=lambda rule: -rule.level)
        level = max((rule.level for rule in fired), default=Urgency.SELF_CARE)
        return level, tuple(rule.reason for rule in fired)

    def fired(self, findings: Findings, standing: Standing | None = None) -> list[CompiledRule]:
        """Return the rules that fire on the known findings, in the order of the table.

        Each is what :meth:`CompiledRule.holds` answers, decided as :meth:`evaluate` says.

        Args:
            findings: The known findings.
            standing: The case's :meth:`standing`, when already read.
        """
        finder = self._finder
        if finder.exact:
            passing = (finder.stand(findings, None) if standing is None else standing).passing
            return [rule for rule, holds in zip(self.rules, finder.holding(passing), strict=True) if holds]
        return [rule for rule in self.rules if rule.when.holds(findings)]

    def standing(self, findings: Findings, answerable: frozenset[str] | None) -> Standing:
        """Where every leaf of the rules stands on the case, for :meth:`evaluate` and the open ways."""
        return self._finder.stand(findings, answerable)

    def evaluate_many(self, cases: Sequence[Findings]) -> list[tuple[Urgency, tuple[TriageReason, ...]]]:
        """Return :meth:`evaluate` for each case."""
        return [self.evaluate(findings) for findings in cases]

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
        return self._passing(findings, self.plain, passing=True)

    def explanations_in(self, findings: Findings) -> frozenset[str]:
        """Return the findings whose value fails an ``unless_known_otherwise`` leaf (an explanation).

        Adding findings none of which is an explanation never lowers what the rules demand.
        """
        return self._passing(findings, self.unless, passing=False)

    def _passing(
        self, findings: Findings, leaves: frozenset[FindingLeaf], *, passing: bool
    ) -> frozenset[str]:
        """The findings whose value passes (or, with ``passing=False``, fails) one of ``leaves``."""
        by_finding = self._by_finding
        return frozenset(
            finding
            for finding, value in findings.items()
            if any(leaf in leaves and leaf.test(value) == passing for leaf in by_finding.get(finding, ()))
        )

    def unasked_emergency_flags(
        self, findings: Findings, answerable: frozenset[str] | None = None
    ) -> tuple[str, ...]:
        """Return the bases of the unknown findings that could still make an emergency rule fire.

        Only the findings of :meth:`open_emergency_ways` count: a finding that an emergency
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
            for _, unmet in self.open_emergency_ways(findings, answerable)
            for leaf in unmet
            for finding in leaf
        }
        return tuple(sorted(bases))

    def open_emergency_ways(
        self,
        findings: Findings,
        answerable: frozenset[str] | None = None,
        standing: Standing | None = None,
    ) -> list[OpenWay]:
        """Return the ways of meeting an emergency rule that only unknown findings now stand between.

        Each is a set of leaves of the rule that fail on the known findings but read some
        unknown finding of ``answerable``, such that the rule would hold if they all passed
        (:class:`pinchpoint.core.conditions.WayFinder`); it comes as those leaves' unknown
        answerable findings (one of which would have to be present), sorted. A way that needs
        more than another way of the same rule adds no warning sign (with age 70 already
        fragile bone, osteoporosis is not what stands between it and the rule), so only the
        least ways are kept, in sorted order, rule by rule.

        Args:
            findings: The known findings.
            answerable: The findings that may still be answered (all when omitted).
            standing: The case's :meth:`standing` with these ``answerable``, when already read.
        """
        positions = self._emergency_positions
        ways = self._finder.open_ways(findings, answerable, positions, standing)
        rules = self.rules
        return [
            (rules[position], way) for position, found in zip(positions, ways, strict=True) for way in found
        ]

    def open_key(
        self, findings: Findings, answerable: frozenset[str] | None = None, standing: Standing | None = None
    ) -> Hashable:
        """All that :meth:`open_emergency_ways` reads of a case (:meth:`WayFinder.open_key`).

        Two cases with equal keys (read with the same ``answerable``) have the same open ways.
        """
        return self._finder.open_key(findings, answerable, standing)

    @cached_property
    def _emergency_positions(self) -> tuple[int, ...]:
        return tuple(position for position, rule in enumerate(self.rules) if rule.level >= Urgency.EMERGENCY)

    @cached_property
    def _finder(self) -> WayFinder:
        """Every rule's condition as terms over the rules' distinct leaves, each leaf tested once a case."""
        return WayFinder([rule.when for rule in self.rules])

    @cached_property
    def _by_finding(self) -> Mapping[str, tuple[FindingLeaf, ...]]:
        """The distinct leaves that read each finding, in the order the rules name them."""
        found: dict[str, list[FindingLeaf]] = {}
        for leaf in self.literals:
            for finding in leaf.ids:
                found.setdefault(finding, []).append(leaf)
        return {finding: tuple(leaves) for finding, leaves in found.items()}

    def test_of(self, finding: str, unknown: frozenset[str]) -> Callable[[object], bool]:
        """The test of the first leaf that reads ``finding`` and all of ``unknown`` (to word a sign)."""
        for leaf in self._by_finding.get(finding, ()):
            if unknown <= leaf.id_set:
                return leaf.test
        return _never

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
    signs = knowledge.unanswered
    # One reading of every leaf per case serves the rules and the open warning signs alike.
    standings = [rules.standing(findings, signs.answerable) for findings in cases]
    fired = [rules.evaluate(findings, standing) for findings, standing in zip(cases, standings, strict=True)]
    if recorded is not None:
        fired = recorded_floors(fired, recorded, knowledge)
    floor = _Floor(signs)
    return [
        _decision(rules, findings, level, reasons, causes, floor=floor, standing=standing)
        for findings, (level, reasons), causes, standing in zip(
            cases, fired, cause_probabilities, standings, strict=True
        )
    ]


def _decision(
    rules: TriageRules,
    findings: Findings,
    level: Urgency,
    reasons: tuple[TriageReason, ...],
    cause_probabilities: Mapping[str, float],
    *,
    floor: _Floor,
    standing: Standing,
) -> Decision:
    care = rules.care_reason(cause_probabilities)
    if care is not None and care.level > level:
        level, reasons = care.level, (*reasons, care)
    if level >= Urgency.EMERGENCY:
        return Decision(level, reasons, ())
    return floor.decide(findings, level, reasons, standing)


class _Floor:
    """:meth:`UnansweredSigns.decide` for the cases of one batch, each distinct reading decided once.

    The open emergency ways read only what :meth:`TriageRules.open_key` holds of a case, and the
    floor only those ways, whether its screen applies, the level and the reasons; cases alike in
    all of these (records that differ in what no triage rule reads) share one decision. Both are
    remembered for one batch only, so nothing is kept between callers.
    """

    def __init__(self, signs: UnansweredSigns) -> None:
        self.signs = signs
        self._ways: dict[Hashable, list[OpenWay]] = {}
        self._decided: dict[Hashable, Decision] = {}

    def decide(
        self, findings: Findings, level: Urgency, reasons: tuple[TriageReason, ...], standing: Standing
    ) -> Decision:
        """The floor's decision on one case (``standing`` with :attr:`UnansweredSigns.answerable`)."""
        signs = self.signs
        reading = signs.rules.open_key(findings, signs.answerable, standing)
        key = (reading, signs.screen_applies.holds(findings), level, reasons)
        decision = self._decided.get(key)
        if decision is None:
            ways = self._ways.get(reading)
            if ways is None:
                ways = self._ways[reading] = signs.rules.open_emergency_ways(
                    findings, signs.answerable, standing
                )
            decision = self._decided[key] = signs.decide(findings, level, reasons, standing, ways)
        return decision


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
        self.screen_applies = rules.condition(policy.screen_when)
        self.answerable = frozenset(
            finding for q in bank.questions.values() if not q.needs_examiner for finding in q.findings
        )
        self._worded: dict[tuple[frozenset[str], str], str] = {}
        """Each leaf's unknown findings in words, per audience, as met so far (a cache)."""

    def unanswered(self, findings: Findings) -> tuple[str, ...]:
        """Return the open warning signs: unknown findings a person can answer that could fire one."""
        return _signs_of(self.rules.open_emergency_ways(findings, self.answerable))

    def decide(
        self,
        findings: Findings,
        level: Urgency,
        reasons: tuple[TriageReason, ...],
        standing: Standing | None = None,
        ways: Sequence[OpenWay] | None = None,
    ) -> Decision:
        """Apply the floor to a level below emergency; word the signs that hold it there.

        ``standing`` is the case's :meth:`TriageRules.standing` with :attr:`answerable`, and
        ``ways`` its :meth:`TriageRules.open_emergency_ways` with them, when already known.
        """
        terms = self.rules.open_emergency_ways(findings, self.answerable, standing) if ways is None else ways
        if not terms:
            return Decision(level, reasons, ())
        unanswered = _signs_of(terms)
        # Many ways share a leaf (one sign opens several rules): each distinct leaf is worded
        # once, in the order first met, which is the order the words would be listed in anyway.
        alone = list(dict.fromkeys(unmet[0] for _, unmet in terms if len(unmet) == 1))
        combined = list(dict.fromkeys(leaf for _, unmet in terms if len(unmet) > 1 for leaf in unmet))
        policy = self.policy
        patient_alone = self._words(alone, "patient")
        patient_combined = [w for w in self._words(combined, "patient") if w not in patient_alone]
        warnings: list[str] = []
        if patient_alone:
            warnings.append(policy.emergency_if.patient.format(signs=_listed(patient_alone)))
        if patient_combined:
            warnings.append(policy.also_unanswered.patient.format(signs=_listed(patient_combined)))
        if level >= self.floor:
            return Decision(level, reasons, tuple(warnings), unanswered)
        screen = self.screen
        screened = [leaf for leaf in (*alone, *combined) if leaf & screen]
        if screened and self.screen_applies.holds(findings):
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
        worded = self._worded
        for leaf in leaves:
            text = worded.get((leaf, audience))
            if text is None:
                text = worded[leaf, audience] = " or ".join(
                    dict.fromkeys(self._finding_words(f, leaf, audience) for f in sorted(leaf))
                )
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
        test = self.rules.test_of(finding, leaf)
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


def _signs_of(terms: Sequence[tuple[CompiledRule, tuple[frozenset[str], ...]]]) -> tuple[str, ...]:
    """The findings of the open ways' leaves, each once, in the order first met.

    Each distinct leaf is spelled out once (a leaf met again adds no finding not already met).
    """
    leaves = dict.fromkeys(leaf for _, unmet in terms for leaf in unmet)
    return tuple(dict.fromkeys(f for leaf in leaves for f in (leaf if len(leaf) == 1 else sorted(leaf))))


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
    """Compile the rules of triage.yaml into condition trees (:mod:`pinchpoint.core.conditions`).

    Args:
        table: The validated triage table.
        vocabulary: The vocabulary whose finding ids the conditions name.
        cause_care: The level of care each cause needs once suspected (causes.yaml).
    """
    compiler = Compiler(vocabulary, table.definitions)
    rules = []
    for rule in table.rules:
        when = compiler.compile(rule.when)
        rules.append(
            CompiledRule(
                id=rule.id,
                level=Urgency.from_id(rule.level),
                when=when,
                findings=when.findings(),
                qualifiers=when.findings(unless=True),
                flags=when.findings(unless=False),
                causes=tuple(rule.causes),
                patient=rule.patient,
                clinician=rule.clinician,
                source=rule.source,
            )
        )
    leaves = [leaf for rule in rules for leaf in rule.when.finding_leaves()]
    return TriageRules(
        tuple(rules),
        table.cause_care,
        cause_care,
        vocabulary,
        literals=tuple(dict.fromkeys(leaves)),
        plain=frozenset(leaf for leaf in leaves if not leaf.unless),
        unless=frozenset(leaf for leaf in leaves if leaf.unless),
        compiler=compiler,
    )
