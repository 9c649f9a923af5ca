"""The frozen :class:`Knowledge` object that every reasoning function receives.

:func:`build_knowledge` assembles it from validated tables (see
:mod:`pinchpoint.io.knowledge.loader` for reading them): it derives the anatomy, compiles
the likelihood vectors and the triage rules, and keeps the bibliography and version so
that every result can say what it was based on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import cast

from pinchpoint.core.anatomy import Anatomy
from pinchpoint.core.likelihood import LikelihoodModel, compile_model
from pinchpoint.core.names import Names, compile_names
from pinchpoint.core.plan import PlanRules, compile_plan
from pinchpoint.core.questions import QuestionBank, compile_questions
from pinchpoint.core.triage import TriageRules, UnansweredSigns, compile_rules
from pinchpoint.core.vocabulary import Urgency, Vocabulary
from pinchpoint.knowledge import schema as s

__all__ = ["Knowledge", "build_knowledge"]


@dataclass(frozen=True)
class Knowledge:
    """Everything the reasoning needs, validated and compiled, with its version."""

    version: str
    vocabulary: Vocabulary
    anatomy: Anatomy
    model: LikelihoodModel
    triage: TriageRules
    sources: Mapping[str, s.Source]
    tables: Mapping[str, s.Table]
    questions: QuestionBank
    plan: PlanRules
    names: Names

    @cached_property
    def wording_memo(self) -> dict[tuple[str, object], tuple[str, str]]:
        """How explanations word each (finding, value) met so far, for both readers (a cache)."""
        return {}

    @cached_property
    def unanswered(self) -> UnansweredSigns:
        """The floor for unanswered warning signs (triage.yaml ``unanswered``), built once."""
        table = cast(s.TriageTable, self.tables["triage"])
        return UnansweredSigns(self.triage, self.questions, table.unanswered)

    @cached_property
    def site_labels(self) -> Mapping[str, str]:
        """Every concrete site id of the model (with its side) as its clinical name, computed once."""
        return {site_id: self.names.site(site_id) for site_id in self.model.site_ids}

    @cached_property
    def cause_labels(self) -> Mapping[str, str]:
        """Every cause of the model as its clinical name, computed once."""
        return {cause: self.names.cause(cause) for cause in self.model.causes}


def build_knowledge(
    tables: Mapping[str, s.Table],
    vocabulary: Vocabulary,
    version: str,
    *,
    model: LikelihoodModel | None = None,
) -> Knowledge:
    """Assemble validated, cross-checked tables into a :class:`Knowledge`.

    ``model`` is the likelihood model compiled earlier from the same tables (the slow part
    of assembling), when it is at hand.
    """
    anatomy = Anatomy(
        sides=vocabulary.sides,
        midline_regions=frozenset(name for name, region in vocabulary.regions.items() if region.midline),
        regions=tuple(vocabulary.regions),
        movements=tuple(vocabulary.movements),
        reflexes=tuple(vocabulary.reflexes),
        nerves=cast(s.NervesTable, tables["nerves"]),
        muscles=cast(s.MusclesTable, tables["muscles"]),
        reflex_table=cast(s.ReflexesTable, tables["reflexes"]),
        skin=cast(s.SkinTable, tables["skin"]),
        radicular_pain=cast(s.RadicularPainTable, tables["radicular_pain"]),
        sacral_functions=cast(s.SacralFunctionsTable, tables["sacral_functions"]),
        polyneuropathy=cast(s.PolyneuropathyTable, tables["polyneuropathy"]),
        tests=cast(s.ProvocationTestsTable, tables["provocation_tests"]),
    )
    model = model or compile_model(tables, vocabulary, anatomy)
    return Knowledge(
        version=version,
        vocabulary=vocabulary,
        anatomy=anatomy,
        model=model,
        triage=compile_rules(
            cast(s.TriageTable, tables["triage"]),
            vocabulary,
            {
                name: Urgency.from_id(cause.care)
                for name, cause in cast(s.CausesTable, tables["causes"]).causes.items()
            },
        ),
        sources=cast(s.SourcesTable, tables["sources"]).sources,
        tables=tables,
        questions=compile_questions(cast(s.QuestionsTable, tables["questions"]), vocabulary),
        plan=compile_plan(
            cast(s.AdviceTable, tables["advice"]),
            cast(s.InvestigationsTable, tables["investigations"]),
            vocabulary,
            {name: site.kind for name, site in cast(s.SitesTable, tables["sites"]).sites.items()},
            site_ids=model.site_ids,
            causes=model.causes,
        ),
        names=compile_names(cast(s.NamesTable, tables["names"])),
    )
