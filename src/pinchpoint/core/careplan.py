"""The care plan as frozen value objects: :class:`Plan`, :class:`PlanStage`, :class:`PlanItem`.

They are built by :mod:`pinchpoint.core.plan` and carried by
:class:`~pinchpoint.core.assessment.Assessment`; they live apart from the logic so that the
assessment can hold them without importing the rules that make them. Their JSON is part of
the wire contract (:mod:`pinchpoint.service.contract`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Plan", "PlanItem", "PlanStage", "Verdict"]


class Verdict(StrEnum):
    """How the evidence grades a piece of advice or an investigation.

    ``recommended`` and ``option`` are things to do (a guideline says offer, or consider);
    ``not_recommended`` and ``unsafe`` are things to avoid; ``no_evidence`` means no trial
    supports or refutes it.
    """

    RECOMMENDED = "recommended"
    OPTION = "option"
    NOT_RECOMMENDED = "not_recommended"
    UNSAFE = "unsafe"
    NO_EVIDENCE = "no_evidence"

    @property
    def to_do(self) -> bool:
        """Whether an item with this verdict may be offered as something to do."""
        return self in (Verdict.RECOMMENDED, Verdict.OPTION)

    @property
    def to_avoid(self) -> bool:
        """Whether an item with this verdict belongs in the list of things to avoid."""
        return self in (Verdict.NOT_RECOMMENDED, Verdict.UNSAFE)


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One item of a plan or one investigation, with its verdict and its source.

    ``kind`` is ``action``, ``treatment``, ``self_help``, ``safety_net``, ``prevention``,
    ``complication`` or ``investigation``. ``stage`` (1-3) is set for treatments; ``due``
    is a timing id of advice.yaml for investigations (how soon) and safety-net items (how
    urgently to come back), with ``due_text`` its words for the person. ``modality`` is
    the kind of test of an investigation (``mri``, ``xray``, ``blood`` ...).
    """

    id: str
    kind: str
    title: str
    verdict: Verdict
    source: str
    patient: str
    clinician: str
    stage: int | None = None
    due: str | None = None
    due_text: str = ""
    modality: str | None = None


@dataclass(frozen=True, slots=True)
class PlanStage:
    """One stage of treatment (1 relieve the pain and pressure, 2 restore function, 3 treat the cause)."""

    number: int
    patient: str
    clinician: str
    items: tuple[PlanItem, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """The care plan for one assessment, grouped as a person reads it.

    ``actions`` starts with what the triage level demands (go to hospital now, see a
    doctor today, ...). ``avoid`` lists what the evidence advises against (including
    outdated advice such as bed rest) with the reason in each item's text; ``unproven``
    lists what has no evidence either way.
    """

    actions: tuple[PlanItem, ...] = ()
    stages: tuple[PlanStage, ...] = ()
    self_help: tuple[PlanItem, ...] = ()
    safety_net: tuple[PlanItem, ...] = ()
    prevention: tuple[PlanItem, ...] = ()
    complications: tuple[PlanItem, ...] = ()
    avoid: tuple[PlanItem, ...] = ()
    unproven: tuple[PlanItem, ...] = ()

    def to_do(self) -> tuple[PlanItem, ...]:
        """Return the things to do, in order: actions, stages 1-3, self-help, prevention."""
        staged = tuple(item for stage in self.stages for item in stage.items)
        return (*self.actions, *staged, *self.self_help, *self.prevention)

    def items(self) -> tuple[PlanItem, ...]:
        """Return every item of the plan, things to do first."""
        return (*self.to_do(), *self.safety_net, *self.complications, *self.avoid, *self.unproven)
