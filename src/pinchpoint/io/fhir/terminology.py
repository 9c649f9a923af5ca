"""Look-ups in ``terminology.yaml``: which standard codes mean which pinchpoint ids, both ways.

A :class:`Terminology` is built from the knowledge (it holds no knowledge of its own) and answers
questions such as "which finding does LOINC 82810-3 state?" or "how is ``cauda_equina`` coded?".
Codes are matched exactly, by system URI and code; a code that is not in the table is unknown and
the caller reports it, never guesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.knowledge import schema as s

__all__ = ["CANONICAL_BASE", "Terminology", "coding", "pinchpoint_system"]

CANONICAL_BASE = "https://pinchpoint.example.org/fhir"
"""Base of the canonical URLs of pinchpoint's own FHIR artefacts (code systems, Questionnaire)."""


def pinchpoint_system(name: str) -> str:
    """Return the URI of one of pinchpoint's code systems (``triage``, ``site``, ``region`` ...)."""
    return f"{CANONICAL_BASE}/CodeSystem/{name}"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """Return a FHIR Coding as JSON."""
    value: dict[str, Any] = {"system": system, "code": code}
    if display:
        value["display"] = display
    return value


@dataclass(frozen=True)
class Terminology:
    """The codes of terminology.yaml indexed by (system URI, code) and by pinchpoint id."""

    systems: Mapping[str, str]
    conditions: Mapping[tuple[str, str], s.ConditionCode]
    observations: Mapping[tuple[str, str], s.ObservationCode]
    presentations: Mapping[tuple[str, str], s.PresentationCode]
    imaging_orders: Mapping[tuple[str, str], s.ImagingOrderCode]
    diagnoses: Mapping[tuple[str, str], tuple[str, str, str]]
    site_codes: Mapping[str, tuple[s.Code, ...]]
    cause_codes: Mapping[str, tuple[s.Code, ...]]

    @classmethod
    def of(cls, knowledge: Knowledge) -> Terminology:
        """Index the terminology table of ``knowledge``."""
        table = cast(s.TerminologyTable, knowledge.tables["terminology"])
        systems = {key: system.url for key, system in table.systems.items()}

        def key(code: s.Code) -> tuple[str, str]:
            return systems[code.system], code.code

        diagnoses = {
            key(code): ("site", site, code.display) for site, codes in table.sites.items() for code in codes
        }
        diagnoses |= {
            key(code): ("cause", cause, code.display)
            for cause, codes in table.causes.items()
            for code in codes
        }
        return cls(
            systems=systems,
            conditions={key(row): row for row in table.conditions},
            observations={key(row): row for row in table.observations},
            presentations={key(row): row for row in table.presentations},
            imaging_orders={key(row): row for row in table.imaging_orders},
            diagnoses=diagnoses,
            site_codes={site: tuple(codes) for site, codes in table.sites.items()},
            cause_codes={cause: tuple(codes) for cause, codes in table.causes.items()},
        )

    def coding_of(self, code: s.Code) -> dict[str, Any]:
        """Return a row of the table as a FHIR Coding."""
        return coding(self.systems[code.system], code.code, code.display)

    def is_known(self, system: str, code: str) -> bool:
        """Say whether any section of the table lists this code."""
        key = (system, code)
        return any(
            key in section
            for section in (
                self.conditions,
                self.observations,
                self.presentations,
                self.imaging_orders,
                self.diagnoses,
            )
        )
