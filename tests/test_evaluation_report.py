"""Tests of the evaluation report's parts on fabricated runs: calibration, the record's guard, the page.

The guard against the real cases is in tests/test_evaluation_record.py; here each rule of
:mod:`pinchpoint.evaluation.record` is shown to fail when it should, on small made-up runs.
"""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinchpoint.core.assessment import Assessment, Hypothesis
from pinchpoint.core.case import Case, Expectation
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InputError
from pinchpoint.evaluation.calibration import calibration
from pinchpoint.evaluation.metrics import score
from pinchpoint.evaluation.record import compare, raised_record, record_entry
from pinchpoint.evaluation.report import CaseSet, evaluation_documents
from pinchpoint.evaluation.runs import CaseOutcome, RunMode, SetRun

E, U, S, H = Urgency.EMERGENCY, Urgency.URGENT, Urgency.SOON, Urgency.SELF_CARE

# --- calibration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "brier", "ece"),
    [
        pytest.param([(0.9, True), (0.9, False)], 0.41, 0.4, id="one-bin-half-right"),
        pytest.param([(1.0, True), (0.0, False)], 0.0, 0.0, id="certain-and-right"),
        pytest.param([(1.0, False)], 1.0, 1.0, id="certain-and-wrong"),
        pytest.param(
            [(0.25, False), (0.25, False), (0.25, False), (0.25, True)], 0.1875, 0.0, id="calibrated"
        ),
        pytest.param([(0.15, True), (0.95, False)], (0.85**2 + 0.95**2) / 2, 0.9, id="two-bins"),
    ],
)
def test_calibration_figures(points: list[tuple[float, bool]], brier: float, ece: float) -> None:
    """Brier score and ECE follow their definitions on small, hand-computed examples."""
    result = calibration(points)
    assert result.brier == pytest.approx(brier)
    assert result.ece == pytest.approx(ece)


def test_calibration_bins_cover_the_points() -> None:
    """Each point falls in the bin of its probability; p = 1 falls in the last bin."""
    result = calibration([(0.05, False), (0.55, True), (0.58, False), (1.0, True)])
    assert [(b.lower, b.count) for b in result.bins] == [(0.0, 1), (0.5, 2), (0.9, 1)]
    assert result.bins[1].accuracy == pytest.approx(0.5)


@pytest.mark.parametrize("points", [[], [(1.2, True)], [(-0.1, False)]], ids=["empty", "above-1", "below-0"])
def test_calibration_refuses_bad_points(points: list[tuple[float, bool]]) -> None:
    """No point, or a probability outside [0, 1], is refused with a clear error."""
    with pytest.raises(InputError):
        calibration(points)


@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), min_size=1, max_size=50))
def test_calibration_figures_are_bounded(points: list[tuple[float, bool]]) -> None:
    """Brier and ECE lie in [0, 1], and the bins count every point once."""
    result = calibration(points)
    assert 0.0 <= result.brier <= 1.0
    assert 0.0 <= result.ece <= 1.0 + 1e-12
    assert sum(b.count for b in result.bins) == len(points)


# --- runs made up for the record ------------------------------------------------------------------


def _run(
    triage: dict[str, tuple[Urgency, Urgency]], *, site_right: bool = True, mode: RunMode = "full"
) -> SetRun:
    """A run where each case id maps to (expected, predicted) triage, all sites/causes right or wrong."""
    pairs = []
    outcomes = []
    for case_id, (expected, predicted) in triage.items():
        expect = Expectation(expected, ("root.L5.left",), ("disc_herniation",))
        case = Case(id=case_id, findings=MappingProxyType({}), expect=expect)
        site = "root.L5.left" if site_right else "root.S1.left"
        assessment = Assessment(
            case_id=case_id,
            triage=predicted,
            triage_reasons=(),
            sites=(Hypothesis(site, 0.8, site),),
            causes=(Hypothesis("disc_herniation", 0.7, "disc"),),
            knowledge_version="1.0.0+test",
        )
        pairs.append((case, assessment))
        outcomes.append(CaseOutcome(case_id, expected, predicted, 0.8, site_right, 0.7, True))
    return SetRun("made-up", mode, score(pairs), tuple(outcomes), ())


_BASE = {"a": (E, E), "b": (U, U), "c": (S, H), "d": (H, H)}


def test_an_unchanged_run_has_no_regression() -> None:
    """The same figures as the record: nothing to report."""
    comparison = compare(record_entry(_run(_BASE)), _run(_BASE))
    assert comparison.safety_regressions == comparison.figure_drops == comparison.case_changes == []


def test_a_missed_recognised_emergency_fails() -> None:
    """An emergency that was recognised and is now triaged urgent is a safety regression, by case id."""
    comparison = compare(record_entry(_run(_BASE)), _run({**_BASE, "a": (E, U)}))
    assert comparison.lost_emergencies == ("a",)
    assert any("emergency a" in message for message in comparison.safety_regressions)


def test_a_newly_under_triaged_case_fails_even_when_the_rate_holds() -> None:
    """Swapping which case is under-triaged keeps the rate but is still a safety regression."""
    swapped = {**_BASE, "c": (S, S), "d": (S, H)}
    comparison = compare(record_entry(_run(_BASE)), _run(swapped))
    assert comparison.newly_under_triaged == ("d",)
    assert comparison.under_triage is None  # the rate did not rise


def test_rising_under_triage_fails() -> None:
    """One more under-triaged case raises the rate: reported with both figures."""
    comparison = compare(record_entry(_run(_BASE)), _run({**_BASE, "b": (U, S)}))
    assert comparison.under_triage == (0.25, 0.5)


def test_a_dropped_figure_fails() -> None:
    """Site top-1 falling below the record is a figure drop, not a safety regression."""
    comparison = compare(record_entry(_run(_BASE)), _run(_BASE, site_right=False))
    assert [figure for figure, _, _ in comparison.dropped] == ["site_top1", "site_top3"]
    assert comparison.safety_regressions == []


def test_changed_cases_are_named_and_only_shared_cases_compared() -> None:
    """A new case is named; figures over different cases are not compared, per-case checks still are."""
    grown = {**_BASE, "a": (E, U), "e": (H, H)}
    comparison = compare(record_entry(_run(_BASE)), _run(grown))
    assert comparison.added == ("e",)
    assert comparison.dropped == ()
    assert comparison.lost_emergencies == ("a",)


def test_the_writer_raises_the_record() -> None:
    """Better figures replace the record."""
    worse = _run({**_BASE, "c": (S, S)}, site_right=False)
    better = _run({**_BASE, "c": (S, S)})
    record = raised_record(raised_record(None, [worse]), [better])
    assert record["sets"]["made-up"]["full"]["figures"]["site_top1"] == 1.0


def test_the_writer_refuses_a_safety_regression_whatever_the_reason() -> None:
    """A recognised emergency now missed is never written, even with a reason to accept drops."""
    record = raised_record(None, [_run(_BASE)])
    with pytest.raises(InputError, match="safety"):
        raised_record(record, [_run({**_BASE, "a": (E, U)})], accept_drop="a reason")


def test_the_writer_refuses_a_drop_without_a_reason_and_keeps_the_reason() -> None:
    """A fallen figure needs a stated reason, which the record keeps."""
    record = raised_record(None, [_run(_BASE)])
    with pytest.raises(InputError, match="site_top1"):
        raised_record(record, [_run(_BASE, site_right=False)])
    lowered = raised_record(record, [_run(_BASE, site_right=False)], accept_drop="relabelled sites")
    assert lowered["accepted_drops"][0]["reason"] == "relabelled sites"


# --- the page -------------------------------------------------------------------------------------


def test_the_page_reports_every_mode_misses_and_the_diagram() -> None:
    """The page names each mode, marks an under-triage miss, and links the set's SVG diagram."""
    runs = tuple(_run(_BASE, mode=mode) for mode in ("full", "clinician", "self_check"))
    files = evaluation_documents(
        [CaseSet("made-up", "Made-up cases", "nowhere", "a test.", runs)], diagram_folder="d"
    )
    page = files["evaluation.md"]
    assert "interview, self-check" in page
    assert "| c | triage **(under-triage)** | soon | self_care |" in page
    assert "](d/made-up.svg)" in page
    assert "does not replace it" in page
    assert files["d/made-up.svg"].startswith("<svg")
    assert "<circle" in files["d/made-up.svg"]
