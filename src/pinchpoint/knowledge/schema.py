"""The schema of every knowledge table, checked when the knowledge is loaded.

One strict model per data file: an unknown key, a probability outside 0-1 or a missing
``source`` fails the load, and the message names the file, the row and the allowed keys.
Cross-references between tables (a muscle's nerve, a rule's finding, a row's source) are
checked afterwards by :mod:`pinchpoint.io.knowledge.loader`, which sees all tables at once.
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
    "PhrasesTable",
    "PolyneuropathyTable",
    "ProvocationTestsTable",
    "QuestionsTable",
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
    "root",
    "canal",
    "cauda_equina",
    "conus",
    "cord",
    "cord_shock",
    "plexus",
    "nerve",
    "polyneuropathy",
    "non_neural",
]


class Strict(BaseModel):
    """Base of every table model: unknown keys are errors and the model is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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
    sides: Literal["one", "both", "either"] = "one"
    """``one``: the side of a sided site; ``both``: both legs; ``either``: one leg, left or right,
    of a site the vocabulary does not side (a canal lesion felt in one leg)."""
    upper_motor_neuron: Degree | None = None
    length_dependent: bool = False
    pain_sites: list[str] = Field(default_factory=list)
    """Skin regions (without side) where this lesion's pain is typically felt most, beside the course
    of the nerves it names (``likelihoods.yaml`` ``lesion_site_pain``)."""
    weight: Annotated[float, Field(gt=0.0)] = 1.0
    kind: SiteKind | None = None
    """The kind of lesion whose likelihoods this variant reads, when not its site's: a cord lesion in
    the spinal shock of its first days reads as ``cord_shock`` (areflexic), not as an established
    ``cord`` lesion (brisk jerks). The site keeps its own kind for triage and plans."""


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
    "lmn_sign",
    "clonus",
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
    lmn_sign: Distribution
    clonus: Distribution


class KindLikelihoods(Background):
    """A kind of lesion: how often each modality is involved and its readings inside the territory.

    ``everywhere`` marks a kind without a territory (no nerve lesion): its readings apply to
    every structure, so that a deficit it cannot explain is weighed by its own low chance
    rather than by the background of a lesion elsewhere.
    """

    involved: dict[Modality, Probability]
    everywhere: bool = False
    expected_regions: dict[Literal["pain", "numbness", "sensory_exam"], Annotated[float, Field(gt=0.0)]]


class SiteFeature(Strict):
    """A finding that speaks for a kind of lesion rather than a territory."""

    p: dict[SiteKind, Probability]
    default: Probability
    source: str


class LesionSitePain(Strict):
    """How often pain is felt where a nerve is compressed, by kind of lesion (see likelihoods.yaml)."""

    p: dict[SiteKind, Probability]
    source: str
    note: str | None = None


class LikelihoodsTable(Table):
    """likelihoods.yaml."""

    background: Background
    readings: dict[str, dict[str, tuple[float, float]]]
    kinds: dict[SiteKind, KindLikelihoods]
    site_features: dict[str, SiteFeature]
    lesion_site_pain: LesionSitePain | None = None


# --- causes ---------------------------------------------------------------------------------------

FeatureValue = Probability | dict[str, Probability]


class DerivedFeature(Strict):
    """A feature computed from a region list (low back pain from pain_regions; any examined mass)."""

    region_list: str
    regions: list[str] = Field(default_factory=list)
    any_region: bool = False
    """The feature is present when the list holds any region (then ``regions`` is not read)."""
    source: str


class CauseBackground(Strict):
    """Feature probabilities for causes that do not list a feature."""

    source: str
    features: dict[str, FeatureValue]
    duration: dict[str, Probability]
    pain_region: Probability


def _present() -> list[bool | str]:
    return [True]


class DefiningFinding(Strict):
    """A finding that defines a cause: one of these readings (either side of a sided finding)."""

    finding: str
    values: list[bool | str] = Field(default_factory=_present)
    at_least: float | None = None
    """For a number: the finding counts when it is at least this (then ``values`` is not read)."""


class UndefinedCause(Strict):
    """How a cause with defining findings is weighed when none of them is present (causes.yaml)."""

    weight: Probability
    source: str
    note: str | None = None


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
    involved: dict[Modality, Probability] = Field(default_factory=dict)
    defining: list[DefiningFinding] = Field(default_factory=list)
    care: Level
    source: str


class CausesTable(Table):
    """causes.yaml."""

    age_bands: dict[str, tuple[int, int]]
    duration_bands: dict[str, tuple[int, int]]
    bins: dict[str, dict[str, tuple[float, float]]]
    derived: dict[str, DerivedFeature]
    background: CauseBackground
    undefined: UndefinedCause | None = None
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
    one_side_within: list[str] | None = None
    side: Literal["both"] | None = None
    unless_known_otherwise: Literal[True] | None = None
    """The leaf also holds while every finding it reads is unknown (see triage.yaml's header)."""
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    ref: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.finding is not None, self.all is not None, self.any is not None, self.ref is not None]
        if sum(forms) != 1:
            raise ValueError("a condition is exactly one of: a finding leaf, all, any, ref")
        if self.unless_known_otherwise is not None and self.finding is None:
            raise ValueError("unless_known_otherwise qualifies a finding leaf, not all, any or ref")
        if self.finding is not None:
            tests = [
                self.is_ is not None,
                self.at_least is not None,
                self.at_most is not None,
                self.includes_any is not None,
                self.not_empty is not None,
                self.both_sides_any is not None,
                self.one_side_within is not None,
            ]
            if sum(tests) != 1:
                raise ValueError(
                    "a finding leaf has exactly one test: is, at_least, at_most, includes_any, "
                    "not_empty, both_sides_any or one_side_within"
                )
        return self


class UnansweredWording(Strict):
    """What to say, to a person and to a clinician, with ``{signs}`` for the signs in words."""

    patient: str
    clinician: str


class Unanswered(Strict):
    """The floor under a triage that leaves emergency warning signs unanswered.

    Self-care is a positive conclusion: while a warning sign that a person can answer is
    unknown and could still make an emergency rule fire, the level is at least ``level``.
    """

    level: Level
    screen: list[str] = Field(min_length=1)
    """The findings that must be answered before self-care; other open signs are only warned of."""
    screen_source: str
    screen_when: Condition
    """The presentations for which the screen must be answered (true or unknown: it applies)."""
    reason: UnansweredWording
    emergency_if: UnansweredWording
    also_unanswered: UnansweredWording
    source: str


class DangerousCauses(Strict):
    """Causes whose likelihood alone lifts the triage to the cause's own level of care."""

    threshold: Probability
    causes: list[str] = Field(min_length=1)
    patient: str
    clinician: str
    source: str


class CauseCare(Strict):
    """How far a leading cause alone may raise the triage."""

    threshold: Probability
    cap: Level
    patient: str
    clinician: str
    source: str
    dangerous: DangerousCauses | None = None


class Rule(Strict):
    """One triage rule: the level it demands when its condition holds."""

    id: str
    level: Level
    when: Condition
    causes: list[str] = []
    """The causes the rule suspects by name (suspected-dvt: venous_thrombosis)."""
    suspects: list[str] = []
    """The families of serious condition the rule stands for (``cauda_equina``, ``cord``, ...).

    Plan conditions (``suspected``) and imaging.yaml (``indicated``) name families, not rule
    ids, so a new rule of a family is covered by being in it; every emergency rule names one.
    """
    patient: str
    clinician: str
    source: str


class RecordedFloor(Strict):
    """A diagnosis in the person's record that sets a floor under the triage.

    ``diagnosis`` is a vocabulary site (without side) or cause id, as terminology.yaml maps the
    record's condition codes to them; ``id`` is the rule id the floor fires as, so the plan's
    conditions (``rule:``) can name it like any triage rule.
    """

    id: str
    diagnosis: str
    level: Level
    suspects: list[str] = []
    """The families the floor stands for, as for a rule (``recorded-cauda-equina``: cauda_equina)."""
    patient: str
    clinician: str
    source: str


class TriageTable(Table):
    """triage.yaml."""

    cause_care: CauseCare
    unanswered: Unanswered
    definitions: dict[str, Condition]
    rules: list[Rule]
    recorded: list[RecordedFloor]

    def families(self) -> dict[str, frozenset[str]]:
        """Return the ids of the rules and floors of each family they suspect (``suspects``)."""
        members: dict[str, set[str]] = {}
        rows: list[Rule | RecordedFloor] = [*self.rules, *self.recorded]
        for row in rows:
            for family in row.suspects:
                members.setdefault(family, set()).add(row.id)
        return {family: frozenset(ids) for family, ids in members.items()}


# --- questions ------------------------------------------------------------------------------------

AnswerKind = Literal["yes_no", "choice", "number", "body_map", "form", "grid"]
InterviewMode = Literal["self_check", "clinician"]


class Wording(Strict):
    """What a person and what a clinician is shown for one question, option or label."""

    patient: str
    clinician: str


class EnableWhen(Strict):
    """Ask a question only after another question received a given answer."""

    question: str
    answer: bool | str


class QuestionRow(Strict):
    """One question of the bank: what it sets, how it is answered and how it is worded."""

    id: str
    kind: AnswerKind
    sets: list[str]
    group: str
    patient: str
    clinician: str
    needs_examiner: bool = False
    options: dict[str, Wording] = Field(default_factory=dict)
    items: dict[str, Wording] = Field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    enable_when: EnableWhen | None = None
    source: str


class SelectionSettings(Strict):
    """When the interview may stop, and how answers are enumerated or sampled when scoring."""

    min_gain: Annotated[float, Field(ge=0.0)]
    settled_probability: Probability
    max_diagnostic_questions: Annotated[int, Field(ge=0)]
    max_enumerated_answers: Annotated[int, Field(ge=1)]
    samples: Annotated[int, Field(ge=1)]
    source: str


class QuestionsTable(Table):
    """questions.yaml: the question bank of the adaptive interview."""

    selection: SelectionSettings
    modes: dict[InterviewMode, Wording]
    labels: dict[str, Wording]
    groups: dict[str, Wording]
    questions: list[QuestionRow]


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
    """A ServiceRequest code that orders imaging of the lumbar spine (or of the whole spine).

    ``investigations`` are the ids of investigations.yaml that an order with this code carries
    out: the plan's ServiceRequests are coded with it. ``region``: ``lumbar`` rows are the
    plan's lumbar imaging and the orders the CDS order review checks; ``whole_spine`` rows
    only code the plan's requests.
    """

    modality: Literal["mri", "ct", "xr"]
    investigations: list[str] = []
    region: Literal["lumbar", "whole_spine"] = "lumbar"


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
    """Triage rules whose firing makes lumbar imaging indicated: by family, or one by one.

    ``suspects`` names families of triage rules (triage.yaml ``suspects``), so a new rule of
    a listed family is an indication without being listed here; ``triage_rules`` names rules
    that belong to no such family (persistent radicular pain).
    """

    id: str
    suspects: list[str] = []
    triage_rules: list[str] = []
    clinician: str
    source: str

    @model_validator(mode="after")
    def _names_rules(self) -> ImagingIndication:
        if not self.suspects and not self.triage_rules:
            raise ValueError("an indication names families (suspects) or triage_rules, or both")
        return self


class NotSpinal(Strict):
    """Families of emergency rules that are not a question of spinal imaging (an occluded artery)."""

    suspects: list[str] = Field(min_length=1)
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
    not_spinal: NotSpinal
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


class InteropTable(Table):
    """interop.yaml."""

    safety_note: str
    safety_source: str
    levels: dict[str, LevelWording]
    unasked_red_flags: LevelWording


# --- names ----------------------------------------------------------------------------------------


class Name(Strict):
    """A site or a cause in plain words and as its medical term."""

    patient: str
    term: str


class LikelihoodBand(Strict):
    """Words for probabilities from ``at_least`` up to the next band."""

    at_least: Probability
    words: str


class NamesTable(Table):
    """names.yaml: what every vocabulary site and cause is called where people read it."""

    source: str
    likelihood: list[LikelihoodBand]
    sites: dict[str, Name]
    causes: dict[str, Name]


TABLES: dict[str, type[Table]] = {
    "names": NamesTable,
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
    "questions": QuestionsTable,
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


# --- the plan: advice, investigations, the article's claims -------------------------------------

Verdict = Literal["recommended", "option", "not_recommended", "unsafe", "no_evidence"]
StatementVerdict = Literal["accurate", "partly_accurate", "inaccurate"]
AdviceKind = Literal["action", "treatment", "self_help", "safety_net", "prevention", "complication"]
PregnancyUse = Literal["safe", "caution", "avoid"]


class PlanCondition(Strict):
    """A plan condition: a leaf on the assessment or on one finding, or a combination.

    Assessment leaves test the triage level (``triage``, ``triage_at_least``,
    ``triage_at_most``), a triage rule that fired (``rule``), a fired rule of a family
    (``suspected``: triage.yaml ``suspects``), or the posterior probability
    that the cause, the site or the kind of site is one of a list (``cause``, ``site``,
    ``site_kind``, compared with ``p_at_least`` or the table's threshold). Finding leaves
    read as in triage.yaml, plus ``unknown: true``. Unlike triage conditions, plan
    conditions may use ``not``: they choose advice, they never set the triage.
    """

    all: list[PlanCondition] | None = None
    any: list[PlanCondition] | None = None
    not_: PlanCondition | None = Field(default=None, alias="not")
    ref: str | None = None
    triage: list[Level] | None = None
    triage_at_least: Level | None = None
    triage_at_most: Level | None = None
    rule: list[str] | None = None
    suspected: list[str] | None = None
    cause: list[str] | None = None
    site: list[str] | None = None
    site_kind: list[SiteKind] | None = None
    p_at_least: Probability | None = None
    finding: str | None = None
    is_: bool | str | None = Field(default=None, alias="is")
    at_least: float | None = None
    at_most: float | None = None
    includes_any: list[str] | None = None
    not_empty: Literal[True] | None = None
    unknown: Literal[True] | None = None
    side: Literal["both"] | None = None
    unless_known_otherwise: Literal[True] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _one_form(self) -> PlanCondition:
        forms = {
            "all": self.all,
            "any": self.any,
            "not": self.not_,
            "ref": self.ref,
            "triage": self.triage,
            "triage_at_least": self.triage_at_least,
            "triage_at_most": self.triage_at_most,
            "rule": self.rule,
            "suspected": self.suspected,
            "cause": self.cause,
            "site": self.site,
            "site_kind": self.site_kind,
            "finding": self.finding,
        }
        present = [name for name, value in forms.items() if value is not None]
        if len(present) != 1:
            raise ValueError("a plan condition is exactly one of: " + ", ".join(forms))
        if self.p_at_least is not None and present[0] not in {"cause", "site", "site_kind"}:
            raise ValueError("p_at_least goes only with cause, site or site_kind")
        tests = [
            self.is_ is not None,
            self.at_least is not None,
            self.at_most is not None,
            self.includes_any is not None,
            self.not_empty is not None,
            self.unknown is not None,
        ]
        if self.finding is not None and sum(tests) != 1:
            raise ValueError(
                "a finding leaf has exactly one test: "
                "is, at_least, at_most, includes_any, not_empty or unknown"
            )
        if self.finding is None and (
            any(tests) or self.side is not None or self.unless_known_otherwise is not None
        ):
            raise ValueError(
                "is, at_least, at_most, includes_any, not_empty, unknown, side and "
                "unless_known_otherwise need a finding"
            )
        if self.unknown is not None and self.unless_known_otherwise is not None:
            raise ValueError("unless_known_otherwise goes with a test of a value, not with unknown")
        return self


class Timing(Strict):
    """How soon something should happen, in words for the person and for a clinician."""

    rank: int
    patient: str
    clinician: str


class StageText(Strict):
    """The title of one treatment stage."""

    patient: str
    clinician: str
    source: str


class VerdictText(Strict):
    """What a verdict means, for the person and for a clinician."""

    patient: str
    clinician: str


class AdviceItem(Strict):
    """One piece of advice: what it is, for whom, how the evidence grades it, and its source."""

    id: str
    kind: AdviceKind
    title: str
    stage: Literal[1, 2, 3] | None = None
    due: str | None = None
    when: PlanCondition | None = None
    verdict: Verdict
    pregnancy: PregnancyUse
    patient: str
    clinician: str
    source: str

    @model_validator(mode="after")
    def _shape(self) -> AdviceItem:
        if (self.kind == "treatment") != (self.stage is not None):
            raise ValueError("a treatment has a stage (1, 2 or 3) and nothing else has one")
        if (self.kind == "safety_net") != (self.due is not None):
            raise ValueError("a safety-net item says how soon to come back (due) and nothing else does")
        if (self.kind == "action") != (self.when is None):
            raise ValueError("an action is chosen by the triage level (no when); every other item has a when")
        return self


class AdviceTable(Table):
    """advice.yaml: treatment, self-help, safety-netting, prevention and complications."""

    threshold: Probability
    pregnant: PlanCondition
    actions: dict[Level, str]
    stages: dict[Literal[1, 2, 3], StageText]
    verdicts: dict[Verdict, VerdictText]
    timings: dict[str, Timing]
    definitions: dict[str, PlanCondition]
    items: list[AdviceItem]


class TestModality(Strict):
    """What kind of test an investigation is, for the safety rules of the plan."""

    imaging: bool
    ionising: bool
    gadolinium: bool
    source: str


class InvestigationItem(Strict):
    """One investigation: what, how soon, for whom, how the evidence grades it, its source."""

    id: str
    title: str
    modality: str
    due: str
    when: PlanCondition
    verdict: Verdict
    pregnancy: PregnancyUse
    patient: str
    clinician: str
    source: str


class InvestigationsTable(Table):
    """investigations.yaml."""

    modalities: dict[str, TestModality]
    items: list[InvestigationItem]


class ClaimTargets(Strict):
    """What in the knowledge base an article claim corresponds to."""

    advice: list[str] = Field(default_factory=list)
    investigations: list[str] = Field(default_factory=list)
    causes: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    triage_rules: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> ClaimTargets:
        if not any(
            [self.advice, self.investigations, self.causes, self.sites, self.findings, self.triage_rules]
        ):
            raise ValueError(
                "a claim maps to at least one advice item, investigation, cause, site, finding or rule"
            )
        return self


class ArticleClaim(Strict):
    """One claim of the source article, paraphrased, located, graded and mapped to the knowledge."""

    id: str
    section: str
    anchors: Annotated[list[str], Field(min_length=1)]
    kind: Literal["recommendation", "statement"]
    claim: str
    verdict: Verdict | StatementVerdict
    why: str
    maps_to: ClaimTargets
    source: str

    @model_validator(mode="after")
    def _verdict_fits_kind(self) -> ArticleClaim:
        statement = self.verdict in get_args(StatementVerdict)
        if statement != (self.kind == "statement"):
            raise ValueError(
                "a recommendation takes an advice verdict (recommended, option, not_recommended, unsafe, "
                "no_evidence); a statement takes accurate, partly_accurate or inaccurate"
            )
        return self


class NotAClaim(Strict):
    """A sentence of the article that claims nothing (a list's lead-in, a link), and why."""

    anchor: str
    why: str


class ArticleTable(Table):
    """article.yaml: every claim of the seed article and the sentences that carry none."""

    article: str
    title: str
    verdicts: dict[StatementVerdict, VerdictText]
    claims: list[ArticleClaim]
    not_claims: list[NotAClaim]


TABLES.update(
    {
        "advice": AdviceTable,
        "investigations": InvestigationsTable,
        "article": ArticleTable,
    }
)


# --- free-text intake (phrases.yaml) --------------------------------------------------------------

ContextCategory = Literal[
    "NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HISTORICAL", "HYPOTHETICAL", "FAMILY", "TERMINATE"
]
ContextDirection = Literal["FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"]
TextReason = Literal[
    "negated_red_flag", "negated_value", "uncertain", "hypothetical", "family", "historical", "no_side"
]


class PhraseTarget(Strict):
    """What a phrase means: a vocabulary finding (base id) and its value, or a region of a region list.

    A sided finding or a region that is not midline takes its side from the words near the
    phrase ("left", "right", "both legs") unless ``side`` fixes it.
    """

    finding: str
    value: bool | str | None = None
    region: str | None = None
    side: Literal["left", "right", "both"] | None = None


class PhraseRow(Strict):
    """One lexicon row: the lay and clinical wordings of one finding value.

    ``past_counts`` says a mention in the past ("history of cancer") still is the person's
    finding, as for a risk factor; otherwise a past mention is not proposed.
    """

    id: str
    phrases: list[str] = Field(min_length=1)
    target: PhraseTarget
    also: list[str] = Field(default_factory=list)
    """More yes/no findings (base ids) the wording states with the target's value, as "my bladder and
    bowels are normal" speaks of the bladder and the bowels at once."""
    past_counts: bool = False
    past: bool = False
    """The wording itself speaks of the past ("ex-smoker", "gave up smoking"): it is read as a past
    mention (nothing proposed unless ``past_counts``), as if a ConText history cue stood beside it."""
    qualifies: str | None = None
    """The symptom the wording describes (a ``symptoms`` region list, e.g. ``pain_regions``) when the
    wording names none itself ("worse at night"): if the nearest symptom word of its sentence is of
    another list ("pins and needles worse at night"), the wording proposes nothing."""
    source: str
    note: str = ""


class ContextRow(Strict):
    """A ConText cue added to medspaCy's defaults: words of doubt, negation or time in lay speech."""

    literal: str
    category: ContextCategory
    direction: ContextDirection
    source: str


class SideWords(Strict):
    """Words that name a side, and how many words away from a phrase they may stand."""

    left: list[str]
    right: list[str]
    both: list[str]
    window: Annotated[int, Field(ge=1, le=20)]
    source: str


class BodyPartRow(Strict):
    """Words for a part of the leg or back and the regions they name (``whole leg``: several).

    Which region list a mention fills (pain, numbness, the examiner's sensory loss) is read from
    the nearest :class:`SymptomWords` in its sentence; a body part with none near proposes nothing.
    """

    id: str
    phrases: list[str] = Field(min_length=1)
    regions: list[str] = Field(min_length=1)
    source: str


class SymptomWords(Strict):
    """Words that say what a body part named near them has: they choose the region list."""

    finding: str
    words: list[str] = Field(min_length=1)
    source: str


class MeasureTarget(Strict):
    """What one regular-expression match proposes.

    ``from_`` names the pattern group whose text gives the value: ``number`` (digits or a
    number word, times the ``unit`` group's days when there is one) or a ``terms`` table of the
    same name; without it the fixed ``value`` is proposed. ``item`` names the group whose term
    gives the per-item part of the id (``exam.power.<movement>``).
    """

    finding: str
    from_: str | None = Field(default=None, alias="from")
    value: bool | str | int | None = None
    item: str | None = None


class MeasureRow(Strict):
    """Numbers, grades and examination notation, read by regular expressions.

    A ``{name}`` in a pattern stands for the words of the ``terms`` table ``name`` (or, for
    ``{number}``, digits and number words) as a named group. The mention spans the groups its
    targets read (the whole match when they read none), so that words around a number such as
    "temperature" stay free for their own phrase. ``mode: clinician`` rows read only notes.
    """

    id: str
    patterns: list[str] = Field(min_length=1)
    targets: list[MeasureTarget] = Field(min_length=1)
    past_counts: bool = False
    about: list[str] = Field(default_factory=list)
    """When given, a match counts only in a sentence that names a symptom: a ``symptoms`` word, a
    body part, or a phrase of one of these findings (base ids). A duration of diabetes or of
    physiotherapy is not how long the leg has hurt."""
    mode: Literal["any", "clinician"] = "any"
    side: Literal["both"] | None = None
    source: str


class Implication(Strict):
    """A finding a careful reader takes from another: pain in ``regions`` of ``when`` implies ``then``."""

    id: str
    when: str
    regions: list[str] = Field(min_length=1)
    then: PhraseTarget
    source: str


class PhrasesTable(Table):
    """phrases.yaml: the free-text lexicon, its side words, extra ConText cues and reason wording."""

    notice: Wording
    sides: SideWords
    context: list[ContextRow]
    reasons: dict[TextReason, Wording]
    phrases: list[PhraseRow]
    word_forms: dict[str, str] = Field(default_factory=dict)
    body_parts: list[BodyPartRow] = Field(default_factory=list)
    symptoms: list[SymptomWords] = Field(default_factory=list)
    terms: dict[str, dict[str, str | int]] = Field(default_factory=dict)
    measures: list[MeasureRow] = Field(default_factory=list)
    implies: list[Implication] = Field(default_factory=list)


TABLES.update({"phrases": PhrasesTable})
