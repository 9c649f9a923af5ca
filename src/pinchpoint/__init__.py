"""pinchpoint: clinical decision support for a pinched nerve in the leg.

pinchpoint supports, and does not replace, a clinician's judgement. In an emergency
(loss of bladder or bowel control, numbness between the legs, rapidly worsening
weakness) call the emergency number or go to an emergency department.

Quick start::

    >>> import pinchpoint
    >>> knowledge = pinchpoint.load_knowledge()
    >>> case = pinchpoint.parse_case(
    ...     {"findings": {"age": 42, "urinary_retention": True, "saddle_numbness": True}},
    ...     knowledge.vocabulary,
    ... )
    >>> assessment = pinchpoint.assess(case, knowledge)
    >>> assessment.triage.id
    'emergency'
    >>> assessment.knowledge_version == pinchpoint.__knowledge_version__
    True
    >>> assessment.plan.to_do()[0].title
    'Go to an emergency department now'
    >>> assessment.investigations[0].id
    'mri-emergency-cauda-equina'
"""

from __future__ import annotations

from pinchpoint.core.assessment import Assessment, Evidence, Hypothesis, TriageReason
from pinchpoint.core.careplan import Plan, PlanItem, PlanStage, Verdict
from pinchpoint.core.case import Case, Expectation, parse_case
from pinchpoint.core.engine import assess, assess_many
from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Urgency, Vocabulary
from pinchpoint.errors import (
    AdapterError,
    ContradictoryFindingsError,
    FhirMappingError,
    InputError,
    InvalidAnswerError,
    InvalidCaseError,
    InvalidSessionError,
    KnowledgeError,
    MissingSourceError,
    PinchpointError,
    SchemaError,
    StoreError,
    UnknownFindingError,
    UnresolvedReferenceError,
)
from pinchpoint.io.knowledge.loader import knowledge_version, load_knowledge

__version__ = "0.2.0"


def __getattr__(name: str) -> str:
    """Resolve ``__knowledge_version__`` on first use: importing pinchpoint reads no data file."""
    if name == "__knowledge_version__":
        version = knowledge_version()
        globals()[name] = version
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdapterError",
    "Assessment",
    "Case",
    "ContradictoryFindingsError",
    "Evidence",
    "Expectation",
    "FhirMappingError",
    "Hypothesis",
    "InputError",
    "Interview",
    "InvalidAnswerError",
    "InvalidCaseError",
    "InvalidSessionError",
    "Knowledge",
    "KnowledgeError",
    "MissingSourceError",
    "PinchpointError",
    "Plan",
    "PlanItem",
    "PlanStage",
    "SchemaError",
    "StoreError",
    "TriageReason",
    "UnknownFindingError",
    "UnresolvedReferenceError",
    "Urgency",
    "Verdict",
    "Vocabulary",
    "__knowledge_version__",
    "__version__",
    "assess",
    "assess_many",
    "load_knowledge",
    "parse_case",
]
