"""Advice per cause and site: no shown item names a body part or mechanism foreign to the case.

For every cause of causes.yaml and every site it can harm (so every site of sites.yaml), the plan
is made the way the core makes it (:meth:`PlanRules.make` on a :class:`PlanContext`) with the
probability concentrated on that site and that cause, the cause's defining finding present (a
pregnancy cause is a pregnant person), at each triage level below emergency. Every item the plan
shows (investigations, actions, treatments, self-help, safety net, prevention, complications, things
to avoid, unproven) is then read, title, patient and clinician wording, against the table of
tests/advice_terms.yaml: a word of a place or mechanism may appear only in a case it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import cast

import pytest
import yaml

from pinchpoint import assess
from pinchpoint.core.careplan import PlanItem
from pinchpoint.core.case import FindingValue
from pinchpoint.core.conditions import matching_findings
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.casefile import read_case
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from tests.corpus import shared_case_params

pytestmark = pytest.mark.core

_TABLE = Path(__file__).with_name("advice_terms.yaml")
_LEVELS = (Urgency.SELF_CARE, Urgency.SOON, Urgency.URGENT)


@dataclass(frozen=True)
class Belongs:
    """A kind of case a term belongs to: a site (id or kind) among ``sites`` and a cause among ``causes``."""

    sites: frozenset[str] | None
    causes: frozenset[str] | None


@dataclass(frozen=True)
class TermRow:
    """A row of the table: words of one place or mechanism, and the cases they belong to."""

    name: str
    pattern: re.Pattern[str]
    belongs: tuple[Belongs, ...]
    findings: Mapping[str, FindingValue]
    warning: bool
    source: str


@dataclass(frozen=True)
class PlanCase:
    """A case the plan is made for: its one site, its one cause, its findings and triage level."""

    site: str
    cause: str
    findings: Mapping[str, FindingValue]
    level: Urgency


@cache
def _knowledge() -> Knowledge:
    return load_knowledge()


@cache
def _rows() -> tuple[TermRow, ...]:
    data = yaml.safe_load(_TABLE.read_text(encoding="utf-8"))
    return tuple(_row(raw) for raw in data["rows"])


def _row(raw: dict[str, object]) -> TermRow:
    terms = cast(list[str], raw["terms"])
    belongs = tuple(
        Belongs(
            sites=frozenset(one["sites"]) if "sites" in one else None,
            causes=frozenset(one["causes"]) if "causes" in one else None,
        )
        for one in cast(list[dict[str, list[str]]], raw["belongs"])
    )
    return TermRow(
        name=cast(str, raw["name"]),
        pattern=re.compile(r"\b(?:" + "|".join(terms) + r")\b", re.IGNORECASE),
        belongs=belongs,
        findings=MappingProxyType(cast(dict[str, FindingValue], raw.get("findings", {}))),
        warning=bool(raw.get("warning", False)),
        source=cast(str, raw["source"]),
    )


def _site_kinds() -> dict[str, str]:
    sites = cast(s.SitesTable, _knowledge().tables["sites"])
    return {site_id: site.kind for site_id, site in sites.sites.items()}


def _causes() -> dict[str, s.Cause]:
    return dict(cast(s.CausesTable, _knowledge().tables["causes"]).causes)


def _defining_findings(cause: s.Cause) -> dict[str, FindingValue]:
    """The first defining finding of a cause, present: the cause is not proposed without one."""
    for defining in cause.defining or ():
        if defining.at_least is not None:
            return {defining.finding: defining.at_least}
        return {defining.finding: defining.values[0]}
    return {}


def _plan_cases(cause_id: str) -> Iterator[PlanCase]:
    cause = _causes()[cause_id]
    for site in cause.sites:
        for level in _LEVELS:
            yield PlanCase(site, cause_id, MappingProxyType(_defining_findings(cause)), level)


def _shown(case: PlanCase) -> tuple[PlanItem, ...]:
    """Every item the plan shows for a case whose site and cause are certain."""
    plan_rules = _knowledge().plan
    context = plan_rules.context(
        findings=case.findings,
        level=case.level,
        rules=(),
        sites=[(case.site, 1.0)],
        causes=[(case.cause, 1.0)],
    )
    tests, plan = plan_rules.make(context)
    return (*tests, *plan.items())


def _matches(belongs: Belongs, site: str, cause: str, site_kinds: Mapping[str, str]) -> bool:
    site_ok = belongs.sites is None or site in belongs.sites or site_kinds.get(site) in belongs.sites
    return site_ok and (belongs.causes is None or cause in belongs.causes)


def _has_finding(findings: Mapping[str, FindingValue], wanted: Mapping[str, FindingValue]) -> bool:
    """Whether the person has one of the findings (either side): the value, or a number at most it."""
    vocabulary = _knowledge().vocabulary
    for pattern, value in wanted.items():
        for finding in matching_findings(pattern, vocabulary):
            if _reads(findings.get(finding), value):
                return True
    return False


def _reads(have: FindingValue | None, value: FindingValue) -> bool:
    if have is None:
        return False
    if isinstance(value, bool) or isinstance(have, bool) or not isinstance(have, int | float):
        return have == value
    return isinstance(value, int | float) and have <= value


def foreign_terms(item: PlanItem, case: PlanCase, rows: tuple[TermRow, ...]) -> list[str]:
    """Return, for one shown item, each word of the table it names that does not belong to the case."""
    site_kinds = _site_kinds()
    text = " ".join((item.title, item.patient, item.clinician))
    faults = []
    for row in rows:
        found = sorted({match.group(0).lower() for match in row.pattern.finditer(text)})
        if not found:
            continue
        if any(_matches(one, case.site, case.cause, site_kinds) for one in row.belongs):
            continue
        if _has_finding(case.findings, row.findings) or (row.warning and item.kind == "safety_net"):
            continue
        faults.append(f"{item.id} names {found} ({row.name})")
    return faults


@pytest.mark.parametrize("cause_id", sorted(_causes()))
def test_no_shown_item_names_a_place_or_mechanism_foreign_to_the_case(cause_id: str) -> None:
    """For each site this cause can harm and each level below emergency, every shown item fits the case."""
    rows = _rows()
    faults = [
        f"{case.site} at {case.level.id}: {fault}"
        for case in _plan_cases(cause_id)
        for item in _shown(case)
        for fault in foreign_terms(item, case, rows)
    ]
    assert faults == [], f"{cause_id}: " + "; ".join(faults)


_PLAUSIBLE = 0.1
"""A site or cause at least this probable is the case's (the lowest ``p_at_least`` of the plan tables)."""


def _base_site(site_id: str) -> str:
    base, _, _side = site_id.rpartition(".")
    return base if base in _site_kinds() else site_id


@pytest.mark.parametrize("path", shared_case_params())
def test_development_case_plan_names_nothing_foreign(path: Path) -> None:
    """Each development case below emergency: every word of the table in its plan belongs to a plausible pair.

    The case's plausible sites and causes are those at least 0.1 probable; a word is foreign when no
    pair of them (nor the person's findings) owns it.
    """
    knowledge = _knowledge()
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    if assessment.triage == Urgency.EMERGENCY:
        return
    pairs = [
        PlanCase(_base_site(site.id), cause.id, case.findings, assessment.triage)
        for site in assessment.sites
        if site.p >= _PLAUSIBLE
        for cause in assessment.causes
        if cause.p >= _PLAUSIBLE
    ]
    assert pairs, case.id
    rows = _rows()
    faults = [
        f"{item.id}: {foreign_terms(item, pairs[0], rows)}"
        for item in (*assessment.investigations, *assessment.plan.items())
        if all(foreign_terms(item, pair, rows) for pair in pairs)
    ]
    assert faults == [], f"{case.id}: {faults}"


def test_every_site_of_the_knowledge_is_made_a_plan_for() -> None:
    """The causes' sites cover every site of sites.yaml, so the test above reaches them all."""
    reached = {site for cause in _causes().values() for site in cause.sites}
    assert set(_site_kinds()) - reached == set()


def test_the_term_table_names_what_the_knowledge_has() -> None:
    """Every site, kind, cause, finding and source of the table is one the knowledge knows."""
    knowledge = _knowledge()
    site_kinds = _site_kinds()
    known_sites = set(site_kinds) | set(site_kinds.values())
    for row in _rows():
        assert row.source in knowledge.sources, row.name
        for one in row.belongs:
            assert (one.sites or frozenset()) <= known_sites, row.name
            assert (one.causes or frozenset()) <= set(_causes()), row.name
        for finding in row.findings:
            assert matching_findings(finding, knowledge.vocabulary), (row.name, finding)


def test_every_term_row_is_named_by_some_advice() -> None:
    """Each row's words occur in the wording of at least one advice or investigation item (no dead row)."""
    advice = cast(s.AdviceTable, _knowledge().tables["advice"])
    tests = cast(s.InvestigationsTable, _knowledge().tables["investigations"])
    rows: list[s.AdviceItem | s.InvestigationItem] = [*advice.items, *tests.items]
    texts = [" ".join((row.title, row.patient, row.clinician)) for row in rows]
    assert [row.name for row in _rows() if not any(row.pattern.search(text) for text in texts)] == []


def test_a_foreign_word_is_found() -> None:
    """The check can fail: the tarsal tunnel item shown for a meralgia is reported, and so is a foot drop."""
    advice = cast(s.AdviceTable, _knowledge().tables["advice"])
    items = {
        item.id: item for item in _shown(PlanCase("nerve.tibial", "external_compression", {}, Urgency.SOON))
    }
    meralgia = PlanCase("nerve.lateral_femoral_cutaneous", "external_compression", {}, Urgency.SOON)
    faults = foreign_terms(items["relieve-pressure-tarsal-tunnel"], meralgia, _rows())
    assert faults
    assert "tarsal tunnel" in faults[0]
    (splint_row,) = [row for row in advice.items if row.id == "foot-drop-support"]
    splint = PlanItem(
        id=splint_row.id,
        kind=splint_row.kind,
        title=splint_row.title,
        verdict=items["relieve-pressure-tarsal-tunnel"].verdict,
        source=splint_row.source,
        patient=splint_row.patient,
        clinician=splint_row.clinician,
    )
    assert foreign_terms(splint, meralgia, _rows())
    with_foot_drop = PlanCase(meralgia.site, meralgia.cause, {"foot_drop.left": True}, Urgency.SOON)
    assert foreign_terms(splint, with_foot_drop, _rows()) == []
