"""Tests of the audit's order-card review of signatures: each element checked once, nothing else changed.

:func:`pinchpoint.audit.verdicts.verdicts_of` validates each distinct element of the signatures
(the patient's age and sex, each Condition at its place) once and reads every signature from its
elements' checked resources. These tests hold that shortcut to reading each signature's own JSON:
the same facts, the same errors word for word, and the same verdicts as reviewing each signature
alone. The elements are drawn from the knowledge's own codes, with statuses, genders, ages and
onsets that the reader refuses or reports.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinchpoint.audit import verdicts
from pinchpoint.audit.verdicts import verdict_of, verdicts_of
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import PinchpointError
from pinchpoint.io.fhir.record import read_resources
from pinchpoint.io.knowledge.loader import load_knowledge

pytestmark = pytest.mark.core

_KNOWLEDGE = load_knowledge()


def _codes(knowledge: Knowledge) -> list[tuple[str, str]]:
    """Every code of terminology.yaml that a Condition can carry, and three the reader cannot use."""
    terms = knowledge.tables["terminology"]
    url = {name: system.url for name, system in terms.systems.items()}
    rows = [*terms.conditions, *terms.presentations]
    rows += [code for codes in (*terms.sites.values(), *terms.causes.values()) for code in codes]
    known = sorted({(url[row.system], row.code) for row in rows})
    return [*known, ("http://snomed.info/sct", "22298006"), ("http://snomed.info/sct", ""), ("", "")]


_ELEMENTS = st.builds(
    lambda code, clinical, verification, days: "|".join([*code, clinical, verification, days]),
    st.sampled_from(_codes(_KNOWLEDGE)),
    st.sampled_from(["", "active", "resolved", "remission", "bogus"]),
    st.sampled_from(["", "confirmed", "refuted", "entered-in-error", "bogus"]),
    st.sampled_from(["", "-3", "0", "10", "50", "400"]),
)
_SIGNATURES = st.builds(
    lambda age, sex, elements: f"{age}#{sex}#{';'.join(elements)}",
    st.sampled_from(["", "-5", "0", "17", "50", "80", "300"]),
    st.sampled_from(["", "female", "male", "other", "robot"]),
    st.lists(_ELEMENTS, max_size=3),
)
_BATCHES = st.lists(_SIGNATURES, min_size=1, max_size=12).flatmap(
    # A batch shares elements between its signatures, as a population's signatures do.
    lambda found: st.lists(
        st.sampled_from(found).map(lambda one: one.rsplit(";", 1)[0] if ";" in one else one) | _SIGNATURES,
        min_size=1,
        max_size=12,
    ).map(lambda more: found + more)
)


def _outcome(read):
    """What a read gives: the facts, or the error's type and message."""
    try:
        return read()
    except PinchpointError as error:
        return type(error), str(error)


@settings(max_examples=60, deadline=None)
@given(batch=_BATCHES)
def test_signatures_read_from_shared_checked_elements_as_from_their_json(batch):
    """Each signature, read from elements checked once for its batch, reads as its own JSON does."""
    checked: dict = {}
    for signature in batch:
        direct = _outcome(
            lambda signature=signature: read_resources(
                verdicts._resources(signature), _KNOWLEDGE, today=verdicts._ORDER_DAY, origin="audit"
            )
        )
        shared = _outcome(lambda signature=signature: verdicts._read(signature, _KNOWLEDGE, checked))
        assert shared == direct, signature


@settings(max_examples=25, deadline=None)
@given(batch=_BATCHES)
def test_a_batch_gives_each_signature_the_verdict_it_gets_alone(batch):
    """Reviewing signatures together (elements checked once, questions shared) changes no verdict."""
    together = verdicts_of(batch, _KNOWLEDGE)
    assert [v.signature for v in together] == sorted(set(batch))
    assert together == [verdict_of(v.signature, _KNOWLEDGE) for v in together]


def test_an_unreadable_signature_carries_the_readers_own_error():
    """A status outside its value set makes the signature unreadable, named at its place in the record.

    The second Condition's bad status is found while reading (its resource passes the model check),
    the gender while checking: each message is the reader's.
    """
    lbp = "http://hl7.org/fhir/sid/icd-10|M54.5|active||10"
    bad_status = "http://hl7.org/fhir/sid/icd-10|M54.5|bogus||10"
    found = verdicts_of([f"50#female#{lbp};{bad_status}", f"50#robot#{lbp}", f"50#female#{lbp}"], _KNOWLEDGE)
    by_signature = {v.signature: v for v in found}
    status = by_signature[f"50#female#{lbp};{bad_status}"]
    assert (status.verdict, status.card_warns, status.plan_offers) == ("unreadable", False, False)
    assert status.reasons.startswith("audit: Condition[1].clinicalStatus.coding[0].code: a code is not in")
    assert by_signature[f"50#robot#{lbp}"].reasons.startswith("audit: Patient.gender: a code is not in")
    assert by_signature[f"50#female#{lbp}"].verdict != "unreadable"
