"""The schema of every knowledge table, checked when the knowledge is loaded.

One strict model per data file: an unknown key, a probability outside 0-1 or a missing
``source`` fails the load, and the message names the file, the row and the allowed keys.
Cross-references between tables (a muscle's nerve, a rule's finding, a row's source) are
checked afterwards by :mod:`pinchpoint.knowledge.loader`, which sees all tables at once.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CausesTable",
    "Condition",
    "ImagingTable",
    "InteropTable",
    "LikelihoodsTable",
    "MusclesTable",
    "NervesTable",
    "ObservationsTable",
    "PolyneuropathyTable",
    "ProvocationTestsTable",
    "RadicularPainTable",
    "ReflexesTable",
    "RootsTable",
    "SacralFunctionsTable",
    "SitesTable",
    "SkinTable",
    "SourcesTable",
    "TerminologyTable",
    "TriageTable",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Degree = Literal["major", "minor"]
Level = Literal["self_care", "soon", "urgent", "emergency"]
Distribution = dict[str, Probability]
SiteKind = Literal[
    "root", "canal", "cauda_equina", "conus", "cord", "plexus", "nerve", "polyneuropathy", "non_neural"
]


class Strict(BaseModel):
    """Base of every table model: unknown keys are errors and the model is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Table(Strict):
    """Every file names its table and its schema version."""

    table: str
    version: int


# --- bibliography ---------------------------------------------------------------------------------


class Source(Strict):
    """One entry of the bibliography."""

    title: str
    kind: Literal["guideline", "review", "study", "textbook", "teaching", "design", "terminology"]
    year: int | None = None
    url: str | None = None


class SourcesTable(Table):
    """sources.yaml."""

    sources: dict[str, Source]


# --- anatomy --------------------------------------------------------------------------------------


class RootsTable(Table):
    """roots.yaml: the lumbosacral roots in order."""

    source: str
    roots: list[str]


class Nerve(Strict):
    """A nerve of the tree: its parent, roots, the regions along its course."""

    parent: str | None = None
    roots: list[str]
    course: list[str]
    note: str = ""
    source: str


class NervesTable(Table):
    """nerves.yaml."""

    nerves: dict[str, Nerve]


class Muscle(Strict):
    """A muscle, the movements it makes, its roots and its nerve."""

    movements: dict[str, Literal["prime", "accessory"]]
    roots: dict[str, Degree]
    nerve: str
    source: str


class MusclesTable(Table):
    """muscles.yaml."""

    muscles: dict[str, Muscle]


class Reflex(Strict):
    """A tendon reflex: the roots of its arc and the nerve that carries it."""

    roots: dict[str, Degree]
    nerve: str
    source: str


class ReflexesTable(Table):
    """reflexes.yaml."""

    reflexes: dict[str, Reflex]


class SkinRegion(Strict):
    """Who supplies one region's skin: roots (dermatomes) and cutaneous nerves."""

    roots: dict[str, Degree]
    nerves: dict[str, Degree]
    source: str


class SkinTable(Table):
    """skin.yaml."""

    regions: dict[str, SkinRegion]


class RadicularPain(Strict):
    """Where the pain of one irritated root is felt."""

    regions: list[str]
    source: str


class RadicularPainTable(Table):
    """radicular_pain.yaml."""

    roots: dict[str, RadicularPain]


class SacralFunction(Strict):
    """Bladder, bowel, sphincter or genital function and its sacral supply."""

    roots: dict[str, Degree]
    nerve: str
    bilateral_supply: bool
    source: str


class SacralFunctionsTable(Table):
    """sacral_functions.yaml."""

    functions: dict[str, SacralFunction]


class PolyneuropathyTable(Table):
    """polyneuropathy.yaml: the length-dependent territory."""

    source: str
    regions: dict[str, Degree]
    movements: dict[str, Degree]
    reflexes: dict[str, Degree]


# --- sites, observations, likelihoods -------------------------------------------------------------


class Variant(Strict):
    """Where along the nerve a site's lesion lies; its territory is derived, not listed."""

    roots: dict[str, Degree] = Field(default_factory=dict)
    nerves: list[str] = Field(default_factory=list)
    excluding: list[str] = Field(default_factory=list)
    sides: Literal["one", "both"] = "one"
    upper_motor_neuron: Degree | None = None
    length_dependent: bool = False
    weight: Annotated[float, Field(gt=0.0)] = 1.0


class Site(Strict):
    """A candidate lesion site: its kind of lesion and its variants."""

    kind: SiteKind
    variants: dict[str, Variant]
    source: str

    @model_validator(mode="after")
    def _has_variants(self) -> Site:
        if not self.variants:
            raise ValueError("a site needs at least one variant")
        return self


class SitesTable(Table):
    """sites.yaml."""

    sites: dict[str, Site]


class ProvocationTest(Strict):
    """A stretch or pressure test and the roots and nerves it provokes."""

    roots: dict[str, Degree]
    nerves: list[str]
    sensitivity: Probability
    specificity: Probability
    sensitivity_by_kind: dict[SiteKind, Probability] = Field(default_factory=dict)
    note: str = ""
    source: str


class ProvocationTestsTable(Table):
    """provocation_tests.yaml."""

    tests: dict[str, ProvocationTest]


Modality = Literal["pain", "numbness", "sensory_exam", "motor", "reflex", "sacral"]
ReadingSet = Literal[
    "power_grade",
    "reported_weakness",
    "reflex",
    "plantar",
    "sacral_severe",
    "sacral_early",
    "sacral_sign",
    "residual_volume",
]


class StructureObservation(Strict):
    """How one vocabulary finding reports on one anatomical structure."""

    modality: Modality
    structure: str
    readings: ReadingSet
    source: str


class RegionListObservation(Strict):
    """How a region list (pain, numbness, examined sensory loss) reports on territories."""

    modality: Literal["pain", "numbness", "sensory_exam"]
    territory: Literal["pain", "skin"]
    source: str


class ObservationsTable(Table):
    """observations.yaml."""

    findings: dict[str, StructureObservation]
    region_lists: dict[str, RegionListObservation]


class Background(Strict):
    """Reading distributions of structures outside the lesion's territory."""

    source: str
    region_present: dict[str, Probability]
    power_grade: Distribution
    reported_weakness: Distribution
    reflex: Distribution
    plantar: Distribution
    sacral_severe: Distribution
    sacral_early: Distribution
    sacral_sign: Distribution
    residual_volume: Distribution


class KindLikelihoods(Background):
    """A kind of lesion: how often each modality is involved and its readings inside the territory."""

    involved: dict[Modality, Probability]
    expected_regions: dict[Literal["pain", "numbness", "sensory_exam"], Annotated[float, Field(gt=0.0)]]


class SiteFeature(Strict):
    """A finding that speaks for a kind of lesion rather than a territory."""

    p: dict[SiteKind, Probability]
    default: Probability
    source: str


class LikelihoodsTable(Table):
    """likelihoods.yaml."""

    background: Background
    readings: dict[str, dict[str, tuple[float, float]]]
    kinds: dict[SiteKind, KindLikelihoods]
    site_features: dict[str, SiteFeature]


# --- causes ---------------------------------------------------------------------------------------

FeatureValue = Probability | dict[str, Probability]


class DerivedFeature(Strict):
    """A feature computed from a region list (low back pain from pain_regions)."""

    region_list: str
    regions: list[str]
    source: str


class CauseBackground(Strict):
    """Feature probabilities for causes that do not list a feature."""

    source: str
    features: dict[str, FeatureValue]
    duration: dict[str, Probability]
    pain_region: Probability


class Cause(Strict):
    """One cause: prior, modifiers, sites it produces, features, care it needs."""

    prior: Annotated[float, Field(gt=0.0, le=1.0)]
    basis: str
    age: dict[str, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
    sex: dict[str, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
    sites: dict[str, Probability]
    features: dict[str, FeatureValue] = Field(default_factory=dict)
    duration: dict[str, Probability]
    pain_pattern: dict[str, Probability] = Field(default_factory=dict)
    care: Level
    source: str


class CausesTable(Table):
    """causes.yaml."""

    age_bands: dict[str, tuple[int, int]]
    duration_bands: dict[str, tuple[int, int]]
    bins: dict[str, dict[str, tuple[float, float]]]
    derived: dict[str, DerivedFeature]
    background: CauseBackground
    causes: dict[str, Cause]


# --- triage ---------------------------------------------------------------------------------------


class Condition(Strict):
    """A triage condition: a leaf on one finding, or a combination (all / any / ref)."""

    finding: str | None = None
    is_: bool | str | None = Field(default=None, alias="is")
    at_least: float | None = None
    at_most: float | None = None
    includes_any: list[str] | None = None
    not_empty: Literal[True] | None = None
    both_sides_any: list[str] | None = None
    side: Literal["both"] | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    ref: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.finding is not None, self.all is not None, self.any is not None, self.ref is not None]
        if sum(forms) != 1:
            raise ValueError("a condition is exactly one of: a finding leaf, all, any, ref")
        if self.finding is not None:
            tests = [
                self.is_ is not None,
                self.at_least is not None,
                self.at_most is not None,
                self.includes_any is not None,
                self.not_empty is not None,
                self.both_sides_any is not None,
            ]
            if sum(tests) != 1:
                raise ValueError(
                    "a finding leaf has exactly one test: is, at_least, at_most, includes_any, "
                    "not_empty or both_sides_any"
                )
        return self


class CauseCare(Strict):
    """How far a leading cause alone may raise the triage."""

    threshold: Probability
    cap: Level
    patient: str
    clinician: str
    source: str


class Rule(Strict):
    """One triage rule: the level it demands when its condition holds."""

    id: str
    level: Level
    when: Condition
    patient: str
    clinician: str
    source: str


class TriageTable(Table):
    """triage.yaml."""

    cause_care: CauseCare
    definitions: dict[str, Condition]
    rules: list[Rule]


# --- interoperability: terminology, imaging appropriateness, record-system wording ----------------


class CodeSystem(Strict):
    """A terminology pinchpoint reads or writes: its canonical URI."""

    url: str
    source: str


class Code(Strict):
    """One code of a terminology, with its display as published."""

    system: str
    code: str = Field(min_length=1)
    display: str
    source: str


class ConditionCode(Code):
    """A Condition code that states a vocabulary finding."""

    finding: str
    value: bool | int | float | str
    timing: Literal["current", "ever"]


class ObservationCode(Code):
    """An Observation code whose value is a vocabulary finding: a quantity in ``unit`` or coded answers."""

    finding: str
    unit: str | None = None
    answers: dict[str, bool | str] = Field(default_factory=dict)
    unknown_answers: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _quantity_or_answers(self) -> ObservationCode:
        if (self.unit is not None) != bool(self.answers):
            return self
        raise ValueError("an observation code has either a unit (a quantity) or answers (coded values)")


class PresentationCode(Code):
    """A Condition code that names the presenting problem (non-specific low back pain, sciatica)."""

    presentation: str


class ImagingOrderCode(Code):
    """A ServiceRequest code that orders imaging of the lumbar spine."""

    modality: Literal["mri", "ct", "xr"]


class TerminologyTable(Table):
    """terminology.yaml."""

    systems: dict[str, CodeSystem]
    conditions: list[ConditionCode]
    observations: list[ObservationCode]
    sites: dict[str, list[Code]]
    causes: dict[str, list[Code]]
    presentations: list[PresentationCode]
    imaging_orders: list[ImagingOrderCode]


class ImagingIndication(Strict):
    """Triage rules whose firing makes lumbar imaging indicated."""

    id: str
    triage_rules: list[str] = Field(min_length=1)
    clinician: str
    source: str


class RecordedIndication(Strict):
    """Recorded diagnoses (sites, causes) that make lumbar imaging indicated."""

    sites: list[str]
    causes: list[str]
    clinician: str
    source: str


class OpenWhen(Strict):
    """Findings that leave the imaging decision to the clinician (a condition of the triage language)."""

    id: str
    when: Condition
    clinician: str
    source: str


class UncomplicatedRule(Strict):
    """A triage rule that does not, on its own, make back pain or sciatica complicated."""

    id: str
    source: str


class Presentation(Strict):
    """A presenting problem, and the leading causes that stand for it in an assessment."""

    causes: list[str]
    source: str


class NotIndicated(Strict):
    """A presentation for which guidance says imaging is not indicated, within ``max_days`` if set."""

    id: str
    presentation: str
    max_days: Annotated[int, Field(gt=0)] | None
    summary: Annotated[str, Field(max_length=139)]
    clinician: str
    source: str


class ImagingTable(Table):
    """imaging.yaml."""

    indicated: list[ImagingIndication]
    recorded: RecordedIndication
    open_when: OpenWhen
    uncomplicated_rules: list[UncomplicatedRule]
    presentations: dict[str, Presentation]
    not_indicated: list[NotIndicated]


class ServiceRequestText(Strict):
    """The care a triage level asks for, as a ServiceRequest suggestion."""

    text: str
    priority: Literal["routine", "urgent", "asap", "stat"]


class LevelWording(Strict):
    """What record systems are told for one triage level."""

    summary: Annotated[str, Field(max_length=139)]
    indicator: Literal["info", "warning", "critical"]
    request: ServiceRequestText | None = None
    source: str


class RecordedDiagnosisFloor(Strict):
    """A recorded diagnosis of a site that sets a floor under the triage."""

    site: str
    at_least: Level
    patient: str
    clinician: str
    source: str


class InteropTable(Table):
    """interop.yaml."""

    safety_note: str
    safety_source: str
    levels: dict[str, LevelWording]
    unasked_red_flags: LevelWording
    recorded_diagnoses: list[RecordedDiagnosisFloor]


TABLES: dict[str, type[Table]] = {
    "sources": SourcesTable,
    "roots": RootsTable,
    "nerves": NervesTable,
    "muscles": MusclesTable,
    "reflexes": ReflexesTable,
    "skin": SkinTable,
    "radicular_pain": RadicularPainTable,
    "sacral_functions": SacralFunctionsTable,
    "polyneuropathy": PolyneuropathyTable,
    "sites": SitesTable,
    "provocation_tests": ProvocationTestsTable,
    "observations": ObservationsTable,
    "likelihoods": LikelihoodsTable,
    "causes": CausesTable,
    "triage": TriageTable,
    "terminology": TerminologyTable,
    "imaging": ImagingTable,
    "interop": InteropTable,
}
"""Every knowledge table by file stem, with the model that validates it."""


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """Return the keys a table model accepts, for error messages."""
    return sorted(field.alias or name for name, field in model.model_fields.items())


def allowed_keys_at(model: type[BaseModel], path: tuple[int | str, ...]) -> list[str]:
    """Return the keys accepted at ``path`` inside a table (a row, a nested mapping), for messages."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {field.alias or name: field for name, field in current.model_fields.items()}
            field = fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            current = get_args(current)[-1] if get_args(current) else None
        if get_origin(current) in (Union, UnionType):
            current = next((a for a in get_args(current) if isinstance(a, type)), current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return allowed_keys(current)
    return []


def dump(model: BaseModel) -> dict[str, Any]:
    """Return a model as plain data, by alias."""
    return model.model_dump(by_alias=True)
