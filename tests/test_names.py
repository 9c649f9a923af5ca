"""Sites, causes and probabilities in words (names.yaml, pinchpoint.core.names)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import UnresolvedReferenceError
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.corpus import copy_knowledge_with


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (0.0, "unlikely (under 1%)"),
        (0.004, "unlikely (under 1%)"),
        (0.3, "possible (30%)"),
        (0.62, "likely (62%)"),
        (0.999, "very likely (over 99%)"),
        (1.0, "very likely (over 99%)"),
    ],
)
def test_probabilities_in_words_never_claim_certainty(knowledge: Knowledge, p: float, words: str) -> None:
    """Bands in words with the number beside them; 0 and 1 are shown as under 1% and over 99%."""
    assert knowledge.names.likelihood_words(p) == words


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_a_likelier_hypothesis_never_gets_weaker_words(low: float, high: float) -> None:
    """The bands are ordered: a higher probability never reads as less likely."""
    names = _KNOWLEDGE.names
    low, high = sorted((low, high))
    bands = [words for _, words in names.likelihood]
    assert bands.index(_band(names.likelihood_words(high))) <= bands.index(_band(names.likelihood_words(low)))


def _band(text: str) -> str:
    return text.partition(" (")[0]


_KNOWLEDGE = load_knowledge()


def test_sided_sites_are_named_with_the_leg(knowledge: Knowledge) -> None:
    """A person reads the plain words, the side as a leg and the term; a clinician the term and side."""
    names = knowledge.names
    assert names.site("nerve.lateral_femoral_cutaneous.left", "clinician") == "meralgia paraesthetica (left)"
    patient = names.site("nerve.lateral_femoral_cutaneous.left", "patient")
    assert patient.endswith(", left leg")
    assert "(meralgia paraesthetica)" in patient
    assert names.cause("disc_herniation", "plain") == "a slipped disc"


def test_a_cause_without_a_name_is_refused(tmp_path) -> None:
    """names.yaml must name every vocabulary cause; a missing one names the table and the cause."""
    folder = copy_knowledge_with(tmp_path, "names.yaml", "  muscle_cramp: {", "  not_a_cause: {")
    with pytest.raises(UnresolvedReferenceError, match=r"names\.yaml: causes"):
        load_knowledge(folder)
