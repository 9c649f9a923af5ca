"""The boundary between FHIR JSON and pinchpoint: parsing, model validation, and code checks.

Every foreign error of reading FHIR (JSON syntax, :class:`pydantic.ValidationError` raised by the
``fhir.resources`` models, a resource of the wrong type) is translated here, once, into
:class:`~pinchpoint.errors.FhirMappingError` naming the JSON path (``$.item[0].answer[0]``),
what was expected and what arrived.

``fhir.resources`` enforces structure and required elements but not the codes of required value
sets (it accepts ``Questionnaire.item.type = "choice"`` in R5, or any ``status``); the tables of
:data:`REQUIRED_CODES` are checked by :func:`check_codes` on every resource pinchpoint reads or
writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from pinchpoint.errors import FhirMappingError
from pinchpoint.io.readers import load_json as load_json_strictly

__all__ = [
    "REQUIRED_CODES",
    "check_codes",
    "fhir_errors",
    "json_path",
    "load_json",
    "to_json",
    "validate_resource",
]

R = TypeVar("R", bound=Resource)

# Codes of the FHIR R4 value sets with a *required* binding, for the elements pinchpoint reads or
# writes (hl7.org/fhir/R4: publication-status, item-type, questionnaire-enable-operator,
# questionnaire-enable-behavior, questionnaire-answers-status, risk-assessment-status (= observation
# status), request-status, request-intent, care-plan-intent, care-plan-activity-status,
# care-plan-activity-kind, request-priority, bundle-type, administrative-gender, observation-status).


def _codes(words: str) -> frozenset[str]:
    return frozenset(words.split())


_PUBLICATION = _codes("draft active retired unknown")
_REQUEST_STATUS = _codes("draft active on-hold revoked completed entered-in-error unknown")
_OBSERVATION_STATUS = _codes(
    "registered preliminary final amended corrected cancelled entered-in-error unknown"
)
REQUIRED_CODES: Mapping[str, Mapping[str, frozenset[str]]] = {
    "Questionnaire": {
        "status": _PUBLICATION,
        "item.type": _codes(
            "group display question boolean decimal integer date dateTime time string text url choice"
            " open-choice attachment reference quantity"
        ),
        "item.enableWhen.operator": _codes("exists = != > < >= <="),
        "item.enableBehavior": _codes("all any"),
    },
    "QuestionnaireResponse": {
        "status": _codes("in-progress completed amended entered-in-error stopped"),
    },
    "RiskAssessment": {"status": _OBSERVATION_STATUS},
    "ServiceRequest": {
        "status": _REQUEST_STATUS,
        "intent": _codes(
            "proposal plan directive order original-order reflex-order filler-order instance-order option"
        ),
        "priority": _codes("routine urgent asap stat"),
    },
    "CarePlan": {
        "status": _REQUEST_STATUS,
        "intent": _codes("proposal plan order option"),
        "activity.detail.status": _codes(
            "not-started scheduled in-progress on-hold completed cancelled stopped unknown entered-in-error"
        ),
        "activity.detail.kind": _codes(
            "Appointment CommunicationRequest DeviceRequest MedicationRequest NutritionOrder Task"
            " ServiceRequest VisionPrescription"
        ),
    },
    "Bundle": {
        "type": _codes(
            "document message transaction transaction-response batch batch-response history searchset"
            " collection"
        ),
    },
    "Patient": {"gender": _codes("male female other unknown")},
    "Observation": {"status": _OBSERVATION_STATUS},
}
"""Per resource type, dotted element paths and the codes their required value set allows."""


def json_path(loc: tuple[int | str, ...], root: str = "$") -> str:
    """Return a pydantic error location as a JSON path, e.g. ``$.item[0].answer[0].valueDecimal``."""
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@contextmanager
def fhir_errors(origin: str, root: str = "$") -> Iterator[None]:
    """Translate the foreign errors of reading FHIR JSON into :class:`FhirMappingError`.

    Args:
        origin: Where the JSON came from (a file name, ``request body``), named in the message.
        root: The JSON path of the object being validated, prefixed to pydantic's locations.

    Raises:
        FhirMappingError: For every foreign error this boundary expects, chained to it.
    """
    try:
        yield
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(part for part in first["loc"] if not _is_union_tag(part))
        raise FhirMappingError(
            f"the FHIR resource is not valid ({exc.error_count()} error(s)); first: {first['msg']}",
            location=f"{origin}: {json_path(loc, root)}",
            expected=f"a valid FHIR R4 {exc.title}",
            got=first.get("input") if first["type"] != "missing" else None,
        ) from exc
    except KeyError as exc:  # fhir_core looks up a nested resourceType that FHIR R4 does not define
        raise FhirMappingError(
            "the FHIR JSON holds a resource of an unknown type",
            location=f"{origin}: {root}",
            expected="resources of FHIR R4 types only",
            got=str(exc.args[0]).removeprefix("R4.").removesuffix("Type") if exc.args else None,
        ) from exc
    except json.JSONDecodeError as exc:
        raise FhirMappingError(
            f"the text is not valid JSON: {exc.msg}",
            location=f"{origin}: line {exc.lineno}, column {exc.colno}",
            expected="a FHIR resource as JSON",
        ) from exc
    except UnicodeDecodeError as exc:
        raise FhirMappingError(
            f"the text is not UTF-8: byte {exc.start} cannot be decoded",
            location=origin,
            expected="FHIR JSON encoded as UTF-8",
        ) from exc
    except RecursionError as exc:
        raise FhirMappingError(
            "the JSON nests too deeply to read", location=origin, expected="FHIR JSON"
        ) from exc


def _is_union_tag(part: int | str) -> bool:
    # pydantic inserts the member type of a union into locations (e.g. "function-after[...]").
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def load_json(data: bytes | str, origin: str) -> dict[str, Any]:
    """Parse FHIR JSON text strictly (:func:`pinchpoint.io.readers.load_json`) into a mapping.

    Raises:
        FhirMappingError: The text is not UTF-8, not JSON, not an object, or has no resourceType;
            or it holds a key written twice, a number out of range or a lone surrogate.
    """
    value = load_json_strictly(
        data, origin=origin, error=FhirMappingError, expected="a FHIR resource as JSON"
    )
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise FhirMappingError(
            "the JSON is not a FHIR resource",
            location=f"{origin}: $.resourceType",
            expected="a JSON object with a resourceType such as QuestionnaireResponse or Bundle",
            got=type(value).__name__ if not isinstance(value, dict) else value.get("resourceType"),
        )
    return value


def validate_resource(data: Mapping[str, Any] | Resource, model: type[R], origin: str, root: str = "$") -> R:
    """Validate a mapping as one FHIR R4 resource type and check its required codes.

    Args:
        data: The parsed JSON of the resource, or an already built model.
        model: The ``fhir.resources.R4B`` class expected.
        origin: Where the resource came from, named in error messages.
        root: The JSON path of the resource inside a larger document.

    Raises:
        FhirMappingError: The resource is of another type, does not match the model, or carries
            a code that its required value set does not allow.
    """
    expected_type = model.get_resource_type()
    if isinstance(data, Resource):
        if not isinstance(data, model):
            raise FhirMappingError(
                "the FHIR resource is of the wrong type",
                location=f"{origin}: {root}.resourceType",
                expected=expected_type,
                got=data.get_resource_type(),
            )
        check_codes(data.model_dump(mode="json", exclude_none=True), origin, root)
        return data
    found = data.get("resourceType") if isinstance(data, Mapping) else None
    if found != expected_type:
        raise FhirMappingError(
            "the FHIR resource is of the wrong type",
            location=f"{origin}: {root}.resourceType",
            expected=expected_type,
            got=found if isinstance(data, Mapping) else type(data).__name__,
        )
    with fhir_errors(origin, root):
        resource = model.model_validate(dict(data))
    check_codes(dict(data), origin, root)
    return resource


def model_class(resource_type: str) -> type[Resource] | None:
    """Return the R4B model class of a resource type name, or None if FHIR R4 has no such type."""
    try:
        found = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None
    return found if isinstance(found, type) and issubclass(found, Resource) else None


def check_codes(resource: Mapping[str, Any], origin: str, root: str = "$") -> None:
    """Check the codes of required value sets in a resource's JSON (see :data:`REQUIRED_CODES`).

    Raises:
        FhirMappingError: A code is not in its value set; the message names the JSON path.
    """
    rules = REQUIRED_CODES.get(str(resource.get("resourceType", "")), {})
    for dotted, allowed in rules.items():
        for path, value in _values_at(resource, dotted.split("."), root):
            if value not in allowed:
                raise FhirMappingError(
                    "a code is not in its FHIR value set",
                    location=f"{origin}: {path}",
                    expected="one of " + ", ".join(sorted(allowed)),
                    got=value,
                )


def _values_at(node: Any, parts: list[str], path: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        yield path, node
        return
    if not isinstance(node, Mapping) or parts[0] not in node:
        return
    head, rest = parts[0], parts[1:]
    child = node[head]
    if isinstance(child, list):
        for index, element in enumerate(child):
            yield from _values_at(element, rest, f"{path}.{head}[{index}]")
            if head == "item":  # Questionnaire items nest: the same rule holds at every depth.
                yield from _values_at(element, parts, f"{path}.{head}[{index}]")
    else:
        yield from _values_at(child, rest, f"{path}.{head}")


def to_json(resource: Resource) -> dict[str, Any]:
    """Return a resource as FHIR JSON (a plain mapping without empty elements)."""
    return resource.model_dump(mode="json", exclude_none=True)
