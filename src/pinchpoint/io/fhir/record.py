"""Facts from a FHIR record: a ``Bundle`` (or CDS Hooks prefetch) of Patient, Condition, Observation.

What is read, and how (the code tables are ``terminology.yaml``; nothing is guessed):

* ``Patient``: ``age`` in whole years from a full ``birthDate`` on the given date; ``sex`` from
  ``gender`` male or female. A partial birth date or another gender is reported, not used.
* ``Condition``: a code of ``terminology.conditions`` states a finding (``current`` rows only while
  the condition is active; ``refuted`` negates a yes/no finding); a code of ``sites`` or ``causes``
  is a recorded diagnosis; a code of ``presentations`` names the presenting problem, and its onset
  gives ``duration_days``.
* ``Observation``: a code of ``terminology.observations`` gives a number in the listed unit (UCUM),
  or a coded answer such as the LOINC pregnancy status.
* ``QuestionnaireResponse`` of the intake: its answers, as :mod:`pinchpoint.io.fhir.response` reads them.

Every code that is not in the tables, every resource type that is not read and every value that
cannot be used becomes a warning in :attr:`RecordFacts.warnings`. When two resources disagree on a
yes/no finding, *yes* wins (a red flag is never dropped); for ``duration_days`` the longest wins.

Reading a resource is two steps: :func:`check_resource` validates its JSON against the
``fhir.resources`` model (most of the cost), and the reader then reads the checked model into the
record. :func:`read_resources` takes both steps for each resource in turn; :func:`read_checked`
takes only the second, so that a caller reading many records made of the same few resources (the
population audit) validates each of them once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, cast

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.resource import Resource

from pinchpoint.core.case import Case, FindingValue, check_value
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import FhirMappingError, InvalidCaseError
from pinchpoint.io.fhir._boundary import load_json, model_class, validate_resource
from pinchpoint.io.fhir.response import findings_of_response
from pinchpoint.io.fhir.terminology import Terminology
from pinchpoint.knowledge import schema as s

__all__ = [
    "CheckedResource",
    "RecordFacts",
    "RecordedDiagnosis",
    "check_resource",
    "read_bundle",
    "read_checked",
    "read_resources",
    "record_to_case",
    "refuse_other_patients",
]

_UCUM = "http://unitsofmeasure.org"
_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")
"""A literal reference to a Patient, relative or absolute (``Patient/p1``, ``https://ehr/fhir/Patient/p1``)."""
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CLINICAL_CODES = frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved"})
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_VERIFICATION_CODES = frozenset(
    {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}
)
_USABLE_OBSERVATION = frozenset({"final", "amended", "corrected", "preliminary"})
_DURATION = "duration_days"
_READ: Mapping[str, type[Resource]] = {
    "Patient": Patient,
    "Condition": Condition,
    "Observation": Observation,
    "QuestionnaireResponse": QuestionnaireResponse,
}
"""The resource types the reader reads, with the model each is validated against."""


@dataclass(frozen=True, slots=True)
class RecordedDiagnosis:
    """A diagnosis in the record that names a vocabulary site or cause."""

    kind: Literal["site", "cause"]
    id: str
    code: str
    display: str
    resource: str


@dataclass(frozen=True)
class RecordFacts:
    """What a record says, in vocabulary terms, with everything that could not be used."""

    findings: Mapping[str, FindingValue]
    diagnoses: tuple[RecordedDiagnosis, ...] = ()
    presentations: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()
    patient: str | None = None
    basis: tuple[str, ...] = ()

    @property
    def recorded_sites(self) -> frozenset[str]:
        """Vocabulary site ids (without side) recorded as diagnoses."""
        return frozenset(d.id for d in self.diagnoses if d.kind == "site")

    @property
    def recorded_causes(self) -> frozenset[str]:
        """Vocabulary cause ids recorded as diagnoses."""
        return frozenset(d.id for d in self.diagnoses if d.kind == "cause")

    @property
    def recorded(self) -> frozenset[str]:
        """Every recorded diagnosis as a site or cause id: the case's ``recorded`` input."""
        return frozenset(d.id for d in self.diagnoses)


def read_bundle(
    bundle: Mapping[str, Any] | bytes | str,
    knowledge: Knowledge,
    *,
    today: dt.date,
    origin: str = "Bundle",
) -> RecordFacts:
    """Read the facts of a FHIR R4 Bundle.

    Args:
        bundle: The Bundle as JSON text or parsed JSON.
        knowledge: The knowledge base (vocabulary and terminology).
        today: The date that ages and durations are counted to.
        origin: Where the Bundle came from, named in every message.

    Raises:
        FhirMappingError: The JSON or a resource that is read is invalid, a required code is
            not in its value set, or the Bundle holds more than one Patient.
        InvalidCaseError: An answer of an intake QuestionnaireResponse is out of range.
    """
    document = load_json(bundle, origin) if isinstance(bundle, bytes | str) else dict(bundle)
    if document.get("resourceType") != "Bundle":
        raise FhirMappingError(
            "the resource is not a Bundle",
            location=f"{origin}: $.resourceType",
            expected="Bundle",
            got=document.get("resourceType"),
        )
    entries = document.get("entry") or []
    envelope = {key: value for key, value in document.items() if key != "entry"}
    validate_resource(envelope, Bundle, origin)
    if not isinstance(entries, list):
        raise FhirMappingError(
            "Bundle.entry is not a list", location=f"{origin}: $.entry", expected="a JSON array", got=entries
        )
    resources = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if resource is not None:
            resources.append((f"$.entry[{index}].resource", resource))
    refuse_other_patients(resources, origin)
    return read_resources(resources, knowledge, today=today, origin=origin)


def _is_patient(resource: Mapping[str, Any]) -> bool:
    return resource.get("resourceType") == "Patient"


def refuse_other_patients(
    resources: Sequence[tuple[str, object]], origin: str, *, patient: tuple[str, str] | None = None
) -> None:
    """Refuse a record (a Bundle, a CDS request's prefetch) whose resources belong to more than one patient.

    A record is read as one patient's: a Condition or Observation whose ``subject`` names another
    patient than the record's Patient (or than the other resources' subject) would put that
    patient's facts, a fever or a red flag, into this one's assessment. Only literal
    ``Patient/id`` references are compared; a ``urn:uuid:`` or contained reference is not judged.

    Args:
        resources: The resources with their JSON paths, as :func:`read_resources` takes them.
        origin: Where the record came from, named in the message.
        patient: The patient the record is known to be of, and where that is said (a CDS
            request's ``$.context.patientId``), if known.

    Raises:
        FhirMappingError: Two resources, or a resource and ``patient``, name different patients.
    """
    first = patient
    for path, resource in resources:
        if not isinstance(resource, Mapping):
            continue  # the reader reports it
        if _is_patient(resource):
            other, where = resource.get("id"), f"{path}.id"
        else:
            subject = resource.get("subject")
            reference = subject.get("reference") if isinstance(subject, Mapping) else None
            named = _PATIENT_REFERENCE.search(reference) if isinstance(reference, str) else None
            other, where = (named.group(1) if named else None), f"{path}.subject.reference"
        if not isinstance(other, str):
            continue
        if first is None:
            first = (other, where)
        elif other != first[0] and not (_is_patient(resource) and first[1].endswith(".id")):
            # (two Patient resources are the reader's own refusal: "more than one Patient")
            raise FhirMappingError(
                "the record holds the resources of more than one patient",
                location=f"{origin}: {where}",
                expected=f"the resources of one patient (Patient/{first[0]}, as {first[1]} says)",
                got=f"Patient/{other}",
            )


def read_resources(
    resources: Iterable[tuple[str, object]],
    knowledge: Knowledge,
    *,
    today: dt.date,
    origin: str,
) -> RecordFacts:
    """Read the facts of resources given with their JSON paths (Bundle entries, CDS prefetch).

    Each resource is checked (:func:`check_resource`) and read before the next is looked at.

    Raises:
        FhirMappingError: A resource that is read is invalid, or there is more than one Patient.
        InvalidCaseError: An answer of an intake QuestionnaireResponse is out of range.
    """
    reader = _Reader(knowledge, today, origin)
    for path, resource in resources:
        reader.read(check_resource(path, resource, origin=origin))
    return reader.facts()


@dataclass(frozen=True, slots=True)
class CheckedResource:
    """One resource of a record as :func:`check_resource` validated it, ready to be read (made there only).

    ``model`` is the validated ``fhir.resources`` model, or None for a type the reader does not
    read (reading it gives a warning); ``id`` is the resource's JSON ``id`` as it was given.
    The model is only read, never changed, so one checked resource may be read into many records.
    """

    path: str
    kind: str
    model: Resource | None
    id: object


def check_resource(path: str, resource: object, *, origin: str) -> CheckedResource:
    """Validate one resource of a record, as :func:`read_resources` does before reading it.

    Args:
        path: The resource's JSON path in its record, named in every message.
        resource: The parsed JSON of the resource.
        origin: Where the record came from, named in every message.

    Raises:
        FhirMappingError: The entry is not a FHIR resource, or a resource of a type that is read
            does not match its model or carries a code outside its required value set.
    """
    if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
        raise FhirMappingError(
            "an entry is not a FHIR resource",
            location=f"{origin}: {path}",
            expected="a JSON object with a resourceType",
            got=type(resource).__name__,
        )
    kind = str(resource["resourceType"])
    model = _READ.get(kind)
    validated = validate_resource(resource, model, origin, path) if model is not None else None
    return CheckedResource(path, kind, validated, resource.get("id"))


def read_checked(
    resources: Iterable[CheckedResource],
    knowledge: Knowledge,
    *,
    today: dt.date,
    origin: str,
) -> RecordFacts:
    """Read the facts of resources already checked: what :func:`read_resources` reads of their JSON.

    A caller that reads many records made of the same resources checks each resource once
    (:func:`check_resource`, with the same ``origin``) and reads every record here, with the
    same facts, warnings and errors as reading the JSON, apart from the checks already passed.

    Raises:
        FhirMappingError: A code of a Condition status is not in its value set, or there is more
            than one Patient.
        InvalidCaseError: An answer of an intake QuestionnaireResponse is out of range.
    """
    reader = _Reader(knowledge, today, origin)
    for resource in resources:
        reader.read(resource)
    return reader.facts()


def record_to_case(facts: RecordFacts, case_id: str = "record") -> Case:
    """Return a record as a case: its findings, its recorded diagnoses and what could not be used.

    The recorded diagnoses are an input of the triage (``recorded`` in triage.yaml), so the
    assessment, its plan included, is made from the level they demand.
    """
    return Case(
        id=case_id,
        findings=MappingProxyType(dict(facts.findings)),
        recorded=facts.recorded,
        notes=facts.warnings,
    )


class _Reader:
    """Accumulates findings, diagnoses and warnings over the resources of one record."""

    def __init__(self, knowledge: Knowledge, today: dt.date, origin: str) -> None:
        self.knowledge = knowledge
        self.vocabulary = knowledge.vocabulary
        self.terms = knowledge.part(Terminology.of)
        self.today = today
        self.origin = origin
        self.findings: dict[str, FindingValue] = {}
        self.diagnoses: list[RecordedDiagnosis] = []
        self.presentations: set[str] = set()
        self.warnings: list[str] = []
        self.patient: str | None = None
        self.basis: list[str] = []

    def facts(self) -> RecordFacts:
        return RecordFacts(
            findings=MappingProxyType(dict(self.findings)),
            diagnoses=tuple(self.diagnoses),
            presentations=frozenset(self.presentations),
            warnings=tuple(self.warnings),
            patient=self.patient,
            basis=tuple(self.basis),
        )

    def warn(self, path: str, text: str) -> None:
        self.warnings.append(f"{self.origin}: {path}: {text}")

    def read(self, resource: CheckedResource) -> None:
        kind, path, model = resource.kind, resource.path, resource.model
        if isinstance(model, Patient):
            self._patient(path, model)
        elif isinstance(model, Condition):
            self._condition(path, model)
        elif isinstance(model, Observation):
            self._observation(path, model)
        elif isinstance(model, QuestionnaireResponse):
            self._response(path, model)
        else:
            known = model_class(kind) is not None
            self.warn(path, f"{kind} resources are not read" if known else f"{kind} is not a FHIR R4 type")
            return
        if isinstance(resource.id, str):
            self.basis.append(f"{kind}/{resource.id}")

    def _patient(self, path: str, patient: Patient) -> None:
        if self.patient is not None or "age" in self.findings or "sex" in self.findings:
            raise FhirMappingError(
                "the record holds more than one Patient",
                location=f"{self.origin}: {path}",
                expected="the resources of one patient",
            )
        self.patient = f"Patient/{patient.id}" if patient.id else None
        birth = patient.birthDate
        if isinstance(birth, dt.date):
            age = (
                self.today.year - birth.year - ((self.today.month, self.today.day) < (birth.month, birth.day))
            )
            self._add("age", age, f"{path}.birthDate")
        elif birth is not None:
            self.warn(f"{path}.birthDate", f"a partial birth date ({birth}) gives no exact age; age not used")
        if patient.gender in self.vocabulary.findings["sex"].values:
            self._add("sex", patient.gender, f"{path}.gender")
        elif patient.gender is not None:
            self.warn(f"{path}.gender", f"gender {patient.gender!r} is not a sex of the vocabulary; not used")

    def _condition(self, path: str, condition: Condition) -> None:
        clinical = _status(
            condition.clinicalStatus, _CLINICAL, _CLINICAL_CODES, f"{path}.clinicalStatus", self
        )
        verification = _status(
            condition.verificationStatus,
            _VERIFICATION,
            _VERIFICATION_CODES,
            f"{path}.verificationStatus",
            self,
        )
        if verification == "entered-in-error":
            return
        active = clinical is None or clinical in _ACTIVE
        refuted = verification == "refuted"
        reference = f"Condition/{condition.id}" if condition.id else path
        recognised = False
        for index, code in enumerate(_codings(condition.code)):
            key = (code.system or "", code.code or "")
            where = f"{path}.code.coding[{index}]"
            row = self.terms.conditions.get(key)
            if row is not None:
                recognised = True
                if row.timing == "current" and not active:
                    continue
                if refuted:
                    if isinstance(row.value, bool):
                        self._add(row.finding, not row.value, where)
                    continue
                self._add(row.finding, row.value, where)
            diagnosis = self.terms.diagnoses.get(key)
            if diagnosis is not None:
                recognised = True
                if active and not refuted:
                    kind, name, display = diagnosis
                    site_or_cause = cast(Literal["site", "cause"], kind)
                    self.diagnoses.append(RecordedDiagnosis(site_or_cause, name, key[1], display, reference))
            presentation = self.terms.presentations.get(key)
            if presentation is not None:
                recognised = True
                if active and not refuted:
                    self.presentations.add(presentation.presentation)
                    self._onset(condition, path)
        if not recognised:
            self.warn(
                f"{path}.code",
                f"no code of this Condition is in pinchpoint's table ({_shown(condition.code)})",
            )

    def _onset(self, condition: Condition, path: str) -> None:
        onset = condition.onsetDateTime
        if onset is None:
            return
        day = (
            onset.date() if isinstance(onset, dt.datetime) else onset if isinstance(onset, dt.date) else None
        )
        if day is None:
            self.warn(f"{path}.onsetDateTime", f"a partial onset ({onset}) gives no duration; not used")
            return
        days = (self.today - day).days
        if days < 0:
            self.warn(f"{path}.onsetDateTime", f"the onset {day} is after {self.today}; not used")
            return
        self._add(_DURATION, days, f"{path}.onsetDateTime")

    def _observation(self, path: str, observation: Observation) -> None:
        if observation.status not in _USABLE_OBSERVATION:
            return
        rows = [
            (index, row)
            for index, code in enumerate(_codings(observation.code))
            if (row := self.terms.observations.get((code.system or "", code.code or ""))) is not None
        ]
        if not rows:
            self.warn(
                f"{path}.code",
                f"the Observation code is not in pinchpoint's table ({_shown(observation.code)})",
            )
            return
        _, row = rows[0]
        if row.unit is not None:
            self._quantity(observation, row, path)
        else:
            self._answer(observation, row, path)

    def _quantity(self, observation: Observation, row: s.ObservationCode, path: str) -> None:
        quantity = observation.valueQuantity
        where = f"{path}.valueQuantity"
        if quantity is None or quantity.value is None:
            self.warn(where, f"{row.display} has no quantity value; not used")
            return
        unit = quantity.code if quantity.system == _UCUM and quantity.code else quantity.unit
        if unit != row.unit:
            self.warn(where, f"{row.display} is in unit {unit!r}, not {row.unit!r}; not converted, not used")
            return
        number = float(quantity.value)
        spec = self.vocabulary.findings[row.finding]
        if spec.type == "int":
            if not number.is_integer():
                self.warn(where, f"{row.display} {number} is not a whole number; not used")
                return
            self._add(row.finding, int(number), where)
        else:
            self._add(row.finding, number, where)

    def _answer(self, observation: Observation, row: s.ObservationCode, path: str) -> None:
        where = f"{path}.valueCodeableConcept"
        for coding in _codings(observation.valueCodeableConcept):
            if coding.code in row.unknown_answers:
                return
            if coding.code in row.answers:
                self._add(row.finding, row.answers[str(coding.code)], where)
                return
        self.warn(
            where,
            f"the answer to {row.display} is not one pinchpoint reads"
            f" ({_shown(observation.valueCodeableConcept)})",
        )

    def _response(self, path: str, response: QuestionnaireResponse) -> None:
        for finding, value in findings_of_response(
            response,
            self.vocabulary,
            origin=f"{self.origin}: {path}",
            groups=self.knowledge.questions.questions.keys(),
            bank=self.knowledge.questions,
        ).items():
            self._merge(finding, value, path)

    def _add(self, finding: str, value: object, where: str) -> None:
        spec = self.vocabulary.findings[finding]
        try:
            checked = check_value(spec, value, self.vocabulary, location=f"{self.origin}: {where}")
        except InvalidCaseError as exc:
            self.warn(where, f"{exc.problem} ({spec.describe_expected()}, got {value!r}); not used")
            return
        self._merge(finding, checked, where)

    def _merge(self, finding: str, value: FindingValue, where: str) -> None:
        previous = self.findings.get(finding)
        if previous is None or previous == value:
            self.findings[finding] = value
            return
        if finding == _DURATION and isinstance(previous, int) and isinstance(value, int):
            self.findings[finding] = max(previous, value)
            return
        if isinstance(previous, bool) and isinstance(value, bool):
            self.findings[finding] = True
            self.warn(where, f"{finding} is recorded both as present and absent; present is kept")
            return
        self.warn(where, f"{finding} is recorded as {previous!r} and {value!r}; the first is kept")


def _codings(concept: Any) -> Sequence[Any]:
    return list(concept.coding or []) if concept is not None else []


def _shown(concept: Any) -> str:
    codes = [f"{c.system}|{c.code}" + (f" {c.display!r}" if c.display else "") for c in _codings(concept)]
    if codes:
        return ", ".join(codes)
    text = getattr(concept, "text", None)
    return f"text only: {text!r}" if text else "no code"


def _status(concept: Any, system: str, allowed: frozenset[str], path: str, reader: _Reader) -> str | None:
    for index, coding in enumerate(_codings(concept)):
        if coding.system == system:
            if coding.code not in allowed:
                raise FhirMappingError(
                    "a code is not in its FHIR value set",
                    location=f"{reader.origin}: {path}.coding[{index}].code",
                    expected="one of " + ", ".join(sorted(allowed)),
                    got=coding.code,
                )
            return str(coding.code)
    return None
