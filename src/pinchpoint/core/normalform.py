"""Rule conditions in disjunctive normal form, decided for every rule at once.

Triage rules and plan items are conditions built with ``all``, ``any`` (and, in the plan,
``not``) over leaves: tests that hold or fail for one assessment. Rewritten as an OR of
AND-terms of literals (a leaf that must hold, or must fail), the conditions of a whole
table become two 0/1 matrices: the literals each term needs, and the terms of each row.
Deciding every row is then two matrix products, once the leaves have been tested:

    held terms = (needs @ literals == term sizes); rows = (members @ held terms > 0)

This is a core module: it reads no files and imports no adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import numpy.typing as npt

from pinchpoint.errors import SchemaError

__all__ = ["ALWAYS", "Decider", "Need", "Terms", "conjoin", "disjoin", "literal"]

MAX_TERMS = 1024
"""The most AND-terms one condition may expand to; more means it should be split.

A triage rule that needs an infective feature, a risk factor and any of a dozen neurological
symptoms expands to several hundred terms, which the matrices decide at no noticeable cost."""

Need = tuple[int, bool]
"""A leaf (its index) and whether the term needs it to hold (True) or to fail (False)."""
Terms = list[frozenset[Need]]
"""A condition in disjunctive normal form: it holds when every need of some term is met."""

ALWAYS: Terms = [frozenset()]
"""The condition that always holds (one term that needs nothing)."""


def literal(leaf: int, *, holds: bool = True) -> Terms:
    """Return the condition that ``leaf`` holds (or, with ``holds=False``, fails)."""
    return [frozenset({(leaf, holds)})]


def disjoin(children: Iterable[Terms]) -> Terms:
    """Return the condition that some child holds."""
    return _distinct(term for child in children for term in child)


def conjoin(children: Iterable[Terms], *, where: str) -> Terms:
    """Return the condition that every child holds.

    Raises:
        SchemaError: The condition at ``where`` expands to more than ``MAX_TERMS`` terms.
    """
    combined = ALWAYS
    for child in children:
        combined = _distinct(a | b for a, b in product(combined, child) if not _contradicts(a | b))
        if len(combined) > MAX_TERMS:
            raise SchemaError(
                "a condition is too complex to compile",
                location=where,
                expected=f"at most {MAX_TERMS} alternative combinations (split it into definitions)",
                got=len(combined),
            )
    return combined


@dataclass(frozen=True)
class Decider:
    """The terms of a table's rows as matrices (see the module docstring)."""

    needs: npt.NDArray[np.float64]
    sizes: npt.NDArray[np.float64]
    members: npt.NDArray[np.float64]

    @classmethod
    def build(cls, rows: Sequence[Terms], leaves: int, column: Mapping[int, int] | None = None) -> Decider:
        """Stack the terms of ``rows`` over ``leaves`` leaves (leaf ``i`` tested at ``column[i]``)."""
        terms = _distinct(term for row in rows for term in row)
        index = {term: i for i, term in enumerate(terms)}
        needs = np.zeros((len(terms), 2 * leaves))
        for i, term in enumerate(terms):
            for leaf, holds in term:
                position = column[leaf] if column is not None else leaf
                needs[i, position + (0 if holds else leaves)] = 1.0
        members = np.zeros((len(rows), len(terms)))
        for number, row in enumerate(rows):
            members[number, [index[term] for term in row]] = 1.0
        return cls(needs, needs.sum(axis=1), members)

    def decide(self, truth: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Return whether each row holds, given whether each leaf holds.

        ``truth`` is one vector of leaves, or a matrix with one such vector per case (the
        result then has one row per case).
        """
        literals = np.concatenate((truth, ~truth), axis=-1).astype(np.float64)
        held = (literals @ self.needs.T == self.sizes).astype(np.float64)
        return np.asarray(held @ self.members.T > 0.0)


def _contradicts(term: frozenset[Need]) -> bool:
    """Whether a term needs one leaf both to hold and to fail (it can never hold)."""
    return any((leaf, not holds) in term for leaf, holds in term)


def _distinct(terms: Iterable[frozenset[Need]]) -> Terms:
    return list(dict.fromkeys(terms))
