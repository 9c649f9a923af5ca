"""Tests of the knowledge tables: loading, versioning, refusal of broken data, completeness, anatomy.

Broken knowledge is made by copying the packaged data folder to a temporary directory and
editing one line, so each test shows the one fault it is about.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from pathlib import Path
from typing import cast

import pytest

import pinchpoint
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.likelihood import SiteUnit
from pinchpoint.errors import KnowledgeError, MissingSourceError, SchemaError, UnresolvedReferenceError
from pinchpoint.io.knowledge.loader import KNOWLEDGE_SEMVER, data_directory, knowledge_version, load_knowledge
from pinchpoint.knowledge import schema as s
from tests.corpus import copy_knowledge_with

pytestmark = pytest.mark.core

_VERSION = re.compile(r"^\d+\.\d+\.\d+\+[0-9a-f]{12}$")
_SITE_SUM_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


# --- loading and version ---------------------------------------------------------------------------


def test_packaged_knowledge_loads_with_its_version(knowledge: Knowledge) -> None:
    """The packaged knowledge loads, and its version is <semver>+<12 hex> of the data folder."""
    assert _VERSION.match(knowledge.version), knowledge.version
    assert knowledge.version == knowledge_version() == pinchpoint.__knowledge_version__
    assert knowledge.version.startswith(f"{KNOWLEDGE_SEMVER}+")


def test_version_changes_when_a_data_file_changes(tmp_path: Path) -> None:
    """Editing one number of one data file changes the content hash but not the semantic version."""
    unchanged = tmp_path / "unchanged"
    shutil.copytree(data_directory(), unchanged)
    assert knowledge_version(unchanged) == knowledge_version()
    edited = copy_knowledge_with(tmp_path, "causes.yaml", "  pain_region: 0.05\n", "  pain_region: 0.04\n")
    version = knowledge_version(edited)
    assert _VERSION.match(version), version
    assert version != knowledge_version()
    assert version.split("+")[0] == knowledge_version().split("+")[0]
    assert load_knowledge(edited).version == version


# --- broken knowledge is refused -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "old", "new", "error", "message"),
    [
        pytest.param(
            "muscles.yaml",
            "  psoas_major:\n",
            "  psoas_major:\n    colour: red\n",
            SchemaError,
            "muscles.yaml: muscles.psoas_major.colour: 1 schema error(s); first; "
            "expected only the keys movements, nerve, roots, source (got 'red')",
            id="unknown-key-in-a-row",
        ),
        pytest.param(
            "causes.yaml",
            "    prior: 0.2\n",
            "    prior: 1.5\n",
            SchemaError,
            "causes.yaml: causes.disc_herniation.prior: 1 schema error(s); first; "
            "expected Input should be less than or equal to 1 (got 1.5)",
            id="probability-above-one",
        ),
        pytest.param(
            "muscles.yaml",
            "nerve: psoas_branches",
            "nerve: no_such_nerve",
            UnresolvedReferenceError,
            "muscles.yaml: psoas_major.nerve: 'no_such_nerve' does not exist; "
            "expected a nerve of nerves.yaml (got 'no_such_nerve')",
            id="muscle-names-a-missing-nerve",
        ),
        pytest.param(
            "muscles.yaml",
            "    nerve: psoas_branches\n    source: elearnrad-root-syndrome\n",
            "    nerve: psoas_branches\n    source: nowhere-2099\n",
            MissingSourceError,
            "muscles.yaml: muscles.psoas_major: a row cites a source that is not in the bibliography; "
            "expected a source id of sources.yaml (got 'nowhere-2099')",
            id="source-missing-from-bibliography",
        ),
    ],
)
def test_broken_knowledge_is_refused(
    tmp_path: Path, *, file_name: str, old: str, new: str, error: type[KnowledgeError], message: str
) -> None:
    """A broken table is refused with its own exception and a message naming the file, row and fix."""
    folder = copy_knowledge_with(tmp_path, file_name, old, new)
    with pytest.raises(error) as caught:
        load_knowledge(folder)
    assert type(caught.value) is error
    assert str(caught.value) == message


def test_malformed_yaml_is_refused(tmp_path: Path) -> None:
    """A file that is not valid YAML is a SchemaError naming the file, with the parser's line and column."""
    folder = copy_knowledge_with(
        tmp_path, "nerves.yaml", "  lumbar_plexus:\n", "  lumbar_plexus: [unclosed\n"
    )
    with pytest.raises(SchemaError) as caught:
        load_knowledge(folder)
    error = caught.value
    assert (error.location, error.expected) == ("nerves.yaml: line 9, column 10", "a knowledge table in YAML")
    assert error.problem.startswith("the knowledge file is not valid YAML: while parsing a flow sequence")


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    """A second ``level:`` under a cauda equina rule is refused with the file, the line and the key.

    PyYAML alone keeps the last value: the rule would silently demand ``soon`` instead of emergency.
    """
    rule = "  - id: ces-urinary-retention\n    level: emergency\n"
    folder = copy_knowledge_with(tmp_path, "triage.yaml", rule, rule + "    level: soon\n")
    line = (folder / "triage.yaml").read_text(encoding="utf-8").splitlines().index("    level: soon") + 1
    with pytest.raises(SchemaError) as caught:
        load_knowledge(folder)
    error = caught.value
    assert error.location == f"triage.yaml: line {line}, column 5"
    assert error.problem == f"key 'level' is written twice in one mapping (first on line {line - 1})"
    assert error.expected == "each key at most once in a mapping"


def test_alias_is_refused(tmp_path: Path) -> None:
    """An anchor used again through an alias is refused: every value is written out where it stands."""
    rule = "  - id: ces-bladder-change\n    level: emergency\n"
    folder = copy_knowledge_with(
        tmp_path, "triage.yaml", rule, "  - id: ces-bladder-change\n    level: *urgency\n"
    )
    path = folder / "triage.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("level: emergency", "level: &urgency emergency", 1)
    )
    with pytest.raises(SchemaError) as caught:
        load_knowledge(folder)
    assert caught.value.problem == "an anchor is used again through an alias (&name ... *name)"
    anchor = [number for number, line in enumerate(path.read_text().splitlines(), 1) if "&urgency" in line]
    assert caught.value.location.startswith(f"triage.yaml: line {anchor[0]}, column ")


def test_unknown_key_message_lists_the_allowed_keys(tmp_path: Path) -> None:
    """The message for an unknown key in a row lists the keys that row accepts."""
    folder = copy_knowledge_with(
        tmp_path, "muscles.yaml", "  psoas_major:\n", "  psoas_major:\n    colour: red\n"
    )
    with pytest.raises(SchemaError) as caught:
        load_knowledge(folder)
    assert all(key in str(caught.value) for key in s.allowed_keys(s.Muscle))


# --- completeness: data against the vocabulary -----------------------------------------------------

# Finding bases of the vocabulary that no table uses, each with the reason it may stay unused.
_UNUSED_FINDINGS = {
    # The model reads `pregnant` (causes.yaml) and no triage rule depends on the stage of
    # pregnancy; the week count is recorded for the clinician only (used by dev-16).
    "pregnancy_weeks",
}


def test_every_finding_is_used(knowledge: Knowledge) -> None:
    """Every finding base of the vocabulary is read by an observation, test, likelihood, cause or rule."""
    tables = knowledge.tables
    observations = cast(s.ObservationsTable, tables["observations"])
    tests = cast(s.ProvocationTestsTable, tables["provocation_tests"])
    likelihoods = cast(s.LikelihoodsTable, tables["likelihoods"])
    causes = cast(s.CausesTable, tables["causes"])
    vocabulary = knowledge.vocabulary
    used = (
        set(observations.findings)
        | set(observations.region_lists)
        | set(tests.tests)
        | set(likelihoods.site_features)
        | set(causes.background.features)
        | {derived.region_list for derived in causes.derived.values()}
        | {"age", "sex", "duration_days"}  # read through causes.yaml's age bands, sex and duration bands
        | {vocabulary.findings[finding].base for rule in knowledge.triage.rules for finding in rule.findings}
    )
    bases = {spec.base for spec in vocabulary.findings.values()}
    assert sorted(bases - used) == sorted(_UNUSED_FINDINGS)


def test_every_site_has_a_hypothesis(knowledge: Knowledge) -> None:
    """Every vocabulary site is a site of the model, and some cause produces it."""
    model = knowledge.model
    assert set(model.site_ids) == knowledge.vocabulary.site_ids
    produced = {model.site_ids[index] for index in model.pair_site}
    assert sorted(knowledge.vocabulary.site_ids - produced) == []


def test_every_cause_is_modelled(knowledge: Knowledge) -> None:
    """Every vocabulary cause is a cause of the model."""
    assert set(knowledge.model.causes) == set(knowledge.vocabulary.causes)


def test_cause_site_probabilities_sum_to_one(knowledge: Knowledge) -> None:
    """Each cause's site distribution in causes.yaml sums to 1 within 0.02."""
    causes = cast(s.CausesTable, knowledge.tables["causes"]).causes
    totals = {name: sum(cause.sites.values()) for name, cause in causes.items()}
    assert {name: total for name, total in totals.items() if abs(total - 1.0) > _SITE_SUM_TOLERANCE} == {}


# --- territories are derived from anatomy, checked on textbook facts ---------------------------------


def _territory(knowledge: Knowledge, site: str, variant: str, side: str) -> dict[str, float]:
    site_id = site.format(side=side)
    units: list[SiteUnit] = [
        unit for unit in knowledge.model.units if unit.site_id == site_id and unit.variant == variant
    ]
    assert len(units) == 1, f"no single unit {site_id} / {variant}"
    return units[0].territory


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(
    ("site", "variant", "structure", "minimum"),
    [
        # Extensor hallucis longus is the L5 index muscle: a core L5 structure.
        ("root.L5.{side}", "L5", "movement:great_toe_extension:{side}", 1.0),
        # Gluteus medius (hip abduction) is L5 but not peroneal: it tells a root from a peroneal palsy.
        ("root.L5.{side}", "L5", "movement:hip_abduction:{side}", 0.5),
        # Tarsal tunnel: the plantar nerves supply the sole.
        ("nerve.tibial.{side}", "tarsal_tunnel", "skin:sole.{side}", 0.5),
        # The ankle jerk is the S1 reflex.
        ("root.S1.{side}", "S1", "reflex:achilles:{side}", 1.0),
        # The knee jerk is (mainly) L4.
        ("root.L4.{side}", "L4", "reflex:patellar:{side}", 0.5),
        # Length-dependent polyneuropathy starts in the soles, both of them.
        ("polyneuropathy", "length_dependent", "skin:sole.left", 0.5),
        ("polyneuropathy", "length_dependent", "skin:sole.right", 0.5),
        # Meralgia paresthetica: numb outer thigh.
        ("nerve.lateral_femoral_cutaneous.{side}", "inguinal_ligament", "skin:thigh_lateral.{side}", 0.5),
        # Iliacus is supplied in the pelvis: a pelvic femoral lesion weakens hip flexion.
        ("nerve.femoral.{side}", "pelvic", "movement:hip_flexion:{side}", 1.0),
    ],
)
def test_territory_includes(
    knowledge: Knowledge, *, site: str, variant: str, structure: str, minimum: float, side: str
) -> None:
    """A lesion's derived territory includes the structures the textbooks assign to it."""
    territory = _territory(knowledge, site, variant, side)
    assert territory.get(structure.format(side=side), 0.0) >= minimum


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(
    ("site", "variant", "structure"),
    [
        # Tibialis posterior (inversion) is tibial: inversion is spared in peroneal palsy, not in L5.
        ("nerve.common_peroneal.{side}", "fibular_head", "movement:ankle_inversion:{side}"),
        # Gluteus medius is superior gluteal, far above the fibular head.
        ("nerve.common_peroneal.{side}", "fibular_head", "movement:hip_abduction:{side}"),
        # Gastrocnemius and soleus are supplied above the tarsal tunnel.
        ("nerve.tibial.{side}", "tarsal_tunnel", "movement:ankle_plantarflexion:{side}"),
    ],
)
def test_territory_excludes(knowledge: Knowledge, site: str, variant: str, structure: str, side: str) -> None:
    """A lesion's derived territory leaves out the structures its nerve does not supply."""
    territory = _territory(knowledge, site, variant, side)
    assert structure.format(side=side) not in territory


@pytest.mark.parametrize("side", ["left", "right"])
def test_lateral_femoral_cutaneous_is_purely_sensory(knowledge: Knowledge, side: str) -> None:
    """The lateral femoral cutaneous nerve supplies no muscle, so its territory has no movement."""
    territory = _territory(knowledge, "nerve.lateral_femoral_cutaneous.{side}", "inguinal_ligament", side)
    assert [key for key in territory if key.startswith("movement:")] == []


@pytest.mark.parametrize("side", ["left", "right"])
def test_inguinal_femoral_lesion_spares_hip_flexion_more_than_pelvic(knowledge: Knowledge, side: str) -> None:
    """A femoral lesion at the inguinal ligament, below the iliacus branch, weakens hip flexion less."""
    key = f"movement:hip_flexion:{side}"
    pelvic = _territory(knowledge, "nerve.femoral.{side}", "pelvic", side).get(key, 0.0)
    inguinal = _territory(knowledge, "nerve.femoral.{side}", "inguinal", side).get(key, 0.0)
    assert inguinal < pelvic


# --- the reasoning core does not import adapters -------------------------------------------------------

_CORE_MODULES = sorted(
    f"pinchpoint.{folder}.{module.stem}"
    for folder in ("core", "knowledge")
    for module in (Path(__file__).parents[1] / "src" / "pinchpoint" / folder).glob("*.py")
    if module.stem != "__init__"
)
_FORBIDDEN = (
    "yaml",
    "pinchpoint.io",
    "pinchpoint.service",
    "pinchpoint.api",
    "pinchpoint.web",
    "pinchpoint.cli",
    "fastapi",
    "sqlalchemy",
)


def _banned(name: str) -> bool:
    return any(name == banned or name.startswith(banned + ".") for banned in _FORBIDDEN)


def _violations(source: str, package: str = "pinchpoint") -> list[str]:
    """Return the forbidden imports and calls of the builtin ``open`` in a module's source.

    ``package`` is the module's package, against which relative imports are resolved.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            names = [module] if _banned(module) else [f"{module}.{alias.name}" for alias in node.names]
        found += [f"import {name}" for name in names if _banned(name)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.append(f"open() on line {node.lineno}")
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import yaml", ["import yaml"]),
        ("from pinchpoint import cli", ["import pinchpoint.cli"]),
        (
            "from pinchpoint.io.knowledge.loader import load_knowledge",
            ["import pinchpoint.io.knowledge.loader"],
        ),
        ("import sqlalchemy.orm as orm", ["import sqlalchemy.orm"]),
        ("text = open('x').read()", ["open() on line 1"]),
        ("from .io import casefile", ["import pinchpoint.io"]),  # relative, resolved in pinchpoint
        ("import yamlish\nfrom pinchpoint.iota import model", []),  # a prefix is not a match
    ],
)
def test_import_checker_detects_violations(source: str, expected: list[str]) -> None:
    """The import checker below finds each kind of forbidden import and open() call."""
    assert _violations(source) == expected


@pytest.mark.parametrize("module", _CORE_MODULES)
def test_reasoning_core_does_not_import_adapters(module: str) -> None:
    """A reasoning module imports no adapter, YAML, web or database library, and opens no file."""
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{module} does not exist"
    assert spec.origin is not None, f"{module} has no source file"
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert _violations(source, package=module.rpartition(".")[0]) == []
