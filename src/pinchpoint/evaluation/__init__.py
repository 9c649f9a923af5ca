"""Evaluation: scoring pinchpoint's assessments against the answers clinicians expect.

The metrics are those of ``shared/contract/CASES.md`` "Scoring"; see
:func:`~pinchpoint.evaluation.metrics.score`.
"""

from pinchpoint.evaluation.metrics import Aspect, Calibration, EvaluationReport, Miss, calibration, score

__all__ = ["Aspect", "Calibration", "EvaluationReport", "Miss", "calibration", "score"]
