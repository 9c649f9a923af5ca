"""Evaluation: scoring pinchpoint's assessments against the answers clinicians expect.

The metrics are those of ``shared/contract/CASES.md`` "Scoring"; see
:func:`~pinchpoint.evaluation.metrics.score`.
"""

from pinchpoint.evaluation.metrics import Aspect, EvaluationReport, Miss, score

__all__ = ["Aspect", "EvaluationReport", "Miss", "score"]
