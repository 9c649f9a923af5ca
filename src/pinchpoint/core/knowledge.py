"""The :class:`Knowledge` engine that every reasoning function receives.

:func:`build_knowledge` assembles it from validated tables (see
:mod:`pinchpoint.io.knowledge.loader` for reading them): it derives the anatomy, compiles
the likelihood vectors and the triage rules, and keeps the bibliography and version so
that every result can say what it was based on.

It is also the one owner of what is built from those tables on first use: the interview's
predictor and red-flag screen, the explanations' wordings, and an adapter's compiled parts
(the free-text reader). A host (the command line, the server, a test) creates one and passes
it down; what it builds lives and dies with it, instead of in module-level caches keyed by
an object's id or a version string.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar, cast

from pinchpoint.core.anatomy import Anatomy
from pinchpoint.core.likelihood import LikelihoodModel, compile_model
from pinchpoint.core.names import Names, compile_names
from pinchpoint.core.plan import PlanRules, compile_plan
from pinchpoint.core.questions import QuestionBank, compile_questions
from pinchpoint.core.screen import RuleScreen
from pinchpoint.core.selection import Predictor
from pinchpoint.core.triage import TriageRules, UnansweredSigns, compile_rules
from pinchpoint.core.vocabulary import Urgency, Vocabulary
from pinchpoint.knowledge import schema as s

__all__ = ["Knowledge", "build_knowledge"]

T = TypeVar("T")

Wordings = dict[tuple[str, object], tuple[str, str]]
"""How explanations word each (finding, value): for a person and for a clinician."""


class _Parts:
    """What one engine builds from its knowledge on first use, each part once, kept with it.

    A part is built under a lock, so that the threads of a server build each part once (a
    second thread waits for the first); reading a part already built takes no lock. The lock
    is reentrant, so that building one part may use another.
    """

    def __init__(self) -> None:
        self._built: dict[Callable[..., object], object] = {}
        self._lock = threading.RLock()

    def get(self, knowledge: Knowledge, build: Callable[[Knowledge], T]) -> T:
        """Return the part ``build`` makes of ``knowledge``, building it the first time."""
        try:
            return cast(T, self._built[build])
        except KeyError:
            pass
        with self._lock:
            if build not in self._built:
                self._built[build] = build(knowledge)
            return cast(T, self._built[build])


@dataclass(frozen=True)
class Knowledge:
    """The engine: everything the reasoning needs, validated and compiled, with its version.

    The tables and their compiled forms are fixed at creation; the parts built from them on
    first use (:attr:`predictor`, :attr:`screen`, :attr:`wordings`, :meth:`part`) belong to
    this object alone.
    """

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
    _parts: _Parts = field(default_factory=_Parts, init=False, repr=False, compare=False)

    def part(self, build: Callable[[Knowledge], T]) -> T:
        """Return what ``build`` makes of this knowledge: built on first use, once, and kept here.

        ``build`` is the key: an adapter passes its own builder (the free-text reader's class),
        so that its compiled state belongs to the engine it was built from. Thread-safe.
        """
        return self._parts.get(self, build)

    @property
    def predictor(self) -> Predictor:
        """The interview's predictor: the likelihood model arranged to score possible answers."""
        return self.part(Predictor)

    @property
    def screen(self) -> RuleScreen:
        """Every triage rule compiled for the interview's three-valued red-flag screen."""
        return self.part(_screen)

    @property
    def wordings(self) -> Wordings:
        """How explanations word each (finding, value) met so far, filled as they meet them."""
        return self.part(_wordings)

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


def _screen(knowledge: Knowledge) -> RuleScreen:
    return RuleScreen(knowledge.triage.rules)


def _wordings(_knowledge: Knowledge) -> Wordings:
    return {}


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
            cast(s.TriageTable, tables["triage"]),
            vocabulary,
            {name: site.kind for name, site in cast(s.SitesTable, tables["sites"]).sites.items()},
            site_ids=model.site_ids,
            causes=model.causes,
        ),
        names=compile_names(cast(s.NamesTable, tables["names"])),
    )
