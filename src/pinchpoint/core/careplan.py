"""The care plan as frozen value objects: :class:`Plan`, :class:`PlanStage`, :class:`PlanItem`.

They are built by :mod:`pinchpoint.core.plan` and carried by
:class:`~pinchpoint.core.assessment.Assessment`; they live apart from the logic so that the
assessment can hold them without importing the rules that make them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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

    def to_json(self, *, wording: bool = True) -> dict[str, Any]:
        """Return the item as a JSON object (keys without a value are left out).

        Without ``wording`` the object keeps the ids, verdict, source, stage and timing
        and leaves out the sentences, which the knowledge base holds under the item's id.
        """
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "verdict": self.verdict.value,
            "source": self.source,
        }
        if wording:
            data.update(title=self.title, patient=self.patient, clinician=self.clinician)
        if self.stage is not None:
            data["stage"] = self.stage
        if self.due is not None:
            data["due"] = self.due
            if wording:
                data["due_text"] = self.due_text
        if self.modality is not None:
            data["modality"] = self.modality
        return data


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

    def to_json(self, *, wording: bool = True) -> dict[str, Any]:
        """Return the plan as a JSON object; ``wording`` as in :meth:`PlanItem.to_json`."""

        def items(group: tuple[PlanItem, ...]) -> list[dict[str, Any]]:
            return [item.to_json(wording=wording) for item in group]

        stages = []
        for stage in self.stages:
            entry: dict[str, Any] = {"stage": stage.number, "items": items(stage.items)}
            if wording:
                entry.update(title=stage.patient, clinician=stage.clinician)
            stages.append(entry)
        return {
            "actions": items(self.actions),
            "stages": stages,
            "self_help": items(self.self_help),
            "safety_net": items(self.safety_net),
            "prevention": items(self.prevention),
            "complications": items(self.complications),
            "avoid": items(self.avoid),
            "unproven": items(self.unproven),
        }
