"""Hypothesis strategies for findings, cases and red flags, for the safety properties.

``findings()`` draws valid findings mappings over the packaged vocabulary, ``cases()``
wraps them in checked :class:`~pinchpoint.core.case.Case` objects, and ``red_flags()`` draws
a triage rule of level soon or above together with findings that make it fire.

Red flags are derived, never typed here: for each rule, a witness is built by walking the
rule's condition tree in ``triage.yaml`` (``all`` satisfies every child, ``any`` draws one,
a leaf draws a value that passes its test on one matching finding id, ``side: both`` one on
each side, an ``unless_known_otherwise`` leaf may also stay unknown), and the findings of
every development case that fires the rule, restricted to the ids the rule tests, are mixed
in as seeds. Every draw is checked with the compiled rule
itself, so a witness that the condition language reads differently from the strategy is
discarded rather than trusted (and ``test_strategy_reads_conditions_as_the_compiler_does``
checks that they agree).

The knowledge base is loaded lazily (``st.deferred``), on the first draw, not at import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from types import MappingProxyType
from typing import cast

from hypothesis import strategies as st

from pinchpoint.core import conditions as c
from pinchpoint.core.case import Case, FindingValue, parse_case
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.triage import CompiledRule
from pinchpoint.core.vocabulary import FindingSpec, Urgency, Vocabulary
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.corpus import SHARED_CASES

__all__ = [
    "MAX_FINDINGS",
    "RedFlag",
    "cases",
    "condition_findings",
    "development_cases",
    "finding_value",
    "findings",
    "flags_for",
    "red_flag_rules",
    "red_flags",
    "rule_seeds",
    "rule_witnesses",
]

MAX_FINDINGS = 40
"""At most this many findings per generated case, to keep the properties fast."""

_MAX_EXTRA_REGIONS = 6
_UNBOUNDED_SPAN = 10_000  # an int without a maximum (duration_days) is drawn up to min + this

Findings = dict[str, FindingValue]
RedFlag = tuple[CompiledRule, Findings]
"""A rule of level soon or above and findings that make it fire."""


def _knowledge() -> Knowledge:
    return load_knowledge()


# --- findings and cases ---------------------------------------------------------------------------


def finding_value(spec: FindingSpec, vocabulary: Vocabulary) -> st.SearchStrategy[FindingValue]:
    """Return a strategy of valid values for one concrete finding."""
    if spec.type == "bool":
        return st.booleans()
    if spec.type == "enum":
        return st.sampled_from(spec.values)
    if spec.type == "regions":
        regions = sorted(vocabulary.region_ids)
        return st.lists(st.sampled_from(regions), unique=True, max_size=_MAX_EXTRA_REGIONS).map(tuple)
    low = spec.minimum if spec.minimum is not None else 0.0
    high = spec.maximum if spec.maximum is not None else low + _UNBOUNDED_SPAN
    return _numbers(spec, low, high)


def _numbers(spec: FindingSpec, low: float, high: float) -> st.SearchStrategy[FindingValue]:
    """Values of an int or number finding in [low, high] (ints for int findings, both for numbers)."""
    int_low, int_high = math.ceil(low), math.floor(high)
    integers: st.SearchStrategy[FindingValue] = (
        st.integers(int_low, int_high) if int_low <= int_high else st.nothing()
    )
    if spec.type == "int":
        return integers
    if low > high:
        return st.nothing()
    return integers | st.floats(low, high, allow_nan=False, allow_infinity=False)


def findings(max_size: int = MAX_FINDINGS) -> st.SearchStrategy[Findings]:
    """Return a strategy of valid findings mappings: a random subset of ids, each with a valid value."""

    def build() -> st.SearchStrategy[Findings]:
        vocabulary = _knowledge().vocabulary
        ids = sorted(vocabulary.findings)
        return st.lists(st.sampled_from(ids), unique=True, max_size=max_size).flatmap(
            lambda chosen: st.fixed_dictionaries(
                {finding: finding_value(vocabulary.findings[finding], vocabulary) for finding in chosen}
            )
        )

    return st.deferred(build)


def cases(max_size: int = MAX_FINDINGS) -> st.SearchStrategy[Case]:
    """Return a strategy of cases (id ``generated``) checked by :func:`~pinchpoint.core.case.parse_case`."""
    return findings(max_size).map(
        lambda drawn: parse_case({"id": "generated", "findings": drawn}, _knowledge().vocabulary)
    )


# --- red flags ------------------------------------------------------------------------------------


def red_flag_rules() -> tuple[CompiledRule, ...]:
    """Return the compiled triage rules of level soon or above."""
    return tuple(rule for rule in _knowledge().triage.rules if rule.level >= Urgency.SOON)


@cache
def development_cases() -> tuple[Case, ...]:
    """Return the development cases of ``../shared/cases``, or none when the folder is absent."""
    if not SHARED_CASES.is_dir():
        return ()
    return tuple(read_cases(SHARED_CASES, _knowledge().vocabulary))


def rule_seeds(rule: CompiledRule) -> list[Findings]:
    """Return, for each development case that fires ``rule``, a least set of its findings that still fires it.

    The case's findings are restricted to the ids the rule tests, then each is dropped in
    turn if the rule still fires without it, so that a seed holds red flags only and not,
    say, the normal reflexes the case also records.
    """
    seeds = []
    for case in development_cases():
        if not rule.holds(case.findings):
            continue
        seed = {key: value for key, value in case.findings.items() if key in rule.findings}
        for key in sorted(seed):
            without = {other: value for other, value in seed.items() if other != key}
            if rule.holds(MappingProxyType(without)):
                seed = without
        if seed not in seeds:
            seeds.append(seed)
    return seeds


def red_flags() -> st.SearchStrategy[RedFlag]:
    """Return a strategy of (rule, findings that fire it), over every rule of level soon or above."""

    def build() -> st.SearchStrategy[RedFlag]:
        return st.sampled_from(red_flag_rules()).flatmap(
            lambda rule: st.tuples(st.just(rule), _flag_findings(rule))
        )

    return st.deferred(build)


def flags_for(rule: CompiledRule) -> st.SearchStrategy[Findings]:
    """Return a strategy of findings that make ``rule`` fire (seeds and witnesses, checked)."""
    return _flag_findings(rule)


def _flag_findings(rule: CompiledRule) -> st.SearchStrategy[Findings]:
    seeds = rule_seeds(rule)
    witnesses = rule_witnesses(rule)
    drawn = st.sampled_from(seeds) | witnesses if seeds else witnesses
    return drawn.filter(lambda flag: rule.holds(MappingProxyType(flag)))


def rule_witnesses(rule: CompiledRule) -> st.SearchStrategy[Findings]:
    """Return a strategy of findings derived from ``rule``'s compiled condition (not yet checked to fire)."""
    return _Deriver(_knowledge().vocabulary).satisfy(rule.when)


def condition_findings(rule: CompiledRule) -> frozenset[str]:
    """Return the concrete finding ids that ``rule``'s leaves test."""
    return rule.when.findings()


class _Deriver:
    """Derive satisfying findings from a compiled condition (:mod:`pinchpoint.core.conditions`)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    def satisfy(self, node: c.Node) -> st.SearchStrategy[Findings]:
        if isinstance(node, c.Ref):
            return self.satisfy(node.body)
        if isinstance(node, c.All):
            return st.tuples(*(self.satisfy(part) for part in node.parts)).map(_merge)
        if isinstance(node, c.Any):
            return st.one_of(*(self.satisfy(part) for part in node.parts))
        if not isinstance(node, c.FindingLeaf):
            raise TypeError(f"a triage condition holds only all, any, ref and finding leaves, not {node!r}")
        passing = self._one_of_specs([self.vocabulary.findings[f] for f in node.ids], node.test)
        if node.unless:
            # Unknown satisfies the leaf too, and is what a red flag leaves it.
            return st.just({}) | passing
        return passing

    def _one_of_specs(self, specs: list[FindingSpec], test: c.Test) -> st.SearchStrategy[Findings]:
        if not specs:
            return st.nothing()
        return st.sampled_from(specs).flatmap(
            lambda spec: self._passing(spec, test).map(lambda value: {spec.id: value})
        )

    def _passing(self, spec: FindingSpec, test: c.Test) -> st.SearchStrategy[FindingValue]:
        """Values of ``spec`` that pass the leaf's test (nothing when the test cannot pass)."""
        if isinstance(test, c.Is):
            return st.just(cast(FindingValue, test.expected))
        if isinstance(test, c.AtLeast | c.AtMost):
            if spec.type not in {"int", "number"}:
                return st.nothing()
            low = spec.minimum if spec.minimum is not None else -float(_UNBOUNDED_SPAN)
            high = spec.maximum if spec.maximum is not None else low + _UNBOUNDED_SPAN
            if isinstance(test, c.AtLeast):
                low = max(low, test.bound)
            else:
                high = min(high, test.bound)
            return _numbers(spec, low, high)
        if spec.type != "regions":
            return st.nothing()
        return cast(st.SearchStrategy[FindingValue], self._passing_regions(test))

    def _passing_regions(self, test: c.Test) -> st.SearchStrategy[tuple[str, ...]]:
        everything = sorted(self.vocabulary.region_ids)
        extra = st.lists(st.sampled_from(everything), max_size=_MAX_EXTRA_REGIONS)
        if isinstance(test, c.NotEmpty):
            return st.tuples(st.sampled_from(everything), extra).map(lambda t: _regions([t[0], *t[1]]))
        if isinstance(test, c.IncludesAny):
            wanted = self._region_ids(test.regions)
            return st.tuples(st.sampled_from(wanted), extra).map(lambda t: _regions([t[0], *t[1]]))
        if isinstance(test, c.OneSideWithin):
            within = self._region_ids(test.regions)
            one_side = st.sampled_from(self.vocabulary.sides).flatmap(
                lambda side: st.lists(
                    st.sampled_from([r for r in within if r.endswith(f".{side}")]), min_size=1, max_size=3
                )
            )
            return one_side.map(_regions)
        if not isinstance(test, c.BothSidesAny):
            return st.nothing()
        wanted_both = self._region_ids(test.regions)
        per_side = [
            st.sampled_from([region for region in wanted_both if region.endswith(f".{side}")])
            for side in self.vocabulary.sides
        ]
        return st.tuples(st.tuples(*per_side), extra).map(lambda t: _regions([*t[0], *t[1]]))

    def _region_ids(self, bases: Sequence[str]) -> list[str]:
        return sorted(region for base in bases for region in self.vocabulary.sides_of(base))


def _regions(regions: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(regions))


def _merge(parts: tuple[Findings, ...]) -> Findings:
    """Merge the findings of an ``all``: region lists are united, other values are last-wins."""
    merged: Findings = {}
    for part in parts:
        for key, value in part.items():
            previous = merged.get(key)
            if isinstance(previous, tuple) and isinstance(value, tuple):
                merged[key] = _regions([*previous, *value])
            else:
                merged[key] = value
    return merged
