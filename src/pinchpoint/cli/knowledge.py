"""Adapter: the plan and the article's coverage as text for people.

* :func:`plan_lines` renders an assessment's investigations and plan for the readable
  report of ``pinchpoint assess``;
* :func:`add_knowledge_command` adds ``pinchpoint knowledge article [--json]`` to the CLI;
* :func:`article_markdown` renders ``docs/article-coverage.md`` (written by
  ``tools/generate_article_coverage.py``; a test checks it is up to date).

Every clinical word comes from the knowledge tables; this module only lays it out.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Assessment
    from pinchpoint.core.careplan import PlanItem
    from pinchpoint.core.knowledge import Knowledge

__all__ = ["add_knowledge_command", "article_json", "article_markdown", "article_text", "plan_lines"]

GENERATED_BY = "tools/generate_article_coverage.py"
ARTICLE_TABLE = "src/pinchpoint/knowledge/data/article.yaml"
_WIDTH = 100
_INDENT = "      "


# --- the plan in the readable report ------------------------------------------------------------------


def plan_lines(assessment: Assessment, knowledge: Knowledge) -> list[str]:
    """Return the readable lines of an assessment's investigations and plan, things to do first."""
    verdicts = {str(verdict): text for verdict, text in _advice(knowledge).verdicts.items()}
    plan = assessment.plan
    lines = ["What to do first"]
    lines += _items(plan.actions, verdicts)
    lines += ["", "Investigations, soonest first"]
    lines += _items(assessment.investigations, verdicts, due=True) or ["  none needed now"]
    for stage in plan.stages:
        lines += ["", f"Treatment, stage {stage.number}: {stage.patient}"]
        lines += _items(stage.items, verdicts)
    sections = (
        ("Self-help", plan.self_help, False),
        ("Get help if (and how fast)", plan.safety_net, True),
        ("Prevention", plan.prevention, False),
        ("Not recommended, and why (including outdated advice)", plan.avoid, False),
        ("Not proven: no evidence either way", plan.unproven, False),
    )
    for heading, items, due in sections:
        if items:
            lines += ["", heading, *_items(items, verdicts, due=due)]
    if plan.complications:
        lines += ["", "What can happen if it is not treated"]
        lines += _items(plan.complications, verdicts, graded=False)
    return [*lines, ""]


def _items(
    items: Iterable[PlanItem], verdicts: dict[str, s.VerdictText], *, due: bool = False, graded: bool = True
) -> list[str]:
    lines: list[str] = []
    for item in items:
        when = f" ({item.due_text})" if due and item.due_text else ""
        grade = f"{verdicts[item.verdict.value].patient}; " if graded else ""
        lines.append(f"  - {item.title}{when} [{grade}source: {item.source}]")
        lines += textwrap.wrap(item.patient, _WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT)
    return lines


# --- pinchpoint knowledge article -------------------------------------------------------------------------


def add_knowledge_command(commands: Any) -> None:
    """Add ``knowledge article [--json]`` to the CLI's subcommands (an argparse subparsers object)."""
    knowledge_command = commands.add_parser("knowledge", help="show what the knowledge base holds")
    topics = knowledge_command.add_subparsers(metavar="TOPIC", required=True)
    article = topics.add_parser(
        "article", help="every claim of the source article with its verdict, why, and source"
    )
    article.add_argument("--json", action="store_true", help="print the claims as one JSON array")
    article.set_defaults(command=_article_command)


def _article_command(args: argparse.Namespace) -> int:
    knowledge = load_knowledge()
    text = json.dumps(article_json(knowledge)) if args.json else article_text(knowledge)
    sys.stdout.write(text + "\n")
    return 0


def article_json(knowledge: Knowledge) -> list[dict[str, Any]]:
    """Return every claim of the article as JSON objects, with its source's title."""
    table = _article(knowledge)
    return [
        {
            "id": claim.id,
            "section": claim.section,
            "kind": claim.kind,
            "claim": claim.claim,
            "verdict": claim.verdict,
            "why": claim.why,
            "maps_to": claim.maps_to.model_dump(exclude_defaults=True),
            "source": claim.source,
            "source_title": knowledge.sources[claim.source].title,
        }
        for claim in table.claims
    ]


def article_text(knowledge: Knowledge) -> str:
    """Return the article's claims as readable text, section by section."""
    table = _article(knowledge)
    lines = [f"Claims of '{table.title}', graded against the evidence", ""]
    for section, claims in _by_section(table.claims):
        lines += [section, "-" * len(section)]
        for claim in claims:
            lines.append(f"  [{_verdict_label(claim.verdict, knowledge)}] {claim.claim}")
            lines += textwrap.wrap(
                "Why: " + claim.why, _WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT
            )
            plan = _plan_titles(claim, knowledge)
            if plan:
                lines += textwrap.wrap(
                    "In pinchpoint: " + plan, _WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT
                )
            lines.append(f"{_INDENT}Source: {knowledge.sources[claim.source].title} [{claim.source}]")
        lines.append("")
    return "\n".join(lines).rstrip()


def article_markdown(knowledge: Knowledge) -> str:
    """Return docs/article-coverage.md: every claim of the article with verdict, why and source."""
    table = _article(knowledge)
    counts: dict[str, int] = {}
    for claim in table.claims:
        counts[claim.verdict] = counts.get(claim.verdict, 0) + 1
    lines = [
        f"<!-- Generated by {GENERATED_BY} from {ARTICLE_TABLE}; do not edit by hand. -->",
        "# Article coverage",
        "",
        f"Every claim of the source article *{table.title}* (`{table.article}`), paraphrased, with "
        "pinchpoint's verdict, the reason, what the plan does about it, and the source. "
        "`pinchpoint knowledge article` prints the same. pinchpoint supports, and does not replace, "
        "a clinician's judgement.",
        "",
        f"{len(table.claims)} claims: "
        + ", ".join(f"{_verdict_label(v, knowledge).lower()} {n}" for v, n in sorted(counts.items()))
        + ".",
        "",
    ]
    for section, claims in _by_section(table.claims):
        lines += [
            f"## {section}",
            "",
            "| Claim | Verdict | Why | In pinchpoint | Source |",
            "|---|---|---|---|---|",
        ]
        for claim in claims:
            source = f"{knowledge.sources[claim.source].title} (`{claim.source}`)"
            cells = [claim.claim, _verdict_label(claim.verdict, knowledge), claim.why]
            cells += [_plan_titles(claim, knowledge) or "-", source]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _by_section(claims: list[s.ArticleClaim]) -> list[tuple[str, list[s.ArticleClaim]]]:
    sections: dict[str, list[s.ArticleClaim]] = {}
    for claim in claims:
        sections.setdefault(claim.section, []).append(claim)
    return list(sections.items())


def _plan_titles(claim: s.ArticleClaim, knowledge: Knowledge) -> str:
    rows: list[s.AdviceItem | s.InvestigationItem] = [
        *_advice(knowledge).items,
        *_investigations(knowledge).items,
    ]
    titles = {row.id: row.title for row in rows}
    verdicts = {row.id: str(row.verdict) for row in rows}
    targets = claim.maps_to
    parts = [
        f"{titles[item_id]} ({_verdict_label(verdicts[item_id], knowledge).lower()})"
        for item_id in [*targets.advice, *targets.investigations]
    ]
    named = (
        ("causes", targets.causes),
        ("sites", targets.sites),
        ("findings", targets.findings),
        ("triage rules", targets.triage_rules),
    )
    parts += [f"{what}: {', '.join(ids)}" for what, ids in named if ids]
    return "; ".join(parts)


def _verdict_label(verdict: str, knowledge: Knowledge) -> str:
    labels: dict[str, s.VerdictText] = {str(key): text for key, text in _advice(knowledge).verdicts.items()}
    labels.update({str(key): text for key, text in _article(knowledge).verdicts.items()})
    return labels[verdict].patient


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _advice(knowledge: Knowledge) -> s.AdviceTable:
    return cast(s.AdviceTable, knowledge.tables["advice"])


def _investigations(knowledge: Knowledge) -> s.InvestigationsTable:
    return cast(s.InvestigationsTable, knowledge.tables["investigations"])


def _article(knowledge: Knowledge) -> s.ArticleTable:
    return cast(s.ArticleTable, knowledge.tables["article"])
