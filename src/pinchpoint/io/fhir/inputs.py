"""One entry point for FHIR input: a QuestionnaireResponse of the intake or a record Bundle.

The CLI (``pinchpoint assess FILE.json``) and the REST API hand FHIR JSON here; the resource type
decides how it is read, and the result is a case plus what the record said beyond findings
(recorded diagnoses, warnings). The case carries the recorded diagnoses and the warnings into the
core, which makes the whole assessment from them: nothing here changes it afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinchpoint.core.assessment import Assessment
from pinchpoint.core.case import Case
from pinchpoint.core.engine import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import FhirMappingError
from pinchpoint.io.fhir._boundary import load_json
from pinchpoint.io.fhir.record import RecordFacts, read_bundle, record_to_case
from pinchpoint.io.fhir.response import response_to_case
from pinchpoint.io.readers import read_regular_file

__all__ = [
    "READABLE_TYPES",
    "FhirInput",
    "assess_fhir",
    "read_fhir",
    "read_fhir_file",
]

_MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest FHIR file read: a patient's record Bundle is some hundreds of kilobytes."""

READABLE_TYPES = ("QuestionnaireResponse", "Bundle")
"""The resource types pinchpoint assesses."""


@dataclass(frozen=True)
class FhirInput:
    """A case read from FHIR, with the record's facts (for a Bundle) and what it was based on."""

    case: Case
    resource_type: str
    facts: RecordFacts
    subject: Mapping[str, Any] | None
    basis: tuple[str, ...]


def read_fhir_file(path: Path, knowledge: Knowledge, *, today: dt.date) -> FhirInput:
    """Read a FHIR JSON file (QuestionnaireResponse or Bundle) as a case; the case id is the file stem.

    Raises:
        FhirMappingError: The file cannot be read, or is not a readable FHIR resource.
        InvalidCaseError: An answer is out of range or names a region that does not exist.
    """
    data = read_regular_file(
        path, error=FhirMappingError, what="the FHIR file", expected="a FHIR JSON file", limit=_MAX_FILE_BYTES
    )
    return read_fhir(data, knowledge, today=today, origin=str(path), default_id=path.stem)


def read_fhir(
    data: bytes | str | Mapping[str, Any],
    knowledge: Knowledge,
    *,
    today: dt.date,
    origin: str,
    default_id: str = "case",
) -> FhirInput:
    """Read a QuestionnaireResponse or a Bundle as a case.

    Args:
        data: FHIR JSON text or parsed JSON.
        knowledge: The knowledge base.
        today: The date ages and durations are counted to (Bundles).
        origin: Where the JSON came from, named in every message.
        default_id: The case id when the resource has none.

    Raises:
        FhirMappingError: The JSON is not a readable FHIR resource of a supported type.
        InvalidCaseError: An answer is out of range or names a region that does not exist.
    """
    document = load_json(data, origin) if isinstance(data, bytes | str) else dict(data)
    kind = document.get("resourceType")
    if kind == "QuestionnaireResponse":
        case = response_to_case(document, knowledge, origin=origin, default_id=default_id)
        subject = document.get("subject")
        basis = (f"QuestionnaireResponse/{document['id']}",) if isinstance(document.get("id"), str) else ()
        facts = RecordFacts(findings=case.findings)
        return FhirInput(
            case, "QuestionnaireResponse", facts, subject if isinstance(subject, dict) else None, basis
        )
    if kind == "Bundle":
        facts = read_bundle(document, knowledge, today=today, origin=origin)
        case = record_to_case(facts, default_id)
        subject = {"reference": facts.patient} if facts.patient else None
        return FhirInput(case, "Bundle", facts, subject, facts.basis)
    raise FhirMappingError(
        "pinchpoint cannot assess this FHIR resource type",
        location=f"{origin}: $.resourceType",
        expected=" or ".join(READABLE_TYPES),
        got=kind,
    )


def assess_fhir(fhir_input: FhirInput, knowledge: Knowledge) -> Assessment:
    """Assess a case read from FHIR (its recorded diagnoses and warnings are part of the case)."""
    return assess(fhir_input.case, knowledge)
