"""Tests of reading facts from FHIR records (Bundles of Patient, Condition, Observation).

The code rows are read from ``terminology.yaml`` itself, so every row is exercised: a Condition
or Observation built with that code must give the row's finding, and a code absent from the table
must give a warning, never a finding.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pydantic
import pytest
import yaml
from fhir.resources.R4B.patient import Patient
from hypothesis import given, settings
from hypothesis import strategies as st

from pinchpoint import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import FhirMappingError, PinchpointError
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import fhir_errors
from pinchpoint.io.fhir.inputs import assess_fhir, read_fhir
from pinchpoint.io.fhir.record import check_resource, read_bundle, read_checked, read_resources
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from tests.corpus import PACKAGED_VOCABULARY, shared_case_params

pytestmark = pytest.mark.core

TODAY = dt.date(2025, 3, 1)
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_TERMS = yaml.safe_load((PACKAGED_VOCABULARY.parent / "terminology.yaml").read_text(encoding="utf-8"))
_SYSTEMS = {key: row["url"] for key, row in _TERMS["systems"].items()}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _condition(system: str, code: str, *, clinical: str | None = None, verification: str | None = None,
               onset: str | None = None) -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if clinical:
        resource["clinicalStatus"] = {"coding": [{"system": _CLINICAL, "code": clinical}]}
    if verification:
        resource["verificationStatus"] = {"coding": [{"system": _VERIFICATION, "code": verification}]}
    if onset:
        resource["onsetDateTime"] = onset
    return resource


def _observation(system: str, code: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": system, "code": code}]}, **value}  # fmt: skip


@pytest.mark.parametrize("row", _TERMS["conditions"], ids=lambda row: f"{row['system']}-{row['code']}")
def test_every_condition_code_gives_its_finding(knowledge, row):
    """An active Condition with a code of the table states the row's finding and value."""
    facts = read_bundle(_bundle(_condition(_SYSTEMS[row["system"]], row["code"], clinical="active")),
                        knowledge, today=TODAY)  # fmt: skip
    assert dict(facts.findings) == {row["finding"]: row["value"]}
    assert facts.warnings == ()


@pytest.mark.parametrize(
    ("clinical", "verification", "expected"),
    [
        pytest.param("active", "confirmed", {"urinary_retention": True}, id="active"),
        pytest.param("resolved", None, {}, id="resolved-current-finding-is-not-read"),
        pytest.param("active", "refuted", {"urinary_retention": False}, id="refuted-negates"),
        pytest.param("active", "entered-in-error", {}, id="entered-in-error-ignored"),
    ],
)
def test_condition_status_decides_what_is_read(knowledge, clinical, verification, expected):
    """Clinical and verification status decide whether and how a Condition states its finding."""
    condition = _condition(
        "http://snomed.info/sct", "267064002", clinical=clinical, verification=verification
    )
    assert dict(read_bundle(_bundle(condition), knowledge, today=TODAY).findings) == expected


def test_history_findings_count_when_resolved(knowledge):
    """A resolved cancer still means 'has or had cancer'."""
    condition = _condition("http://snomed.info/sct", "363346000", clinical="resolved")
    assert dict(read_bundle(_bundle(condition), knowledge, today=TODAY).findings) == {"cancer_history": True}


def test_unknown_code_is_a_warning_never_a_finding(knowledge):
    """A Condition code that is not in the table is reported and ignored."""
    facts = read_bundle(_bundle(_condition("http://snomed.info/sct", "22298006")), knowledge, today=TODAY)
    assert dict(facts.findings) == {}
    assert facts.warnings == (
        "Bundle: $.entry[0].resource.code: no code of this Condition is in pinchpoint's table "
        "(http://snomed.info/sct|22298006)",
    )


def test_patient_gives_age_on_the_date_and_sex(knowledge):
    """Age counts whole years to the given date; gender male or female is the sex."""
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1975-03-02"}
    facts = read_bundle(_bundle(patient), knowledge, today=TODAY)
    assert dict(facts.findings) == {"age": 49, "sex": "female"}  # birthday tomorrow
    assert facts.patient == "Patient/p1"


def test_partial_birth_date_and_other_gender_are_reported(knowledge):
    """A year-only birth date and gender 'other' give warnings, not guesses."""
    patient = {"resourceType": "Patient", "gender": "other", "birthDate": "1975"}
    facts = read_bundle(_bundle(patient), knowledge, today=TODAY)
    assert dict(facts.findings) == {}
    assert facts.warnings == (
        "Bundle: $.entry[0].resource.birthDate: a partial birth date (1975) gives no exact age; age not used",
        "Bundle: $.entry[0].resource.gender: gender 'other' is not a sex of the vocabulary; not used",
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param("LA15173-0", {"pregnant": True}, id="pregnant"),
        pytest.param("LA26683-5", {"pregnant": False}, id="not-pregnant"),
        pytest.param("LA4489-6", {}, id="unknown-stays-unknown"),
    ],
)
def test_pregnancy_status_observation(knowledge, answer, expected):
    """LOINC 82810-3 answers give the pregnancy finding; 'Unknown' leaves it unknown."""
    value = {"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": answer}]}}
    facts = read_bundle(_bundle(_observation("http://loinc.org", "82810-3", **value)), knowledge, today=TODAY)
    assert dict(facts.findings) == expected
    assert facts.warnings == ()


def test_quantity_in_the_listed_unit_is_read(knowledge):
    """A body temperature in Cel is the examination temperature."""
    value = {"valueQuantity": {"value": 38.4, "system": "http://unitsofmeasure.org", "code": "Cel"}}
    facts = read_bundle(_bundle(_observation("http://loinc.org", "8310-5", **value)), knowledge, today=TODAY)
    assert dict(facts.findings) == {"exam.temperature_c": 38.4}


def test_quantity_in_another_unit_is_not_converted(knowledge):
    """A temperature in Fahrenheit is reported, never converted or guessed."""
    value = {"valueQuantity": {"value": 101.2, "system": "http://unitsofmeasure.org", "code": "[degF]"}}
    facts = read_bundle(_bundle(_observation("http://loinc.org", "8310-5", **value)), knowledge, today=TODAY)
    assert dict(facts.findings) == {}
    assert facts.warnings == (
        "Bundle: $.entry[0].resource.valueQuantity: Body temperature is in unit '[degF]', not 'Cel'; "
        "not converted, not used",
    )


def test_presentation_onset_gives_duration(knowledge):
    """An active sciatica with an onset names the presentation and gives duration_days."""
    condition = _condition("http://snomed.info/sct", "23056005", clinical="active", onset="2025-02-15")
    facts = read_bundle(_bundle(condition), knowledge, today=TODAY)
    assert facts.presentations == {"sciatica"}
    assert dict(facts.findings) == {"duration_days": 14}


def test_conflicting_yes_no_keeps_present(knowledge):
    """When one resource says present and another absent, present is kept: a red flag is never dropped."""
    refuted = _condition("http://snomed.info/sct", "267064002", verification="refuted")
    present = {**_condition("http://icd10", "x"), "id": "c2",
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "R33"}]}}  # fmt: skip
    facts = read_bundle(_bundle(refuted, present), knowledge, today=TODAY)
    assert dict(facts.findings) == {"urinary_retention": True}
    assert facts.warnings == (
        "Bundle: $.entry[1].resource.code.coding[0]: urinary_retention is recorded both as present and "
        "absent; "
        "present is kept",
    )


def test_resources_not_read_are_reported(knowledge):
    """An Encounter is valid FHIR but not read; a made-up type is named as such."""
    bundle = _bundle({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}},
                     {"resourceType": "Spaceship"})  # fmt: skip
    facts = read_bundle(bundle, knowledge, today=TODAY)
    assert facts.warnings == (
        "Bundle: $.entry[0].resource: Encounter resources are not read",
        "Bundle: $.entry[1].resource: Spaceship is not a FHIR R4 type",
    )


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        pytest.param(
            _bundle({"resourceType": "Patient", "id": "a"}, {"resourceType": "Patient", "id": "b"}),
            "Bundle: $.entry[1].resource: the record holds more than one Patient; expected the resources "
            "of one "
            "patient",
            id="two-patients",
        ),
        pytest.param(
            _bundle({"resourceType": "Condition", "code": {"text": "x"}}),
            "Bundle: $.entry[0].resource.subject: the FHIR resource is not valid (1 error(s)); first: Field "
            "required; expected a valid FHIR R4 Condition",
            id="missing-required-element",
        ),
        pytest.param(
            _bundle({"resourceType": "Patient", "gender": "robot"}),
            "Bundle: $.entry[0].resource.gender: a code is not in its FHIR value set; expected one of "
            "female, male, "
            "other, unknown (got 'robot')",
            id="bad-code",
        ),
        pytest.param(
            {"resourceType": "Bundle", "type": "pile"},
            "Bundle: $.type: a code is not in its FHIR value set; expected one of batch, batch-response, "
            "collection, "
            "document, history, message, searchset, transaction, transaction-response (got 'pile')",
            id="bad-bundle-type",
        ),
    ],
)
def test_bad_records_are_refused(knowledge, bundle, message):
    """An invalid record is refused with the JSON path of the problem."""
    with pytest.raises(FhirMappingError) as error:
        read_bundle(bundle, knowledge, today=TODAY)
    assert str(error.value) == message


_NESTED_UNKNOWN = (
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": '
    b'"Condition", "subject": {"reference": "Patient/1"}, "contained": [{"resourceType": "Spaceship"}]}}]}'
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            b"{",
            "x: line 1, column 2: the text is not valid JSON: Expecting property name enclosed in double "
            "quotes; expected a FHIR resource as JSON",
            id="json",
        ),
        pytest.param(
            b"\xff{}",
            "x: the text is not UTF-8: byte 0 cannot be decoded; expected a FHIR resource as JSON encoded"
            " as UTF-8",
            id="utf8",
        ),
        pytest.param(
            b"[1]",
            "x: $.resourceType: the JSON is not a FHIR resource; expected a JSON object with a resourceType "
            "such as QuestionnaireResponse or Bundle (got 'list')",
            id="not-an-object",
        ),
        pytest.param(
            b'{"resourceType": "Patient"}',
            "x: $.resourceType: pinchpoint cannot assess this FHIR resource type; expected "
            "QuestionnaireResponse or Bundle (got 'Patient')",
            id="other-type",
        ),
        pytest.param(
            _NESTED_UNKNOWN,
            "x: $.entry[0].resource: the FHIR JSON holds a resource of an unknown type; expected resources "
            "of FHIR R4 types only (got 'Spaceship')",
            id="nested-unknown-type",
        ),
    ],
)
def test_foreign_errors_are_translated_once(knowledge, data, message):
    """JSON, encoding and model errors all arrive as FhirMappingError with a location."""
    with pytest.raises(FhirMappingError) as error:
        read_fhir(data, knowledge, today=TODAY, origin="x")
    assert str(error.value) == message


def test_every_expected_foreign_error_has_a_mapping():
    """Each foreign error type the boundary expects becomes a FhirMappingError chained to it."""

    def validation_error() -> None:
        Patient.model_validate({"resourceType": "Patient", "gender": 3})

    raisers = {
        pydantic.ValidationError: validation_error,
        json.JSONDecodeError: lambda: json.loads("{"),
        UnicodeDecodeError: lambda: b"\xff".decode("utf-8"),
        KeyError: lambda: {}["R4.SpaceshipType"],
        RecursionError: lambda: (_ for _ in ()).throw(RecursionError()),
    }
    for foreign, raiser in raisers.items():
        with pytest.raises(FhirMappingError) as error, fhir_errors("x"):
            raiser()
        assert isinstance(error.value.__cause__, foreign)


@pytest.mark.parametrize("path", shared_case_params())
def test_recorded_diagnosis_never_lowers_triage(knowledge, path: Path):
    """A recorded cauda equina syndrome lifts every case to emergency, plan included; nothing is lowered."""
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    facts = read_bundle(_bundle(_condition("http://snomed.info/sct", "192970008", clinical="active")),
                        knowledge, today=TODAY)  # fmt: skip
    assert facts.recorded == {"cauda_equina"}
    lifted = assess(replace(case, recorded=facts.recorded), knowledge)
    assert lifted.triage == Urgency.EMERGENCY >= assessment.triage
    fired = {reason for reason in assessment.triage_reasons if not reason.rule.startswith("cause-care:")}
    assert fired < set(lifted.triage_reasons)
    assert "recorded-cauda-equina" in {reason.rule for reason in lifted.triage_reasons}
    assert lifted.plan.actions == (knowledge.plan.actions[Urgency.EMERGENCY],)
    assert "mri-emergency-cauda-equina" in {item.id for item in lifted.investigations}


def test_bundle_is_assessed_like_the_same_findings(knowledge):
    """A Bundle's findings give the assessment the engine gives those findings, plus the record's warnings."""
    bundle = _bundle(
        {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1980-01-01"},
        _condition("http://snomed.info/sct", "267064002", clinical="active"),
        {**_condition("http://snomed.info/sct", "1234"), "id": "c9"},
    )
    fhir_input = read_fhir(bundle, knowledge, today=TODAY, origin="Bundle")
    assessment = assess_fhir(fhir_input, knowledge)
    direct = assess(replace(fhir_input.case, notes=()), knowledge)
    assert assessment.triage is Urgency.EMERGENCY
    assert replace(assessment, warnings=direct.warnings) == direct
    assert assessment.warnings[-1].startswith("Bundle: $.entry[2].resource.code: no code")
    assert fhir_input.subject == {"reference": "Patient/p1"}


def test_terminology_rows_name_existing_systems():
    """Every code row of terminology.yaml names one of its declared systems (the loader checks it too)."""
    table = s.TerminologyTable.model_validate(_TERMS)
    rows = [*table.conditions, *table.observations, *table.presentations, *table.imaging_orders]
    rows += [code for codes in (*table.sites.values(), *table.causes.values()) for code in codes]
    assert {cast(s.Code, row).system for row in rows} <= set(table.systems)


def _pool() -> list[dict[str, Any]]:
    """Resources that pass the check, each read differently: every condition code and status, clashes."""
    sct = "http://snomed.info/sct"
    pregnancy = {"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA15173-0"}]}}
    celsius = {"valueQuantity": {"value": 38.4, "system": "http://unitsofmeasure.org", "code": "Cel"}}
    fahrenheit = {"valueQuantity": {"value": 101.2, "system": "http://unitsofmeasure.org", "code": "[degF]"}}
    pool: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1975-03-02"},
        {"resourceType": "Patient", "gender": "other", "birthDate": "1975"},
        _condition(sct, "23056005", clinical="active", onset="2025-02-15"),
        _condition(sct, "23056005", clinical="active", onset="2025-01-01"),
        _condition(sct, "23056005", onset="2025-04-01"),
        _condition(sct, "192970008", clinical="active"),
        _condition(sct, "22298006"),
        _condition(sct, "267064002", clinical="bogus"),
        _observation("http://loinc.org", "82810-3", **pregnancy),
        _observation("http://loinc.org", "8310-5", **celsius),
        _observation("http://loinc.org", "8310-5", **fahrenheit),
        {**_observation("http://loinc.org", "8310-5", **celsius), "status": "cancelled"},
        {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}},
        {"resourceType": "Spaceship"},
    ]
    for row in _TERMS["conditions"]:
        for clinical, verification in (("active", None), ("resolved", None), (None, "refuted")):
            pool.append(_condition(_SYSTEMS[row["system"]], row["code"], clinical=clinical,
                                   verification=verification))  # fmt: skip
    return pool


_POOL = _pool()


def _outcome(read):
    """What a read gives: the facts, or the error's type and message."""
    try:
        return read()
    except PinchpointError as error:
        return type(error), str(error)


@pytest.fixture(scope="module")
def checked_pool():
    """Every resource of the pool checked once, at the path ``pool[i]``, to be read into many records."""
    return [check_resource(f"pool[{index}]", resource, origin="x") for index, resource in enumerate(_POOL)]


@settings(max_examples=150, deadline=None)
@given(chosen=st.lists(st.integers(0, len(_POOL) - 1), max_size=6))
def test_reading_checked_resources_equals_reading_their_json(knowledge, checked_pool, chosen):
    """A record read from resources checked once gives what reading its JSON gives: facts, warnings, errors.

    The checked resources are shared by every record drawn, as the population audit shares them
    between its signatures; a record may hold a resource twice, two Patients (an error) or a
    status outside its value set (an error raised while reading, not while checking).
    """
    resources = [(f"pool[{index}]", _POOL[index]) for index in chosen]
    direct = _outcome(lambda: read_resources(resources, knowledge, today=TODAY, origin="x"))
    checked = [checked_pool[index] for index in chosen]
    assert _outcome(lambda: read_checked(checked, knowledge, today=TODAY, origin="x")) == direct


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param({"resourceType": "Condition", "code": {"text": "x"}}, id="missing-required-element"),
        pytest.param({"resourceType": "Patient", "gender": "robot"}, id="bad-code"),
        pytest.param(_condition("http://snomed.info/sct", ""), id="empty-code"),
        pytest.param({"resourceType": "Observation", "status": "final"}, id="observation-without-code"),
        pytest.param({"resourceType": 5}, id="type-not-a-string"),
        pytest.param(["Patient"], id="not-an-object"),
    ],
)
def test_check_refuses_what_reading_the_json_refuses(knowledge, resource):
    """check_resource raises the error that reading the same resource raises, word for word."""
    direct = _outcome(lambda: read_resources([("r", resource)], knowledge, today=TODAY, origin="x"))
    assert direct[0] is FhirMappingError
    assert _outcome(lambda: check_resource("r", resource, origin="x")) == direct
