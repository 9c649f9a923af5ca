"""Every code of terminology.yaml is well formed for its code system, checked by the system's own rules.

A typo in a code is caught here even where no look-up is possible offline:

* SNOMED CT identifiers end in a Verhoeff check digit, and the two digits before it (the
  partition identifier) are ``00`` for a concept id in the short format (SNOMED CT Technical
  Implementation Guide, "SCTID" data type).
* LOINC codes (``NNNNN-N``) end in a mod-10 check digit computed as in LOINC's users' guide
  (double every other digit from the right, add the digits, round up to a multiple of ten).
* WHO ICD-10 codes are a letter, two digits and an optional subdivision of one or two digits.

The codes' meanings were checked against published listings (see each row's ``source``).
"""

from __future__ import annotations

import re

import pytest

from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.io.knowledge.references import terminology_codes
from pinchpoint.knowledge.schema import Code

pytestmark = pytest.mark.core

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")
_LOINC = re.compile(r"^([0-9]{1,7})-([0-9])$")
_LOINC_ANSWER = re.compile(r"^LA[0-9]{1,6}-[0-9]$")


def verhoeff_valid(digits: str) -> bool:
    """Whether a string of digits ends in a correct Verhoeff check digit."""
    check = 0
    for position, digit in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


def loinc_check_digit(number: str) -> int:
    """The LOINC mod-10 check digit of a code's number part."""
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


_ALL = list(terminology_codes(load_knowledge().tables["terminology"]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("267064002", True), ("267064003", False), ("73211009", True), ("73211008", False), ("2", False)],
)
def test_the_verhoeff_check_catches_a_changed_digit(digits: str, valid: bool) -> None:
    """The check itself: a published id passes, the same id with its last digit changed fails."""
    assert verhoeff_valid(digits) is valid


@pytest.mark.parametrize(("number", "digit"), [("8310", 5), ("24968", 0), ("39156", 5), ("82810", 3)])
def test_the_loinc_check_digit_of_published_codes(number: str, digit: int) -> None:
    """The check itself, on codes whose check digits are published (8310-5 Body temperature, ...)."""
    assert loinc_check_digit(number) == digit


@pytest.mark.parametrize(("where", "row"), _ALL, ids=[where for where, _ in _ALL])
def test_every_code_is_well_formed_for_its_system(where: str, row: Code) -> None:
    """SNOMED CT: concept id with a valid Verhoeff digit; LOINC: a valid check digit; ICD-10: its syntax."""
    if row.system == "snomed":
        assert row.code.isdigit(), where
        assert 6 <= len(row.code) <= 18, where
        assert verhoeff_valid(row.code), f"{where}: {row.code} fails the Verhoeff check"
        assert row.code[-3:-1] == "00", (
            f"{where}: {row.code} is not a concept id (partition {row.code[-3:-1]})"
        )
    elif row.system == "loinc":
        found = _LOINC.match(row.code)
        assert found is not None, f"{where}: {row.code} is not a LOINC code"
        assert int(found.group(2)) == loinc_check_digit(found.group(1)), f"{where}: {row.code} check digit"
    elif row.system == "icd10":
        assert _ICD10.match(row.code), f"{where}: {row.code} is not an ICD-10 code"
    else:
        pytest.fail(f"{where}: no format check for code system {row.system!r}")


def test_loinc_answer_codes_are_well_formed() -> None:
    """The LOINC answer codes of coded observations (LA...) have the answer-code shape."""
    table = load_knowledge().tables["terminology"]
    answers = [code for row in table.observations for code in (*row.answers, *row.unknown_answers)]
    assert answers
    for code in answers:
        assert _LOINC_ANSWER.match(code), code
