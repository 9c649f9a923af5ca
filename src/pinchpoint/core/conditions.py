"""One condition engine for every rule table: a typed tree, printable leaf tests, three deciders.

The triage rules (triage.yaml), the plan (advice.yaml, investigations.yaml), the imaging
decision (imaging.yaml) and the interview's red-flag screen all state conditions in one
language: leaves combined with ``all``, ``any``, ``ref`` and, in the plan tables only,
``not``. :class:`Compiler` turns a validated condition of the schema into a tree of
:class:`Node` once, when the knowledge is built:

* :class:`All`, :class:`Any`, :class:`Not` and :class:`Ref` (a named definition, kept so
  that the tree prints with the name the table gave it);
* :class:`FindingLeaf`: a frozen test (:class:`Is`, :class:`AtLeast`, :class:`AtMost`,
  :class:`IncludesAny`, :class:`NotEmpty`, :class:`BothSidesAny`, :class:`OneSideWithin`)
  applied to the findings a pattern names; with ``unless_known_otherwise`` it also holds
  while all of them are unknown;
* plan leaves on the assessment: :class:`Unknown`, :class:`Level`, :class:`Fired` and
  :class:`Probability`.

Every node answers three questions, each decided over the same tree:

* :meth:`Node.holds`: does it hold on the known findings (and, for plan leaves, on the
  assessment)? An unknown finding fails a plain leaf and holds an ``unless_known_otherwise``
  leaf, so the triage never rises when a warning sign is taken away.
* :meth:`Node.value`: in four values (:data:`FALSE`, :data:`MAYBE`, :data:`ASK`,
  :data:`TRUE`), could it still come to hold if findings that may still be asked (or that
  were answered "don't know") turned out to pass? The interview's screen reads rules this way.
* the open ways (:class:`WayFinder`): which sets of unmet leaves, each reading some unknown
  finding that may still be answered, would make it hold? The unanswered-warning-sign floor
  of the triage reads emergency rules this way. The tree is turned once into its terms
  (:meth:`Node.terms`, the disjunctive normal form) held as bit masks over the distinct
  leaves, and a rule that is ``all`` of parts also as its parts' terms, so a case costs one
  test per leaf it states and a few integer operations per term: walking the tree for every
  case was half the time of a batch assessment.

The triage decides ``holds`` for all its rules on the same masks (:meth:`WayFinder.holding`):
each leaf is tested once a case, and that reading also gives the open ways. A matrix form of
all conditions is not kept: measured on the development cases, one case at a time it was
slower than walking the tree, and in a batch it saved about 3% of an assessment.

This is a core module: it reads no files and imports no adapter.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from pinchpoint.core.vocabulary import FindingSpec, Urgency, Vocabulary

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.knowledge import schema as s

__all__ = [
    "ASK",
    "FALSE",
    "MAYBE",
    "TRUE",
    "All",
    "Any",
    "AtLeast",
    "AtMost",
    "BothSidesAny",
    "Compiler",
    "Facts",
    "FindingLeaf",
    "Fired",
    "IncludesAny",
    "Is",
    "Level",
    "Node",
    "Not",
    "NotEmpty",
    "OneSideWithin",
    "Probability",
    "Ref",
    "SignWay",
    "Standing",
    "Test",
    "Unknown",
    "Way",
    "WayFinder",
    "bits_of",
    "least_masks",
    "matching_findings",
    "matching_specs",
]

Findings = Mapping[str, "FindingValue"]

FALSE, MAYBE, ASK, TRUE = 0, 1, 2, 3
"""Four values, ordered: ruled out; may hold only through an answer that will not be asked again
("don't know"); may hold once a question still to ask is answered; holds."""


# --- leaf tests: what a leaf asks of one known value -----------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _region_base(region: str) -> str:
    return region.split(".", maxsplit=1)[0]


@dataclass(frozen=True, slots=True)
class Is:
    """The value is ``expected`` (of the same type: ``True`` is not ``"true"``)."""

    expected: bool | str

    def __call__(self, value: object) -> bool:
        """Whether one known value passes."""
        return value == self.expected and type(value) is type(self.expected)

    def describe(self) -> str:
        """The test in words."""
        return f"is {_word(self.expected)}"

    def __repr__(self) -> str:
        return f"Is({self.expected!r})"


@dataclass(frozen=True, slots=True)
class AtLeast:
    """The value is a number of at least ``bound``."""

    bound: float

    def __call__(self, value: object) -> bool:
        """Whether one known value passes."""
        return _is_number(value) and value >= self.bound  # type: ignore[operator]

    def describe(self) -> str:
        """The test in words."""
        return f"at least {self.bound:g}"

    def __repr__(self) -> str:
        return f"AtLeast({self.bound:g})"


@dataclass(frozen=True, slots=True)
class AtMost:
    """The value is a number of at most ``bound``."""

    bound: float

    def __call__(self, value: object) -> bool:
        """Whether one known value passes."""
        return _is_number(value) and value <= self.bound  # type: ignore[operator]

    def describe(self) -> str:
        """The test in words."""
        return f"at most {self.bound:g}"

    def __repr__(self) -> str:
        return f"AtMost({self.bound:g})"


@dataclass(frozen=True, slots=True)
class _RegionTest:
    """A test of a list of regions against some region bases (``regions``, either side)."""

    regions: tuple[str, ...]
    wanted: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wanted", frozenset(self.regions))


@dataclass(frozen=True, slots=True)
class IncludesAny(_RegionTest):
    """The value is a list of regions holding one of ``regions`` (either side)."""

    def __call__(self, value: object) -> bool:
        """Whether one known value passes."""
        wanted = self.wanted
        return isinstance(value, tuple) and any(_region_base(r) in wanted for r in value)

    def describe(self) -> str:
        """The test in words."""
        return f"includes any of {', '.join(self.regions)}"

    def __repr__(self) -> str:
        return f"IncludesAny({self.regions!r})"


@dataclass(frozen=True, slots=True)
class NotEmpty:
    """The value is a list of regions holding at least one."""

    def __call__(self, value: object) -> bool:
        """Whether one known value passes."""
        return isinstance(value, tuple) and len(value) > 0

    def describe(self) -> str:
        """The test in words."""
        return "is not empty"

    def __repr__(self) -> str:
        return "NotEmpty()"


@dataclass(frozen=True, slots=True)
class BothSidesAny(_RegionTest):
    """The value is a list of regions holding one of ``regions`` on each of two sides."""

    def __call__(self, value: object) -> bool:
        """Whether one known value passes."""
        if not isinstance(value, tuple):
            return False
        sides = {r.split(".")[1] for r in value if "." in r and _region_base(r) in self.wanted}
        return len(sides) >= 2

    def describe(self) -> str:
        """The test in words."""
        return f"includes on both sides any of {', '.join(self.regions)}"

    def __repr__(self) -> str:
        return f"BothSidesAny({self.regions!r})"


@dataclass(frozen=True, slots=True)
class OneSideWithin(_RegionTest):
    """The value is a list of regions, all among ``regions`` and all on one side (a one-sided pain)."""

    def __call__(self, value: object) -> bool:
        """Whether one known value passes."""
        if not isinstance(value, tuple) or not value:
            return False
        if any("." not in r or _region_base(r) not in self.wanted for r in value):
            return False
        return len({r.split(".")[1] for r in value}) == 1

    def describe(self) -> str:
        """The test in words."""
        return f"only on one side, within {', '.join(self.regions)}"

    def __repr__(self) -> str:
        return f"OneSideWithin({self.regions!r})"


Test = Is | AtLeast | AtMost | IncludesAny | NotEmpty | BothSidesAny | OneSideWithin
"""A frozen test of one known value: callable, comparable, printable."""


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- what plan leaves read of an assessment --------------------------------------------------------


class Facts(Protocol):
    """What the plan's assessment leaves read: the level, the fired rules, the probabilities.

    ``probabilities`` are the model's causes, then its concrete sites (the columns a
    :class:`Probability` leaf sums); ``memo`` keeps each definition's truth for one assessment.
    """

    @property
    def level(self) -> Urgency:
        """The triage level."""
        ...

    @property
    def rules(self) -> frozenset[str]:
        """The triage rules that fired."""
        ...

    @property
    def probabilities(self) -> Sequence[float]:
        """The causes, then the concrete sites."""
        ...

    @property
    def memo(self) -> dict[str, bool]:
        """The truth of each definition met so far."""
        ...


Way = frozenset["FindingLeaf"]
"""The unmet leaves that would all have to pass for a condition to hold (see :class:`WayFinder`)."""

_NONE: Way = frozenset()

SHUT, OPEN, PASSES = 0, 1, 2
"""Where a leaf stands on a case (:meth:`FindingLeaf.standing`): fails with nothing left to ask;
fails, but reads an unknown finding that may still be answered; holds."""


# --- the tree ---------------------------------------------------------------------------------------


class Node:
    """A compiled condition."""

    __slots__ = ()

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """Whether the condition holds on the known findings (and the assessment, for plan leaves)."""
        raise NotImplementedError

    def value(self, findings: Findings, open_ids: frozenset[str], maybe_ids: frozenset[str]) -> int:
        """The condition in four values (module docstring), for findings that may still be answered.

        Args:
            findings: The known findings.
            open_ids: Unknown findings that may still be asked.
            maybe_ids: Unknown findings that will not be asked again but may be present.
        """
        raise NotImplementedError

    def terms(self, definitions: dict[str, set[Way]]) -> set[Way]:
        """The condition as its terms: sets of leaves, each of which makes it hold when all its leaves pass.

        This is the disjunctive normal form; a term that holds another term is dropped, since
        whenever it could be met the smaller one could be met with fewer leaves. Only
        conditions without ``not`` and without assessment leaves (triage conditions) have
        terms.

        Args:
            definitions: The terms of each definition met so far, by name (filled as it goes;
                a definition named by several rules is expanded once).
        """
        raise TypeError(f"{type(self).__name__} has no terms: only triage conditions do")

    def children(self) -> tuple[Node, ...]:
        """The nodes this one combines (a definition's body for :class:`Ref`)."""
        return ()

    def describe(self) -> str:
        """The condition in words, as the tables state it."""
        raise NotImplementedError

    def leaves(self) -> Iterator[Node]:
        """Every leaf, depth first in the order the table writes them (definitions expanded)."""
        kids = self.children()
        if not kids:
            yield self
            return
        for child in kids:
            yield from child.leaves()

    def finding_leaves(self) -> Iterator[FindingLeaf]:
        """Every finding leaf, depth first (definitions expanded)."""
        for leaf in self.leaves():
            if isinstance(leaf, FindingLeaf):
                yield leaf

    def findings(self, *, unless: bool | None = None) -> frozenset[str]:
        """The findings the condition reads; with ``unless``, only through (non-)qualifier leaves."""
        return frozenset(
            f for leaf in self.finding_leaves() if unless is None or leaf.unless == unless for f in leaf.ids
        )

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True, slots=True, eq=False)
class FindingLeaf(Node):
    """``test`` passes for some known finding of ``ids`` (or, ``unless``, none of them is known).

    Two leaves with the same findings and the same test are equal: they are one literal,
    whether or not they are qualifiers, which :meth:`Node.terms` relies on.
    """

    pattern: str
    ids: tuple[str, ...]
    test: Test
    unless: bool = False
    id_set: frozenset[str] = field(init=False, repr=False)
    only: str | None = field(init=False, repr=False)
    hashed: int = field(init=False, repr=False)
    alone: Way = field(init=False, repr=False)
    """The way that needs only this leaf."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "id_set", frozenset(self.ids))
        object.__setattr__(self, "only", self.ids[0] if len(self.ids) == 1 else None)
        object.__setattr__(self, "hashed", hash((self.id_set, self.test)))
        object.__setattr__(self, "alone", frozenset((self,)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FindingLeaf) and (self.id_set, self.test) == (other.id_set, other.test)

    def __hash__(self) -> int:
        return self.hashed

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        only = self.only
        if only is not None:
            value = findings.get(only)
            return self.unless if value is None else self.test(value)
        # A pattern such as exam.power.* names dozens of ids; a case states a few findings,
        # so intersecting with the case's keys visits only those.
        known = self.id_set.intersection(findings)
        if not known:
            return self.unless
        test = self.test
        for finding in known:  # noqa: SIM110 (hot path: a generator costs more than the test)
            if test(findings[finding]):
                return True
        return False

    def value(self, findings: Findings, open_ids: frozenset[str], maybe_ids: frozenset[str]) -> int:
        """True if a known finding passes; else "ask" while one may be asked; else ...

        ... an ``unless`` leaf whose findings are all unknown holds; else "maybe" while a
        "don't know" may be present; else false.
        """
        result = FALSE
        known = False
        for finding in self.ids:
            value = findings.get(finding)
            if value is not None:
                if self.test(value):
                    return TRUE
                known = True
            elif finding in open_ids:
                result = ASK
            elif finding in maybe_ids and result == FALSE:
                result = MAYBE
        if result != ASK and self.unless and not known:
            return TRUE
        return result

    def terms(self, definitions: dict[str, set[Way]]) -> set[Way]:
        """See :meth:`Node.terms`."""
        return {self.alone}

    def standing(self, findings: Findings, openable: frozenset[str]) -> int:
        """Where the leaf stands on the case: :data:`PASSES`, :data:`OPEN` or :data:`SHUT`.

        It is open while it fails but a finding of ``openable`` is unknown.
        """
        only = self.only
        if only is not None:
            value = findings.get(only)
            if value is None:
                return PASSES if self.unless else OPEN if openable else SHUT
            return PASSES if self.test(value) else SHUT
        known = self.id_set.intersection(findings)
        test = self.test
        for finding in known:
            if test(findings[finding]):
                return PASSES
        if self.unless and not known:
            return PASSES
        return SHUT if openable.issubset(known) else OPEN

    def unknown(self, findings: Findings, answerable: frozenset[str] | None) -> frozenset[str]:
        """The findings of the leaf that are unknown and may be answered (all when ``answerable`` is None)."""
        return frozenset(f for f in self.ids if f not in findings and (answerable is None or f in answerable))

    def describe(self) -> str:
        """The test in words."""
        text = f"{self.pattern} {self.test.describe()}"
        return f"{text} (or unknown)" if self.unless else text

    def __repr__(self) -> str:
        unless = ", unless_known_otherwise" if self.unless else ""
        return f"FindingLeaf({self.pattern!r}, {self.test!r}{unless})"


@dataclass(frozen=True, slots=True)
class Unknown(Node):
    """None of the findings of ``ids`` is known (plan tables: ``unknown: true``)."""

    pattern: str
    ids: tuple[str, ...]

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        for finding in self.ids:  # noqa: SIM110 (hot path)
            if finding in findings:
                return False
        return True

    def describe(self) -> str:
        """The test in words."""
        return f"{self.pattern} is unknown"


@dataclass(frozen=True, slots=True)
class Level(Node):
    """The triage level is one of ``levels`` (plan tables: ``triage``, ``triage_at_least``, ...)."""

    levels: frozenset[Urgency]

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        return facts is not None and facts.level in self.levels

    def describe(self) -> str:
        """The test in words."""
        return "triage is " + " or ".join(level.id for level in sorted(self.levels))


@dataclass(frozen=True, slots=True)
class Fired(Node):
    """One of the triage rules ``rules`` fired (plan tables: ``rule``)."""

    rules: frozenset[str]

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        return facts is not None and not self.rules.isdisjoint(facts.rules)

    def describe(self) -> str:
        """The test in words."""
        return "triage rule " + " or ".join(sorted(self.rules)) + " fired"


@dataclass(frozen=True, slots=True)
class Probability(Node):
    """The probability that the cause, site or kind of site is one of ``names`` reaches ``threshold``.

    ``columns`` are the positions of those causes or concrete sites in :attr:`Facts.probabilities`
    (the hypotheses exclude each other, so their probabilities add).
    """

    reads: str
    names: tuple[str, ...]
    threshold: float
    columns: tuple[int, ...]

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        if facts is None:
            return False
        probabilities = facts.probabilities
        total = 0.0
        for column in self.columns:
            total += probabilities[column]
        return total >= self.threshold

    def describe(self) -> str:
        """The test in words."""
        return f"P({self.reads} in {', '.join(self.names)}) >= {self.threshold:g}"


@dataclass(frozen=True, slots=True)
class All(Node):
    """Every part holds."""

    parts: tuple[Node, ...]

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        for part in self.parts:  # noqa: SIM110 (hot path)
            if not part.holds(findings, facts):
                return False
        return True

    def value(self, findings: Findings, open_ids: frozenset[str], maybe_ids: frozenset[str]) -> int:
        """False if one part is, else "ask" if one needs asking, else "maybe" if one may hold."""
        lowest, ask = TRUE, False
        for part in self.parts:
            value = part.value(findings, open_ids, maybe_ids)
            if value == FALSE:
                return FALSE
            ask = ask or value == ASK
            lowest = min(lowest, value)
        return ASK if ask else lowest

    def terms(self, definitions: dict[str, set[Way]]) -> set[Way]:
        """See :meth:`Node.terms`."""
        combined = {_NONE}
        for part in self.parts:
            found = part.terms(definitions)
            combined = _least({a | b for a in combined for b in found})
        return combined

    def children(self) -> tuple[Node, ...]:
        """See :meth:`Node.children`."""
        return self.parts

    def describe(self) -> str:
        """The test in words."""
        return "(" + " and ".join(part.describe() for part in self.parts) + ")"


@dataclass(frozen=True, slots=True)
class Any(Node):
    """Some part holds."""

    parts: tuple[Node, ...]

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        for part in self.parts:  # noqa: SIM110 (hot path)
            if part.holds(findings, facts):
                return True
        return False

    def value(self, findings: Findings, open_ids: frozenset[str], maybe_ids: frozenset[str]) -> int:
        """See :meth:`Node.value`."""
        return max((part.value(findings, open_ids, maybe_ids) for part in self.parts), default=FALSE)

    def terms(self, definitions: dict[str, set[Way]]) -> set[Way]:
        """See :meth:`Node.terms`."""
        return _least(set().union(*(part.terms(definitions) for part in self.parts)))

    def children(self) -> tuple[Node, ...]:
        """See :meth:`Node.children`."""
        return self.parts

    def describe(self) -> str:
        """The test in words."""
        return "(" + " or ".join(part.describe() for part in self.parts) + ")"


@dataclass(frozen=True, slots=True)
class Not(Node):
    """The part fails (plan tables only: triage conditions have no negation)."""

    part: Node

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        return not self.part.holds(findings, facts)

    def children(self) -> tuple[Node, ...]:
        """See :meth:`Node.children`."""
        return (self.part,)

    def describe(self) -> str:
        """The test in words."""
        return f"not {self.part.describe()}"


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A named definition of the table; holds when its body does."""

    name: str
    body: Node

    def holds(self, findings: Findings, facts: Facts | None = None) -> bool:
        """See :meth:`Node.holds`."""
        if facts is None:
            return self.body.holds(findings)
        memo = facts.memo
        held = memo.get(self.name)
        if held is None:
            held = memo[self.name] = self.body.holds(findings, facts)
        return held

    def value(self, findings: Findings, open_ids: frozenset[str], maybe_ids: frozenset[str]) -> int:
        """See :meth:`Node.value`."""
        return self.body.value(findings, open_ids, maybe_ids)

    def terms(self, definitions: dict[str, set[Way]]) -> set[Way]:
        """See :meth:`Node.terms`."""
        found = definitions.get(self.name)
        if found is None:
            found = definitions[self.name] = self.body.terms(definitions)
        return found

    def children(self) -> tuple[Node, ...]:
        """See :meth:`Node.children`."""
        return (self.body,)

    def describe(self) -> str:
        """The test in words."""
        return self.name


def _least(ways: set[Way]) -> set[Way]:
    """The ways that contain no other way."""
    kept: list[Way] = []
    for way in sorted(ways, key=len):
        if not any(other <= way for other in kept):
            kept.append(way)
    return set(kept)


SignWay = tuple[frozenset[str], ...]
"""An open way as warning signs (:meth:`WayFinder.open_ways`): the unknown answerable findings of
each of its unmet leaves (one of which would have to be present), in sorted order."""

_Sign = tuple[float, frozenset[str]]
"""A warning sign: its rank among the signs in the order of their sorted findings, and its findings.

Ways sort by their signs' findings in sorted order; a number of the same order compares faster."""


class Standing(NamedTuple):
    """Where every leaf of a :class:`WayFinder` stands on one case, as masks over :attr:`WayFinder.leaves`."""

    passing: int
    """The leaves that hold."""
    open: int
    """The leaves that fail but read an unknown finding that may still be answered."""
    shut: int
    """The leaves that fail with nothing left to ask."""


class _Reader(NamedTuple):
    """Where the leaves of a :class:`WayFinder` stand before a case says anything, for one ``answerable``.

    A leaf stands the same whenever none of its findings is known (it passes when it reads
    ``unless_known_otherwise``, else it is open if one of them may be answered, else shut), so
    a case is tested only on the findings it knows, as :meth:`FindingLeaf.standing` would.
    """

    readers: Mapping[str, tuple[int, int, tuple[tuple[int, Test], ...]]]
    """Each finding the leaves read: the mask of the leaves of that finding alone, the mask of the
    leaves of several findings that read it, and each of those leaves' bit and test."""
    passing: int
    open: int
    shut: int
    """Where each leaf stands while none of its findings is known."""
    openable: Mapping[int, frozenset[str]]
    """The findings that may be answered of each leaf of several findings, by its bit."""
    multi: tuple[tuple[int, FindingLeaf, frozenset[str]], ...]
    """Each leaf of several findings: its bit, the leaf, and its findings that may be answered."""


class WayFinder:
    """The open ways of several triage conditions, decided together for one case.

    Each condition is held as its terms (:meth:`Node.terms`), each term a bit mask over the
    distinct leaves of all the conditions. :meth:`read` tests every leaf once; a term is still
    possible when none of its leaves is shut, and its way is its leaves that do not pass. A
    condition holds when some term has no such leaf.

    :meth:`open_ways` gives the least of those ways as warning signs without going through
    every term: a condition that is ``all`` of parts (its definitions opened) is also held as
    the terms of each part, and the parts' ways are multiplied only once each is read. "(An
    infective feature and a risk, or fever with spinal pain and an acute onset) and a
    neurological symptom" has hundreds of terms and its two parts a few tens. The least ways
    of the product are the least ways of the whole: every way of a pair of the parts' terms
    holds the way of some term of the whole, and that one is among the pairs.

    Args:
        conditions: The compiled conditions (finding leaves, ``all``, ``any`` and ``ref`` only).
    """

    def __init__(self, conditions: Sequence[Node]) -> None:
        positions: dict[FindingLeaf, int] = {}
        definitions: dict[str, set[Way]] = {}

        def masks(node: Node) -> tuple[int, ...]:
            found = []
            for term in node.terms(definitions):
                mask = 0
                for leaf in sorted(term, key=repr):
                    mask |= 1 << positions.setdefault(leaf, len(positions))
                found.append(mask)
            return tuple(sorted(found))

        self._terms: list[tuple[int, ...]] = [masks(condition) for condition in conditions]
        # The parts of fewest terms first: the first part that no answer can meet ends the reading.
        parts = [sorted((masks(part) for part in _parts(condition)), key=len) for condition in conditions]
        self.leaves: tuple[FindingLeaf, ...] = tuple(positions)
        first: dict[str, int] = {}
        for position, leaf in enumerate(self.leaves):
            if leaf.only is not None and not leaf.unless:
                first.setdefault(leaf.only, position)
        self._first = {finding: 1 << position for finding, position in first.items()}
        """The bit of the first plain leaf of each finding read alone: the one its warning sign is on."""
        self._merge = {
            1 << position: self._first[leaf.only]
            for position, leaf in enumerate(self.leaves)
            if leaf.only is not None and not leaf.unless and first[leaf.only] != position
        }
        """Every later plain leaf of such a finding, to the first: unknown, the two are one sign."""
        self._order = sorted((finding,) for finding in first)
        """The signs of the findings read alone, in order (a sign of several findings goes between)."""
        self._signs: dict[int, _Sign] = {
            self._first[finding]: (float(rank), frozenset((finding,)))
            for rank, (finding,) in enumerate(self._order)
        }
        """The sign of each first plain leaf of a finding read alone, by its bit."""
        self._parts = [
            tuple(tuple((term, self._merged(term)) for term in terms) for terms in factors)
            for factors in parts
        ]
        self._readers: dict[frozenset[str] | None, _Reader] = {}
        self._holding = [_holding(factors) for factors in parts]
        unless: dict[FindingLeaf, set[bool]] = {}
        for condition in conditions:
            for leaf in condition.finding_leaves():
                unless.setdefault(leaf, set()).add(leaf.unless)
        self.exact = all(len(kinds) == 1 for kinds in unless.values())
        """Whether :meth:`holding` decides as :meth:`Node.holds` does: no leaf is read both plainly and
        ``unless_known_otherwise`` (the terms hold such two as one literal)."""

    def read(self, findings: Findings, answerable: frozenset[str] | None) -> tuple[int, int]:
        """Where every leaf stands on the case: the masks of the leaves that pass and of those shut.

        Args:
            findings: The known findings.
            answerable: The findings that may still be answered (all when None).
        """
        passing, _, shut = self.stand(findings, answerable)
        return passing, shut

    def stand(self, findings: Findings, answerable: frozenset[str] | None) -> Standing:
        """Where every leaf stands on the case (which leaves pass does not depend on ``answerable``).

        Args:
            findings: The known findings.
            answerable: The findings that may still be answered (all when None).
        """
        return self._stand(findings, self._reader(answerable))

    def holding(self, passing: int) -> list[bool]:
        """Whether each condition holds, given the leaves that pass (:attr:`Standing.passing`).

        Each condition is ``all`` of its parts, a part holds when one of its terms passes whole,
        and the parts of one leaf (most of them) are tested together in one mask.
        """
        found = []
        for required, parts in self._holding:
            holds = passing & required == required
            if holds:
                for alone, terms in parts:
                    if not passing & alone and not any(passing & term == term for term in terms):
                        holds = False
                        break
            found.append(holds)
        return found

    def holds(self, position: int, reading: tuple[int, int]) -> bool:
        """Whether condition ``position`` holds on the case :meth:`read` read."""
        return 0 in self.unmet(position, reading)

    def ways(self, position: int, reading: tuple[int, int]) -> set[Way]:
        """Every way condition ``position`` could come to hold on the case :meth:`read` read.

        Each way is the set of a possible term's leaves that do not pass yet, each reading an
        unknown finding that may be answered; the empty way means it holds as it stands, no
        way at all that no answer could make it hold.
        """
        leaves = self.leaves
        return {frozenset(leaves[i] for i in bits_of(mask)) for mask in self.unmet(position, reading)}

    def unmet(self, position: int, reading: tuple[int, int]) -> set[int]:
        """:meth:`ways`, each way as the mask of its leaves' positions in :attr:`leaves`."""
        passing, shut = reading
        return {term & ~passing for term in self._terms[position] if not term & shut}

    def open_ways(
        self,
        findings: Findings,
        answerable: frozenset[str] | None,
        positions: Sequence[int] | None = None,
        standing: Standing | None = None,
    ) -> list[list[SignWay]]:
        """Each condition's least ways (:meth:`ways`) other than the empty one, as warning signs, sorted.

        A way becomes the unknown answerable findings of each of its leaves; leaves that read
        the same unknown findings (two tests of one finding) are one warning sign. A way that
        needs more signs than another way of the same condition adds no warning sign (with age
        70 already fragile bone, osteoporosis is not what stands between it and the rule), so
        only the least are kept.

        Args:
            findings: The known findings.
            answerable: The findings that may still be answered (all when None).
            positions: The conditions to read (all when None), in the order of the result.
            standing: The case's :meth:`stand` with these ``answerable``, when already known.
        """
        reader = self._reader(answerable)
        _, open_, shut = self._stand(findings, reader) if standing is None else standing
        signs, moves = self._open_signs(findings, reader, open_)
        found: list[list[SignWay]] = []
        for position in range(len(self._parts)) if positions is None else positions:
            ways = _part_ways(self._parts[position], open_, shut)
            if ways is None:  # it holds already: its other ways, from its whole terms
                ways = {self._merged(term & open_) for term in self._terms[position] if not term & shut}
                ways.discard(0)
            if not ways:
                found.append([])
                continue
            if moves:
                ways = {_moved(way, moves) for way in ways}
            found.append(_worded(least_masks(ways) if len(ways) > 1 else ways, signs))
        return found

    def open_key(
        self, findings: Findings, answerable: frozenset[str] | None, standing: Standing | None = None
    ) -> tuple[int, int, tuple[frozenset[str], ...]]:
        """All that :meth:`open_ways` reads of a case: two cases with equal keys have the same open ways.

        The ways are made from the leaves that are open and shut, and the signs of the open leaves
        of several findings from which of their answerable findings are unknown; nothing else of
        the case is read. A batch that meets many cases alike decides their ways once per key.

        Args:
            findings: The known findings.
            answerable: The findings that may still be answered (all when None); the key holds
                only among cases read with the same ``answerable``.
            standing: The case's :meth:`stand` with these ``answerable``, when already known.
        """
        reader = self._reader(answerable)
        _, open_, shut = self._stand(findings, reader) if standing is None else standing
        unknown = tuple(ids.difference(findings) for bit, _, ids in reader.multi if open_ & bit)
        return open_, shut, unknown

    def _stand(self, findings: Findings, reader: _Reader) -> Standing:
        """The masks of the leaves that pass, that are open and that are shut on the case."""
        readers = reader.readers
        known = touched = passed = 0
        for finding, value in findings.items():
            entry = readers.get(finding)
            if entry is None:
                continue
            alone, several, tests = entry
            touched |= several  # a leaf of several findings one of which is stated
            if value is None:  # as FindingLeaf reads it: unknown to a leaf of it alone
                continue
            known |= alone
            for bit, test in tests:
                if test(value):
                    passed |= bit
        unset = ~(known | touched)
        passing = (reader.passing & unset) | passed
        open_ = reader.open & unset
        shut = (reader.shut & unset) | (known & ~passed)
        failed = touched & ~passed
        while failed:  # a leaf of several findings, some stated, none passing: shut once all are
            bit = failed & -failed
            failed ^= bit
            if all(finding in findings for finding in reader.openable[bit]):
                shut |= bit
            else:
                open_ |= bit
        return Standing(passing, open_, shut)

    def _open_signs(
        self, findings: Findings, reader: _Reader, open_: int
    ) -> tuple[Mapping[int, _Sign], list[tuple[int, int]]]:
        """The warning sign of each bit a way can hold on the case, and the moves of leaves onto others.

        An open leaf of several findings whose unknown answerable findings are one finding read
        alone shares that finding's sign, and one whose unknown findings are those of an earlier
        such leaf shares that one's: it moves onto that leaf (:func:`_moved`). Any other is a
        sign of its own, ranked between the others by its findings in sorted order.
        """
        moves: list[tuple[int, int]] = []
        seen: dict[frozenset[str], int] = {}
        own: list[tuple[tuple[str, ...], int, frozenset[str]]] = []
        for bit, _, ids in reader.multi:
            if not open_ & bit:
                continue
            unknown = ids.difference(findings)  # FindingLeaf.unknown, on the leaf's answerable ids
            if len(unknown) == 1:
                (finding,) = unknown
                first = self._first.get(finding)  # a plain leaf of that finding alone: open too
                if first is not None:
                    moves.append((bit, first))
                    continue
            kept = seen.setdefault(unknown, bit)
            if kept != bit:
                moves.append((bit, kept))
            else:
                own.append((tuple(sorted(unknown)), bit, unknown))
        if not own:
            return self._signs, moves
        signs = dict(self._signs)
        for index, (words, bit, unknown) in enumerate(sorted(own)):
            # Before the sign of one finding it sorts before, after those of the signs of its own
            # kind that sort before it (fewer than a hundred, so the offsets stay below a half).
            signs[bit] = (bisect_left(self._order, words) - 0.5 + index / 256, unknown)
        return signs, moves

    def _merged(self, mask: int) -> int:
        """``mask`` with each later plain leaf of a finding read alone moved to the first one."""
        for bit, first in self._merge.items():
            if mask & bit:
                mask = (mask & ~bit) | first
        return mask

    def _reader(self, answerable: frozenset[str] | None) -> _Reader:
        reader = self._readers.get(answerable)
        if reader is None:
            reader = self._readers[answerable] = self._new_reader(answerable)
        return reader

    def _new_reader(self, answerable: frozenset[str] | None) -> _Reader:
        readers: dict[str, tuple[int, int, tuple[tuple[int, Test], ...]]] = {}
        openable: dict[int, frozenset[str]] = {}
        passing = open_ = shut = 0
        for position, leaf in enumerate(self.leaves):
            bit = 1 << position
            ids = leaf.id_set if answerable is None else leaf.id_set & answerable
            if leaf.only is None:
                openable[bit] = ids
            for finding in leaf.ids:
                alone, several, tests = readers.get(finding, (0, 0, ()))
                if leaf.only is None:
                    several |= bit
                else:
                    alone |= bit
                readers[finding] = (alone, several, (*tests, (bit, leaf.test)))
            if leaf.unless:
                passing |= bit
            elif ids:
                open_ |= bit
            else:
                shut |= bit
        multi = tuple((bit, self.leaves[bit.bit_length() - 1], ids) for bit, ids in openable.items())
        return _Reader(readers, passing, open_, shut, openable, multi)


def _parts(condition: Node) -> list[Node]:
    """The parts that must all hold for ``condition`` to hold (itself alone when it is no ``all``)."""
    while isinstance(condition, Ref):
        condition = condition.body
    if isinstance(condition, All):
        return [part for child in condition.parts for part in _parts(child)]
    return [condition]


def _holding(parts: Sequence[tuple[int, ...]]) -> tuple[int, tuple[tuple[int, tuple[int, ...]], ...]]:
    """A condition's parts as :meth:`WayFinder.holding` reads them.

    The leaves of its parts of one term, which must all pass; and for each other part, its
    terms of one leaf as one mask (one of which must pass) and its other terms.
    """
    required = 0
    rest = []
    for terms in parts:
        if len(terms) == 1:
            required |= terms[0]
            continue
        alone = 0
        for term in terms:
            if term.bit_count() == 1:
                alone |= term
        rest.append((alone, tuple(term for term in terms if term.bit_count() != 1)))
    return required, tuple(rest)


def _part_ways(parts: Sequence[tuple[tuple[int, int], ...]], open_: int, shut: int) -> set[int] | None:
    """The ways of a condition from its parts' terms (``(term, merged term)``), or None when it holds."""
    ways: set[int] | None = None
    for terms in parts:
        found = {merged & open_ for term, merged in terms if not term & shut}
        if not found:
            return found
        if 0 in found:
            continue
        ways = found if ways is None else {a | b for a in ways for b in found}
    return ways


def _worded(ways: set[int], signs: Mapping[int, _Sign]) -> list[SignWay]:
    """The ways as their signs' findings, each way's signs in order and the ways in order."""
    if len(ways) == 1:
        (way,) = ways
        if not way & (way - 1):  # a way of one sign, as most are
            return [(signs[way][1],)]
    worded = []
    for way in ways:
        if not way & (way - 1):  # one sign: nothing to order within it
            worded.append([signs[way]])
            continue
        way_signs = []
        rest = way
        while rest:  # the bits of the way, inline: this runs for every way of every case
            low = rest & -rest
            way_signs.append(signs[low])
            rest ^= low
        way_signs.sort()
        worded.append(way_signs)
    worded.sort()
    return [tuple(unknown for _, unknown in way) for way in worded]


def _moved(way: int, moves: Sequence[tuple[int, int]]) -> int:
    for bit, kept in moves:
        if way & bit:
            way = (way & ~bit) | kept
    return way


def bits_of(mask: int) -> Iterator[int]:
    """The positions of the bits set in ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def least_masks(masks: set[int]) -> set[int]:
    """The masks that hold no other mask's bits."""
    kept: list[int] = []
    for mask in sorted(masks, key=int.bit_count):
        for other in kept:  # a plain loop: this runs for every way of every case
            if other & mask == other:
                break
        else:
            kept.append(mask)
    return set(kept)


# --- compiling the schema's conditions --------------------------------------------------------------


Columns = Callable[[str, Sequence[str]], tuple[int, ...]]
"""The positions in :attr:`Facts.probabilities` of the causes, sites or kinds of site named."""


class Compiler:
    """Compiles conditions of one table (triage or plan language) into :class:`Node` trees.

    Definitions are compiled once and shared by every condition that names them.

    Args:
        vocabulary: The vocabulary whose finding ids the conditions name.
        definitions: The table's named conditions (``ref``).
        threshold: The plan table's default probability threshold (plan tables only).
        columns: Where the plan's probability leaves read (plan tables only).
        families: The rule ids of each family of triage rules (triage.yaml ``suspects``), which
            a plan's ``suspected`` leaf reads as the rules that fired (plan tables only).
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        definitions: Mapping[str, s.Condition | s.PlanCondition],
        *,
        threshold: float | None = None,
        columns: Columns | None = None,
        families: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.definitions = definitions
        self.threshold = threshold
        self.columns = columns
        self.families = families or {}
        self._refs: dict[str, Ref] = {}
        self._compiled: dict[int, tuple[object, Node]] = {}

    def compiled(self, condition: s.Condition | s.PlanCondition) -> Node:
        """Return the tree of a condition of the tables, compiled on first use only."""
        cached = self._compiled.get(id(condition))
        if cached is not None and cached[0] is condition:
            return cached[1]
        node = self.compile(condition)
        self._compiled[id(condition)] = (condition, node)
        return node

    def compile(self, condition: s.Condition | s.PlanCondition) -> Node:
        """Return the tree of a condition."""
        if condition.ref is not None:
            return self._ref(condition.ref)
        if condition.all is not None:
            return All(tuple(self.compile(part) for part in condition.all))
        if condition.any is not None:
            return Any(tuple(self.compile(part) for part in condition.any))
        not_ = getattr(condition, "not_", None)
        if not_ is not None:
            return Not(self.compile(not_))
        if condition.finding is not None:
            return self._finding(condition)
        return self._assessment(condition)  # type: ignore[arg-type]

    def _ref(self, name: str) -> Ref:
        ref = self._refs.get(name)
        if ref is None:
            ref = self._refs[name] = Ref(name, self.compile(self.definitions[name]))
        return ref

    def _finding(self, condition: s.Condition | s.PlanCondition) -> Node:
        pattern = condition.finding or ""
        specs = matching_specs(pattern, self.vocabulary)
        if getattr(condition, "unknown", None):
            return Unknown(pattern, tuple(spec.id for spec in specs))
        test = leaf_test(condition)
        unless = condition.unless_known_otherwise is not None
        if condition.side == "both":
            return All(
                tuple(
                    FindingLeaf(pattern, tuple(spec.id for spec in specs if spec.side == side), test, unless)
                    for side in self.vocabulary.sides
                )
            )
        return FindingLeaf(pattern, tuple(spec.id for spec in specs), test, unless)

    def _assessment(self, condition: s.PlanCondition) -> Node:
        for reads, names in (
            ("cause", condition.cause),
            ("site", condition.site),
            ("site_kind", condition.site_kind),
        ):
            if names is not None:
                if self.columns is None or self.threshold is None:
                    raise AssertionError(
                        f"unreachable: a probability leaf outside a plan table ({condition!r})"
                    )
                threshold = self.threshold if condition.p_at_least is None else condition.p_at_least
                return Probability(reads, tuple(names), threshold, self.columns(reads, names))
        if condition.rule is not None:
            return Fired(frozenset(condition.rule))
        if condition.suspected is not None:
            return Fired(frozenset(rule for name in condition.suspected for rule in self.families[name]))
        return Level(frozenset(level for level in Urgency if _level_holds(condition, level)))


def leaf_test(condition: s.Condition | s.PlanCondition) -> Test:
    """Return the test a finding leaf applies to one known value (``is``, ``at_least``, ...)."""
    if condition.is_ is not None:
        return Is(condition.is_)
    if condition.at_least is not None:
        return AtLeast(condition.at_least)
    if condition.at_most is not None:
        return AtMost(condition.at_most)
    if condition.not_empty is not None:
        return NotEmpty()
    return _region_test(condition)


def _region_test(condition: s.Condition | s.PlanCondition) -> Test:
    """The test of a leaf on a region list that names regions (plan conditions have only the first)."""
    if condition.includes_any is not None:
        return IncludesAny(tuple(condition.includes_any))
    one_side = getattr(condition, "one_side_within", None)
    if one_side is not None:
        return OneSideWithin(tuple(one_side))
    return BothSidesAny(tuple(getattr(condition, "both_sides_any", None) or ()))


def _level_holds(condition: s.PlanCondition, level: Urgency) -> bool:
    """Whether a leaf on the triage level (``triage``, ``triage_at_least``, ...) holds at ``level``."""
    if condition.triage is not None:
        return level in {Urgency.from_id(one) for one in condition.triage}
    if condition.triage_at_least is not None:
        return level >= Urgency.from_id(condition.triage_at_least)
    if condition.triage_at_most is not None:
        return level <= Urgency.from_id(condition.triage_at_most)
    raise AssertionError(f"unreachable: the schema admits no other plan condition ({condition!r})")


def matching_specs(pattern: str, vocabulary: Vocabulary) -> list[FindingSpec]:
    """Return the findings a condition's ``finding`` pattern names (both sides, ``*``)."""
    exact = vocabulary.findings.get(pattern)
    if exact is not None:
        return [exact]
    base, _, rest = pattern.partition(".*")
    return [
        spec
        for spec in vocabulary.findings.values()
        if (spec.base == pattern)
        or (rest == "" and pattern.endswith(".*") and spec.base == base)
        or (spec.item is not None and f"{spec.base}.{spec.item}" == pattern)
    ]


def matching_findings(pattern: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    """Return the concrete finding ids a condition's ``finding`` pattern names (both sides, ``*``)."""
    return tuple(spec.id for spec in matching_specs(pattern, vocabulary))
