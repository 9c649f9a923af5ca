"""The interview's red-flag screen: every triage rule read in three-valued logic.

A rule *fires* (its condition holds on the known findings), is *ruled out* (no answer still
to be asked could make it hold), or is *open*. A finding that is unknown and can no longer be
asked (answered "don't know", or an examination finding in self-check mode) is read as
:mod:`pinchpoint.core.triage` reads it: it fails a plain leaf (the interview reports it as a
warning rather than letting it pass silently) and holds an ``unless_known_otherwise`` leaf.
While it may still be asked, a leaf that it alone could settle is open.

The screen reads the triage rules' own compiled conditions (:meth:`pinchpoint.core.conditions.Node.value`),
so a rule means the same here as in the triage. Nothing here reads files or prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pinchpoint.core.conditions import ASK, TRUE
from pinchpoint.core.triage import CompiledRule
from pinchpoint.core.vocabulary import Urgency

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge

__all__ = ["RuleScreen", "ScreenRule", "Truth", "screen_for"]

Findings = Mapping[str, "FindingValue"]
Truth = bool | None
"""Three-valued truth: True (fires), False (ruled out), None (open)."""

ScreenRule = CompiledRule
"""A triage rule as the screen reads it (its compiled condition and the findings it reads)."""


@dataclass(frozen=True)
class RuleScreen:
    """Every triage rule, read in three values."""

    rules: tuple[ScreenRule, ...]

    def truth(
        self,
        rule: ScreenRule,
        findings: Findings,
        open_ids: frozenset[str],
        maybe_ids: frozenset[str] = frozenset(),
    ) -> Truth:
        """Return whether ``rule`` fires (True), is settled (False) or asking could still fire it (None).

        Args:
            rule: The rule.
            findings: The known findings.
            open_ids: Unknown findings that may still be asked.
            maybe_ids: Unknown findings that will not be asked again but may be present (answered
                "don't know"). A rule that they alone keep open is not worth asking about
                (False), but one that needs them *and* a question still to ask is (None): the
                triage counts an unknown warning sign as possibly present
                (:func:`pinchpoint.core.triage.unanswered_signs`), so the interview asks the rest
                rather than leave it open.
        """
        value = rule.when.value(findings, open_ids, maybe_ids)
        return True if value == TRUE else None if value == ASK else False

    def open_rules(
        self,
        findings: Findings,
        open_ids: frozenset[str],
        above: Urgency,
        always: Urgency,
        maybe_ids: frozenset[str] = frozenset(),
    ) -> list[ScreenRule]:
        """Return the rules that could still fire and are more urgent than ``above``, or at least ``always``.

        Rules of level ``always`` and above stay open even when the triage already
        reaches their level, because what they would name (a suspected abscess rather than
        a disc) changes what is done, not only how soon.
        """
        return [
            rule
            for rule in self.rules
            if (rule.level > above or rule.level >= always)
            and rule.findings & open_ids
            and self.truth(rule, findings, open_ids, maybe_ids) is None
        ]


def screen_for(knowledge: Knowledge) -> RuleScreen:
    """Return the screen of ``knowledge``'s triage rules (its :attr:`~Knowledge.screen`, made once)."""
    return knowledge.screen
