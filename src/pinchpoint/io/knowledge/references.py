"""Cross-reference checks between knowledge tables, run once when the knowledge is loaded.

Each table is valid on its own when it gets here (see :mod:`pinchpoint.knowledge.schema`);
this module checks that the tables agree with each other and with the vocabulary: every
``source`` resolves in the bibliography, every root, nerve, muscle movement, region, site,
cause and finding that a row names exists, and every triage definition that a rule refers
to is defined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from pinchpoint.core.questions import REQUIRED_LABELS, expand_sets
from pinchpoint.core.vocabulary import FindingSpec, Vocabulary
from pinchpoint.errors import MissingSourceError, UnresolvedReferenceError
from pinchpoint.knowledge import schema as s

__all__ = ["check_phrases", "check_references", "terminology_codes", "triage_rule_ids"]


def check_references(tables: Mapping[str, s.Table], vocabulary: Vocabulary) -> None:
    """Check every reference between tables and to the vocabulary.

    Raises:
        MissingSourceError: A row cites a source id that sources.yaml does not define.
        UnresolvedReferenceError: A row names something that does not exist.
    """
    t = _Tables(tables)
    _check_sources(tables, set(t.sources.sources))
    roots = set(t.roots.roots)
    nerves = set(t.nerves.nerves)
    regions = set(vocabulary.regions)
    for name, nerve in t.nerves.nerves.items():
        _known(nerve.roots, roots, f"nerves.yaml: {name}.roots", "a root of roots.yaml")
        _known([nerve.parent] if nerve.parent else [], nerves, f"nerves.yaml: {name}.parent", "a nerve")
        _known(nerve.course, regions, f"nerves.yaml: {name}.course", "a vocabulary region")
    for name, muscle in t.muscles.muscles.items():
        _known(
            muscle.movements, vocabulary.movements, f"muscles.yaml: {name}.movements", "a vocabulary movement"
        )
        _known(muscle.roots, roots, f"muscles.yaml: {name}.roots", "a root")
        _known([muscle.nerve], nerves, f"muscles.yaml: {name}.nerve", "a nerve of nerves.yaml")
    for name, reflex in t.reflexes.reflexes.items():
        _known([name], vocabulary.reflexes, "reflexes.yaml", "a vocabulary reflex")
        _known(reflex.roots, roots, f"reflexes.yaml: {name}.roots", "a root")
        _known([reflex.nerve], nerves, f"reflexes.yaml: {name}.nerve", "a nerve")
    _known(t.skin.regions, regions, "skin.yaml: regions", "a vocabulary region")
    _complete(regions, t.skin.regions, "skin.yaml: regions", "every vocabulary region")
    for name, region in t.skin.regions.items():
        _known(region.roots, roots, f"skin.yaml: {name}.roots", "a root")
        _known(region.nerves, nerves, f"skin.yaml: {name}.nerves", "a nerve")
    for root, pain in t.radicular_pain.roots.items():
        _known([root], roots, "radicular_pain.yaml: roots", "a root")
        _known(pain.regions, regions, f"radicular_pain.yaml: {root}.regions", "a vocabulary region")
    for name, function in t.sacral_functions.functions.items():
        _known(function.roots, roots, f"sacral_functions.yaml: {name}.roots", "a root")
        _known([function.nerve], nerves, f"sacral_functions.yaml: {name}.nerve", "a nerve")
    _known(t.polyneuropathy.regions, regions, "polyneuropathy.yaml: regions", "a vocabulary region")
    _known(t.polyneuropathy.movements, vocabulary.movements, "polyneuropathy.yaml: movements", "a movement")
    _known(t.polyneuropathy.reflexes, vocabulary.reflexes, "polyneuropathy.yaml: reflexes", "a reflex")
    _check_sites(t, vocabulary, roots, nerves)
    _check_names(cast(s.NamesTable, tables["names"]), vocabulary)
    _check_observations(t, vocabulary)
    _check_causes(t, vocabulary)
    _check_triage(t, vocabulary)
    _check_plan(tables, vocabulary)
    check_questions(cast(s.QuestionsTable, tables["questions"]), vocabulary)
    check_interop_references(tables, vocabulary)
    if "phrases" in tables:
        check_phrases(cast(s.PhrasesTable, tables["phrases"]), vocabulary)


class _Tables:
    """Typed access to the validated tables."""

    def __init__(self, tables: Mapping[str, s.Table]) -> None:
        self.sources = cast(s.SourcesTable, tables["sources"])
        self.roots = cast(s.RootsTable, tables["roots"])
        self.nerves = cast(s.NervesTable, tables["nerves"])
        self.muscles = cast(s.MusclesTable, tables["muscles"])
        self.reflexes = cast(s.ReflexesTable, tables["reflexes"])
        self.skin = cast(s.SkinTable, tables["skin"])
        self.radicular_pain = cast(s.RadicularPainTable, tables["radicular_pain"])
        self.sacral_functions = cast(s.SacralFunctionsTable, tables["sacral_functions"])
        self.polyneuropathy = cast(s.PolyneuropathyTable, tables["polyneuropathy"])
        self.sites = cast(s.SitesTable, tables["sites"])
        self.provocation_tests = cast(s.ProvocationTestsTable, tables["provocation_tests"])
        self.observations = cast(s.ObservationsTable, tables["observations"])
        self.likelihoods = cast(s.LikelihoodsTable, tables["likelihoods"])
        self.causes = cast(s.CausesTable, tables["causes"])
        self.triage = cast(s.TriageTable, tables["triage"])


def _check_names(table: s.NamesTable, vocabulary: Vocabulary) -> None:
    """Every vocabulary site and cause has exactly one name, and nothing else is named."""
    for kind, named, ids in (
        ("sites", table.sites, set(vocabulary.sites)),
        ("causes", table.causes, set(vocabulary.causes)),
    ):
        _known(named, ids, f"names.yaml: {kind}", f"a vocabulary {kind[:-1]}")
        _complete(ids, named, f"names.yaml: {kind}", f"every vocabulary {kind[:-1]}")
    if min((band.at_least for band in table.likelihood), default=1.0) != 0.0:
        raise UnresolvedReferenceError(
            "the likelihood bands leave low probabilities without words",
            location="names.yaml: likelihood",
            expected="a band with at_least: 0",
            got=sorted(band.at_least for band in table.likelihood),
        )


def _check_sites(t: _Tables, vocabulary: Vocabulary, roots: set[str], nerves: set[str]) -> None:
    _known(t.sites.sites, vocabulary.sites, "sites.yaml: sites", "a vocabulary site")
    _complete(set(vocabulary.sites), t.sites.sites, "sites.yaml: sites", "every vocabulary site")
    for name, site in t.sites.sites.items():
        for variant_name, variant in site.variants.items():
            where = f"sites.yaml: {name}.variants.{variant_name}"
            _known(variant.roots, roots, f"{where}.roots", "a root")
            _known([*variant.nerves, *variant.excluding], nerves, f"{where}.nerves", "a nerve")
            _known(variant.pain_sites, vocabulary.regions, f"{where}.pain_sites", "a vocabulary region")
            if variant.sides == "either" and name in vocabulary.sites and vocabulary.sites[name].sided:
                raise UnresolvedReferenceError(
                    "'either' is for a site the vocabulary does not side",
                    location=f"{where}.sides",
                    expected="one or both (the vocabulary sides this site)",
                    got=variant.sides,
                )
    for name, test in t.provocation_tests.tests.items():
        _known(
            [name],
            {f.base for f in vocabulary.findings.values()},
            "provocation_tests.yaml",
            "a sided finding",
        )
        _known(test.roots, roots, f"provocation_tests.yaml: {name}.roots", "a root")
        _known(test.nerves, nerves, f"provocation_tests.yaml: {name}.nerves", "a nerve")


def _check_observations(t: _Tables, vocabulary: Vocabulary) -> None:
    bases = {f.base for f in vocabulary.findings.values()}
    functions = set(t.sacral_functions.functions)
    readings = set(type(t.likelihoods.background).model_fields) - {"source", "region_present"}
    for name, observation in t.observations.findings.items():
        where = f"observations.yaml: {name}"
        _known([name], bases, where, "a vocabulary finding")
        _known([observation.readings], readings, f"{where}.readings", "a reading table of likelihoods.yaml")
        kind, _, item = observation.structure.partition(".")
        known_items = {
            "movement": vocabulary.movements,
            "function": functions,
            "skin": vocabulary.regions,
        }.get(kind)
        if item and known_items is not None:
            _known([item], known_items, f"{where}.structure", f"a {kind}")
        elif item or kind not in {"movement", "reflex", "plantar", "leg"}:
            raise UnresolvedReferenceError(
                "unknown structure",
                location=f"{where}.structure",
                expected="movement, reflex, plantar, leg, movement.<id>, function.<id> or skin.<region>",
                got=observation.structure,
            )
    _known(t.observations.region_lists, bases, "observations.yaml: region_lists", "a region-list finding")
    _known(t.likelihoods.site_features, bases, "likelihoods.yaml: site_features", "a vocabulary finding")


def _check_causes(t: _Tables, vocabulary: Vocabulary) -> None:
    table = t.causes
    _known(table.causes, vocabulary.causes, "causes.yaml: causes", "a vocabulary cause")
    _complete(set(vocabulary.causes), table.causes, "causes.yaml: causes", "every vocabulary cause")
    features = {f.base for f in vocabulary.findings.values()} | set(table.derived)
    _known(
        table.background.features,
        features,
        "causes.yaml: background.features",
        "a finding or derived feature",
    )
    for name, cause in table.causes.items():
        where = f"causes.yaml: {name}"
        _known(cause.sites, vocabulary.sites, f"{where}.sites", "a vocabulary site")
        _known(
            cause.features,
            table.background.features,
            f"{where}.features",
            "a feature with a background value",
        )
        _known(cause.age, table.age_bands, f"{where}.age", "an age band")
        _known(cause.sex, vocabulary.findings["sex"].values, f"{where}.sex", "a sex")
        _known(cause.duration, table.duration_bands, f"{where}.duration", "a duration band")
        _known(cause.pain_pattern, vocabulary.regions, f"{where}.pain_pattern", "a vocabulary region")
        _known(
            [one.finding for one in cause.defining],
            {f.base for f in vocabulary.findings.values()},
            f"{where}.defining",
            "a vocabulary finding",
        )
    if any(cause.defining for cause in table.causes.values()) and table.undefined is None:
        raise UnresolvedReferenceError(
            "causes with defining findings need the weight of a cause without them",
            location="causes.yaml: undefined",
            expected="undefined: {weight, source}",
            got="nothing",
        )
    for name, derived in table.derived.items():
        _known(
            [derived.region_list],
            {"pain_regions", "numbness_regions", "exam.mass_regions"},
            f"causes.yaml: derived.{name}",
            "a list",
        )


def _check_triage(t: _Tables, vocabulary: Vocabulary) -> None:
    _known(t.triage.unanswered.screen, vocabulary.findings, "triage.yaml: unanswered.screen", "a finding id")
    dangerous = t.triage.cause_care.dangerous
    if dangerous is not None:
        _known(dangerous.causes, vocabulary.causes, "triage.yaml: cause_care.dangerous", "a vocabulary cause")
    definitions = set(t.triage.definitions)
    bases = {f.base for f in vocabulary.findings.values()}
    for name, condition in t.triage.definitions.items():
        _check_condition(condition, f"triage.yaml: definitions.{name}", definitions, bases, vocabulary)
    seen: set[str] = set()
    for rule in t.triage.rules:
        if rule.id in seen:
            raise UnresolvedReferenceError(
                "two rules share one id", location=f"triage.yaml: {rule.id}", expected="unique rule ids"
            )
        seen.add(rule.id)
        _check_condition(rule.when, f"triage.yaml: {rule.id}.when", definitions, bases, vocabulary)
        _known(rule.causes, vocabulary.causes, f"triage.yaml: {rule.id}.causes", "a vocabulary cause")
    _check_recorded_floors(t.triage, vocabulary, seen)


def _check_recorded_floors(table: s.TriageTable, vocabulary: Vocabulary, rule_ids: set[str]) -> None:
    """Check that each recorded-diagnosis floor names a site or cause and has an id of its own."""
    diagnoses = {*vocabulary.sites, *vocabulary.causes}
    for index, floor in enumerate(table.recorded):
        where = f"triage.yaml: recorded[{index}]"
        if floor.id in rule_ids:
            raise UnresolvedReferenceError(
                "two rules share one id", location=f"{where}.id", expected="unique rule ids", got=floor.id
            )
        rule_ids.add(floor.id)
        _known(
            [floor.diagnosis], diagnoses, f"{where}.diagnosis", "a vocabulary site (without side) or cause"
        )


def _check_condition(
    condition: s.Condition, where: str, definitions: set[str], bases: set[str], vocabulary: Vocabulary
) -> None:
    if condition.ref is not None:
        _known([condition.ref], definitions, where, "a triage definition")
    for child in [*(condition.all or []), *(condition.any or [])]:
        _check_condition(child, where, definitions, bases, vocabulary)
    if condition.finding is not None:
        patterns = bases | set(vocabulary.findings) | {f"{base}.*" for base in bases}
        patterns |= {f"{f.base}.{f.item}" for f in vocabulary.findings.values() if f.item}
        _known([condition.finding], patterns, where, "a vocabulary finding, base id, base.item or base.*")
        regions = [
            *(condition.includes_any or []),
            *(condition.both_sides_any or []),
            *(condition.one_side_within or []),
        ]
        _known(regions, vocabulary.regions, where, "a vocabulary region")
        if condition.unless_known_otherwise is not None and condition.finding not in vocabulary.findings:
            raise UnresolvedReferenceError(
                "an unless_known_otherwise leaf reads one finding, so that only its own value can settle it",
                location=where,
                expected="a concrete finding id (with its side, if sided)",
                got=condition.finding,
            )


def _check_sources(tables: Mapping[str, s.Table], sources: set[str]) -> None:
    for name, table in tables.items():
        for location, source in _cited(table.model_dump(by_alias=True), f"{name}.yaml"):
            if source not in sources:
                raise MissingSourceError(
                    "a row cites a source that is not in the bibliography",
                    location=location,
                    expected="a source id of sources.yaml",
                    got=source,
                )


def _cited(data: Any, where: str) -> Iterable[tuple[str, str]]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key == "source" and isinstance(value, str):
                yield where, value
            else:
                yield from _cited(value, f"{where}: {key}" if ":" not in where else f"{where}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _cited(value, f"{where}[{index}]")


def _known(names: Iterable[str], known: Iterable[str] | Mapping[str, Any], where: str, what: str) -> None:
    known_set = set(known)
    for name in names:
        if name not in known_set:
            raise UnresolvedReferenceError(
                f"{name!r} does not exist", location=where, expected=what, got=name
            )


def _complete(required: set[str], present: Iterable[str], where: str, what: str) -> None:
    missing = sorted(required - set(present))
    if missing:
        raise UnresolvedReferenceError(
            "the table is incomplete", location=where, expected=f"an entry for {what}", got=missing
        )


def check_questions(table: s.QuestionsTable, vocabulary: Vocabulary) -> None:
    """Check the question bank against the vocabulary.

    Every name in ``sets`` resolves, each question's kind fits the findings it sets, every
    vocabulary finding is set by exactly one question, groups, labels and options exist,
    and ``enable_when`` names an earlier single-answer question and one of its answers.

    Raises:
        UnresolvedReferenceError: A question names or misses something, or does not fit its kind.
    """
    seen: dict[str, str] = {}
    owner: dict[str, str] = {}
    _known(REQUIRED_LABELS, table.labels, "questions.yaml: labels", "every label the interfaces show")
    for row in table.questions:
        where = f"questions.yaml: {row.id}"
        if row.id in seen:
            raise UnresolvedReferenceError(
                "two questions share one id", location=where, expected="unique question ids"
            )
        seen[row.id] = row.kind
        _known([row.group], table.groups, f"{where}.group", "a group of questions.yaml")
        bases = {f.base for f in vocabulary.findings.values()}
        _known(row.sets, set(vocabulary.findings) | bases, f"{where}.sets", "a finding id or base id")
        findings = expand_sets(row.sets, vocabulary)
        for finding in findings:
            if finding in owner:
                raise UnresolvedReferenceError(
                    f"finding {finding!r} is set by two questions",
                    location=f"{where}.sets",
                    expected="each finding set by one question only",
                    got=owner[finding],
                )
            owner[finding] = row.id
        _check_kind(row, [vocabulary.findings[f] for f in findings], where, vocabulary)
        if row.enable_when is not None:
            _check_enable_when(row, table, seen, vocabulary, where)
    _complete(set(vocabulary.findings), owner, "questions.yaml: questions", "every vocabulary finding")


def _check_kind(row: s.QuestionRow, specs: list[FindingSpec], where: str, vocabulary: Vocabulary) -> None:
    single = {"yes_no": ("bool",), "choice": ("enum",), "number": ("int", "number"), "body_map": ("regions",)}
    kinds = single.get(row.kind)
    if kinds is not None:
        if len(specs) != 1 or specs[0].type not in kinds or specs[0].side is not None:
            raise UnresolvedReferenceError(
                f"a {row.kind} question sets one unsided finding of type {' or '.join(kinds)}",
                location=f"{where}.sets",
                got=[spec.id for spec in specs],
            )
    elif row.kind == "form":
        if any(spec.type == "regions" for spec in specs):
            raise UnresolvedReferenceError(
                "a form sets no region lists (a body map does)", location=f"{where}.sets", got=row.sets
            )
        _complete(
            {spec.base if spec.side else spec.id for spec in specs},
            row.items,
            f"{where}.items",
            "every finding of the form",
        )
    elif any(spec.side is None or spec.type == "regions" for spec in specs):
        raise UnresolvedReferenceError(
            "a grid sets sided findings only", location=f"{where}.sets", got=row.sets
        )
    allowed_items = {spec.id for spec in specs} | {spec.base for spec in specs}
    _known(row.items, allowed_items, f"{where}.items", "a finding the question sets")
    if row.kind == "choice":
        _known(row.options, specs[0].values, f"{where}.options", "a value of " + specs[0].id)
        _complete(set(specs[0].values), row.options, f"{where}.options", "every value of " + specs[0].id)
    elif row.options:
        raise UnresolvedReferenceError(
            "only a choice question has options", location=f"{where}.options", got=list(row.options)
        )
    if row.min is not None or row.max is not None:
        spec = specs[0]
        low = spec.minimum if spec.minimum is not None else float("-inf")
        high = spec.maximum if spec.maximum is not None else float("inf")
        if row.kind != "number" or not all(low <= v <= high for v in (row.min, row.max) if v is not None):
            raise UnresolvedReferenceError(
                "min and max narrow a number question within its vocabulary range",
                location=f"{where}.min/max",
                expected=spec.describe_expected(),
                got=[row.min, row.max],
            )


def _check_enable_when(
    row: s.QuestionRow,
    table: s.QuestionsTable,
    seen: Mapping[str, str],
    vocabulary: Vocabulary,
    where: str,
) -> None:
    condition = row.enable_when
    assert condition is not None
    kind = seen.get(condition.question)
    if kind not in {"yes_no", "choice"} or condition.question == row.id:
        raise UnresolvedReferenceError(
            "enable_when must name an earlier yes/no or choice question",
            location=f"{where}.enable_when",
            got=condition.question,
        )
    earlier = next(q for q in table.questions if q.id == condition.question)
    spec = vocabulary.findings[expand_sets(earlier.sets, vocabulary)[0]]
    allowed: tuple[object, ...] = (True, False) if spec.type == "bool" else spec.values
    if condition.answer not in allowed or type(condition.answer) is not type(allowed[0]):
        raise UnresolvedReferenceError(
            "enable_when names an answer the question cannot get",
            location=f"{where}.enable_when.answer",
            expected="one of " + ", ".join(str(a) for a in allowed),
            got=condition.answer,
        )


def _check_plan(tables: Mapping[str, s.Table], vocabulary: Vocabulary) -> None:
    """Check advice.yaml, investigations.yaml and article.yaml against each other and the rest."""
    advice = cast(s.AdviceTable, tables["advice"])
    tests = cast(s.InvestigationsTable, tables["investigations"])
    article = cast(s.ArticleTable, tables["article"])
    triage = cast(s.TriageTable, tables["triage"])
    rules = triage_rule_ids(triage)
    _check_one_namespace(advice, triage)
    names = _PlanNames({*advice.definitions, *triage.definitions}, rules, set(triage.families()), vocabulary)
    rows: dict[str, s.AdviceItem] = {}
    for row in advice.items:
        _unique_id(row.id, rows, f"advice.yaml: items.{row.id}")
        rows[row.id] = row
        if row.when is not None:
            names.check(row.when, f"advice.yaml: items.{row.id}.when")
        if row.due is not None:
            _known([row.due], advice.timings, f"advice.yaml: items.{row.id}.due", "a timing of advice.yaml")
    for name, condition in advice.definitions.items():
        names.check(condition, f"advice.yaml: definitions.{name}")
    names.check(advice.pregnant, "advice.yaml: pregnant")
    _complete(
        {"self_care", "soon", "urgent", "emergency"},
        advice.actions,
        "advice.yaml: actions",
        "every triage level",
    )
    for level, item_id in advice.actions.items():
        where = f"advice.yaml: actions.{level}"
        _known([item_id], rows, where, "an advice item")
        if rows[item_id].kind != "action" or rows[item_id].verdict != "recommended":
            raise UnresolvedReferenceError(
                "a triage level's action must be a recommended item of kind action",
                location=where,
                expected="kind: action, verdict: recommended",
                got=f"kind: {rows[item_id].kind}, verdict: {rows[item_id].verdict}",
            )
    _complete({"1", "2", "3"}, {str(k) for k in advice.stages}, "advice.yaml: stages", "stages 1, 2 and 3")
    _check_investigations(tests, advice, names, rows)
    _check_article(article, vocabulary, rules, rows, {row.id for row in tests.items})


def _check_one_namespace(advice: s.AdviceTable, triage: s.TriageTable) -> None:
    """Refuse a plan definition that reuses the name of a triage definition.

    Plan conditions name triage definitions like their own, so a clinical definition
    (``motor_deficit``) is written once; a second one of the same name would silently differ.
    """
    for name in advice.definitions:
        if name in triage.definitions:
            raise UnresolvedReferenceError(
                f"the plan definition {name!r} redefines the triage definition of that name",
                location=f"advice.yaml: definitions.{name}",
                expected=(
                    f"no second definition: delete it here and let plan conditions use {{ref: {name}}}, "
                    "which reads triage.yaml's, or give a definition that means something else another name"
                ),
                got=name,
            )


def _check_investigations(
    tests: s.InvestigationsTable, advice: s.AdviceTable, names: _PlanNames, advice_rows: Mapping[str, object]
) -> None:
    seen: dict[str, object] = dict(advice_rows)
    for row in tests.items:
        where = f"investigations.yaml: items.{row.id}"
        _unique_id(row.id, seen, where)
        seen[row.id] = row
        names.check(row.when, f"{where}.when")
        _known([row.modality], tests.modalities, f"{where}.modality", "a modality of investigations.yaml")
        _known([row.due], advice.timings, f"{where}.due", "a timing of advice.yaml")
        modality = tests.modalities[row.modality]
        if (modality.ionising or modality.gadolinium) and row.pregnancy != "avoid":
            raise UnresolvedReferenceError(
                "a test with ionising radiation or gadolinium must be marked for avoidance in pregnancy",
                location=f"{where}.pregnancy",
                expected="avoid",
                got=row.pregnancy,
            )


def _check_article(
    article: s.ArticleTable,
    vocabulary: Vocabulary,
    rules: set[str],
    advice: Mapping[str, object],
    investigations: set[str],
) -> None:
    bases = {f.base for f in vocabulary.findings.values()} | set(vocabulary.findings)
    seen: dict[str, object] = {}
    for claim in article.claims:
        where = f"article.yaml: claims.{claim.id}.maps_to"
        _unique_id(claim.id, seen, f"article.yaml: claims.{claim.id}")
        seen[claim.id] = claim
        targets = claim.maps_to
        _known(targets.advice, advice, f"{where}.advice", "an item of advice.yaml")
        _known(
            targets.investigations,
            investigations,
            f"{where}.investigations",
            "an item of investigations.yaml",
        )
        _known(targets.causes, vocabulary.causes, f"{where}.causes", "a vocabulary cause")
        _known(targets.sites, vocabulary.sites, f"{where}.sites", "a vocabulary site (without side)")
        _known(targets.findings, bases, f"{where}.findings", "a vocabulary finding")
        _known(targets.triage_rules, rules, f"{where}.triage_rules", "a rule of triage.yaml")


class _PlanNames:
    """Checks the names a plan condition uses: definitions, triage rules, causes, sites, findings."""

    def __init__(
        self, definitions: set[str], rules: set[str], families: set[str], vocabulary: Vocabulary
    ) -> None:
        self.definitions = definitions
        self.rules = rules
        self.families = families
        self.vocabulary = vocabulary
        bases = {f.base for f in vocabulary.findings.values()}
        self.patterns = bases | set(vocabulary.findings) | {f"{base}.*" for base in bases}
        self.patterns |= {f"{f.base}.{f.item}" for f in vocabulary.findings.values() if f.item}

    def check(self, condition: s.PlanCondition, where: str) -> None:
        children = [*(condition.all or []), *(condition.any or [])]
        if condition.not_ is not None:
            children.append(condition.not_)
        for child in children:
            self.check(child, where)
        if condition.ref is not None:
            _known([condition.ref], self.definitions, where, "a definition of advice.yaml or triage.yaml")
        _known(condition.rule or [], self.rules, where, "a rule of triage.yaml")
        _known(condition.suspected or [], self.families, where, "a family that a triage rule suspects")
        _known(condition.cause or [], self.vocabulary.causes, where, "a vocabulary cause")
        _known(condition.site or [], self.vocabulary.sites, where, "a vocabulary site (without side)")
        if condition.finding is not None:
            _known(
                [condition.finding],
                self.patterns,
                where,
                "a vocabulary finding, base id, base.item or base.*",
            )
            _known(condition.includes_any or [], self.vocabulary.regions, where, "a vocabulary region")


def _unique_id(item_id: str, seen: Mapping[str, object], where: str) -> None:
    if item_id in seen:
        raise UnresolvedReferenceError(
            "two rows share one id",
            location=where,
            expected="ids unique across advice and investigations",
            got=item_id,
        )


def check_interop_references(tables: Mapping[str, s.Table], vocabulary: Vocabulary) -> None:
    """Check the terminology, imaging and interop tables against the vocabulary and the triage rules.

    Every code names a declared terminology, every finding a vocabulary finding with a value it can
    take, every site and cause a vocabulary id, every triage rule an existing rule, and every
    presentation one that imaging.yaml defines; no code means two things.

    Raises:
        UnresolvedReferenceError: A row names something that does not exist, or a code is listed twice.
    """
    terms = cast(s.TerminologyTable, tables["terminology"])
    imaging = cast(s.ImagingTable, tables["imaging"])
    interop = cast(s.InteropTable, tables["interop"])
    rule_ids = triage_rule_ids(cast(s.TriageTable, tables["triage"]))
    seen: dict[tuple[str, str, str], str] = {}
    for where, code in terminology_codes(terms):
        _known([code.system], terms.systems, f"terminology.yaml: {where}", "a system of terminology.yaml")
        kind = where.split("[", 1)[0].split(".", 1)[0]
        key = (kind, code.system, code.code)
        if key in seen:
            raise UnresolvedReferenceError(
                f"code {code.system}|{code.code} is listed twice",
                location=f"terminology.yaml: {where}",
                expected="each code at most once per section",
                got=seen[key],
            )
        seen[key] = where
    for index, condition in enumerate(terms.conditions):
        _check_finding_value(
            condition.finding, [condition.value], vocabulary, f"terminology.yaml: conditions[{index}]"
        )
    for index, obs in enumerate(terms.observations):
        where = f"terminology.yaml: observations[{index}]"
        spec = vocabulary.findings.get(obs.finding)
        _known([obs.finding], vocabulary.findings, where, "a vocabulary finding")
        if obs.unit is not None and spec is not None and spec.type not in ("int", "number"):
            raise UnresolvedReferenceError(
                "a quantity maps to a finding that is not a number",
                location=where,
                expected="an int or number finding",
                got=obs.finding,
            )
        _check_finding_value(obs.finding, list(obs.answers.values()), vocabulary, where)
    _known(terms.sites, vocabulary.sites, "terminology.yaml: sites", "a vocabulary site (without side)")
    _known(terms.causes, vocabulary.causes, "terminology.yaml: causes", "a vocabulary cause")
    for index, presentation in enumerate(terms.presentations):
        _known(
            [presentation.presentation],
            imaging.presentations,
            f"terminology.yaml: presentations[{index}]",
            "a presentation of imaging.yaml",
        )
    if "investigations" in tables:
        tests = {row.id for row in cast(s.InvestigationsTable, tables["investigations"]).items}
        for index, order in enumerate(terms.imaging_orders):
            where = f"terminology.yaml: imaging_orders[{index}].investigations"
            _known(order.investigations, tests, where, "an investigation id of investigations.yaml")
    for indication in imaging.indicated:
        _known(indication.triage_rules, rule_ids, f"imaging.yaml: {indication.id}", "a triage rule id")
    _check_imaging_families(cast(s.TriageTable, tables["triage"]), imaging)
    _known(
        [r.id for r in imaging.uncomplicated_rules], rule_ids, "imaging.yaml: uncomplicated_rules", "a rule"
    )
    _known(imaging.recorded.sites, vocabulary.sites, "imaging.yaml: recorded.sites", "a vocabulary site")
    _known(imaging.recorded.causes, vocabulary.causes, "imaging.yaml: recorded.causes", "a vocabulary cause")
    for name, stands_for in imaging.presentations.items():
        _known(stands_for.causes, vocabulary.causes, f"imaging.yaml: presentations.{name}", "a cause")
    for advice in imaging.not_indicated:
        _known([advice.presentation], imaging.presentations, f"imaging.yaml: {advice.id}", "a presentation")
    _known(interop.levels, vocabulary.triage, "interop.yaml: levels", "a triage level")
    _complete(set(vocabulary.triage), interop.levels, "interop.yaml: levels", "every triage level")


def _check_imaging_families(triage: s.TriageTable, imaging: s.ImagingTable) -> None:
    """Every emergency rule names a family, and imaging.yaml says of each such family what it means.

    A family of an emergency rule is either an indication of spinal imaging (``indicated``) or
    explicitly not a question of spinal imaging (``not_spinal``): a new emergency rule, or a
    new family, cannot silently lose the emergency MRI or the imaging indication.
    """
    families = triage.families()
    indicated = {family for row in imaging.indicated for family in row.suspects}
    not_spinal = set(imaging.not_spinal.suspects)
    for where, named in (
        *((f"imaging.yaml: {row.id}.suspects", row.suspects) for row in imaging.indicated),
        ("imaging.yaml: not_spinal.suspects", imaging.not_spinal.suspects),
    ):
        _known(named, families, where, "a family that a triage rule suspects (triage.yaml suspects)")
    both = sorted(indicated & not_spinal)
    if both:
        raise UnresolvedReferenceError(
            "a family is both an indication of spinal imaging and not a spinal imaging question",
            location="imaging.yaml: not_spinal.suspects",
            expected="each family in indicated or in not_spinal, not both",
            got=both,
        )
    rows: list[tuple[str, s.Rule | s.RecordedFloor]] = [
        (f"triage.yaml: {rule.id}", rule) for rule in triage.rules
    ]
    rows += [(f"triage.yaml: recorded.{floor.id}", floor) for floor in triage.recorded]
    for where, row in rows:
        if row.level != "emergency":
            continue
        if not row.suspects:
            raise UnresolvedReferenceError(
                "an emergency rule names no family of serious condition that it suspects",
                location=f"{where}.suspects",
                expected=(
                    "suspects: [FAMILY], e.g. cauda_equina or cord, so that the plan's emergency "
                    "investigations and imaging.yaml cover it"
                ),
                got=[],
            )
        unclassified = sorted(set(row.suspects) - indicated - not_spinal)
        if unclassified:
            raise UnresolvedReferenceError(
                f"emergency rule {row.id} suspects a family that imaging.yaml does not classify",
                location=f"{where}.suspects",
                expected=(
                    "a family listed in imaging.yaml indicated[].suspects (spinal imaging is indicated) "
                    "or in not_spinal.suspects (not a question of spinal imaging)"
                ),
                got=unclassified,
            )


def triage_rule_ids(table: s.TriageTable) -> set[str]:
    """Every id a triage rule can fire as: the finding rules and the recorded-diagnosis floors."""
    return {*(rule.id for rule in table.rules), *(floor.id for floor in table.recorded)}


def terminology_codes(terms: s.TerminologyTable) -> Iterable[tuple[str, s.Code]]:
    """Every code of terminology.yaml with where it stands (``conditions[3]``, ``sites.root.L5[0]``)."""
    for section in ("conditions", "observations", "presentations", "imaging_orders"):
        for index, code in enumerate(getattr(terms, section)):
            yield f"{section}[{index}]", code
    for section in ("sites", "causes"):
        for name, codes in getattr(terms, section).items():
            for index, code in enumerate(codes):
                yield f"{section}.{name}[{index}]", code


def _check_finding_value(finding: str, values: list[object], vocabulary: Vocabulary, where: str) -> None:
    spec = vocabulary.findings.get(finding)
    if spec is None:
        _known([finding], vocabulary.findings, where, "a vocabulary finding")
        return
    for value in values:
        fits = (
            (spec.type == "bool" and isinstance(value, bool))
            or (spec.type == "enum" and value in spec.values)
            or (
                spec.type in ("int", "number")
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            )
        )
        if not fits:
            raise UnresolvedReferenceError(
                f"finding {finding!r} cannot take this value",
                location=where,
                expected=spec.describe_expected(),
                got=value,
            )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_phrases(table: s.PhrasesTable, vocabulary: Vocabulary) -> None:
    """Check the free-text lexicon against the vocabulary.

    Every row names a vocabulary finding with a value it can take (a region of the vocabulary for a
    region list; a side only where the finding or region has sides), row ids are unique, and no
    phrase belongs to two rows.

    Raises:
        UnresolvedReferenceError: A row names a finding, value or region that does not exist, fixes
            a side where there is none, or repeats an id or a phrase.
    """
    bases: dict[str, FindingSpec] = {}
    for spec in vocabulary.findings.values():
        bases.setdefault(spec.base, spec)
    seen_ids: set[str] = set()
    seen_phrases: dict[str, str] = {}
    for index, row in enumerate(table.phrases):
        where = f"phrases.yaml: phrases[{index}] ({row.id})"
        if row.id in seen_ids:
            raise UnresolvedReferenceError(
                f"phrase row {row.id!r} is listed twice", location=where, expected="unique row ids"
            )
        seen_ids.add(row.id)
        for phrase in row.phrases:
            key = " ".join(phrase.lower().split())
            if key in seen_phrases:
                raise UnresolvedReferenceError(
                    f"the phrase {phrase!r} is in two rows",
                    location=where,
                    expected="each phrase in one row only",
                    got=seen_phrases[key],
                )
            seen_phrases[key] = row.id
        _check_phrase_target(row.target, bases, vocabulary, f"{where}.target")
        for finding in row.also:
            if row.target.region is not None or not isinstance(row.target.value, bool):
                raise UnresolvedReferenceError(
                    "only a yes/no wording can state more findings",
                    location=f"{where}.also",
                    expected="a target with value true or false",
                )
            _check_phrase_target(
                row.target.model_copy(update={"finding": finding}), bases, vocabulary, f"{where}.also"
            )
    _check_text_tables(table, bases, vocabulary)


def _check_text_tables(
    table: s.PhrasesTable, bases: Mapping[str, FindingSpec], vocabulary: Vocabulary
) -> None:
    """Check the free-text tables beyond the phrases: everything they name exists.

    Body parts name regions, symptom words and implications name region lists, measures name
    findings and terms tables (the free-text reader relies on all of them).
    """
    regions_lists = [base for base, spec in bases.items() if spec.type == "regions"]
    for index, part in enumerate(table.body_parts):
        _known(
            part.regions,
            vocabulary.regions,
            f"phrases.yaml: body_parts[{index}] ({part.id})",
            "a vocabulary region",
        )
    for index, words in enumerate(table.symptoms):
        _known([words.finding], regions_lists, f"phrases.yaml: symptoms[{index}]", "a region-list finding")
    for index, rule in enumerate(table.implies):
        where = f"phrases.yaml: implies[{index}] ({rule.id})"
        _known([rule.when], regions_lists, where, "a region-list finding")
        _known(rule.regions, vocabulary.regions, where, "a vocabulary region")
        _check_phrase_target(rule.then, bases, vocabulary, f"{where}.then")
    for index, row in enumerate(table.measures):
        where = f"phrases.yaml: measures[{index}] ({row.id})"
        for target in row.targets:
            _known([target.finding], bases, where, "a finding (base id) of the vocabulary")
            groups = {target.from_, target.item} - {None, "number"}
            _known(
                {str(g).split("__")[0] for g in groups}, table.terms, where, "a terms table of phrases.yaml"
            )
            if target.value is not None:
                spec = bases[target.finding]
                _check_finding_value(spec.id, [target.value], vocabulary, where)


def _check_phrase_target(
    target: s.PhraseTarget, bases: Mapping[str, FindingSpec], vocabulary: Vocabulary, where: str
) -> None:
    _known([target.finding], bases, where, "a finding (base id) of the vocabulary")
    spec = bases[target.finding]
    if spec.item is not None or spec.type in ("int", "number"):
        raise UnresolvedReferenceError(
            f"finding {target.finding!r} cannot be read from a phrase",
            location=where,
            expected="a yes/no, choice or region-list finding",
            got=target.finding,
        )
    if spec.type == "regions":
        if target.region is None or target.value is not None:
            raise UnresolvedReferenceError(
                "a region-list target names a region and no value",
                location=where,
                expected="region: a vocabulary region",
                got=target.value,
            )
        _known([target.region], vocabulary.regions, where, "a vocabulary region")
        has_sides = not vocabulary.regions[target.region].midline
    else:
        if target.region is not None or target.value is None:
            raise UnresolvedReferenceError(
                f"finding {target.finding!r} takes a value and no region",
                location=where,
                expected=spec.describe_expected(),
                got=target.region,
            )
        _check_finding_value(spec.id, [target.value], vocabulary, where)
        has_sides = spec.side is not None
    if target.side is not None and not has_sides:
        raise UnresolvedReferenceError(
            "the target fixes a side but the finding or region has none",
            location=where,
            expected="no side",
            got=target.side,
        )
