"""What lesion sites and causes are called where people read them.

Reports, web pages and FHIR display text name a site or a cause in words from the knowledge
(``names.yaml``): a person reads the plain words with the medical term beside them, a clinician
reads the term. Internal ids appear only in JSON and codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pinchpoint.knowledge import schema as s

__all__ = ["Name", "Names", "Reader", "compile_names"]

Reader = Literal["patient", "clinician", "plain"]
"""How a name is written: for a person (plain words, the term beside them), for a clinician (the
term), or the plain words alone (under a term already shown)."""

_SIDES = ("left", "right")


@dataclass(frozen=True, slots=True)
class Name:
    """A site or a cause in plain words and as the medical term."""

    patient: str
    term: str

    def text(self, reader: Reader) -> str:
        """Return the name for ``reader``: the term for a clinician, plain words and term for a person."""
        if reader == "clinician":
            return self.term
        return self.patient if reader == "plain" else f"{self.patient} ({self.term})"


@dataclass(frozen=True)
class Names:
    """The names of every vocabulary site (without its side) and every cause."""

    sites: Mapping[str, Name]
    causes: Mapping[str, Name]
    likelihood: tuple[tuple[float, str], ...]
    """(at_least, words) bands, highest first; the last starts at 0."""

    def site(self, site_id: str, reader: Reader = "clinician") -> str:
        """Return a site id such as ``root.L5.left`` in words, with its side as a leg."""
        base, side = _split_side(site_id)
        text = self.sites[base].text(reader)
        if side is None:
            return text
        return f"{text} ({side})" if reader == "clinician" else f"{text}, {side} leg"

    def cause(self, cause_id: str, reader: Reader = "clinician") -> str:
        """Return a cause id in words."""
        return self.causes[cause_id].text(reader)

    def likelihood_words(self, p: float) -> str:
        """Return how likely ``p`` is in words, with the number: ``likely (62%)``, ``unlikely (under 1%)``."""
        words = next(words for at_least, words in self.likelihood if p >= at_least)
        if p < _SHOWN_FLOOR:
            number = "under 1%"
        elif p > 1.0 - _SHOWN_FLOOR:
            number = "over 99%"
        else:
            number = f"{p:.0%}"
        return f"{words} ({number})"


_SHOWN_FLOOR = 0.01
"""Probabilities are shown to the percent, and never as 0% or 100%: a model is never certain."""


def compile_names(table: s.NamesTable) -> Names:
    """Build :class:`Names` from the validated ``names.yaml``."""
    return Names(
        sites={site: Name(row.patient, row.term) for site, row in table.sites.items()},
        causes={cause: Name(row.patient, row.term) for cause, row in table.causes.items()},
        likelihood=tuple(
            (band.at_least, band.words) for band in sorted(table.likelihood, key=lambda band: -band.at_least)
        ),
    )


def _split_side(site_id: str) -> tuple[str, str | None]:
    base, _, last = site_id.rpartition(".")
    if base and last in _SIDES:
        return base, last
    return site_id, None
