"""The regression guard: a fresh evaluation must not fall below docs/evaluation-record.json.

The development and validation cases are evaluated now, with full information and through
both simulated interviews, and compared with the record by case id: a case newly
under-triaged, a recognised emergency now missed, or a recorded figure that fell fails
the suite. docs/evaluation.md and its diagrams must match the same run.

After a change that improves the figures, raise the record (never lowered on safety) and
regenerate the page with one command::

    python tools/generate_evaluation.py --record
"""

from __future__ import annotations

import pytest
from tools.generate_evaluation import RECORDED_SETS, SOURCES, documents, evaluate, read_record

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.evaluation.record import compare
from pinchpoint.evaluation.report import CaseSet
from pinchpoint.evaluation.runs import RUN_MODES
from tests.corpus import SHARED_CASES

pytestmark = [
    pytest.mark.core,
    pytest.mark.skipif(not SHARED_CASES.is_dir(), reason=f"the development cases are absent: {SHARED_CASES}"),
]

_RERECORD = "python tools/generate_evaluation.py --record"


@pytest.fixture(scope="module")
def evaluated(knowledge: Knowledge) -> list[CaseSet]:
    """Every case set in every mode, evaluated once for this module."""
    return evaluate(knowledge)


def test_the_record_covers_every_guarded_set_and_mode() -> None:
    """The record holds the development and validation sets in all three modes."""
    record = read_record()
    assert record is not None, f"docs/evaluation-record.json is missing; run {_RERECORD}"
    assert {name: sorted(modes) for name, modes in record["sets"].items()} == {
        name: sorted(RUN_MODES) for name in RECORDED_SETS
    }


@pytest.mark.parametrize("set_name", RECORDED_SETS)
def test_no_regression_below_the_record(evaluated: list[CaseSet], set_name: str) -> None:
    """No newly under-triaged case, no recognised emergency missed, no recorded figure fallen."""
    record = read_record()
    assert record is not None, f"docs/evaluation-record.json is missing; run {_RERECORD}"
    case_set = next(s for s in evaluated if s.name == set_name)
    problems: list[str] = []
    for run in case_set.runs:
        comparison = compare(record["sets"][set_name][run.mode], run)
        problems += comparison.safety_regressions + comparison.figure_drops + comparison.case_changes
    assert not problems, "\n".join([*problems, f"fix the reasoning; if the cases changed, run {_RERECORD}"])


def test_the_evaluation_page_is_current(evaluated: list[CaseSet]) -> None:
    """docs/evaluation.md and its diagrams are what a fresh run writes (all sets present here)."""
    assert [s.name for s in evaluated] == [source.name for source in SOURCES if source.path.is_dir()]
    stale = [
        str(path)
        for path, text in documents(evaluated).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"out of date: {', '.join(stale)}; run python tools/generate_evaluation.py"
