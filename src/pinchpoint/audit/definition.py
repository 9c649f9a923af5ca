"""The audit's definition: the measure's code sets and windows, read from ``data/lbp_audit.yaml``.

Codes are data. A part of the measure names rows of the knowledge's terminology table (so the
audit reads a record as the CDS order card does) or lists further codes with their source. This
module turns both into one flat code table (system URL, code, role, key) that the engines join
against, and checks that every source it cites exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal, TypeVar, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import SchemaError
from pinchpoint.knowledge import schema as s

__all__ = ["AuditDefinition", "CodeRow", "load_definition"]

_Row = TypeVar("_Row", bound=s.Code)

Role = Literal["index", "imaging", "mri", "exclusion", "medication", "warning", "neurology", "card"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Code(_Strict):
    system: str
    code: str
    display: str
    source: str


class _ImagingPick(_Strict):
    region: Literal["lumbar", "whole_spine"] | None = None
    modality: Literal["mri", "ct", "xr"] | None = None


class _Pick(_Strict):
    presentations: list[str] = []
    conditions: list[str] = []
    sites: list[str] = []
    causes: list[str] = []
    imaging_orders: _ImagingPick | None = None


class _Window(_Strict):
    before: int | None = Field(ge=0)
    after: int = Field(ge=0)


class _Medication(_Strict):
    min_days: int = Field(ge=1)


class _CodeSet(_Strict):
    terminology: _Pick = _Pick()
    codes: list[_Code] = []


class _Exclusion(_CodeSet):
    id: str
    window: _Window
    medication: _Medication | None = None
    source: str


class _Neurology(_CodeSet):
    within_days: int = Field(ge=0)


class _WarningSign(_CodeSet):
    id: str
    demands: Literal["emergency", "urgent", "soon"]
    with_neurology: _Neurology | None = None
    source: str


class _Measure(_Strict):
    id: str
    title: str
    source: str
    age: dict[Literal["min", "max"], int]
    imaging_window_days: int = Field(ge=0)
    negative_history_days: int = Field(ge=0)
    confidence: float = Field(gt=0, lt=1)


class _Mri(_CodeSet):
    lookback_days: int = Field(ge=0)


class _Later(_Strict):
    days: int = Field(ge=0)
    source: str


class _Verdict(_Strict):
    later: _Later


class _Level(_Strict):
    max_days: int = Field(ge=0)
    source: str


class _System(_Strict):
    url: str
    source: str


class _Source(_Strict):
    title: str


class _File(_Strict):
    version: int
    measure: _Measure
    index: _CodeSet
    imaging: _CodeSet
    exclusions: list[_Exclusion]
    warning_signs: list[_WarningSign]
    mri: _Mri
    verdict: _Verdict
    levels: dict[Literal["emergency", "urgent", "soon"], _Level]
    systems: dict[str, _System] = {}
    sources: dict[str, _Source] = {}


@dataclass(frozen=True, slots=True)
class CodeRow:
    """One code of the audit: ``role`` says which part of the measure it defines, ``key`` which item."""

    system: str
    code: str
    role: Role
    key: str
    display: str


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An exclusion of the measure: a code set looked for in a window around the index date."""

    id: str
    before: int | None
    after: int
    medication_min_days: int | None
    source: str


@dataclass(frozen=True, slots=True)
class WarningSign:
    """A warning sign that demands MRI within the delay of a triage level."""

    id: str
    demands: str
    max_days: int
    neurology_within_days: int | None
    source: str


@dataclass(frozen=True)
class AuditDefinition:
    """Everything the engines need: the code table and the numbers of the measure."""

    measure_id: str
    title: str
    source: str
    min_age: int
    max_age: int
    imaging_window_days: int
    negative_history_days: int
    confidence: float
    mri_lookback_days: int
    later_days: int
    exclusions: tuple[Exclusion, ...]
    warning_signs: tuple[WarningSign, ...]
    codes: tuple[CodeRow, ...]
    sources: Mapping[str, str]

    def codes_of(self, role: Role) -> list[CodeRow]:
        """Return the codes that define one part of the measure."""
        return [row for row in self.codes if row.role == role]


def load_definition(knowledge: Knowledge, text: str | None = None) -> AuditDefinition:
    """Read the audit definition (the packaged YAML unless ``text`` is given) against the knowledge.

    Raises:
        SchemaError: The file does not match its schema, names a terminology row that does not
            exist, or cites a source that neither sources.yaml nor the file defines.
    """
    location = "audit/data/lbp_audit.yaml"
    if text is None:
        text = resources.files("pinchpoint.audit").joinpath("data/lbp_audit.yaml").read_text("utf-8")
    try:
        data = _File.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        raise SchemaError(
            "the audit definition does not match its schema", location=location, got=str(exc)
        ) from exc
    terms = cast(s.TerminologyTable, knowledge.tables["terminology"])
    systems = {name: system.url for name, system in terms.systems.items()}
    systems |= {name: system.url for name, system in data.systems.items()}
    titles = {key: source.title for key, source in knowledge.sources.items()}
    titles |= {key: source.title for key, source in data.sources.items()}
    builder = _Builder(terms, systems, location)
    builder.add(data.index, "index", None)
    builder.add(data.imaging, "imaging", None)
    builder.add(data.mri, "mri", None)
    for exclusion in data.exclusions:
        builder.add(exclusion, "medication" if exclusion.medication else "exclusion", exclusion.id)
    for sign in data.warning_signs:
        builder.add(sign, "warning", sign.id)
        if sign.with_neurology is not None:
            builder.add(sign.with_neurology, "neurology", sign.id)
    builder.add_card_codes()
    cited = [
        data.measure.source,
        *(e.source for e in data.exclusions),
        *(w.source for w in data.warning_signs),
    ]
    cited += [level.source for level in data.levels.values()]
    cited.append(data.verdict.later.source)
    cited += [system.source for system in data.systems.values()]
    cited += [code.source for part in (*data.exclusions, *data.warning_signs) for code in part.codes]
    for source in cited:
        if source not in titles:
            raise SchemaError(
                "a source is not defined",
                location=location,
                expected="an id of sources.yaml or of the file's sources",
                got=source,
            )
    return AuditDefinition(
        measure_id=data.measure.id,
        title=data.measure.title,
        source=data.measure.source,
        min_age=data.measure.age["min"],
        max_age=data.measure.age["max"],
        imaging_window_days=data.measure.imaging_window_days,
        negative_history_days=data.measure.negative_history_days,
        confidence=data.measure.confidence,
        mri_lookback_days=data.mri.lookback_days,
        later_days=data.verdict.later.days,
        exclusions=tuple(
            Exclusion(
                e.id,
                e.window.before,
                e.window.after,
                e.medication.min_days if e.medication else None,
                e.source,
            )
            for e in data.exclusions
        ),
        warning_signs=tuple(
            WarningSign(
                w.id,
                w.demands,
                data.levels[w.demands].max_days,
                w.with_neurology.within_days if w.with_neurology else None,
                w.source,
            )
            for w in data.warning_signs
        ),
        codes=tuple(builder.rows),
        sources=titles,
    )


class _Builder:
    def __init__(self, terms: s.TerminologyTable, systems: Mapping[str, str], location: str) -> None:
        self.terms = terms
        self.systems = systems
        self.location = location
        self.rows: list[CodeRow] = []

    def url(self, system: str) -> str:
        if system not in self.systems:
            raise SchemaError(
                "a code system is not defined",
                location=self.location,
                expected=", ".join(self.systems),
                got=system,
            )
        return self.systems[system]

    def add(self, part: _CodeSet, role: Role, key: str | None) -> None:
        pick = part.terminology
        found: list[tuple[str, str, str, str]] = []  # system, code, display, item
        for name in pick.presentations:
            rows = [r for r in self.terms.presentations if r.presentation == name]
            found += [(r.system, r.code, r.display, name) for r in self._some(rows, "presentations", name)]
        for name in pick.conditions:
            conditions = [r for r in self.terms.conditions if r.finding == name]
            found += [(r.system, r.code, r.display, name) for r in self._some(conditions, "conditions", name)]
        for name in pick.sites:
            found += [(r.system, r.code, r.display, name) for r in self.terms.sites.get(name, [])]
        for name in pick.causes:
            found += [(r.system, r.code, r.display, name) for r in self.terms.causes.get(name, [])]
        if pick.imaging_orders is not None:
            wanted = pick.imaging_orders
            found += [
                (r.system, r.code, r.display, r.modality)
                for r in self.terms.imaging_orders
                if wanted.region in (None, r.region) and wanted.modality in (None, r.modality)
            ]
        found += [(c.system, c.code, c.display, c.code) for c in part.codes]
        for system, code, display, name in found:
            self.rows.append(CodeRow(self.url(system), code, role, key or name, display))

    def add_card_codes(self) -> None:
        """Every Condition code the FHIR record reader knows: the codes the CDS order card sees."""
        codes: list[s.Code] = [*self.terms.conditions, *self.terms.presentations]
        codes += [code for rows in (*self.terms.sites.values(), *self.terms.causes.values()) for code in rows]
        seen: set[tuple[str, str]] = set()
        for code in codes:
            key = (self.url(code.system), code.code)
            if key not in seen:
                seen.add(key)
                self.rows.append(CodeRow(key[0], key[1], "card", "", code.display))

    def _some(self, rows: Sequence[_Row], table: str, name: str) -> Sequence[_Row]:
        if not rows:
            raise SchemaError(
                "the audit names a terminology row that does not exist",
                location=self.location,
                expected=f"a {table} entry of terminology.yaml",
                got=name,
            )
        return rows
