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

from pinchpoint.errors import MissingSourceError, UnresolvedReferenceError
from pinchpoint.knowledge import schema as s
from pinchpoint.vocabulary import Vocabulary

__all__ = ["check_references"]


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
    _check_observations(t, vocabulary)
    _check_causes(t, vocabulary)
    _check_triage(t, vocabulary)
    check_interop_references(tables, vocabulary)


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


def _check_sites(t: _Tables, vocabulary: Vocabulary, roots: set[str], nerves: set[str]) -> None:
    _known(t.sites.sites, vocabulary.sites, "sites.yaml: sites", "a vocabulary site")
    _complete(set(vocabulary.sites), t.sites.sites, "sites.yaml: sites", "every vocabulary site")
    for name, site in t.sites.sites.items():
        for variant_name, variant in site.variants.items():
            where = f"sites.yaml: {name}.variants.{variant_name}"
            _known(variant.roots, roots, f"{where}.roots", "a root")
            _known([*variant.nerves, *variant.excluding], nerves, f"{where}.nerves", "a nerve")
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
        elif item or kind not in {"movement", "reflex", "plantar"}:
            raise UnresolvedReferenceError(
                "unknown structure",
                location=f"{where}.structure",
                expected="movement, reflex, plantar, movement.<id>, function.<id> or skin.<region>",
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
    for name, derived in table.derived.items():
        _known(
            [derived.region_list],
            {"pain_regions", "numbness_regions"},
            f"causes.yaml: derived.{name}",
            "a list",
        )


def _check_triage(t: _Tables, vocabulary: Vocabulary) -> None:
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
        regions = [*(condition.includes_any or []), *(condition.both_sides_any or [])]
        _known(regions, vocabulary.regions, where, "a vocabulary region")


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
    rule_ids = {rule.id for rule in cast(s.TriageTable, tables["triage"]).rules}
    seen: dict[tuple[str, str, str], str] = {}
    for where, code in _codes(terms):
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
    for indication in imaging.indicated:
        _known(indication.triage_rules, rule_ids, f"imaging.yaml: {indication.id}", "a triage rule id")
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
    for index, floor in enumerate(interop.recorded_diagnoses):
        _known(
            [floor.site], vocabulary.sites, f"interop.yaml: recorded_diagnoses[{index}]", "a vocabulary site"
        )


def _codes(terms: s.TerminologyTable) -> Iterable[tuple[str, s.Code]]:
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
