"""The case vocabulary: which findings, regions, sites, causes and triage levels exist.

The vocabulary is the fixed interface between pinchpoint and its cases
(``shared/contract/vocabulary.yaml``; the package ships its own copy). This module
turns the parsed table into typed, frozen objects and expands the templated ids:
``exam.power`` with ``per: movements`` and ``sided: true`` becomes
``exam.power.ankle_dorsiflexion.left`` and so on.

It reads no files: :mod:`pinchpoint.io.knowledge.loader` hands it the parsed mapping.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, cast

from pinchpoint.errors import SchemaError, UnknownFindingError

__all__ = [
    "FindingSpec",
    "FindingType",
    "Region",
    "SiteSpec",
    "Urgency",
    "Vocabulary",
]

FindingType = Literal["bool", "int", "number", "enum", "regions"]
_FINDING_TYPES: frozenset[str] = frozenset({"bool", "int", "number", "enum", "regions"})


class Urgency(IntEnum):
    """How soon a person must be seen, ordered from least to most urgent.

    The four levels are those of the case vocabulary. Their meaning follows the NICE
    wording as mapped in ``shared/reference/clinical.md``: *emergency* is NICE's "refer
    immediately" (seen within hours), *urgent* is within 24 hours, *soon* is NICE's
    "refer urgently" (within 2 weeks, NICE NG127 "Terms used in this guideline"),
    *self_care* is advice with review if no better by 6 weeks (NICE NG59).

    Because the order is numeric, combining the demands of several rules is ``max()``,
    which is what makes "adding a red flag never lowers urgency" true by construction.
    """

    SELF_CARE = 0
    SOON = 1
    URGENT = 2
    EMERGENCY = 3

    @property
    def id(self) -> str:
        """The vocabulary id of this level, e.g. ``"self_care"``."""
        return self.name.lower()

    @classmethod
    def from_id(cls, level_id: str) -> Urgency:
        """Return the level with vocabulary id ``level_id``.

        Raises:
            KeyError: ``level_id`` is not a triage id.
        """
        try:
            return cls[level_id.upper()]
        except KeyError:
            known = ", ".join(level.id for level in cls)
            raise KeyError(f"unknown triage level {level_id!r}; expected one of {known}") from None


@dataclass(frozen=True, slots=True)
class Region:
    """A body region of the case vocabulary, before a side is added."""

    id: str
    midline: bool
    description: str


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """One concrete finding id and what values it accepts.

    ``base`` is the vocabulary entry the id was expanded from (``exam.power``), ``item``
    the per-table entry (``ankle_dorsiflexion``) and ``side`` the side, where they apply.
    """

    id: str
    base: str
    type: FindingType
    description: str
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = ()
    side: str | None = None
    item: str | None = None

    def describe_expected(self) -> str:
        """Say in words what values this finding accepts."""
        if self.type == "bool":
            return "true or false"
        if self.type == "enum":
            return "one of " + ", ".join(self.values)
        if self.type == "regions":
            return "a list of region ids such as calf_posterior.left or low_back"
        kind = "a whole number" if self.type == "int" else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{kind} from {_plain(self.minimum)} to {_plain(self.maximum)}"
        if self.minimum is not None:
            return f"{kind} of at least {_plain(self.minimum)}"
        return kind


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A lesion site id of the vocabulary; a sided site is written with a side suffix."""

    id: str
    sided: bool
    description: str


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The parsed case vocabulary with every templated id expanded."""

    version: int
    sides: tuple[str, ...]
    regions: Mapping[str, Region]
    region_ids: frozenset[str]
    movements: Mapping[str, str]
    reflexes: Mapping[str, str]
    findings: Mapping[str, FindingSpec]
    triage: Mapping[str, str]
    sites: Mapping[str, SiteSpec]
    site_ids: frozenset[str]
    causes: Mapping[str, str]

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, origin: str = "vocabulary.yaml") -> Vocabulary:
        """Build the vocabulary from its parsed YAML table.

        Raises:
            SchemaError: The table is not shaped like ``shared/contract/vocabulary.yaml``.
        """
        try:
            return _build(table, origin)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SchemaError(
                "the vocabulary table is malformed",
                location=origin,
                expected="the layout of shared/contract/vocabulary.yaml",
                got=str(exc),
            ) from exc

    def site_label(self, site_id: str) -> str:
        """Return a site in words, with its side when the id has one (``root.L5.left``)."""
        if site_id in self.sites:
            return self.sites[site_id].description or site_id
        base, _, side = site_id.rpartition(".")
        return (self.sites[base].description or base) + f" ({side})"

    def finding(self, finding_id: str, *, location: str = "") -> FindingSpec:
        """Return the spec of ``finding_id``.

        Raises:
            UnknownFindingError: The id is not in the vocabulary; the message suggests
                the closest ids, and how to write a sided finding.
        """
        spec = self.findings.get(finding_id)
        if spec is not None:
            return spec
        raise UnknownFindingError(
            f"unknown finding {finding_id!r}",
            location=location,
            expected="a finding id of the vocabulary",
            hint=self._finding_hint(finding_id),
        )

    def _finding_hint(self, finding_id: str) -> str:
        for side in self.sides:
            if f"{finding_id}.{side}" in self.findings:
                sides = " or ".join(f"{finding_id}.{s}" for s in self.sides)
                return f"this finding is sided: write {sides}"
        close = difflib.get_close_matches(finding_id, list(self.findings), n=3, cutoff=0.6)
        if close:
            return "did you mean " + ", ".join(close) + "?"
        return "see shared/contract/vocabulary.yaml for the ids"

    def sides_of(self, region: str) -> tuple[str, ...]:
        """Return the sided ids of a region, or the region itself when it is midline."""
        if self.regions[region].midline:
            return (region,)
        return tuple(f"{region}.{side}" for side in self.sides)


def _build(table: Mapping[str, Any], origin: str) -> Vocabulary:
    sides = tuple(str(side) for side in table["sides"])
    regions = {
        name: Region(name, bool(spec.get("midline", False)), str(spec.get("desc", "")))
        for name, spec in table["regions"].items()
    }
    region_ids = frozenset(
        name if region.midline else f"{name}.{side}" for name, region in regions.items() for side in sides
    )
    per_tables: dict[str, Mapping[str, str]] = {
        "movements": {str(k): str(v) for k, v in table["movements"].items()},
        "reflexes": {str(k): str(v) for k, v in table["reflexes"].items()},
    }
    findings: dict[str, FindingSpec] = {}
    for base, spec in table["findings"].items():
        for finding in _expand_finding(str(base), spec, sides, per_tables, origin):
            findings[finding.id] = finding
    sites: dict[str, SiteSpec] = {}
    site_ids: set[str] = set()
    for name, entry in table["sites"].items():
        spec = entry or {}
        sided = bool(spec.get("sided", False))
        sites[name] = SiteSpec(name, sided, str(spec.get("desc", "")))
        site_ids.update(f"{name}.{side}" for side in sides) if sided else site_ids.add(name)
    return Vocabulary(
        version=int(table["version"]),
        sides=sides,
        regions=regions,
        region_ids=region_ids,
        movements=per_tables["movements"],
        reflexes=per_tables["reflexes"],
        findings=findings,
        triage={str(k): str(v) for k, v in table["triage"].items()},
        sites=sites,
        site_ids=frozenset(site_ids),
        causes={str(k): str(v) for k, v in table["causes"].items()},
    )


def _expand_finding(
    base: str,
    spec: Mapping[str, Any],
    sides: Sequence[str],
    per_tables: Mapping[str, Mapping[str, str]],
    origin: str,
) -> list[FindingSpec]:
    kind = str(spec["type"])
    if kind not in _FINDING_TYPES:
        raise SchemaError(
            f"finding {base!r} has an unknown type",
            location=origin,
            expected="one of " + ", ".join(sorted(_FINDING_TYPES)),
            got=kind,
        )
    items: list[str | None] = [None]
    if "per" in spec:
        items = list(per_tables[str(spec["per"])])
    side_list: list[str | None] = list(sides) if spec.get("sided") else [None]
    minimum = spec.get("min")
    maximum = spec.get("max")
    expanded = []
    for item in items:
        for side in side_list:
            parts = [base, *(part for part in (item, side) if part is not None)]
            expanded.append(
                FindingSpec(
                    id=".".join(parts),
                    base=base,
                    type=cast(FindingType, kind),
                    description=str(spec.get("desc", "")),
                    minimum=None if minimum is None else float(minimum),
                    maximum=None if maximum is None else float(maximum),
                    values=tuple(str(v) for v in spec.get("values", ())),
                    side=side,
                    item=item,
                )
            )
    return expanded
