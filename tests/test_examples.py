"""Tests of the bundled example cases (``src/pinchpoint/examples``, package data)."""

from __future__ import annotations

import pytest

from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.io.casefile import read_cases
from tests.corpus import PACKAGED_EXAMPLES, SHARED_CASES, USER_EXAMPLES

# Each example is a development case renamed for users; see examples/README.md.
_ORIGINS = {
    "l5-foot-drop": "dev-02-l5-disc-foot-drop",
    "cauda-equina": "dev-07-cauda-equina-retention",
    "meralgia-paresthetica": "dev-18-meralgia-paresthetica",
    "peroneal-palsy": "dev-22-common-peroneal-fibular-head",
    "nonspecific-back-pain": "dev-32-nonspecific-back-pain",
}


def test_package_examples_equal_user_examples() -> None:
    """The package's examples and examples/ hold the same files with the same bytes."""
    packaged = {path.name: path.read_bytes() for path in PACKAGED_EXAMPLES.glob("*.yaml")}
    users = {path.name: path.read_bytes() for path in USER_EXAMPLES.glob("*.yaml")}
    assert sorted(packaged) == sorted(f"{name}.yaml" for name in _ORIGINS)
    assert packaged == users


def test_examples_are_valid_cases(vocabulary: Vocabulary) -> None:
    """Every example parses, and its id is its file name."""
    assert [case.id for case in read_cases(PACKAGED_EXAMPLES, vocabulary)] == sorted(_ORIGINS)


@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason=f"{SHARED_CASES} is absent")
@pytest.mark.parametrize(("name", "origin"), list(_ORIGINS.items()), ids=list(_ORIGINS))
def test_example_is_its_development_case_but_for_the_id(name: str, origin: str) -> None:
    """An example differs from its development case only in its id line."""
    example = (USER_EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    original = (SHARED_CASES / f"{origin}.yaml").read_text(encoding="utf-8").splitlines()
    assert (example[0], example[1:]) == (f"id: {name}", original[1:])
