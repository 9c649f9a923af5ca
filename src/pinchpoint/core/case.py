"""A person's facts, checked against the vocabulary: the input of every assessment.

A case is what ``shared/contract/CASES.md`` describes: findings (what is not listed is
unknown) and, for evaluation, the answer a clinician expects. :func:`parse_case` checks a
parsed mapping strictly: an unknown id, a wrong type, a value out of range, a sided
finding without a side or a region that does not exist is rejected with a message naming
the key and what was expected. Nothing is guessed. Reading files is the job of
:mod:`pinchpoint.io.casefile`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from pinchpoint.core.vocabulary import FindingSpec, Urgency, Vocabulary
from pinchpoint.errors import InvalidCaseError, UnknownFindingError

__all__ = ["MAX_SAFE_INTEGER", "Case", "Expectation", "FindingValue", "parse_case"]

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest number a finding takes when its vocabulary entry sets no maximum.

It is the largest integer a JSON number carries exactly everywhere (RFC 8259 section 6); beyond
it an integer of thousands of digits costs quadratic time and overflows every float it meets.
"""

FindingValue = bool | int | float | str | tuple[str, ...]
"""The value of one finding: bool, int, float, an enum id, or a tuple of region ids."""

_CASE_KEYS = ("id", "title", "source", "narrative", "findings", "expect")
_EXPECT_KEYS = ("triage", "site", "cause")
_CASE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a careful clinician concludes for a case: every acceptable answer, best first."""

    triage: Urgency
    sites: tuple[str, ...]
    causes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Case:
    """A checked case. ``findings`` maps concrete finding ids to checked values.

    ``recorded`` holds the diagnoses a person's record already states (vocabulary site ids
    without side, or cause ids, as terminology.yaml maps a record's condition codes): the
    triage reads them (``recorded`` in triage.yaml). ``notes`` are what the reader of the
    input could not use (a code it does not know), shown with the assessment's warnings.
    Case files and JSON cases state neither; the FHIR record reader fills them.
    """

    id: str
    findings: Mapping[str, FindingValue]
    title: str = ""
    source: str = ""
    narrative: str = ""
    expect: Expectation | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    recorded: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()

    def with_findings(self, findings: Mapping[str, FindingValue]) -> Case:
        """Return a copy of this case with ``findings`` instead of its own (already checked)."""
        return replace(self, findings=MappingProxyType(dict(findings)))


def parse_case(
    table: object,
    vocabulary: Vocabulary,
    *,
    origin: str = "case",
    default_id: str = "case",
) -> Case:
    """Check a parsed case mapping and return a :class:`Case`.

    Args:
        table: The parsed case, as YAML or JSON would give it.
        vocabulary: The vocabulary to check ids against.
        origin: Where the case came from (a file name), used in every error message.
        default_id: The id to use when the case has none (a user's own case).

    Raises:
        InvalidCaseError: The structure, a type, a range or a region is wrong.
        UnknownFindingError: A finding id is not in the vocabulary.

    Example:
        A case saying ``exam.slr: true`` is refused, because the straight leg raise is
        sided: the message asks for ``exam.slr.left`` or ``exam.slr.right``.
    """
    if not isinstance(table, Mapping):
        raise InvalidCaseError(
            "the case is not a mapping of keys to values",
            location=origin,
            expected="a YAML mapping with at least a 'findings' key",
            got=type(table).__name__,
        )
    _refuse_unknown_keys(table, _CASE_KEYS, origin, "case")
    case_id = table.get("id", default_id)
    if not isinstance(case_id, str) or not _CASE_ID.match(case_id):
        raise InvalidCaseError(
            "the case id is not valid",
            location=f"{origin}: id",
            expected="lower-case letters, digits and hyphens, e.g. my-case-1",
            got=case_id,
        )
    if "findings" not in table:
        raise InvalidCaseError(
            "the case has no findings",
            location=origin,
            expected="a 'findings' mapping (it may be empty)",
        )
    findings = parse_findings(table["findings"], vocabulary, origin=origin)
    expect = _parse_expect(table["expect"], vocabulary, origin) if "expect" in table else None
    return Case(
        id=case_id,
        findings=findings,
        title=_text(table, "title", origin),
        source=_text(table, "source", origin),
        narrative=_text(table, "narrative", origin),
        expect=expect,
    )


def parse_findings(table: object, vocabulary: Vocabulary, *, origin: str) -> Mapping[str, FindingValue]:
    """Check a mapping of finding ids to values and return it frozen.

    Raises:
        InvalidCaseError: A value has the wrong type or range.
        UnknownFindingError: An id is not in the vocabulary.
    """
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise InvalidCaseError(
            "findings is not a mapping",
            location=f"{origin}: findings",
            expected="finding ids mapped to values, e.g. 'age: 40'",
            got=type(table).__name__,
        )
    checked: dict[str, FindingValue] = {}
    for key, value in table.items():
        if not isinstance(key, str):
            raise UnknownFindingError(
                "a finding id is not text",
                location=f"{origin}: findings",
                expected="finding ids such as age or exam.slr.left",
                got=key,
            )
        spec = vocabulary.finding(key, location=f"{origin}: findings.{key}")
        checked[key] = check_value(spec, value, vocabulary, location=f"{origin}: findings.{key}")
    return MappingProxyType(checked)


def check_value(spec: FindingSpec, value: object, vocabulary: Vocabulary, *, location: str) -> FindingValue:
    """Check one finding value against its spec and return it in canonical form.

    Raises:
        InvalidCaseError: The value has the wrong type, is out of range, or names a
            region that does not exist.
    """
    if spec.type == "regions":
        return _check_regions(value, vocabulary, location)
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
    elif spec.type == "enum":
        if isinstance(value, str) and value in spec.values:
            return value
    elif spec.type == "int":
        if isinstance(value, int) and not isinstance(value, bool) and _in_range(spec, value):
            return value
    elif isinstance(value, int | float) and _is_number(value) and _in_range(spec, float(value)):  # "number"
        return value
    raise InvalidCaseError(
        f"finding {spec.id!r} has a value it cannot take",
        location=location,
        expected=spec.describe_expected(),
        got=value,
    )


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) <= MAX_SAFE_INTEGER if isinstance(value, int) else math.isfinite(value)


def _in_range(spec: FindingSpec, value: float) -> bool:
    if abs(value) > MAX_SAFE_INTEGER:
        return False
    if spec.minimum is not None and value < spec.minimum:
        return False
    return spec.maximum is None or value <= spec.maximum


def _check_regions(value: object, vocabulary: Vocabulary, location: str) -> tuple[str, ...]:
    if value is None:
        value = []
    if not isinstance(value, list | tuple):
        raise InvalidCaseError(
            "a region list is not a list",
            location=location,
            expected="a list of region ids such as [buttock.left, calf_posterior.left] (empty: asked, none)",
            got=value,
        )
    seen: list[str] = []
    for region in value:
        if not isinstance(region, str) or region not in vocabulary.region_ids:
            raise InvalidCaseError(
                "a region does not exist",
                location=location,
                expected=_region_expectation(region, vocabulary),
                got=region,
            )
        if region in seen:
            raise InvalidCaseError(
                f"region {region!r} is listed twice",
                location=location,
                expected="each region at most once",
            )
        seen.append(region)
    return tuple(seen)


def _region_expectation(region: object, vocabulary: Vocabulary) -> str:
    if isinstance(region, str) and region in vocabulary.regions:
        return "a side on this region: " + " or ".join(vocabulary.sides_of(region))
    if isinstance(region, str):
        close = difflib.get_close_matches(region, sorted(vocabulary.region_ids), n=3, cutoff=0.6)
        if close:
            return "a region id of the vocabulary, e.g. " + ", ".join(close)
    return "a region id of the vocabulary, written region.side (calf_posterior.left) or midline (low_back)"


def _parse_expect(table: object, vocabulary: Vocabulary, origin: str) -> Expectation:
    location = f"{origin}: expect"
    if not isinstance(table, Mapping):
        raise InvalidCaseError(
            "expect is not a mapping",
            location=location,
            expected="triage, site and cause keys",
            got=type(table).__name__,
        )
    _refuse_unknown_keys(table, _EXPECT_KEYS, origin, "expect")
    triage_id = table.get("triage")
    if not isinstance(triage_id, str) or triage_id not in vocabulary.triage:
        raise InvalidCaseError(
            "expect.triage is not a triage level",
            location=f"{location}.triage",
            expected="one of " + ", ".join(vocabulary.triage),
            got=triage_id,
        )
    sites = _id_list(
        table.get("site"), vocabulary.site_ids, f"{location}.site", "site ids such as root.L5.left"
    )
    causes = _id_list(table.get("cause"), frozenset(vocabulary.causes), f"{location}.cause", "cause ids")
    return Expectation(Urgency.from_id(triage_id), sites, causes)


def _id_list(value: object, known: frozenset[str], location: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidCaseError(
            "the expected answers are not a non-empty list",
            location=location,
            expected=f"a list of {what}",
            got=value,
        )
    for item in value:
        if not isinstance(item, str) or item not in known:
            close = difflib.get_close_matches(str(item), sorted(known), n=3, cutoff=0.6)
            raise InvalidCaseError(
                "an expected answer is not in the vocabulary",
                location=location,
                expected=what + (" (did you mean " + ", ".join(close) + "?)" if close else ""),
                got=item,
            )
    return tuple(value)


def _refuse_unknown_keys(table: Mapping[Any, Any], allowed: tuple[str, ...], origin: str, what: str) -> None:
    for key in table:
        if key not in allowed:
            raise InvalidCaseError(
                f"unknown key {key!r} in the {what}",
                location=origin,
                expected="only " + ", ".join(allowed),
            )


def _text(table: Mapping[str, Any], key: str, origin: str) -> str:
    value = table.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidCaseError(
            f"{key} is not text", location=f"{origin}: {key}", expected="a string", got=value
        )
    return value
