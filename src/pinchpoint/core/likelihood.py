"""Compile the knowledge into log-likelihood vectors, one per possible observation.

The reasoning model is a joint distribution over *hypotheses*: a cause together with one
lesion site variant on one side (a disc herniation at the left L5 root; external
compression of the right common peroneal nerve at the fibular head). Every observation
(a finding with its value) is turned, once, at load time, into the vector of its
log-likelihoods over site variants or over causes, derived from the territories of
:mod:`pinchpoint.core.anatomy` and the parameters of ``likelihoods.yaml`` and ``causes.yaml``.
Assessing a case is then a sum of precomputed vectors (see :mod:`pinchpoint.core.posterior`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, NamedTuple, get_args

import numpy as np
import numpy.typing as npt

from pinchpoint.core.anatomy import Anatomy, Territory, leg_key, plantar_key, structure_key
from pinchpoint.core.vocabulary import FindingSpec, Vocabulary
from pinchpoint.knowledge import schema as s

__all__ = [
    "MODALITIES",
    "Contribution",
    "Defining",
    "Evidence",
    "LikelihoodModel",
    "Rows",
    "SiteUnit",
    "StackedModel",
    "combine_sides",
    "compile_model",
    "derived_present",
]

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Target = Literal["unit_modality", "unit", "cause"]
_LOG_FLOOR = 1e-12
_MAX_ENUMERATED_SPAN = 10
MODALITIES: tuple[s.Modality, ...] = get_args(s.Modality)
"""The modalities a lesion may involve, in the order of every per-modality array."""


@dataclass(frozen=True)
class SiteUnit:
    """One lesion site variant on one side: the unit anatomical likelihoods are computed for."""

    site_id: str
    base: str
    variant: str
    kind: str
    territory: Territory


@dataclass(frozen=True)
class Contribution:
    """What one observation adds: a log-likelihood vector over units or causes.

    For ``unit_modality`` contributions ``vector`` holds the log-likelihood when the
    lesion involves the modality and ``scalar`` the background log-likelihood.
    """

    target: Target
    vector: Vector
    scalar: float = 0.0
    modality: str = ""
    structure: str = ""


@dataclass(frozen=True)
class RegionList:
    """Precomputed vectors of one exhaustive region list (pain, numbness, examined sensory loss)."""

    modality: str
    absent_total: Vector
    absent_scalar: float
    delta: Mapping[str, Contribution]
    pattern_absent_total: Vector | None
    pattern_delta: Mapping[str, Vector]


@dataclass(frozen=True)
class Override:
    """Pairs whose cause sets its own chance that a modality is involved (see causes.yaml)."""

    pairs: npt.NDArray[np.intp]
    units: npt.NDArray[np.intp]
    log_in: Vector
    log_out: Vector


def combine_sides(previous: bool | int | None, value: bool | int) -> bool | int:
    """Combine a sided cause feature over the legs: present on either side, or the larger count."""
    if previous is None:
        return value
    if isinstance(value, bool):
        return bool(previous) or value
    return max(int(previous), value)


def derived_present(wanted: frozenset[str], regions: tuple[str, ...]) -> bool:
    """Whether a region list shows a derived feature: one of ``wanted``, or any region when it is empty."""
    return bool(wanted.intersection(regions)) if wanted else bool(regions)


@dataclass(frozen=True)
class Defining:
    """The findings that define one cause (causes.yaml ``defining``), by finding id.

    A cause defined by a finding (a fracture by trauma or fragile bone, a deep vein
    thrombosis by a swollen leg) is not proposed without it: when none is present, its
    hypotheses take ``causes.yaml`` ``undefined.weight``.
    """

    cause: int
    positives: frozenset[tuple[str, object]]
    thresholds: tuple[tuple[str, float], ...]

    def present(self, findings: Mapping[str, object]) -> bool:
        """Whether one of the defining findings is known to be present."""
        for finding, at_least in self.thresholds:
            value = findings.get(finding)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= at_least:
                return True
        return any(
            type(findings.get(finding)) is type(value) and findings.get(finding) == value
            for finding, value in self.positives
        )


@dataclass(frozen=True)
class LikelihoodModel:
    """The compiled model: hypotheses, priors and every observation's vectors."""

    units: tuple[SiteUnit, ...]
    causes: tuple[str, ...]
    site_ids: tuple[str, ...]
    pair_unit: npt.NDArray[np.intp]
    pair_cause: npt.NDArray[np.intp]
    pair_site: npt.NDArray[np.intp]
    pair_log_prior: Vector
    pair_non_neural: npt.NDArray[np.bool_]
    log_involved: Mapping[str, tuple[Vector, Vector]]
    """Per modality, log P(involved) and log P(not involved) for each site unit (its kind's)."""
    involvement_overrides: Mapping[str, Override]
    """Per modality, the (cause, site unit) pairs whose cause sets its own chance."""
    lookup: Mapping[tuple[str, object], tuple[Contribution, ...]]
    """Each observation's vectors as compiled; :attr:`stacked` lays them out for reasoning.

    The posterior, the interview's predictor and the explanations read :attr:`stacked` only.
    """
    binners: Mapping[str, Bins]
    region_lists: Mapping[str, RegionList]
    """Each exhaustive region list's vectors as compiled (stacked like :attr:`lookup`)."""
    derived_from_lists: Mapping[str, tuple[tuple[str, frozenset[str]], ...]]
    sided_cause_features: Mapping[str, str] = field(default_factory=dict)
    defining: tuple[Defining, ...] = ()
    undefined_log_weight: float = 0.0

    def undefined_causes(self, findings: Mapping[str, object]) -> tuple[int, ...]:
        """Return the causes with defining findings none of which is present in ``findings``."""
        return tuple(one.cause for one in self.defining if not one.present(findings))

    def undefined_vector(self, findings: Mapping[str, object]) -> Vector:
        """Return the log weight over causes of those not defined by ``findings`` (0 elsewhere)."""
        vector = np.zeros(len(self.causes))
        vector[list(self.undefined_causes(findings))] = self.undefined_log_weight
        return vector

    def key_of(self, finding_id: str, value: object) -> object:
        """Return the lookup key of a finding value: its bin for a binned number, else the value."""
        binner = self.binners.get(finding_id)
        if binner is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return binner(float(value))
        return value

    @cached_property
    def stacked(self) -> StackedModel:
        """The same vectors stacked into matrices, so that a case sums them in a few array calls."""
        return _stack(self)


class Rows(NamedTuple):
    """Where one observation's vectors sit in the two matrices of :class:`StackedModel`."""

    modality: tuple[int, ...] = ()
    """Rows of :attr:`StackedModel.over_units`."""
    plain: tuple[int, ...] = ()
    """Rows of :attr:`StackedModel.over_plain`."""
    serial: int = -1
    """This observation's row of :attr:`StackedModel.explained`."""


@dataclass(frozen=True)
class StackedRegionList:
    """The rows of one exhaustive region list (see :class:`RegionList`)."""

    absent: Rows
    present: Mapping[str, Rows]


class Evidence(NamedTuple):
    """Summed log-likelihood vectors of some findings: one row per case, or per predicted answer.

    This is the input of the one log-joint kernel, :meth:`StackedModel.log_joint`, that both
    the posterior (:mod:`pinchpoint.core.posterior`) and the interview's predictor
    (:mod:`pinchpoint.core.selection`) call.
    """

    unit: Matrix
    """[rows, site units]: vectors added as they are (provocation tests, site features)."""
    cause: Matrix
    """[rows, causes]: the causes' likelihoods (and the weight of causes left undefined)."""
    pattern: Matrix
    """[rows, causes]: the causes' pain patterns, which weigh pain at a non-neural site."""
    inside: Matrix
    """[rows, modalities, site units]: anatomical observations when the lesion involves the modality."""
    outside: Matrix
    """[rows, modalities]: the same observations' background when it does not."""


@dataclass(frozen=True)
class StackedModel:
    """Every vector of the model as a matrix row, and the log-joint kernel that sums them.

    ``over_units`` holds, per site unit, the log-likelihood of an anatomical observation when
    the lesion involves the row's modality (``unit_group``: its index in ``modalities``),
    with ``unit_scalar`` its background when it does not. ``over_plain`` holds the vectors
    added as they are, over the site units and then the causes (``units`` columns, then one
    per cause): provocation tests, site features and the causes' likelihoods (``plain_group``
    0), and the causes' non-neural pain patterns (``plain_group`` 1). ``involved`` and
    ``not_involved`` are :attr:`LikelihoodModel.log_involved` as one row per modality, and
    ``overrides`` its :attr:`~LikelihoodModel.involvement_overrides` by modality index.
    """

    modalities: tuple[str, ...]
    units: int
    pain_modality: int
    over_units: npt.NDArray[np.float64]
    unit_scalar: Vector
    unit_group: tuple[int, ...]
    over_plain: npt.NDArray[np.float64]
    plain_group: tuple[int, ...]
    involved: npt.NDArray[np.float64]
    not_involved: npt.NDArray[np.float64]
    overrides: tuple[tuple[int, Override], ...]
    site_of_pair: npt.NDArray[np.float64]
    """One-hot [pair, site id]: the pairs of each concrete site (and ``cause_of_pair`` of each cause)."""
    cause_of_pair: npt.NDArray[np.float64]
    pair_unit: npt.NDArray[np.intp]
    pair_cause: npt.NDArray[np.intp]
    pair_log_prior: Vector
    pair_non_neural: npt.NDArray[np.bool_]
    observations: tuple[Rows, ...]
    """Every possible observation's rows, in the order of their ``serial``."""
    rows: Mapping[tuple[str, object], Rows]
    region_lists: Mapping[str, StackedRegionList]
    undefined: Mapping[int, Rows] = field(default_factory=dict)
    """Per cause with defining findings, the row of its weight when none is present."""

    def log_joint(self, evidence: Evidence, known: Evidence | None = None) -> Matrix:
        """Return the log joint probability of each (cause, site unit) pair, one row per evidence row.

        The log joint is the log prior plus the evidence: the plain vectors as they are, and
        per modality the mixture of "the lesion involves it" (``inside``) with "it does not"
        (``outside``), per site unit, or per pair where a cause sets its own chance. At a
        non-neural site pain is weighed by the cause's pain pattern instead of the background.

        Args:
            evidence: The evidence of each row.
            known: Evidence shared by every row (one row), to which each row of ``evidence`` is
                added: the interview's findings so far, with ``evidence`` its predicted
                answers. A modality that no row of ``evidence`` touches is then mixed once
                for all rows (a predicted answer mostly touches one modality).
        """
        known = known if known is not None else self.nothing
        touched = evidence.inside.any(axis=(0, 2)) | evidence.outside.any(axis=0)
        varied, still = np.flatnonzero(touched), np.flatnonzero(~touched)
        inside = known.inside[:, varied] + evidence.inside[:, varied]  # [B, V, U]
        outside = known.outside + evidence.outside  # [B, M]
        mixed = np.logaddexp(
            self.involved[varied] + inside, self.not_involved[varied] + outside[:, varied, None]
        )
        steady = np.logaddexp(
            self.involved[still] + known.inside[0, still],
            self.not_involved[still] + known.outside[0, still, None],
        )  # [S, U]: the same in every row
        unit = known.unit + evidence.unit + steady.sum(axis=0) + mixed.sum(axis=1)
        cause = known.cause + evidence.cause
        pattern = (known.pattern + evidence.pattern)[:, self.pair_cause] - outside[
            :, self.pain_modality, None
        ]
        log_joint: Matrix = (
            self.pair_log_prior
            + unit[:, self.pair_unit]
            + cause[:, self.pair_cause]
            + np.where(self.pair_non_neural, pattern, 0.0)
        )
        position = {int(m): n for n, m in enumerate(varied)}
        for m, override in self.overrides:
            n = position.get(m)
            if n is None:
                inside_m = known.inside[:, m, override.units]
                mixed_m = steady[int(np.searchsorted(still, m)), override.units][None, :]
            else:
                inside_m, mixed_m = inside[:, n, override.units], mixed[:, n, override.units]
            exact = np.logaddexp(override.log_in + inside_m, override.log_out + outside[:, m, None])
            log_joint[:, override.pairs] += exact - mixed_m
        return log_joint

    @cached_property
    def nothing(self) -> Evidence:
        """The evidence of no finding: one row of zeros."""
        units, causes, modalities = self.units, self.over_plain.shape[1] - self.units, len(self.modalities)
        return Evidence(
            np.zeros((1, units)),
            np.zeros((1, causes)),
            np.zeros((1, causes)),
            np.zeros((1, modalities, units)),
            np.zeros((1, modalities)),
        )

    @cached_property
    def explained(self) -> npt.NDArray[np.float64]:
        """Each observation's log-likelihood over the pairs, as explanations weigh it.

        An anatomical observation counts against its background (the modality's scalar);
        for a non-neural site a pain region counts by the cause's pain pattern instead.
        Computed on the first explanation (a batch that explains nothing never pays it).
        """
        units = (self.over_units - self.unit_scalar[:, None])[:, self.pair_unit]
        plain = (
            self.over_plain[:, : self.units][:, self.pair_unit]
            + self.over_plain[:, self.units :][:, self.pair_cause]
        )
        explained = np.zeros((len(self.observations), len(self.pair_unit)))
        for rows in self.observations:
            row = explained[rows.serial]
            for unit_row in rows.modality:
                row += units[unit_row]
            for plain_row in rows.plain:
                if plain_row not in self.pattern_rows:
                    row += plain[plain_row]
            for plain_row in rows.plain:
                if plain_row in self.pattern_rows:
                    row[:] = np.where(self.pair_non_neural, plain[plain_row], row)
        return explained

    @cached_property
    def pairs_of_site(self) -> npt.NDArray[np.float64]:
        """One-hot [site id, pair]: the pairs of each concrete site."""
        return np.ascontiguousarray(self.site_of_pair.T)

    @cached_property
    def pairs_of_cause(self) -> npt.NDArray[np.float64]:
        """One-hot [cause, pair]: the pairs of each cause."""
        return np.ascontiguousarray(self.cause_of_pair.T)

    @cached_property
    def pattern_rows(self) -> frozenset[int]:
        """The rows of ``over_plain`` that are non-neural pain patterns."""
        return frozenset(row for row, group in enumerate(self.plain_group) if group == _PATTERN)


_PLAIN, _PATTERN = 0, 1


class _Stacker:
    """Assigns every distinct vector of a model one row of its matrix."""

    def __init__(self, model: LikelihoodModel) -> None:
        self.model = model
        self.modalities = tuple(model.log_involved)
        self.units = len(model.units)
        self.over_units: list[tuple[Vector, float, int]] = []
        self.over_plain: list[tuple[Vector, int]] = []
        self.observations: list[Rows] = []
        self._seen: dict[int, tuple[Rows, Contribution]] = {}

    def contribution(self, contribution: Contribution) -> Rows:
        """Return where a contribution sits, adding it the first time it is seen."""
        seen = self._seen.get(id(contribution))
        if seen is not None:
            return seen[0]
        if contribution.target == "unit_modality":
            group = self.modalities.index(contribution.modality)
            self.over_units.append((contribution.vector, contribution.scalar, group))
            rows = Rows(modality=(len(self.over_units) - 1,))
        else:
            over = contribution.target == "cause"
            rows = Rows(plain=(self._plain_row(contribution.vector, _PLAIN, over_causes=over),))
        # The contribution is kept with its rows so that its id cannot be reused by another object.
        self._seen[id(contribution)] = (rows, contribution)
        return rows

    def rows(self, contributions: tuple[Contribution, ...], pattern: Vector | None = None) -> Rows:
        placed = [self.contribution(contribution) for contribution in contributions]
        plain = [row for rows in placed for row in rows.plain]
        if pattern is not None:
            plain.append(self._plain_row(pattern, _PATTERN, over_causes=True))
        rows = Rows(
            tuple(row for rows in placed for row in rows.modality), tuple(plain), len(self.observations)
        )
        self.observations.append(rows)
        return rows

    def _plain_row(self, vector: Vector, group: int, *, over_causes: bool) -> int:
        """Add a vector over site units or over causes as a row over both (zero where it is not)."""
        row = np.zeros(self.units + len(self.model.causes))
        if over_causes:
            row[self.units :] = vector
        else:
            row[: self.units] = vector
        self.over_plain.append((row, group))
        return len(self.over_plain) - 1


def _stack(model: LikelihoodModel) -> StackedModel:
    stacker = _Stacker(model)
    rows = {key: stacker.rows(contributions) for key, contributions in model.lookup.items()}
    region_lists = {}
    for name, listed in model.region_lists.items():
        absent = stacker.rows(
            (Contribution("unit_modality", listed.absent_total, listed.absent_scalar, listed.modality),),
            listed.pattern_absent_total,
        )
        present = {
            region: stacker.rows((delta,), listed.pattern_delta.get(region))
            for region, delta in listed.delta.items()
        }
        region_lists[name] = StackedRegionList(absent, present)
    undefined = {}
    for one in model.defining:
        vector = np.zeros(len(model.causes))
        vector[one.cause] = model.undefined_log_weight
        undefined[one.cause] = stacker.rows((Contribution("cause", vector),))
    modalities = stacker.modalities
    return StackedModel(
        modalities=modalities,
        units=len(model.units),
        pain_modality=modalities.index("pain"),
        over_units=np.array([vector for vector, _, _ in stacker.over_units]),
        unit_scalar=np.array([scalar for _, scalar, _ in stacker.over_units]),
        unit_group=tuple(group for _, _, group in stacker.over_units),
        over_plain=np.array([vector for vector, _ in stacker.over_plain]),
        plain_group=tuple(group for _, group in stacker.over_plain),
        involved=np.array([model.log_involved[name][0] for name in modalities]),
        not_involved=np.array([model.log_involved[name][1] for name in modalities]),
        overrides=tuple(
            (modalities.index(name), override) for name, override in model.involvement_overrides.items()
        ),
        site_of_pair=_one_hot(model.pair_site.tolist(), len(model.site_ids)).T,
        cause_of_pair=_one_hot(model.pair_cause.tolist(), len(model.causes)).T,
        pair_unit=model.pair_unit,
        pair_cause=model.pair_cause,
        pair_log_prior=model.pair_log_prior,
        pair_non_neural=model.pair_non_neural,
        observations=tuple(stacker.observations),
        rows=rows,
        region_lists=region_lists,
        undefined=undefined,
    )


def _one_hot(groups: list[int], count: int) -> npt.NDArray[np.float64]:
    one_hot = np.zeros((count, len(groups)))
    one_hot[groups, np.arange(len(groups))] = 1.0
    return one_hot


def compile_model(tables: Mapping[str, s.Table], vocabulary: Vocabulary, anatomy: Anatomy) -> LikelihoodModel:
    """Compile validated tables into a :class:`LikelihoodModel`."""
    return _Compiler(tables, vocabulary, anatomy).build()


def _log(p: float) -> float:
    return math.log(max(p, _LOG_FLOOR))


class _Compiler:
    def __init__(self, tables: Mapping[str, s.Table], vocabulary: Vocabulary, anatomy: Anatomy) -> None:
        self.vocabulary = vocabulary
        self.anatomy = anatomy
        self.sites: s.SitesTable = tables["sites"]  # type: ignore[assignment]
        self.likelihoods: s.LikelihoodsTable = tables["likelihoods"]  # type: ignore[assignment]
        self.observations: s.ObservationsTable = tables["observations"]  # type: ignore[assignment]
        self.causes_table: s.CausesTable = tables["causes"]  # type: ignore[assignment]
        self.tests: s.ProvocationTestsTable = tables["provocation_tests"]  # type: ignore[assignment]
        self.units = tuple(self._units())
        self.causes = tuple(self.causes_table.causes)
        self.lookup: dict[tuple[str, object], list[Contribution]] = {}

    # --- hypotheses -----------------------------------------------------------------------------

    def _units(self) -> list[SiteUnit]:
        units = []
        for base, site in self.sites.sites.items():
            sides: tuple[str | None, ...] = (
                self.vocabulary.sides if self.vocabulary.sites[base].sided else (None,)
            )
            for side in sides:
                site_id = f"{base}.{side}" if side else base
                for name, variant in site.variants.items():
                    # A variant felt in one leg of a site the vocabulary does not side
                    # (a canal lesion): one unit per leg, both under the site's own id.
                    variant_sides = (
                        self.vocabulary.sides if side is None and variant.sides == "either" else (side,)
                    )
                    # A variant in both legs of a sided site (both tarsal tunnels) is one hypothesis,
                    # not two halves: one unit, listed under the first side's id.
                    if side is not None and variant.sides == "both" and side != self.vocabulary.sides[0]:
                        continue
                    for variant_side in variant_sides:
                        territory = self.anatomy.territory(variant, variant_side)
                        kind = variant.kind or site.kind
                        units.append(SiteUnit(site_id, base, name, kind, territory))
        return units

    def _pairs(self) -> tuple[list[int], list[int], list[int], list[float], list[str]]:
        site_ids = sorted({unit.site_id for unit in self.units})
        site_index = {site_id: i for i, site_id in enumerate(site_ids)}
        self.site_ids = tuple(site_ids)
        pair_unit, pair_cause, pair_site, prior = [], [], [], []
        for c, cause in enumerate(self.causes_table.causes.values()):
            for base, p_site in cause.sites.items():
                units = [i for i, unit in enumerate(self.units) if unit.base == base]
                variants = self.sites.sites[base].variants
                total_weight = sum(variant.weight for variant in variants.values())
                per_variant = Counter(self.units[i].variant for i in units)
                for i in units:
                    # A variant's weight is split evenly between its units (the two sides).
                    name = self.units[i].variant
                    share = variants[name].weight / total_weight / per_variant[name]
                    pair_unit.append(i)
                    pair_cause.append(c)
                    pair_site.append(site_index[self.units[i].site_id])
                    prior.append(_log(cause.prior) + _log(p_site) + _log(share))
        return pair_unit, pair_cause, pair_site, prior, site_ids

    # --- anatomical observations -------------------------------------------------------------------

    def _kind(self, unit: SiteUnit) -> s.KindLikelihoods:
        return self.likelihoods.kinds[unit.kind]  # type: ignore[index]

    def _degree(self, unit: SiteUnit, structure: str) -> float:
        """How far a structure lies in a unit's territory; 1 everywhere for a kind without one (no lesion)."""
        return 1.0 if self._kind(unit).everywhere else unit.territory.get(structure, 0.0)

    def _reading_vector(self, structure: str, readings: str, reading: str) -> tuple[Vector, float]:
        background = getattr(self.likelihoods.background, readings)[reading]
        values = []
        for unit in self.units:
            inside = getattr(self._kind(unit), readings)[reading]
            degree = self._degree(unit, structure)
            values.append(_log(degree * inside + (1.0 - degree) * background))
        return np.array(values), _log(background)

    def _add(self, finding_id: str, key: object, contribution: Contribution) -> None:
        self.lookup.setdefault((finding_id, key), []).append(contribution)

    def _structure_findings(self) -> None:
        for base, observation in self.observations.findings.items():
            for spec in self._specs(base):
                structure = self._structure(observation.structure, spec)
                categories = getattr(self.likelihoods.background, observation.readings)
                for reading in categories:
                    vector, scalar = self._reading_vector(structure, observation.readings, reading)
                    contribution = Contribution(
                        "unit_modality", vector, scalar, observation.modality, structure
                    )
                    for key in self._keys_for_reading(spec, observation.readings, reading):
                        self._add(spec.id, key, contribution)

    def _specs(self, base: str) -> list[FindingSpec]:
        return [spec for spec in self.vocabulary.findings.values() if spec.base == base]

    @staticmethod
    def _structure(template: str, spec: FindingSpec) -> str:
        kind, _, item = template.partition(".")
        if kind == "plantar":
            return plantar_key(spec.side or "")
        if kind == "leg":
            return leg_key(spec.side or "")
        if kind in {"movement", "reflex"} and not item:
            return structure_key(kind, spec.item or "", spec.side)
        if kind == "skin":
            return structure_key("skin", item)
        if kind == "function":
            return structure_key("function", item)
        return structure_key(kind, item, spec.side)

    def _keys_for_reading(self, spec: FindingSpec, readings: str, reading: str) -> list[object]:
        bins = self.likelihoods.readings.get(readings)
        if bins is not None:
            low, high = bins[reading]
            if _enumerated(spec, bins):
                return list(range(int(low), int(high) + 1))
            return [f"{readings}:{reading}"]
        if reading in {"true", "false"}:
            return [reading == "true"]
        return [reading]

    def _binners(self) -> dict[str, Bins]:
        binners: dict[str, Bins] = {}
        for base, observation in self.observations.findings.items():
            bins = self.likelihoods.readings.get(observation.readings)
            spec = self._specs(base)[0]
            if bins is not None and not _enumerated(spec, bins):
                for one in self._specs(base):
                    binners[one.id] = _binner({f"{observation.readings}:{k}": v for k, v in bins.items()})
        table = self.causes_table
        binners["age"] = _binner(
            {f"age:{k}": (float(lo), float(hi)) for k, (lo, hi) in table.age_bands.items()}
        )
        binners["duration_days"] = _binner(
            {f"duration:{k}": (float(lo), float(hi)) for k, (lo, hi) in table.duration_bands.items()}
        )
        for finding, bins in table.bins.items():
            binners[finding] = _binner({f"{finding}:{k}": v for k, v in bins.items()})
        return binners

    def _tests(self) -> None:
        for name, test in self.tests.tests.items():
            for spec in self._specs(name):
                structure = structure_key("test", name, spec.side)
                for positive in (True, False):
                    values = []
                    for unit in self.units:
                        sensitivity = test.sensitivity_by_kind.get(unit.kind, test.sensitivity)  # type: ignore[call-overload]
                        inside = sensitivity if positive else 1.0 - sensitivity
                        outside = 1.0 - test.specificity if positive else test.specificity
                        degree = unit.territory.get(structure, 0.0)
                        values.append(_log(degree * inside + (1.0 - degree) * outside))
                    self._add(spec.id, positive, Contribution("unit", np.array(values), structure=structure))

    def _site_features(self) -> None:
        for name, feature in self.likelihoods.site_features.items():
            for positive in (True, False):
                probabilities = [feature.p.get(unit.kind, feature.default) for unit in self.units]  # type: ignore[call-overload]
                vector = np.array([_log(p if positive else 1.0 - p) for p in probabilities])
                for spec in self._specs(name):
                    self._add(spec.id, positive, Contribution("unit", vector))

    def _region_lists(self) -> dict[str, RegionList]:
        lists = {}
        regions = self._supplied_regions()
        for name, observation in self.observations.region_lists.items():
            modality = observation.modality
            background = self.likelihoods.background.region_present[modality]
            absent_total = np.zeros(len(self.units))
            absent_scalar = 0.0
            region_probability = [
                self._region_probability(unit, modality, observation.territory) for unit in self.units
            ]
            site_probability = [
                self._lesion_site_probability(unit, observation.territory) for unit in self.units
            ]
            delta: dict[str, Contribution] = {}
            for region in regions:
                structure = structure_key(observation.territory, region)
                site = structure_key("site", region)
                present, absent = [], []
                for unit, spread, at_site in zip(
                    self.units, region_probability, site_probability, strict=True
                ):
                    inside = max(spread, at_site) if site in unit.territory else spread
                    degree = self._degree(unit, structure)
                    p = degree * inside + (1.0 - degree) * background
                    present.append(_log(p))
                    absent.append(_log(1.0 - p))
                absent_total += np.array(absent)
                absent_scalar += _log(1.0 - background)
                delta[region] = Contribution(
                    "unit_modality",
                    np.array(present) - np.array(absent),
                    _log(background) - _log(1.0 - background),
                    modality,
                    structure,
                )
            pattern_total, pattern_delta = (
                self._pattern(regions) if observation.territory == "pain" else (None, {})
            )
            lists[name] = RegionList(
                modality, absent_total, absent_scalar, delta, pattern_total, pattern_delta
            )
        return lists

    def _supplied_regions(self) -> list[str]:
        """Region ids that some root or nerve supplies; the others (the low back) speak to causes only."""
        skin: s.SkinTable = self.anatomy.skin
        supplied = {name for name, region in skin.regions.items() if region.roots or region.nerves}
        return sorted(r for r in self.vocabulary.region_ids if r.split(".")[0] in supplied)

    def _region_probability(self, unit: SiteUnit, modality: str, territory: str) -> float:
        """P(a region of the territory is affected | the lesion involves the modality)."""
        kind = self._kind(unit)
        size = sum(degree for key, degree in unit.territory.items() if key.startswith(territory + ":"))
        expected = kind.expected_regions[modality]  # type: ignore[index]
        ceiling = kind.region_present[modality]
        return ceiling if size <= 0.0 else min(ceiling, expected / size)

    def _lesion_site_probability(self, unit: SiteUnit, territory: str) -> float:
        """P(a region where the lesioned nerve itself runs hurts | the lesion involves pain).

        An entrapment hurts where the nerve is caught (the buttock in deep gluteal syndrome,
        the fibular head, the medial ankle), more often than a region its branches reach
        (``lesion_site_pain`` of likelihoods.yaml). Only pain regions have a site; 0 elsewhere.
        """
        table = self.likelihoods.lesion_site_pain
        if territory != "pain" or table is None:
            return 0.0
        return next((p for kind, p in table.p.items() if kind == unit.kind), 0.0)

    def _pattern(self, regions: list[str]) -> tuple[Vector, dict[str, Vector]]:
        background = self.causes_table.background.pain_region
        total = np.zeros(len(self.causes))
        delta = {}
        for region in regions:
            base = region.split(".")[0]
            present = np.array(
                [
                    _log(cause.pain_pattern.get(base, background))
                    for cause in self.causes_table.causes.values()
                ]
            )
            absent = np.array(
                [
                    _log(1.0 - cause.pain_pattern.get(base, background))
                    for cause in self.causes_table.causes.values()
                ]
            )
            total += absent
            delta[region] = present - absent
        return total, delta

    # --- cause observations --------------------------------------------------------------------------

    def _cause_findings(self) -> dict[str, str]:
        table = self.causes_table
        causes = list(table.causes.values())
        sided: dict[str, str] = {}
        for feature, background in table.background.features.items():
            categories = (
                background if isinstance(background, dict) else {True: background, False: 1.0 - background}
            )
            for category in categories:
                vector = np.array([_log(self._feature_p(cause, feature, category)) for cause in causes])
                key: object = (
                    category if isinstance(category, bool) else self._category_key(feature, category)
                )
                specs = self._specs(feature)
                if feature in table.derived:
                    self._add(feature, key, Contribution("cause", vector))
                for spec in specs:
                    if spec.side is not None:
                        sided[spec.id] = feature
                        continue
                    self._add(spec.id, key, Contribution("cause", vector))
                if any(spec.side for spec in specs):
                    self._add(feature, key, Contribution("cause", vector))
        for band in table.duration_bands:
            vector = np.array(
                [_log(cause.duration.get(band, table.background.duration[band])) for cause in causes]
            )
            self._add("duration_days", f"duration:{band}", Contribution("cause", vector))
        for band in table.age_bands:
            vector = np.array([_log(cause.age.get(band, 1.0)) for cause in causes])
            self._add("age", f"age:{band}", Contribution("cause", vector))
        for sex in self.vocabulary.findings["sex"].values:
            vector = np.array([_log(cause.sex.get(sex, 1.0)) for cause in causes])
            self._add("sex", sex, Contribution("cause", vector))
        return sided

    def _category_key(self, feature: str, category: str) -> str:
        if feature in self.causes_table.bins:
            return f"{feature}:{category}"
        return category

    def _feature_p(self, cause: s.Cause, feature: str, category: object) -> float:
        value = cause.features.get(feature, self.causes_table.background.features[feature])
        if isinstance(value, dict):
            return value[str(category)]
        return value if category is True else 1.0 - value

    def _log_involved(self) -> dict[str, tuple[Vector, Vector]]:
        """Return, per modality, log P(involved) and log P(not involved) for every site unit.

        The lesion's kind sets the chance: a root lesion involves the reflex in about half
        of cases.
        """
        log_involved: dict[str, tuple[Vector, Vector]] = {}
        for modality in MODALITIES:
            chances = np.array([self._kind(unit).involved.get(modality, 0.0) for unit in self.units])
            with np.errstate(divide="ignore"):
                log_involved[modality] = (np.log(chances), np.log(1.0 - chances))
        return log_involved

    def _involvement_overrides(self, pair_unit: list[int], pair_cause: list[int]) -> dict[str, Override]:
        """Return, per modality, the pairs whose cause sets its own chance of involvement.

        A cause whose lesions irritate rather than destroy the nerve (piriformis syndrome:
        pain without deficit) replaces its neural sites' kind defaults. Only these few
        pairs differ from the per-unit chances, so they are kept apart.
        """
        causes = list(self.causes_table.causes.values())
        overrides: dict[str, Override] = {}
        for modality in MODALITIES:
            pairs, chances = [], []
            for pair, (unit_index, cause_index) in enumerate(zip(pair_unit, pair_cause, strict=True)):
                chance = causes[cause_index].involved.get(modality)
                if chance is not None and self.units[unit_index].kind != "non_neural":
                    pairs.append(pair)
                    chances.append(chance)
            if pairs:
                with np.errstate(divide="ignore"):
                    overrides[modality] = Override(
                        pairs=np.array(pairs, dtype=np.intp),
                        units=np.array([pair_unit[pair] for pair in pairs], dtype=np.intp),
                        log_in=np.log(np.array(chances)),
                        log_out=np.log(1.0 - np.array(chances)),
                    )
        return overrides

    # --- assembly --------------------------------------------------------------------------------------

    def build(self) -> LikelihoodModel:
        pair_unit, pair_cause, pair_site, prior, site_ids = self._pairs()
        self._structure_findings()
        self._tests()
        self._site_features()
        sided = self._cause_findings()
        region_lists = self._region_lists()
        derived = {
            name: ((feature.region_list, frozenset() if feature.any_region else frozenset(feature.regions)),)
            for name, feature in self.causes_table.derived.items()
        }
        non_neural = np.array([self.units[i].kind == "non_neural" for i in pair_unit])
        return LikelihoodModel(
            units=self.units,
            causes=self.causes,
            site_ids=tuple(site_ids),
            pair_unit=np.array(pair_unit, dtype=np.intp),
            pair_cause=np.array(pair_cause, dtype=np.intp),
            pair_site=np.array(pair_site, dtype=np.intp),
            pair_log_prior=np.array(prior),
            pair_non_neural=non_neural,
            log_involved=self._log_involved(),
            involvement_overrides=self._involvement_overrides(pair_unit, pair_cause),
            lookup={key: tuple(value) for key, value in self.lookup.items()},
            binners=self._binners(),
            region_lists=region_lists,
            derived_from_lists=derived,
            sided_cause_features=sided,
            defining=self._defining(),
            undefined_log_weight=_log(self.causes_table.undefined.weight)
            if self.causes_table.undefined
            else 0.0,
        )

    def _defining(self) -> tuple[Defining, ...]:
        """Compile each cause's defining findings to the finding ids (every side) and values that count."""
        compiled = []
        for index, cause in enumerate(self.causes_table.causes.values()):
            if not cause.defining:
                continue
            positives: set[tuple[str, object]] = set()
            thresholds: list[tuple[str, float]] = []
            for one in cause.defining:
                for spec in self._specs(one.finding):
                    if one.at_least is not None:
                        thresholds.append((spec.id, one.at_least))
                    else:
                        positives.update((spec.id, value) for value in one.values)
            compiled.append(Defining(index, frozenset(positives), tuple(thresholds)))
        return tuple(compiled)


def _enumerated(spec: FindingSpec, bins: Mapping[str, tuple[float, float]]) -> bool:
    """Whether an int finding's few values are looked up one by one rather than binned (MRC grades)."""
    return spec.type == "int" and max(high - low for low, high in bins.values()) <= _MAX_ENUMERATED_SPAN


def _binner(bins: Mapping[str, tuple[float, float]]) -> Bins:
    return Bins(tuple(sorted(bins.items(), key=lambda item: item[1][0])))


@dataclass(frozen=True)
class Bins:
    """Names the bin a number falls in (lower bounds ascending, both bounds inclusive)."""

    ordered: tuple[tuple[str, tuple[float, float]], ...]

    def __call__(self, value: float) -> str | None:
        for name, (low, high) in self.ordered:
            if low <= value <= high:
                return name
        return None
