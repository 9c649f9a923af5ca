"""The evaluation record: the figures pinchpoint reached, kept in the repository as a floor.

A record holds, per case set and mode, the cases scored, the contract's figures, the
cases that were under-triaged and the emergencies that were recognised. :func:`compare`
sets a fresh :class:`~pinchpoint.evaluation.runs.SetRun` beside its recorded entry and
lists every regression:

- a case that was not under-triaged now is (safety), or under-triage rose;
- an emergency that was recognised (by case id) is now missed (safety);
- a recorded figure dropped (triage exact, emergency sensitivity, site and cause top-1
  and top-3).

Figures are compared only when the set holds the same cases as when it was recorded;
the per-case safety checks always run on the cases both share.

:func:`raised_record` writes a new record from fresh runs and refuses to lower it: a
safety regression is never accepted, a dropped figure only with a stated reason, which
the record keeps. Pure functions: reading and writing the file is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pinchpoint.errors import InputError
from pinchpoint.evaluation.runs import SetRun

__all__ = ["GUARDED_FIGURES", "Comparison", "compare", "raised_record", "record_entry"]

GUARDED_FIGURES = (
    "triage_exact",
    "emergency_sensitivity",
    "site_top1",
    "site_top3",
    "cause_top1",
    "cause_top3",
)
"""Figures where higher is better and a drop below the record fails."""
_SAFETY_FIGURE = "under_triage"
"""The figure where lower is better: it may never rise."""
_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Comparison:
    """What changed between a recorded entry and a fresh run of the same set and mode."""

    set_name: str
    mode: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    newly_under_triaged: tuple[str, ...]
    lost_emergencies: tuple[str, ...]
    under_triage: tuple[float, float] | None
    """(recorded, now) when under-triage rose on the same cases, else None."""
    dropped: tuple[tuple[str, float, float], ...]
    """(figure, recorded, now) for every guarded figure that fell on the same cases."""

    @property
    def safety_regressions(self) -> list[str]:
        """Messages for the regressions that are never accepted."""
        where = f"{self.set_name} ({self.mode})"
        messages = [f"{where}: {case} is now under-triaged" for case in self.newly_under_triaged]
        messages += [
            f"{where}: emergency {case} was recognised and is now missed" for case in self.lost_emergencies
        ]
        if self.under_triage is not None:
            before, now = self.under_triage
            messages.append(f"{where}: under-triage rose from {before:.1%} to {now:.1%}")
        return messages

    @property
    def figure_drops(self) -> list[str]:
        """Messages for the guarded figures that fell below the record."""
        return [
            f"{self.set_name} ({self.mode}): {figure} fell from {before:.1%} to {now:.1%}"
            for figure, before, now in self.dropped
        ]

    @property
    def case_changes(self) -> list[str]:
        """Messages naming the cases added to or removed from the set since it was recorded."""
        where = f"{self.set_name} ({self.mode})"
        messages = []
        if self.added:
            messages.append(f"{where}: cases added since the record: {', '.join(self.added)}")
        if self.removed:
            messages.append(f"{where}: cases removed since the record: {', '.join(self.removed)}")
        return messages


def record_entry(run: SetRun) -> dict[str, Any]:
    """Return the record of one run: its cases, figures, under-triaged cases and recognised emergencies."""
    figures = run.report.to_json()
    return {
        "cases": [o.case_id for o in run.outcomes],
        "figures": {name: figures[name] for name in (_SAFETY_FIGURE, *GUARDED_FIGURES)},
        "under_triaged": [o.case_id for o in run.outcomes if o.under_triaged],
        "emergencies_recognised": [o.case_id for o in run.outcomes if o.emergency_recognised],
    }


def compare(entry: Mapping[str, Any], run: SetRun) -> Comparison:
    """Compare a recorded entry (as :func:`record_entry` wrote it) with a fresh run."""
    recorded_cases: list[str] = list(entry["cases"])
    now = record_entry(run)
    before_ids, now_ids = set(recorded_cases), set(now["cases"])
    shared = before_ids & now_ids
    same_cases = before_ids == now_ids
    was_under = set(entry["under_triaged"])
    recognised_now = set(now["emergencies_recognised"])
    before_figures: Mapping[str, float | None] = entry["figures"]
    now_figures: Mapping[str, float | None] = now["figures"]
    return Comparison(
        set_name=run.name,
        mode=run.mode,
        added=tuple(c for c in now["cases"] if c not in before_ids),
        removed=tuple(c for c in recorded_cases if c not in now_ids),
        newly_under_triaged=tuple(c for c in now["under_triaged"] if c in shared and c not in was_under),
        lost_emergencies=tuple(
            c for c in entry["emergencies_recognised"] if c in shared and c not in recognised_now
        ),
        under_triage=_rise(before_figures[_SAFETY_FIGURE], now_figures[_SAFETY_FIGURE])
        if same_cases
        else None,
        dropped=tuple(_drops(before_figures, now_figures)) if same_cases else (),
    )


def raised_record(
    recorded: Mapping[str, Any] | None, runs: Sequence[SetRun], *, accept_drop: str | None = None
) -> dict[str, Any]:
    """Return the record of ``runs``, refusing to lower ``recorded``.

    Args:
        recorded: The record in the repository, or None when there is none yet.
        runs: Fresh runs of every set and mode to record.
        accept_drop: The reason a guarded figure may fall (kept in the record's
            ``accepted_drops``); without it a drop is refused. Safety regressions are
            refused whatever the reason.

    Raises:
        InputError: A safety regression, or a figure drop without ``accept_drop``.
    """
    sets: dict[str, dict[str, Any]] = {}
    for run in runs:
        sets.setdefault(run.name, {})[run.mode] = record_entry(run)
    history: list[dict[str, Any]] = list(recorded.get("accepted_drops", [])) if recorded else []
    comparisons = _comparisons(recorded, runs)
    safety = [message for c in comparisons for message in c.safety_regressions]
    if safety:
        raise InputError(
            "the record would be lowered on safety: " + "; ".join(safety),
            expected="no new under-triage and every recognised emergency still recognised",
            hint="fix the reasoning; the record is never lowered on safety",
        )
    drops = [message for c in comparisons for message in c.figure_drops]
    if drops and accept_drop is None:
        raise InputError(
            "the record would be lowered: " + "; ".join(drops),
            expected="every recorded figure kept or raised",
            hint="fix the reasoning, or accept the drop with a stated reason (--accept-drop REASON)",
        )
    if drops:
        history.append({"reason": accept_drop, "drops": drops})
    record: dict[str, Any] = {
        "knowledge_version": runs[0].report.knowledge_version if runs else "",
        "sets": sets,
    }
    if history:
        record["accepted_drops"] = history
    return record


def _comparisons(recorded: Mapping[str, Any] | None, runs: Sequence[SetRun]) -> list[Comparison]:
    if recorded is None:
        return []
    entries: Mapping[str, Mapping[str, Any]] = recorded.get("sets", {})
    return [
        compare(entries[run.name][run.mode], run)
        for run in runs
        if run.name in entries and run.mode in entries[run.name]
    ]


def _rise(before: float | None, now: float | None) -> tuple[float, float] | None:
    if before is None or now is None or now <= before + _TOLERANCE:
        return None
    return before, now


def _drops(
    before: Mapping[str, float | None], now: Mapping[str, float | None]
) -> list[tuple[str, float, float]]:
    drops: list[tuple[str, float, float]] = []
    for figure in GUARDED_FIGURES:
        old, new = before.get(figure), now.get(figure)
        if old is not None and new is not None and new < old - _TOLERANCE:
            drops.append((figure, old, new))
    return drops
