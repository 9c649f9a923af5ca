"""Tests of :mod:`pinchpoint.core.case`: the development cases parse, and bad cases are refused exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pinchpoint.core.case import parse_case
from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.errors import InputError, InvalidCaseError, UnknownFindingError
from tests.corpus import PACKAGED_VOCABULARY, SHARED_VOCABULARY, load_vocabulary, shared_case_params

_EXPECT = {"triage": "soon", "site": ["root.L5.left"], "cause": ["disc_herniation"]}


@pytest.mark.parametrize("path", shared_case_params())
def test_development_case_parses(path: Path, vocabulary: Vocabulary) -> None:
    """Every development case parses whole: its id is its file stem and no finding is dropped."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    case = parse_case(table, vocabulary, origin=path.name)
    assert case.id == path.stem
    assert set(case.findings) == set(table["findings"])
    assert case.expect is not None


def _id_sets(vocabulary: Vocabulary) -> dict[str, frozenset[str]]:
    return {
        "findings": frozenset(vocabulary.findings),
        "regions": vocabulary.region_ids,
        "sites": vocabulary.site_ids,
        "causes": frozenset(vocabulary.causes),
        "triage": frozenset(vocabulary.triage),
    }


@pytest.mark.skipif(not SHARED_VOCABULARY.is_file(), reason=f"{SHARED_VOCABULARY} is absent")
@pytest.mark.parametrize("kind", ["findings", "regions", "sites", "causes", "triage"])
def test_packaged_vocabulary_accepts_every_contract_id(kind: str) -> None:
    """The packaged vocabulary knows every id of shared/contract/vocabulary.yaml, expanded."""
    contract = _id_sets(load_vocabulary(SHARED_VOCABULARY))[kind]
    packaged = _id_sets(load_vocabulary(PACKAGED_VOCABULARY))[kind]
    assert sorted(contract - packaged) == []


@pytest.mark.skipif(not SHARED_VOCABULARY.is_file(), reason=f"{SHARED_VOCABULARY} is absent")
def test_packaged_findings_take_the_contract_values() -> None:
    """Each contract finding has the same type, range and values in the packaged vocabulary.

    The one exception is a maximum the contract leaves open and pinchpoint closes (see
    :data:`_NARROWED`): the type and the minimum stay the contract's, and the maximum is stated.
    """
    contract = load_vocabulary(SHARED_VOCABULARY)
    packaged = load_vocabulary(PACKAGED_VOCABULARY)
    differing = [
        finding_id
        for finding_id, spec in contract.findings.items()
        if packaged.findings[finding_id].describe_expected() != spec.describe_expected()
    ]
    assert differing == sorted(_NARROWED)
    for finding_id, maximum in _NARROWED.items():
        spec, ours = contract.findings[finding_id], packaged.findings[finding_id]
        assert (spec.maximum, ours.maximum, ours.minimum, ours.type) == (
            None,
            maximum,
            spec.minimum,
            spec.type,
        )


_NARROWED = {"duration_days": 43830.0}
"""Open maxima of the contract that the packaged vocabulary closes (vocabulary.yaml says why)."""


_BAD_CASES: list[Any] = [
    pytest.param(
        {"findings": {"ankle_reflex": True}},
        UnknownFindingError,
        "case.yaml: findings.ankle_reflex: unknown finding 'ankle_reflex'; expected a finding id of the"
        " vocabulary; see shared/contract/vocabulary.yaml for the ids",
        id="unknown-id",
    ),
    pytest.param(
        {"findings": {"age": "forty"}},
        InvalidCaseError,
        "case.yaml: findings.age: finding 'age' has a value it cannot take; expected a whole number"
        " from 0 to 120 (got 'forty')",
        id="wrong-type",
    ),
    pytest.param(
        # YAML's true is a bool, and a bool is an int in Python: it must still be refused.
        {"findings": {"age": True}},
        InvalidCaseError,
        "case.yaml: findings.age: finding 'age' has a value it cannot take; expected a whole number"
        " from 0 to 120 (got True)",
        id="bool-for-int",
    ),
    pytest.param(
        # MRC grades stop at 5.
        {"findings": {"exam.power.ankle_dorsiflexion.left": 6}},
        InvalidCaseError,
        "case.yaml: findings.exam.power.ankle_dorsiflexion.left: finding"
        " 'exam.power.ankle_dorsiflexion.left' has a value it cannot take; expected a whole number"
        " from 0 to 5 (got 6)",
        id="out-of-range",
    ),
    pytest.param(
        {"findings": {"sex": "other"}},
        InvalidCaseError,
        "case.yaml: findings.sex: finding 'sex' has a value it cannot take; expected one of female,"
        " male (got 'other')",
        id="enum-value",
    ),
    pytest.param(
        # The straight leg raise is tested on one leg: the side is part of the id.
        {"findings": {"exam.slr": True}},
        UnknownFindingError,
        "case.yaml: findings.exam.slr: unknown finding 'exam.slr'; expected a finding id of the"
        " vocabulary; this finding is sided: write exam.slr.left or exam.slr.right",
        id="sided-without-side",
    ),
    pytest.param(
        {"findings": {"pain_regions": ["elbow.left"]}},
        InvalidCaseError,
        "case.yaml: findings.pain_regions: a region does not exist; expected a region id of the"
        " vocabulary, e.g. heel.left, buttock.left, big_toe.left (got 'elbow.left')",
        id="unknown-region",
    ),
    pytest.param(
        {"findings": {"pain_regions": ["buttock"]}},
        InvalidCaseError,
        "case.yaml: findings.pain_regions: a region does not exist; expected a side on this region:"
        " buttock.left or buttock.right (got 'buttock')",
        id="region-without-side",
    ),
    pytest.param(
        {"findings": {"pain_regions": ["low_back", "low_back"]}},
        InvalidCaseError,
        "case.yaml: findings.pain_regions: region 'low_back' is listed twice; expected each region"
        " at most once",
        id="duplicate-region",
    ),
    pytest.param(
        {"findings": {}, "expect": {**_EXPECT, "triage": "asap"}},
        InvalidCaseError,
        "case.yaml: expect.triage: expect.triage is not a triage level; expected one of emergency,"
        " urgent, soon, self_care (got 'asap')",
        id="bad-expect-triage",
    ),
    pytest.param(
        # An expected root needs its side, like the finding ids.
        {"findings": {}, "expect": {**_EXPECT, "site": ["root.L5"]}},
        InvalidCaseError,
        "case.yaml: expect.site: an expected answer is not in the vocabulary; expected site ids such"
        " as root.L5.left (did you mean root.L5.left, root.L5.right, root.L4.left?) (got 'root.L5')",
        id="bad-expect-site",
    ),
    pytest.param(
        {"findings": {}, "diagnosis": "sciatica"},
        InvalidCaseError,
        "case.yaml: unknown key 'diagnosis' in the case; expected only id, title, source, narrative,"
        " findings, expect",
        id="unknown-top-level-key",
    ),
    pytest.param(
        {"title": "no facts"},
        InvalidCaseError,
        "case.yaml: the case has no findings; expected a 'findings' mapping (it may be empty)",
        id="no-findings",
    ),
    pytest.param(
        {"id": "My Case", "findings": {}},
        InvalidCaseError,
        "case.yaml: id: the case id is not valid; expected lower-case letters, digits and hyphens,"
        " e.g. my-case-1 (got 'My Case')",
        id="bad-case-id",
    ),
]


@pytest.mark.parametrize(("table", "error", "message"), _BAD_CASES)
def test_bad_case_is_refused_with_exact_message(
    table: dict[str, Any], error: type[InputError], message: str, vocabulary: Vocabulary
) -> None:
    """A malformed case raises the expected error naming the file, the key and what was expected."""
    with pytest.raises(error) as caught:
        parse_case(table, vocabulary, origin="case.yaml")
    assert str(caught.value) == message


def test_case_without_id_takes_the_default(vocabulary: Vocabulary) -> None:
    """A user's own case without an id gets the id the caller chose (a file stem)."""
    case = parse_case({"findings": {"age": 50}}, vocabulary, default_id="my-leg")
    assert (case.id, dict(case.findings), case.expect) == ("my-leg", {"age": 50}, None)
